package jobs

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/kmeans"
)

const (
	statMoments = "km.moments"
	statGrid    = "km.grid"
	statStep    = "km.step"
	dim         = 3
)

// Grid of the initialisation round: GridCells per axis over [GridLo,
// GridLo + GridCells·GridWidth) in standardised units; points outside are
// counted in the edge cells.
const (
	GridCells = 16
	GridLo    = -4.0
	GridWidth = 0.5
)

// KMeansOptions configures RunKMeans. Zero values mean the defaults.
type KMeansOptions struct {
	// K clusters. Defaults to 8.
	K int
	// MaxIter bounds the Lloyd rounds. Defaults to 300 with DP off (as
	// kmeans.DefaultMaxIter) and 5 with DP on (each round is paid).
	MaxIter int
	// Tol stops when the total squared centroid shift is at most Tol times
	// the mean per-feature variance of the standardised data (1, or 0 for a
	// constant feature), as kmeans.FitFrom. Defaults to kmeans.DefaultTol;
	// negative means 0 (iterate until no centroid moves).
	Tol float64
	// Seed seeds the k-means++ run on the released grid. Zero is valid.
	Seed uint64
	// Init, if set, are the initial centroids (standardised units) and the
	// grid round is skipped (its budget share is not spent).
	Init [][]float64
	// ClampZ bounds each standardised coordinate of a user's contribution.
	// Defaults to 8 with DP on and 2^20 with DP off (no clamping in practice).
	ClampZ float64
}

// KMeans is the federated k-means result.
type KMeans struct {
	Mean, Std  []float64
	Init       [][]float64
	Centroids  [][]float64
	Iterations int
	// Converged: stopped by the tolerance rather than MaxIter.
	Converged bool
	// Sizes are the released cluster counts of the last round.
	Sizes []float64
	Cost  Cost
}

type momentsParams struct {
	Codec Codec `json:"codec"`
}

type gridParams struct {
	Mean  []float64 `json:"mean"`
	Std   []float64 `json:"std"`
	Cells int       `json:"cells"`
	Lo    float64   `json:"lo"`
	Width float64   `json:"width"`
}

type stepParams struct {
	Mean      []float64   `json:"mean"`
	Std       []float64   `json:"std"`
	Centroids [][]float64 `json:"centroids"`
	Codec     Codec       `json:"codec"`
}

