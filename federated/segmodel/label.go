package segmodel

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/analytics/kmeans"
	"github.com/strata-fed/strata/node/analytics/lifecycle"
	"github.com/strata-fed/strata/node/analytics/score"
	"github.com/strata-fed/strata/node/analytics/segment"
)

// UserLabel is what the model says about one user. It stays at the site.
type UserLabel struct {
	// R, F, M are the 1..5 scores by the model's global cut points.
	R, F, M uint8
	// Segment indexes Model.Segments().
	Segment int16
	// Stage is the lifecycle stage (lifecycle.Unknown for an impossible
	// history).
	Stage lifecycle.Stage
	// Cluster is the nearest centroid in the global standardisation.
	Cluster int32
	// PAlive, ExpectedPurchases (over the horizon) and CLV (expected spend
	// over the horizon in currency units, discounted per the model) are NaN
	// for users without a calibration history or when the model has no CLV
	// part.
	PAlive, ExpectedPurchases, CLV float64
}

// labelChunk is the number of users one worker labels at a time.
const labelChunk = 8192

// Label applies a validated model (from Decode, or after Validate) to every
// user of a site: scores, segment, lifecycle stage, cluster and the CLV
// predictions. It is pure and per-user (see the package doc). Work is spread
// over GOMAXPROCS goroutines, all joined before it returns. The error wraps
// ErrInvalid for a model that was not validated.
func Label(m *Model, d *SiteData) ([]UserLabel, error) {
	if m == nil || m.rules == nil {
		return nil, fmt.Errorf("label: model not validated: %w", ErrInvalid)
	}
	n := d.Len()
	out := make([]UserLabel, n)
	pts, err := d.Standardized(m.Clusters.Mean, m.Clusters.Std)
	if err != nil {
		return nil, fmt.Errorf("label: %w", err)
	}
	clusters, err := kmeans.Assign(pts, 3, m.Clusters.Centroids)
	if err != nil && n > 0 {
		return nil, fmt.Errorf("label: clusters: %w", err)
	}
	var (
		rc  = score.Cuts{Points: m.Cuts.Recency, LowerIsBetter: true}
		fc  = score.Cuts{Points: m.Cuts.Frequency}
		mc  = score.Cuts{Points: m.Cuts.Monetary}
		st  = m.Stats.Segment()
		lp  = m.Lifecycle.Params()
		c   = d.Columns()
		cm  = m.CLV
		bg  clv.BGNBD
		gg  clv.GammaGamma
		stp float64
		rt  float64
	)
	if cm != nil {
		bg, gg = cm.BGNBD.Model(), cm.GammaGamma.Model()
		stp = max(cm.Horizon/12, 1e-9)
		rt = math.Pow(1+cm.Discount, stp) - 1
	}
	work := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			u := &out[i]
			rec := segment.Record{
				RecencyDays: c.RecencyDays[i], Frequency: c.Frequency[i], MonetaryCents: c.MonetaryCents[i],
				TenureDays: c.TenureDays[i],
			}
			rec.R, rec.F, rec.M = rc.Score(rec.RecencyDays), fc.Score(rec.Frequency), mc.Score(rec.MonetaryCents)
			u.R, u.F, u.M = rec.R, rec.F, rec.M
			u.Segment = int16(m.rules.Classify(rec, st))
			u.Stage = lp.Stage(d.History(i))
			if clusters != nil {
				u.Cluster = int32(clusters[i])
			}
			u.PAlive, u.ExpectedPurchases, u.CLV = math.NaN(), math.NaN(), math.NaN()
			if cm == nil || !c.InCLV[i] {
				continue
			}
			s := c.CLV[i]
			u.PAlive = bg.PAlive(s)
			e := bg.ExpectedPurchases(cm.Horizon, s)
			u.ExpectedPurchases = e
			mv := c.MeanValue[i]
			if s.X == 0 || mv <= 0 {
				mv = 0 // Gamma-Gamma's population mean
			}
			if cm.Discount == 0 {
				u.CLV = gg.ExpectedValue(s.X, mv) * e
			} else {
				u.CLV = clv.CLVSchedule(bg, gg, s, mv, cm.Horizon, stp, rt)
			}
		}
	}
	parallel(n, work)
	return out, nil
}

// parallel runs work over [0, n) in chunks on up to GOMAXPROCS goroutines
// and waits for all of them.
func parallel(n int, work func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+labelChunk-1)/labelChunk)
	if workers <= 1 {
		work(0, n)
		return
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				lo := next
				next += labelChunk
				mu.Unlock()
				if lo >= n {
					return
				}
				work(lo, min(lo+labelChunk, n))
			}
		})
	}
	wg.Wait()
}

// Audiences groups a site's own user ids by segment for activation: ids[i]
// is the id of the user labels[i] describes (the SiteData order). The
// result has one entry per segment of the model, in Segments() order, each
// with its ids in input order (possibly none). It is pure; the node writes
// the files.
func Audiences[ID any](m *Model, labels []UserLabel, ids []ID) ([]Audience[ID], error) {
	segs := m.Segments()
	if segs == nil {
		return nil, fmt.Errorf("audiences: model not validated: %w", ErrInvalid)
	}
	if len(ids) != len(labels) {
		return nil, fmt.Errorf("audiences: %d ids for %d labels: %w", len(ids), len(labels), ErrSiteData)
	}
	counts := make([]int, len(segs))
	for i, l := range labels {
		if l.Segment < 0 || int(l.Segment) >= len(segs) {
			return nil, fmt.Errorf("audiences: user %d has segment %d of %d: %w", i, l.Segment, len(segs), ErrSiteData)
		}
		counts[l.Segment]++
	}
	out := make([]Audience[ID], len(segs))
	for j, s := range segs {
		out[j] = Audience[ID]{Segment: s, IDs: make([]ID, 0, counts[j])}
	}
	for i, l := range labels {
		out[l.Segment].IDs = append(out[l.Segment].IDs, ids[i])
	}
	return out, nil
}

// Audience is one segment's user ids at one site.
type Audience[ID any] struct {
	Segment string
	IDs     []ID
}
