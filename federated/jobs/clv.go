package jobs

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/clv"
)

// The exact codec of objective evaluations: per-user values (log-likelihood
// and θ-gradient) rounded to 2^−37, clamped at ±2^26 (the evaluation then
// reports −Inf, a failed step).
const (
	evalFrac  = 36
	evalBound = 1 << 26
)

const (
	statCLVStart = "clv.start"
	statBGNBD    = "clv.bgnbd"
	statGG       = "clv.gg"
	statCLVGrid  = "clv.grid"
)

// CLVOptions configures RunCLV. Zero values mean the defaults.
type CLVOptions struct {
	// MaxEvals bounds the aggregated-likelihood rounds per model (exact
	// method). Defaults to 2000; beyond it the fit fails with ErrFit.
	MaxEvals int
	// Grid forces the binned method even with DP off (it is always used
	// with DP on).
	Grid bool
	// TimeUnitDays converts the grid's day edges to the summaries' time
	// unit. Defaults to 7 (weeks).
	TimeUnitDays float64
}

// CLVFit is the federated BG/NBD and Gamma-Gamma fit.
type CLVFit struct {
	BGNBD      clv.BGNBD
	GammaGamma clv.GammaGamma
	// Users is the (released) number of customers in the BG/NBD fit,
	// GGUsers those in the Gamma-Gamma fit.
	Users, GGUsers float64
	// Method is "exact" (aggregated likelihood per optimiser step) or
	// "grid" (binned sufficient statistics).
	Method string
	// Converged is false when a grid fit stopped without meeting clv's
	// gradient tolerance (noisy weights) and its last point was kept.
	Converged bool
	Cost      Cost
}

type codecParams struct {
	Codec Codec `json:"codec"`
}

// bgParams and ggParams are the public parameters of one objective
// evaluation. Grad must be gradLog: sites send the gradient in the
// log-parameters θ = log p, p_k·∂ℓ/∂p_k, whose per-user values stay small
// and whose rounding does not grow with p_k (a natural-parameter gradient's
// rounding, scaled by p_k, drowned the fit wherever the likelihood's
// maximum lies far out, as a, b → ∞). A site that predates the field
// rejects it as unknown, and a site refuses params without it.
type bgParams struct {
	P     [4]float64 `json:"p"`
	Grad  string     `json:"grad"`
	Codec Codec      `json:"codec"`
}

type ggParams struct {
	P     [3]float64 `json:"p"`
	Grad  string     `json:"grad"`
	Codec Codec      `json:"codec"`
}

// gradLog marks θ-gradients in bgParams and ggParams.
const gradLog = "log"

type clvGridParams struct {
	V            int     `json:"v"`
	TimeUnitDays float64 `json:"time_unit_days"`
}