// RunKMeans runs federated k-means on standardised log1p(R, F, M).
//
// Round 1, km.moments (budget share 1/6 of p): per user log1p(R, F, M),
// their squares and 1 (7 values). DP off: exact codec, Frac 30, bounds 64
// and 4096. DP on: balanced codec with bounds 12, 12, 16 (log1p of 162,754
// days, 162,754 orders, 8.9M currency units), their squares, and 1; L1 = 7·
// Scale, L2 = √7·Scale. Mean and population std follow (variance floored at
// 1e-4 with DP on).
//
// Round 2, km.grid (share 1/6, skipped when Init is given): a GridCells³
// histogram of the standardised points (L1 = L2 = 1). Initial centroids are
// k-means++ (seeded by Seed) on the cell centres weighted by the released
// counts (cells below 2σ of the noise are dropped), refined by weighted
// Lloyd on the cells: only the released grid is used, no point is pooled.
//
// Rounds 3.., km.step (share 4/6, split evenly over MaxIter): per cluster
// the sums of the assigned users' standardised coordinates clamped to
// ±ClampZ and their count, length K·Width. DP off: exact codec, Frac 36 (per
// user rounding ≤ 2^−37, so centroids are within ~1e-11 of the float means
// and the iteration is kmeans.FitFrom's on the pooled points). DP on:
// balanced codec, each user touches 4 coordinates: L1 = 4·Scale, L2 =
// 2·Scale. A centroid moves to sum/count, or stays when the released count
// is below 1 (empty cluster, kmeans.Update's rule). Stop after MaxIter rounds
// or when the total squared shift is ≤ Tol·(mean feature variance); with
// exact sums an unchanged assignment gives shift 0, so this is FitFrom's
// stopping rule.
func RunKMeans(ctx context.Context, s Summer, p Privacy, opt KMeansOptions) (*KMeans, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("kmeans: %w", err)
	}
	if opt.K == 0 {
		opt.K = kmeans.DefaultK
	}
	if opt.MaxIter == 0 {
		opt.MaxIter = kmeans.DefaultMaxIter
		if !p.Off() {
			opt.MaxIter = 5
		}
	}
	if opt.Tol == 0 {
		opt.Tol = kmeans.DefaultTol
	} else if opt.Tol < 0 {
		opt.Tol = 0
	}
	if opt.ClampZ == 0 {
		opt.ClampZ = 8
		if p.Off() {
			opt.ClampZ = 1 << 20
		}
	}
	if opt.K < 1 || opt.K > 256 || opt.MaxIter < 1 || opt.MaxIter > 10000 || !(opt.ClampZ > 0) || opt.ClampZ > 1<<20 || math.IsNaN(opt.Tol) {
		return nil, fmt.Errorf("kmeans options %+v: %w", opt, ErrParams)
	}
	if opt.Init != nil && len(opt.Init) != opt.K {
		return nil, fmt.Errorf("kmeans: %d initial centroids for k = %d: %w", len(opt.Init), opt.K, ErrParams)
	}
	res := &KMeans{Cost: Cost{Job: "kmeans"}}

	// Round 1: moments.
	pm := p.Fraction(1.0 / 6)
	var mc Codec
	if p.Off() {
		mc = exactCodec(30, 64, 64, 64, 4096, 4096, 4096, 1)
	} else {
		mc = balancedCodec(12, 12, 16, 144, 144, 256, 1)
	}
	q := pm.query(Query{Statistic: statMoments, Params: encodeParams(momentsParams{Codec: mc}), Length: mc.Width(), Lo: -mc.UserBound(), Hi: mc.UserBound()})
	q.L1, q.L2 = mc.sensitivity(7)
	v, err := sum(ctx, s, q)
	if err != nil {
		return nil, fmt.Errorf("kmeans moments: %w", err)
	}
	res.Cost.paid(pm)
	tot, _ := mc.decode(v)
	n := tot[6]
	if n < 1 {
		return nil, fmt.Errorf("kmeans: %v users: %w", n, ErrNoData)
	}
	res.Mean, res.Std = make([]float64, dim), make([]float64, dim)
	meanVar := 0.0
	for t := range dim {
		m := tot[t] / n
		vr := tot[dim+t]/n - m*m
		if !p.Off() {
			vr = math.Max(vr, 1e-4)
		}
		res.Mean[t], res.Std[t] = m, math.Sqrt(math.Max(vr, 0))
		if res.Std[t] > 0 {
			meanVar++
		}
	}
	meanVar /= dim

	// Round 2: initial centroids.
	if opt.Init != nil {
		res.Init = clone2(opt.Init)
	} else {
		pg := p.Fraction(1.0 / 6)
		gp := gridParams{Mean: res.Mean, Std: res.Std, Cells: GridCells, Lo: GridLo, Width: GridWidth}
		q := pg.query(Query{Statistic: statGrid, Params: encodeParams(gp), Length: GridCells * GridCells * GridCells, Lo: 0, Hi: 1, L1: 1, L2: 1})
		v, err := sum(ctx, s, q)
		if err != nil {
			return nil, fmt.Errorf("kmeans grid: %w", err)
		}
		res.Cost.paid(pg)
		floor := 0.0
		if !pg.Off() {
			_, mu, err := Calibrate(q)
			if err != nil {
				return nil, fmt.Errorf("kmeans grid: %w", err)
			}
			floor = 2 * math.Sqrt(mu)
		}
		res.Init, err = gridInit(v, floor, opt.K, opt.Seed)
		if err != nil {
			return nil, fmt.Errorf("kmeans grid: %w", err)
		}
	}
	for _, c := range res.Init {
		if len(c) != dim || !checkFinite(c...) {
			return nil, fmt.Errorf("kmeans: initial centroid %v: %w", c, ErrParams)
		}
	}

	// Rounds 3..: Lloyd steps.
	var sc Codec
	if p.Off() {
		sc = exactCodec(36, opt.ClampZ, opt.ClampZ, opt.ClampZ, 1)
	} else {
		sc = balancedCodec(opt.ClampZ, opt.ClampZ, opt.ClampZ, 1)
	}
	ps := p.Fraction(4.0 / 6 / float64(opt.MaxIter))
	tolAbs := opt.Tol * meanVar
	cent := clone2(res.Init)
	w := sc.Width()
	for it := range opt.MaxIter {
		sp := stepParams{Mean: res.Mean, Std: res.Std, Centroids: cent, Codec: sc}
		q := ps.query(Query{Statistic: statStep, Params: encodeParams(sp), Length: opt.K * w, Lo: -sc.UserBound(), Hi: sc.UserBound()})
		q.L1, q.L2 = sc.sensitivity(4)
		v, err := sum(ctx, s, q)
		if err != nil {
			return nil, fmt.Errorf("kmeans step %d: %w", it+1, err)
		}
		res.Cost.paid(ps)
		next := make([][]float64, opt.K)
		res.Sizes = make([]float64, opt.K)
		for j := range opt.K {
			t, _ := sc.decode(v[j*w : (j+1)*w])
			res.Sizes[j] = t[dim]
			if t[dim] < 1 {
				next[j] = append([]float64(nil), cent[j]...)
				continue
			}
			next[j] = make([]float64, dim)
			for d := range dim {
				next[j][d] = t[d] / t[dim]
			}
		}
		shift := kmeans.Shift(cent, next)
		cent = next
		res.Iterations = it + 1
		if shift <= tolAbs {
			res.Converged = true
			break
		}
	}
	res.Centroids = cent
	return res, nil
}

