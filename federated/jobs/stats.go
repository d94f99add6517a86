package jobs

import (
	"context"
	"fmt"
	"math"

	"github.com/strata-fed/strata/federated/segmodel"
)

const statRFMSums = "rfm.sums"

type sumsParams struct {
	Codec Codec `json:"codec"`
}

// Means is the result of the means job.
type Means struct {
	MeanR, MeanF, MeanM float64
	// Users is the released count.
	Users float64
	Cost  Cost
}

// RunMeans computes the global means of recency days, frequency and
// monetary cents (segment.Stats means).
//
// One round, statistic rfm.sums, through a Codec. DP off: 4 values per user
// (R, F, M, 1) with the exact codec, Frac 0: integer sums and count, so the
// means equal segment.ComputeMeans on the pooled users. DP on: 3 values per
// user (R, F, M) with the balanced codec, clamped at the bounds of
// Thresholds.Clips(clipFactor) (factor × the released median: since every
// bound is the same multiple of its median, equal scales balance the
// relative errors), divided by the released user count of t (no count
// coordinate): L1 = 3·Scale, L2 = √3·Scale. Clamping biases a mean down by
// the mass above the clip; the noise grows with the clip. The whole budget
// p pays this round.
func RunMeans(ctx context.Context, s Summer, p Privacy, t *Thresholds, clipFactor float64) (*Means, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("means: %w", err)
	}
	var c Codec
	if p.Off() {
		c = exactCodec(0, 1<<50, 1<<50, 1<<50, 1)
	} else {
		if t == nil || !(clipFactor >= 1) || math.IsInf(clipFactor, 0) {
			return nil, fmt.Errorf("means: DP needs released histograms and a clip factor ≥ 1: %w", ErrParams)
		}
		r, f, m := t.Clips(clipFactor)
		c = balancedCodec(r, f, m)
	}
	q := p.query(Query{Statistic: statRFMSums, Params: encodeParams(sumsParams{Codec: c}), Length: c.Width(), Lo: -c.UserBound(), Hi: c.UserBound()})
	q.L1, q.L2 = c.sensitivity(len(c.Bounds))
	v, err := sum(ctx, s, q)
	if err != nil {
		return nil, fmt.Errorf("means: %w", err)
	}
	tot, _ := c.decode(v)
	m := &Means{Cost: Cost{Job: "means"}}
	m.Cost.paid(p)
	if p.Off() {
		m.Users = tot[3]
	} else {
		m.Users = float64(t.Users)
	}
	if m.Users < 1 {
		return nil, fmt.Errorf("means: %v users: %w", m.Users, ErrNoData)
	}
	m.MeanR, m.MeanF, m.MeanM = tot[0]/m.Users, tot[1]/m.Users, tot[2]/m.Users
	return m, nil
}

func localRFMSums(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p sumsParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	c := p.Codec
	if err := c.validate(); err != nil || len(c.Bounds) < 3 || len(c.Bounds) > 4 {
		return nil, fmt.Errorf("rfm.sums codec: %v: %w", err, ErrParams)
	}
	out := make([]int64, c.Width())
	cols := d.Columns()
	for i := range d.Len() {
		c.add(out, 0, float64(cols.RecencyDays[i]))
		c.add(out, 1, float64(cols.Frequency[i]))
		c.add(out, 2, float64(cols.MonetaryCents[i]))
		if len(c.Bounds) == 4 {
			c.add(out, 3, 1)
		}
	}
	return out, nil
}

// checkFinite reports whether all values are finite.
func checkFinite(v ...float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
