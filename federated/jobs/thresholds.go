package jobs

import (
	"context"
	"fmt"
	"math"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/score"
)

const statHist = "rfm.hist"

type histParams struct {
	V int `json:"v"`
}

// Thresholds is the result of the histogram job.
type Thresholds struct {
	// Cuts per dimension for score.Cuts (recency LowerIsBetter).
	Recency, Frequency, Monetary score.Cuts
	// Hist are the released (noised with DP on) histograms over RecencyBins,
	// FrequencyBins and MonetaryBins, made monotone in their cumulative
	// counts (post-processing) so QuantileCuts accepts them.
	HistR, HistF, HistM []int64
	// Users is the released number of users (the recency histogram's total).
	Users int64
	Cost  Cost
}

// Medians returns the medians of R, F and M from the histograms (exact when
// the middle values fall in one-value bins).
func (t *Thresholds) Medians() (r, f, m float64) {
	return RecencyBins.Median(floats(t.HistR)), FrequencyBins.Median(floats(t.HistF)), MonetaryBins.Median(floats(t.HistM))
}

// Clips returns per-user clamp bounds for sums of R, F and M derived from
// the released histograms alone (post-processing, no extra cost): factor ×
// the released median, at least factor × 1 unit. The median is robust to
// the histogram noise, unlike a high quantile of a fine histogram, whose
// empty tail bins add up noise of σ·√(bins) users.
func (t *Thresholds) Clips(factor float64) (r, f, m float64) {
	mr, mf, mm := t.Medians()
	return factor * max(mr, 1), factor * max(mf, 1), factor * max(mm, 1)
}

func floats(v []int64) []float64 {
	f := make([]float64, len(v))
	for i, x := range v {
		f[i] = float64(x)
	}
	return f
}

// RunThresholds computes global R/F/M quintile cut points.
//
// One round, statistic rfm.hist: the three histograms over the public bins
// RecencyBins, FrequencyBins and MonetaryBins, concatenated (length ≈ 6,100).
// Each user adds 1 to one bin of each histogram: clamp [0, 1] per
// coordinate, L1 = 3, L2 = √3. The whole budget p pays this round.
//
// The released counts are made non-negative with monotone cumulative counts
// (running maximum of the noisy cumulative histogram; with DP off a no-op),
// then score.QuantileCuts gives 4 cuts per dimension; recency is scored with
// LowerIsBetter. With DP off the cuts are exactly those of the pooled
// users' histogram over the same bins, and where all pooled values fall in
// one-value bins, those of one-bin-per-distinct-value (see score.QuantileCuts
// for how they relate to NTile).
func RunThresholds(ctx context.Context, s Summer, p Privacy) (*Thresholds, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("thresholds: %w", err)
	}
	nr, nf, nm := RecencyBins.Len(), FrequencyBins.Len(), MonetaryBins.Len()
	q := p.query(Query{Statistic: statHist, Params: encodeParams(histParams{V: 1}), Length: nr + nf + nm, Lo: 0, Hi: 1, L1: 3, L2: math.Sqrt(3)})
	v, err := s.Sum(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("thresholds: %w", err)
	}
	if len(v) != q.Length {
		return nil, fmt.Errorf("thresholds: %d values, want %d: %w", len(v), q.Length, ErrParams)
	}
	t := &Thresholds{Cost: Cost{Job: "thresholds"}}
	t.Cost.paid(p)
	t.HistR, t.HistF, t.HistM = monotone(v[:nr]), monotone(v[nr:nr+nf]), monotone(v[nr+nf:])
	for _, h := range []struct {
		b    Bins
		c    []int64
		dst  *score.Cuts
		name string
	}{
		{RecencyBins, t.HistR, &t.Recency, "recency"},
		{FrequencyBins, t.HistF, &t.Frequency, "frequency"},
		{MonetaryBins, t.HistM, &t.Monetary, "monetary"},
	} {
		pts, err := score.QuantileCuts(h.b.Edges, h.c, segmodel.Buckets)
		if err != nil {
			return nil, fmt.Errorf("thresholds: %s: %w: %w", h.name, err, ErrNoData)
		}
		*h.dst = score.Cuts{Points: pts, LowerIsBetter: h.name == "recency"}
	}
	for _, c := range t.HistR {
		t.Users += c
	}
	return t, nil
}

// monotone returns counts whose cumulative sums are the running maximum of
// the (clamped at 0) cumulative sums of v: non-negative, and equal to v when
// v is already non-negative.
func monotone(v []int64) []int64 {
	out := make([]int64, len(v))
	var cum, best int64
	for i, c := range v {
		cum += c
		nb := max(best, cum, 0)
		out[i] = nb - best
		best = nb
	}
	return out
}

func localHist(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p histParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.V != 1 {
		return nil, fmt.Errorf("rfm.hist version %d: %w", p.V, ErrParams)
	}
	nr, nf := RecencyBins.Len(), FrequencyBins.Len()
	out := make([]int64, nr+nf+MonetaryBins.Len())
	c := d.Columns()
	for i := range d.Len() {
		out[RecencyBins.Index(c.RecencyDays[i])]++
		out[nr+FrequencyBins.Index(c.Frequency[i])]++
		out[nr+nf+MonetaryBins.Index(c.MonetaryCents[i])]++
	}
	return out, nil
}
