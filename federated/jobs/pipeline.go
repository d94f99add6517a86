package jobs

import (
	"context"
	"fmt"

	"github.com/strata-fed/strata/dp/budget"
	"github.com/strata-fed/strata/federated/segmodel"
)

// Options configures Run. Zero values mean the defaults.
type Options struct {
	// Privacy is the total budget of the run; zero = DP off.
	Privacy Privacy
	// Split divides it between the jobs. Zero = DefaultSplit.
	Split Split
	// RuleSet defaults to the rfm11 preset.
	RuleSet segmodel.RuleSetRef
	// Lifecycle thresholds (0 = default).
	Lifecycle segmodel.Lifecycle
	KMeans    KMeansOptions
	CLV       CLVOptions
	// SkipCLV leaves the CLV part out of the model.
	SkipCLV bool
	// Horizon (time units, default 52) and Discount (per time unit, default
	// 0) of the CLV predictions.
	Horizon, Discount float64
	// ClipFactor sets the per-user clamps of sums with DP on: ClipFactor ×
	// the released median of R, F and M (Thresholds.Clips). Defaults to 200.
	ClipFactor float64
	// ChannelClipFactor sets the per-user clamp of the segment × channel
	// revenue and CLV sums with DP on: ChannelClipFactor × the released
	// median of M. Their noise grows with the clamp (σ_revenue ≈ σ_count ×
	// clamp per cell), so it is tighter than ClipFactor: the few users
	// spending more than 20× the median count at 20× the median. Defaults
	// to 20.
	ChannelClipFactor float64
	// Channels, if set, runs the segment × channel job under the model.
	Channels []string
	// AsOf are the per-site notes stored in the model.
	AsOf []segmodel.SiteNote
}

// Result is everything a run released, and the model built from it.
type Result struct {
	Model      *segmodel.Model
	Thresholds *Thresholds
	Means      *Means
	KMeans     *KMeans
	CLV        *CLVFit
	Channels   *Channels
	Costs      []Cost
}

// Run runs the jobs in order — thresholds (R/F/M histograms, which also
// give the medians), means, k-means, CLV — builds and validates the model,
// and, if Options.Channels is set, the segment × channel report. Each job
// gets its Split share of the ρ of Options.Privacy; a job's unused share
// (k-means stopping early) is not reassigned. The model records the spent
// budget.
func Run(ctx context.Context, s Summer, opt Options) (*Result, error) {
	p := opt.Privacy
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	if opt.Split == (Split{}) {
		opt.Split = DefaultSplit
	}
	if err := opt.Split.validate(); err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	if opt.RuleSet == (segmodel.RuleSetRef{}) {
		opt.RuleSet = segmodel.RuleSetRef{Preset: "rfm11"}
	}
	if opt.Horizon == 0 {
		opt.Horizon = 52
	}
	if opt.ClipFactor == 0 {
		opt.ClipFactor = 200
	}
	if opt.ChannelClipFactor == 0 {
		opt.ChannelClipFactor = 20
	}
	if opt.CLV.TimeUnitDays == 0 {
		opt.CLV.TimeUnitDays = 7
	}
	res := &Result{}
	var err error
	if res.Thresholds, err = RunThresholds(ctx, s, p.Fraction(opt.Split.Thresholds)); err != nil {
		return nil, err
	}
	if res.Means, err = RunMeans(ctx, s, p.Fraction(opt.Split.Means), res.Thresholds, opt.ClipFactor); err != nil {
		return nil, err
	}
	if res.KMeans, err = RunKMeans(ctx, s, p.Fraction(opt.Split.KMeans), opt.KMeans); err != nil {
		return nil, err
	}
	res.Costs = append(res.Costs, res.Thresholds.Cost, res.Means.Cost, res.KMeans.Cost)
	if !opt.SkipCLV {
		if res.CLV, err = RunCLV(ctx, s, p.Fraction(opt.Split.CLV), opt.CLV); err != nil {
			return nil, err
		}
		res.Costs = append(res.Costs, res.CLV.Cost)
	}
	t := res.Thresholds
	mr, mf, mm := t.Medians()
	m := &segmodel.Model{
		Format:    segmodel.FormatVersion,
		Cuts:      segmodel.CutPoints{Recency: t.Recency.Points, Frequency: t.Frequency.Points, Monetary: t.Monetary.Points},
		RuleSet:   opt.RuleSet,
		Stats:     segmodel.Stats{MeanR: res.Means.MeanR, MeanF: res.Means.MeanF, MeanM: res.Means.MeanM, MedianR: mr, MedianF: mf, MedianM: mm},
		Lifecycle: opt.Lifecycle,
		Clusters:  segmodel.Clusters{Mean: res.KMeans.Mean, Std: res.KMeans.Std, Centroids: res.KMeans.Centroids, Iterations: res.KMeans.Iterations},
		AsOf:      opt.AsOf,
		Users:     t.Users,
	}
	if res.CLV != nil {
		b, g := res.CLV.BGNBD, res.CLV.GammaGamma
		m.CLV = &segmodel.CLV{
			BGNBD:        segmodel.BGNBD{R: b.R, Alpha: b.Alpha, A: b.A, B: b.B, LogLik: b.LogLik},
			GammaGamma:   segmodel.GammaGamma{P: g.P, Q: g.Q, Gamma: g.Gamma, LogLik: g.LogLik},
			TimeUnitDays: opt.CLV.TimeUnitDays, Horizon: opt.Horizon, Discount: opt.Discount,
		}
	}
	setPrivacy(m, p, res.Costs)
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("run: model: %w", err)
	}
	res.Model = m
	if len(opt.Channels) > 0 {
		_, _, clip := t.Clips(opt.ChannelClipFactor)
		if res.Channels, err = RunChannels(ctx, s, p.Fraction(opt.Split.Channels), m, opt.Channels, clip); err != nil {
			return nil, err
		}
		res.Costs = append(res.Costs, res.Channels.Cost)
	}
	return res, nil
}

func setPrivacy(m *segmodel.Model, p Privacy, costs []Cost) {
	m.Privacy = segmodel.Privacy{DP: !p.Off(), Delta: p.Delta}
	for _, c := range costs {
		m.Privacy.Jobs = append(m.Privacy.Jobs, segmodel.JobCost{Job: c.Job, Rounds: c.Rounds, Rho: c.Rho})
		m.Privacy.Rho += c.Rho
	}
	if !p.Off() {
		m.Privacy.Epsilon = budget.LedgerEpsilon(m.Privacy.Rho, p.Delta)
	}
}

// Spent returns the total ρ of costs and its ε at δ (ledger conversion).
func Spent(costs []Cost, delta float64) (rho, eps float64) {
	for _, c := range costs {
		rho += c.Rho
	}
	if rho > 0 {
		eps = budget.LedgerEpsilon(rho, delta)
	}
	return rho, eps
}