// sum runs a query and checks the result length.
func sum(ctx context.Context, s Summer, q Query) ([]int64, error) {
	if q.Params == nil {
		return nil, fmt.Errorf("%s: parameters do not encode (non-finite values?): %w", q.Statistic, ErrParams)
	}
	v, err := s.Sum(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(v) != q.Length {
		return nil, fmt.Errorf("%s: %d values, want %d: %w", q.Statistic, len(v), q.Length, ErrParams)
	}
	return v, nil
}

func clone2(a [][]float64) [][]float64 {
	out := make([][]float64, len(a))
	for i, r := range a {
		out[i] = append([]float64(nil), r...)
	}
	return out
}

// gridInit picks k initial centroids from released grid counts: weighted
// k-means++ over the cell centres (weights = counts ≥ floor), then up to 100
// weighted Lloyd iterations on the cells. Deterministic in seed.
func gridInit(counts []int64, floor float64, k int, seed uint64) ([][]float64, error) {
	var pts []float64
	var wts []float64
	for c, n := range counts {
		if float64(n) < max(floor, 1) {
			continue
		}
		x, y, z := c/(GridCells*GridCells), (c/GridCells)%GridCells, c%GridCells
		for _, i := range []int{x, y, z} {
			pts = append(pts, GridLo+(float64(i)+0.5)*GridWidth)
		}
		wts = append(wts, float64(n))
	}
	m := len(wts)
	if m < k {
		return nil, fmt.Errorf("%d non-empty grid cells for k = %d: %w", m, k, ErrNoData)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	d2 := make([]float64, m)
	for i := range d2 {
		d2[i] = math.Inf(1)
	}
	cent := make([][]float64, 0, k)
	chosen := make([]bool, m)
	pick := func(weight func(i int) float64) int {
		total := 0.0
		for i := range m {
			if !chosen[i] {
				total += weight(i)
			}
		}
		r := rng.Float64() * total
		last := -1
		for i := range m {
			if chosen[i] {
				continue
			}
			last = i
			r -= weight(i)
			if r < 0 {
				return i
			}
		}
		return last
	}
	for len(cent) < k {
		var i int
		if len(cent) == 0 {
			i = pick(func(i int) float64 { return wts[i] })
		} else {
			i = pick(func(i int) float64 { return wts[i] * d2[i] })
		}
		chosen[i] = true
		c := append([]float64(nil), pts[i*dim:(i+1)*dim]...)
		cent = append(cent, c)
		for j := range m {
			d2[j] = math.Min(d2[j], dist2(pts[j*dim:(j+1)*dim], c))
		}
	}
	for range 100 {
		sums := make([][]float64, k)
		cnt := make([]float64, k)
		for j := range sums {
			sums[j] = make([]float64, dim)
		}
		for i := range m {
			p := pts[i*dim : (i+1)*dim]
			best, bd := 0, math.Inf(1)
			for j, c := range cent {
				if d := dist2(p, c); d < bd {
					best, bd = j, d
				}
			}
			cnt[best] += wts[i]
			for t := range dim {
				sums[best][t] += wts[i] * p[t]
			}
		}
		moved := 0.0
		for j := range cent {
			if cnt[j] == 0 {
				continue
			}
			for t := range dim {
				nv := sums[j][t] / cnt[j]
				moved += (nv - cent[j][t]) * (nv - cent[j][t])
				cent[j][t] = nv
			}
		}
		if moved == 0 {
			break
		}
	}
	return cent, nil
}

func dist2(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

func localMoments(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p momentsParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	c := p.Codec
	if err := c.validate(); err != nil || len(c.Bounds) != 7 {
		return nil, fmt.Errorf("km.moments codec: %v: %w", err, ErrParams)
	}
	out := make([]int64, c.Width())
	x := d.Features()
	for i := range d.Len() {
		for t := range dim {
			v := x[i*dim+t]
			c.add(out, t, v)
			c.add(out, dim+t, v*v)
		}
		c.add(out, 6, 1)
	}
	return out, nil
}

func validStd(mean, std []float64) error {
	if len(mean) != dim || len(std) != dim || !checkFinite(mean...) || !checkFinite(std...) {
		return fmt.Errorf("standardisation %v / %v: %w", mean, std, ErrParams)
	}
	for _, s := range std {
		if s < 0 {
			return fmt.Errorf("negative std %v: %w", std, ErrParams)
		}
	}
	return nil
}

func localGrid(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p gridParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := validStd(p.Mean, p.Std); err != nil {
		return nil, err
	}
	if p.Cells != GridCells || p.Lo != GridLo || p.Width != GridWidth {
		return nil, fmt.Errorf("km.grid %d cells from %v by %v: %w", p.Cells, p.Lo, p.Width, ErrParams)
	}
	out := make([]int64, GridCells*GridCells*GridCells)
	z, err := d.Standardized(p.Mean, p.Std)
	if err != nil {
		return nil, err
	}
	for i := range d.Len() {
		c := 0
		for t := range dim {
			k := int(math.Floor((z[i*dim+t] - GridLo) / GridWidth))
			k = max(0, min(GridCells-1, k))
			c = c*GridCells + k
		}
		out[c]++
	}
	return out, nil
}

func localStep(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p stepParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := validStd(p.Mean, p.Std); err != nil {
		return nil, err
	}
	c := p.Codec
	if err := c.validate(); err != nil || len(c.Bounds) != dim+1 {
		return nil, fmt.Errorf("km.step codec: %v: %w", err, ErrParams)
	}
	k := len(p.Centroids)
	if k < 1 || k > 256 {
		return nil, fmt.Errorf("km.step: %d centroids: %w", k, ErrParams)
	}
	for _, ct := range p.Centroids {
		if len(ct) != dim || !checkFinite(ct...) {
			return nil, fmt.Errorf("km.step: centroid %v: %w", ct, ErrParams)
		}
	}
	w := c.Width()
	out := make([]int64, k*w)
	if d.Len() == 0 {
		return out, nil
	}
	z, err := d.Standardized(p.Mean, p.Std)
	if err != nil {
		return nil, err
	}
	labels, err := kmeans.Assign(z, dim, p.Centroids)
	if err != nil {
		return nil, fmt.Errorf("km.step: %w: %w", err, ErrParams)
	}
	for i, l := range labels {
		blk := out[l*w : (l+1)*w]
		for t := range dim {
			c.add(blk, t, z[i*dim+t])
		}
		c.add(blk, dim, 1)
	}
	return out, nil
}