// RunCLV fits BG/NBD and Gamma-Gamma to the users with a calibration history
// (SiteData InCLV) at every site.
//
// Exact method (DP off). Round 1, clv.start: per user x, T, 1 and, for users
// with x > 0 and m̄ > 0, m̄ and 1 (exact codec, Frac 30): the customer
// counts and clv.BGNBDStart(Σx, ΣT), clv.GammaGammaStart(Σm̄/n). Then
// clv.FitBGNBDObjective and clv.FitGammaGammaObjective drive BFGS; every
// objective evaluation is one round (clv.bgnbd: the public parameters (r, α,
// a, b) in Params, per user the log-likelihood and its gradient in θ =
// log(params), 5 values; clv.gg: (p, q, γ), 4 values) with the exact codec,
// Frac 36, bound 2^26 per value: each site's contribution is its share of
// the additive log-likelihood up to a per-user rounding ≤ 2^−37, so the fit
// is the pooled fit. A value clamped or non-finite at any site makes the
// evaluation report −Inf, which the line search rejects as a failed step.
// The fit is then polished (polish: Newton steps from gradients alone, 2·dim
// + 1 rounds each). Where the rounded function values stop BFGS's line
// search short of clv's tolerance (clv.ErrNotConverged: on small data
// whose maximum lies far out, a, b or q, γ → ∞), polishing goes on from the
// last point, and the fit is accepted if ‖∇_θ LL‖∞ ends below 1e-6 per
// customer (polishAcceptTol). Rounds: 1 + about 85–90 per model on CDNOW
// (170–185 in all, by split), at most MaxEvals per model.
//
// Grid method (DP on, or Grid set). One round, clv.grid: each user adds 1 to
// one cell of a public (x, T, t_x/T) grid (14 x-bins exact to 9, 20 T bins
// from 0 to 1,820 days, 5 t_x/T bins) and, with x > 0 and m̄ > 0, 1 to one
// cell of an (x, m̄) grid (13 x-bins, m̄ bins growing by 25% from 1 to
// 10^5 currency units): L1 = 2, L2 = √2, the whole budget p. Cells whose
// released count is below 2σ of the noise are dropped; the fits maximise the
// count-weighted likelihoods of the cell representatives locally, so any
// number of optimiser steps is free and the fit always ends (clv's 1000
// iteration cap). A fit that stops short of clv's gradient tolerance on the
// noisy weights keeps its last (finite, positive) point with Converged
// false. The price is the binning: parameters are those of the binned data,
// not the exact MLE.
func RunCLV(ctx context.Context, s Summer, p Privacy, opt CLVOptions) (*CLVFit, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("clv: %w", err)
	}
	if opt.MaxEvals == 0 {
		opt.MaxEvals = 2000
	}
	if opt.TimeUnitDays == 0 {
		opt.TimeUnitDays = 7
	}
	if opt.MaxEvals < 1 || !(opt.TimeUnitDays > 0) || math.IsInf(opt.TimeUnitDays, 0) {
		return nil, fmt.Errorf("clv options %+v: %w", opt, ErrParams)
	}
	if opt.Grid || !p.Off() {
		return runCLVGrid(ctx, s, p, opt)
	}
	res := &CLVFit{Method: "exact", Converged: true, Cost: Cost{Job: "clv"}}
	sc := exactCodec(30, 1<<24, 1<<24, 1, 1<<26, 1)
	v, err := sum(ctx, s, Query{Statistic: statCLVStart, Params: encodeParams(codecParams{Codec: sc}), Length: sc.Width(), Lo: -sc.UserBound(), Hi: sc.UserBound()})
	if err != nil {
		return nil, fmt.Errorf("clv start: %w", err)
	}
	res.Cost.paid(p)
	t, clamped := sc.decode(v)
	if clamped > 0 {
		return nil, fmt.Errorf("clv start: %d values beyond the codec bounds: %w", clamped, ErrNoData)
	}
	res.Users, res.GGUsers = math.Round(t[2]), math.Round(t[4])
	if res.Users < 1 || res.GGUsers < 1 {
		return nil, fmt.Errorf("clv: %v customers, %v with repeat value: %w", res.Users, res.GGUsers, ErrNoData)
	}
	evalCodec := exactCodec(evalFrac, evalBound, evalBound, evalBound, evalBound, evalBound)
	evals := 0
	bgObj := func(pr [4]float64) (float64, [4]float64, error) {
		var g [4]float64
		if evals++; evals > opt.MaxEvals {
			return 0, g, fmt.Errorf("more than %d evaluations: %w", opt.MaxEvals, ErrFit)
		}
		if !checkFinite(pr[:]...) {
			return math.Inf(-1), g, nil
		}
		v, err := sum(ctx, s, Query{Statistic: statBGNBD, Params: encodeParams(bgParams{P: pr, Grad: gradLog, Codec: evalCodec}), Length: evalCodec.Width(), Lo: -evalCodec.UserBound(), Hi: evalCodec.UserBound()})
		if err != nil {
			return 0, g, err
		}
		res.Cost.paid(p)
		t, clamped := evalCodec.decode(v)
		if clamped > 0 {
			return math.Inf(-1), g, nil
		}
		for k := range g {
			g[k] = t[1+k] / pr[k]
		}
		return t[0], g, nil
	}
	bg, err := clv.FitBGNBDObjective(res.Users, clv.BGNBDStart(t[0], t[1]), bgObj)
	if !canPolish(err, bg.R, bg.Alpha, bg.A, bg.B) {
		return nil, fmt.Errorf("clv bg/nbd after %d evaluations: %w", evals, errors.Join(ErrFit, err))
	}
	p4, ll4, norm, _ := polish(func(p []float64) (float64, []float64, bool) {
		ll, g, err := bgObj([4]float64(p))
		return ll, g[:], err == nil && !math.IsInf(ll, 0)
	}, []float64{bg.R, bg.Alpha, bg.A, bg.B}, bg.LogLik, res.Users, polishSteps(err))
	if err != nil && !(norm < polishAcceptTol*res.Users) {
		return nil, fmt.Errorf("clv bg/nbd after %d evaluations, gradient %.3g per customer after polishing: %w", evals, norm/res.Users, errors.Join(ErrFit, err))
	}
	bg.R, bg.Alpha, bg.A, bg.B, bg.LogLik = p4[0], p4[1], p4[2], p4[3], ll4
	bg.N = int(res.Users)
	res.BGNBD = bg
	ggCodec := exactCodec(evalFrac, evalBound, evalBound, evalBound, evalBound)
	evals = 0
	ggObj := func(pr [3]float64) (float64, [3]float64, error) {
		var g [3]float64
		if evals++; evals > opt.MaxEvals {
			return 0, g, fmt.Errorf("more than %d evaluations: %w", opt.MaxEvals, ErrFit)
		}
		if !checkFinite(pr[:]...) {
			return math.Inf(-1), g, nil
		}
		v, err := sum(ctx, s, Query{Statistic: statGG, Params: encodeParams(ggParams{P: pr, Grad: gradLog, Codec: ggCodec}), Length: ggCodec.Width(), Lo: -ggCodec.UserBound(), Hi: ggCodec.UserBound()})
		if err != nil {
			return 0, g, err
		}
		res.Cost.paid(p)
		t, clamped := ggCodec.decode(v)
		if clamped > 0 {
			return math.Inf(-1), g, nil
		}
		for k := range g {
			g[k] = t[1+k] / pr[k]
		}
		return t[0], g, nil
	}
	gg, err := clv.FitGammaGammaObjective(res.GGUsers, clv.GammaGammaStart(t[3]/t[4]), ggObj)
	if !canPolish(err, gg.P, gg.Q, gg.Gamma) {
		return nil, fmt.Errorf("clv gamma-gamma after %d evaluations: %w", evals, errors.Join(ErrFit, err))
	}
	p3, ll3, norm, _ := polish(func(p []float64) (float64, []float64, bool) {
		ll, g, err := ggObj([3]float64(p))
		return ll, g[:], err == nil && !math.IsInf(ll, 0)
	}, []float64{gg.P, gg.Q, gg.Gamma}, gg.LogLik, res.GGUsers, polishSteps(err))
	if err != nil && !(norm < polishAcceptTol*res.GGUsers) {
		return nil, fmt.Errorf("clv gamma-gamma after %d evaluations, gradient %.3g per customer after polishing: %w", evals, norm/res.GGUsers, errors.Join(ErrFit, err))
	}
	gg.P, gg.Q, gg.Gamma, gg.LogLik = p3[0], p3[1], p3[2], ll3
	gg.N = int(res.GGUsers)
	res.GammaGamma = gg
	return res, nil
}

