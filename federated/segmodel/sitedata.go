package segmodel

import (
	"fmt"
	"math"
	"sync"

	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/analytics/kmeans"
	"github.com/strata-fed/strata/node/analytics/lifecycle"
)

// Columns are one site's per-user values, one entry per user in the same
// order in every slice. There are no user ids: the site keeps its ids beside
// these columns (in the same order) for Audiences.
type Columns struct {
	// RecencyDays, Frequency, MonetaryCents and TenureDays are the RFM values
	// of the local engine: whole days since the last purchase, distinct
	// orders, net spend in cents, whole days since the first purchase.
	// Required, all of the same length n.
	RecencyDays, Frequency, MonetaryCents, TenureDays []int64
	// PrevDays is the age in days of the second-to-last purchase, −1 if there
	// is none (lifecycle.History.PrevDays). nil means −1 for every user.
	PrevDays []int64
	// CLV holds the calibration summaries (x, t_x, T) in the model's time
	// unit. nil means no user has a calibration history.
	CLV []clv.Summary
	// MeanValue is the mean repeat-transaction value in currency units
	// (0 when x = 0). nil means 0 for every user.
	MeanValue []float64
	// InCLV marks users with a calibration history (first purchase at or
	// before the calibration end); others are left out of the CLV fits and
	// get NaN predictions. nil means every user when CLV is set, none
	// otherwise.
	InCLV []bool
}

// SiteData is one site's users, validated, as the federated jobs and Label
// read them. Build it with NewSiteData; it is read-only afterwards and safe
// for concurrent use.
type SiteData struct {
	// Channel names the site's sales channel (the site is one channel).
	Channel string
	cols    Columns

	once  sync.Once
	feats []float64 // log1p(R, F, M), row-major n×3, computed once
}

// NewSiteData validates cols and returns the site's data. It takes ownership
// of the slices: do not modify them afterwards. Missing optional columns are
// filled with their documented defaults.
func NewSiteData(channel string, cols Columns) (*SiteData, error) {
	n := len(cols.RecencyDays)
	if len(cols.Frequency) != n || len(cols.MonetaryCents) != n || len(cols.TenureDays) != n {
		return nil, fmt.Errorf("rfm columns of lengths %d, %d, %d, %d: %w", n, len(cols.Frequency), len(cols.MonetaryCents), len(cols.TenureDays), ErrSiteData)
	}
	if cols.PrevDays == nil {
		cols.PrevDays = make([]int64, n)
		for i := range cols.PrevDays {
			cols.PrevDays[i] = -1
		}
	}
	if cols.CLV == nil {
		cols.CLV = make([]clv.Summary, n)
		if cols.InCLV == nil {
			cols.InCLV = make([]bool, n)
		}
	}
	if cols.MeanValue == nil {
		cols.MeanValue = make([]float64, n)
	}
	if cols.InCLV == nil {
		cols.InCLV = make([]bool, n)
		for i := range cols.InCLV {
			cols.InCLV[i] = true
		}
	}
	if len(cols.PrevDays) != n || len(cols.CLV) != n || len(cols.MeanValue) != n || len(cols.InCLV) != n {
		return nil, fmt.Errorf("optional columns of lengths %d, %d, %d, %d for %d users: %w", len(cols.PrevDays), len(cols.CLV), len(cols.MeanValue), len(cols.InCLV), n, ErrSiteData)
	}
	for i := range n {
		r, f, t, p := cols.RecencyDays[i], cols.Frequency[i], cols.TenureDays[i], cols.PrevDays[i]
		if r < 0 || f < 0 || t < r || (p >= 0 && (p < r || p > t)) || p < -1 {
			return nil, fmt.Errorf("user %d: recency %d, frequency %d, tenure %d, prev %d: %w", i, r, f, t, p, ErrSiteData)
		}
		s, mv := cols.CLV[i], cols.MeanValue[i]
		if !finiteNonNeg(mv) || cols.InCLV[i] && (!finiteNonNeg(s.X) || !finiteNonNeg(s.Tx) || !finiteNonNeg(s.T) || s.Tx > s.T) {
			return nil, fmt.Errorf("user %d: clv summary %+v, mean value %v: %w", i, s, mv, ErrSiteData)
		}
	}
	return &SiteData{Channel: channel, cols: cols}, nil
}

func finiteNonNeg(v float64) bool { return v >= 0 && !math.IsInf(v, 0) }

// Len returns the number of users.
func (d *SiteData) Len() int { return len(d.cols.RecencyDays) }

// Columns returns the site's columns. The slices are shared: read only.
func (d *SiteData) Columns() *Columns { return &d.cols }

// History returns user i's lifecycle history.
func (d *SiteData) History(i int) lifecycle.History {
	c := &d.cols
	return lifecycle.History{FirstDays: c.TenureDays[i], LastDays: c.RecencyDays[i], PrevDays: c.PrevDays[i], Orders: c.Frequency[i]}
}

// Features returns log1p(recency days, frequency, monetary currency units),
// row-major n×3 (kmeans.Log1pRFM), computed once and shared: read only;
// standardise a copy.
func (d *SiteData) Features() []float64 {
	d.once.Do(func() {
		d.feats = kmeans.Log1pRFM(d.cols.RecencyDays, d.cols.Frequency, d.cols.MonetaryCents)
	})
	return d.feats
}

// Standardized returns a fresh copy of Features standardised with the given
// per-feature mean and std (kmeans.StandardizeWith).
func (d *SiteData) Standardized(mean, std []float64) ([]float64, error) {
	x := append([]float64(nil), d.Features()...)
	if err := kmeans.StandardizeWith(x, 3, mean, std); err != nil {
		return nil, fmt.Errorf("standardise: %w", err)
	}
	return x, nil
}

// Concat returns the pooled data of several sites (channel "pooled"): the
// centralised baseline that tests compare federated results with.
func Concat(sites ...*SiteData) (*SiteData, error) {
	var c Columns
	for _, s := range sites {
		o := &s.cols
		c.RecencyDays = append(c.RecencyDays, o.RecencyDays...)
		c.Frequency = append(c.Frequency, o.Frequency...)
		c.MonetaryCents = append(c.MonetaryCents, o.MonetaryCents...)
		c.TenureDays = append(c.TenureDays, o.TenureDays...)
		c.PrevDays = append(c.PrevDays, o.PrevDays...)
		c.CLV = append(c.CLV, o.CLV...)
		c.MeanValue = append(c.MeanValue, o.MeanValue...)
		c.InCLV = append(c.InCLV, o.InCLV...)
	}
	if c.RecencyDays == nil {
		c.RecencyDays, c.Frequency, c.MonetaryCents, c.TenureDays = []int64{}, []int64{}, []int64{}, []int64{}
	}
	return NewSiteData("pooled", c)
}