func ggEligible(c *segmodel.Columns, i int) bool {
	return c.InCLV[i] && c.CLV[i].X > 0 && c.MeanValue[i] > 0
}

func localCLVStart(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p codecParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	c := p.Codec
	if err := c.validate(); err != nil || len(c.Bounds) != 5 {
		return nil, fmt.Errorf("clv.start codec: %v: %w", err, ErrParams)
	}
	out := make([]int64, c.Width())
	cols := d.Columns()
	for i := range d.Len() {
		if !cols.InCLV[i] {
			continue
		}
		c.add(out, 0, cols.CLV[i].X)
		c.add(out, 1, cols.CLV[i].T)
		c.add(out, 2, 1)
		if ggEligible(cols, i) {
			c.add(out, 3, cols.MeanValue[i])
			c.add(out, 4, 1)
		}
	}
	return out, nil
}

func positive(v ...float64) bool {
	for _, x := range v {
		if !(x > 0) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func localBGNBD(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p bgParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	c := p.Codec
	if err := c.validate(); err != nil || len(c.Bounds) != 5 || !positive(p.P[:]...) || p.Grad != gradLog {
		return nil, fmt.Errorf("clv.bgnbd params %v, grad %q: %v: %w", p.P, p.Grad, err, ErrParams)
	}
	out := make([]int64, c.Width())
	cols := d.Columns()
	for i := range d.Len() {
		if !cols.InCLV[i] {
			continue
		}
		ll, g := clv.BGNBDCustomerLogLik(p.P, cols.CLV[i])
		c.add(out, 0, ll)
		for k := range 4 {
			c.add(out, 1+k, g[k]*p.P[k])
		}
	}
	return out, nil
}

func localGG(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p ggParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	c := p.Codec
	if err := c.validate(); err != nil || len(c.Bounds) != 4 || !positive(p.P[:]...) || p.Grad != gradLog {
		return nil, fmt.Errorf("clv.gg params %v, grad %q: %v: %w", p.P, p.Grad, err, ErrParams)
	}
	out := make([]int64, c.Width())
	cols := d.Columns()
	var x, m [1]float64
	for i := range d.Len() {
		if !ggEligible(cols, i) {
			continue
		}
		x[0], m[0] = cols.CLV[i].X, cols.MeanValue[i]
		ll, g := clv.GammaGammaLogLik(p.P, x[:], m[:])
		c.add(out, 0, ll)
		for k := range 3 {
			c.add(out, 1+k, g[k]*p.P[k])
		}
	}
	return out, nil
}

// The public CLV grid (statistic clv.grid, version 1).
var (
	gridX     = []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 25, 50}
	gridXRep  = []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 19, 35, 60}
	gridTDays = []float64{0, 14, 28, 56, 91, 119, 154, 182, 210, 245, 273, 301, 336, 364, 455, 546, 728, 1092, 1456, 1820}
	gridU     = 5
	gridM     = mbarEdges()
)

func mbarEdges() []float64 {
	e := []float64{0}
	for v := 1.0; v <= 1e5; v *= 1.25 {
		e = append(e, v)
	}
	return e
}

// binOf returns the bin of v over ascending edges (last bin open).
func binOf(edges []float64, v float64) int {
	i := 0
	for i+1 < len(edges) && v >= edges[i+1] {
		i++
	}
	return i
}

func repOf(edges []float64, i int) float64 {
	if i+1 < len(edges) {
		return (edges[i] + edges[i+1]) / 2
	}
	return edges[i] * 1.2
}

func bgCells() int { return len(gridX) * len(gridTDays) * gridU }
func ggCells() int { return (len(gridX) - 1) * len(gridM) }

func runCLVGrid(ctx context.Context, s Summer, p Privacy, opt CLVOptions) (*CLVFit, error) {
	res := &CLVFit{Method: "grid", Converged: true, Cost: Cost{Job: "clv"}}
	nb, ng := bgCells(), ggCells()
	q := p.query(Query{Statistic: statCLVGrid, Params: encodeParams(clvGridParams{V: 1, TimeUnitDays: opt.TimeUnitDays}), Length: nb + ng, Lo: 0, Hi: 1, L1: 2, L2: math.Sqrt2})
	v, err := sum(ctx, s, q)
	if err != nil {
		return nil, fmt.Errorf("clv grid: %w", err)
	}
	res.Cost.paid(p)
	floor := 1.0
	if !p.Off() {
		_, mu, err := Calibrate(q)
		if err != nil {
			return nil, fmt.Errorf("clv grid: %w", err)
		}
		floor = max(floor, 2*math.Sqrt(mu))
	}
	var (
		bgS  []clv.Summary
		bgW  []float64
		sumX float64
		sumT float64
	)
	nT := len(gridTDays)
	for c := range nb {
		w := float64(v[c])
		if w < floor {
			continue
		}
		xi, ti, ui := c/(nT*gridU), (c/gridU)%nT, c%gridU
		T := repOf(gridTDays, ti) / opt.TimeUnitDays
		sm := clv.Summary{X: gridXRep[xi], T: T}
		if sm.X > 0 {
			sm.Tx = (float64(ui) + 0.5) / float64(gridU) * T
		}
		bgS, bgW = append(bgS, sm), append(bgW, w)
		res.Users += w
		sumX += w * sm.X
		sumT += w * sm.T
	}
	var ggX, ggM, ggW []float64
	sumM := 0.0
	for c := range ng {
		w := float64(v[nb+c])
		if w < floor {
			continue
		}
		xi, mi := c/len(gridM)+1, c%len(gridM)
		m := repOf(gridM, mi)
		if mi > 0 && mi+1 < len(gridM) {
			m = math.Sqrt(gridM[mi] * gridM[mi+1])
		}
		ggX, ggM, ggW = append(ggX, gridXRep[xi]), append(ggM, m), append(ggW, w)
		res.GGUsers += w
		sumM += w * m
	}
	if res.Users < 1 || res.GGUsers < 1 || sumX <= 0 {
		return nil, fmt.Errorf("clv grid: %v customers, %v with repeat value: %w", res.Users, res.GGUsers, ErrNoData)
	}
	bg, err := clv.FitBGNBDObjective(res.Users, clv.BGNBDStart(sumX, sumT), func(pr [4]float64) (float64, [4]float64, error) {
		var ll float64
		var g [4]float64
		for i, sm := range bgS {
			l, gi := clv.BGNBDCustomerLogLik(pr, sm)
			ll += bgW[i] * l
			for k := range g {
				g[k] += bgW[i] * gi[k]
			}
		}
		return ll, g, nil
	})
	if err != nil {
		if !errors.Is(err, clv.ErrNotConverged) || !positive(bg.R, bg.Alpha, bg.A, bg.B) {
			return nil, fmt.Errorf("clv grid bg/nbd: %w", errors.Join(ErrFit, err))
		}
		res.Converged = false
	}
	res.BGNBD = bg
	gg, err := clv.FitGammaGammaObjective(res.GGUsers, clv.GammaGammaStart(sumM/res.GGUsers), func(pr [3]float64) (float64, [3]float64, error) {
		var ll float64
		var g [3]float64
		var x, m [1]float64
		for i := range ggX {
			x[0], m[0] = ggX[i], ggM[i]
			l, gi := clv.GammaGammaLogLik(pr, x[:], m[:])
			ll += ggW[i] * l
			for k := range g {
				g[k] += ggW[i] * gi[k]
			}
		}
		return ll, g, nil
	})
	if err != nil {
		if !errors.Is(err, clv.ErrNotConverged) || !positive(gg.P, gg.Q, gg.Gamma) {
			return nil, fmt.Errorf("clv grid gamma-gamma: %w", errors.Join(ErrFit, err))
		}
		res.Converged = false
	}
	res.GammaGamma = gg
	return res, nil
}

func localCLVGrid(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p clvGridParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.V != 1 || !positive(p.TimeUnitDays) {
		return nil, fmt.Errorf("clv.grid %+v: %w", p, ErrParams)
	}
	nb := bgCells()
	out := make([]int64, nb+ggCells())
	cols := d.Columns()
	nT := len(gridTDays)
	for i := range d.Len() {
		if !cols.InCLV[i] {
			continue
		}
		s := cols.CLV[i]
		xi := binOf(gridX, s.X)
		ti := binOf(gridTDays, s.T*p.TimeUnitDays)
		ui := 0
		if s.X > 0 && s.T > 0 {
			ui = min(gridU-1, int(s.Tx/s.T*float64(gridU)))
		}
		out[(xi*nT+ti)*gridU+ui]++
		if ggEligible(cols, i) {
			out[nb+(max(xi, 1)-1)*len(gridM)+binOf(gridM, cols.MeanValue[i])]++
		}
	}
	return out, nil
}
