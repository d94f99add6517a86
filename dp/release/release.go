package release

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/google/differential-privacy/go/v3/dpagg"
	dpnoise "github.com/google/differential-privacy/go/v3/noise"

	"github.com/strata-fed/strata/dp/budget"
)

// Errors returned by releases. Budget refusals are budget.ErrBudgetExhausted,
// wrapped. Test them with errors.Is.
var (
	// ErrAlreadyReleased: the release ID has been paid for already; a result is
	// released once.
	ErrAlreadyReleased = errors.New("release id already used")
	// ErrUndeclaredKey: a cell key is not among the declared, public keys.
	ErrUndeclaredKey = errors.New("cell key not declared")
	// ErrInvalidParams: release parameters out of range.
	ErrInvalidParams = errors.New("invalid release parameters")
)

// Ledger is what a Releaser pays with: budget.Accountant implements it, and so
// can an adapter that proposes the charge to the federation's raft log and
// returns once it is committed. Charge must return an error wrapping
// budget.ErrBudgetExhausted or budget.ErrDuplicateCharge when it refuses, and
// must record nothing then.
type Ledger interface {
	Charge(id string, cost budget.Cost) error
}

// Mechanism is the library noise used by releases.
type Mechanism int

// Mechanisms.
const (
	// Gaussian noise, (ε, δ)-DP, charged ρ = Δ₂²/(2σ²). Needs δ > 0.
	Gaussian Mechanism = iota
	// Laplace noise, ε-DP, charged ρ = ε²/2. Needs δ = 0.
	Laplace
)

func (m Mechanism) String() string {
	switch m {
	case Gaussian:
		return "gaussian"
	case Laplace:
		return "laplace"
	}
	return fmt.Sprintf("Mechanism(%d)", int(m))
}

// Options configures a Releaser.
type Options struct {
	// Ledger pays for releases. Required.
	Ledger Ledger
	// Mechanism is the noise. Defaults to Gaussian.
	Mechanism Mechanism
	// MinCount is k: cells whose noisy count is below k are suppressed.
	// Defaults to 0 (nothing suppressed). Must be ≥ 0.
	MinCount int64
}

// Releaser makes paid DP releases. It is safe for concurrent use; releases
// are serialised.
type Releaser struct {
	mu     sync.Mutex
	ledger Ledger
	mech   Mechanism
	k      int64
	// noise overrides the library noise in unit tests (deterministic noise).
	// Costs are always those of mech.
	noise dpnoise.Noise
}

// New returns a Releaser.
func New(opt Options) (*Releaser, error) {
	if opt.Ledger == nil {
		return nil, fmt.Errorf("new releaser: nil ledger: %w", ErrInvalidParams)
	}
	if opt.Mechanism != Gaussian && opt.Mechanism != Laplace {
		return nil, fmt.Errorf("new releaser: mechanism %v: %w", opt.Mechanism, ErrInvalidParams)
	}
	if opt.MinCount < 0 {
		return nil, fmt.Errorf("new releaser: MinCount %d: %w", opt.MinCount, ErrInvalidParams)
	}
	return &Releaser{ledger: opt.Ledger, mech: opt.Mechanism, k: opt.MinCount}, nil
}

// Params are common to all releases.
type Params struct {
	// ID names the release in the ledger. Required, unique.
	ID string
	// Epsilon is the library's ε for this release. Required, > 0.
	Epsilon float64
	// Delta is the library's δ: required (> 0) with Gaussian noise, must be 0
	// with Laplace noise.
	Delta float64
	// MaxPartitionsContributed is how many cells one user may contribute to.
	// Defaults to 1.
	MaxPartitionsContributed int64
}

func (p Params) l0() int64 { return max(p.MaxPartitionsContributed, 1) }

func (r *Releaser) libNoise() dpnoise.Noise {
	if r.noise != nil {
		return r.noise
	}
	if r.mech == Laplace {
		return dpnoise.Laplace()
	}
	return dpnoise.Gaussian()
}

func (r *Releaser) validate(p Params) error {
	if p.ID == "" {
		return fmt.Errorf("release: empty ID: %w", ErrInvalidParams)
	}
	if p.MaxPartitionsContributed < 0 {
		return fmt.Errorf("release %q: MaxPartitionsContributed %d: %w", p.ID, p.MaxPartitionsContributed, ErrInvalidParams)
	}
	if !(p.Epsilon > 0) || math.IsInf(p.Epsilon, 0) {
		return fmt.Errorf("release %q: epsilon %v: %w", p.ID, p.Epsilon, ErrInvalidParams)
	}
	switch r.mech {
	case Gaussian:
		if !(p.Delta > 0 && p.Delta < 1) {
			return fmt.Errorf("release %q: gaussian noise needs delta in (0, 1), got %v: %w", p.ID, p.Delta, ErrInvalidParams)
		}
	case Laplace:
		if p.Delta != 0 {
			return fmt.Errorf("release %q: laplace noise needs delta 0, got %v: %w", p.ID, p.Delta, ErrInvalidParams)
		}
	}
	return nil
}

// cost is the zCDP cost of one library aggregation over all its cells with
// L0 sensitivity l0 and L∞ sensitivity lInf at (ε, δ).
func (r *Releaser) cost(eps, delta float64, l0 int64, lInf float64) (budget.Cost, error) {
	if r.mech == Laplace {
		return budget.PureDPCost(eps)
	}
	sigma := dpnoise.SigmaForGaussian(l0, lInf, eps, delta)
	return budget.GaussianCost(math.Sqrt(float64(l0))*lInf, sigma)
}

// Cost returns what a release of counts or sums with p and per-cell L∞
// sensitivity lInf (1 for counts, max(|Lower|, |Upper|) for sums) costs.
func (r *Releaser) Cost(p Params, lInf float64) (budget.Cost, error) {
	if err := r.validate(p); err != nil {
		return budget.Cost{}, err
	}
	return r.cost(p.Epsilon, p.Delta, p.l0(), lInf)
}

// pay charges c under id: nil, or the ledger's refusal wrapped.
func (r *Releaser) pay(id string, c budget.Cost) error {
	if err := r.ledger.Charge(id, c); err != nil {
		if errors.Is(err, budget.ErrDuplicateCharge) {
			return fmt.Errorf("release %q: %w: %w", id, ErrAlreadyReleased, err)
		}
		return fmt.Errorf("release %q: %w", id, err)
	}
	return nil
}

// Cell is one released value.
type Cell struct {
	Key string `json:"key"`
	// Value is the noisy statistic; 0 when Suppressed.
	Value int64 `json:"value"`
	// Suppressed is set when the cell's noisy count is below k.
	Suppressed bool `json:"suppressed,omitempty"`
}

func checkKeys(id string, keys []string, data []string) error {
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; dup {
			return fmt.Errorf("release %q: key %q declared twice: %w", id, k, ErrInvalidParams)
		}
		seen[k] = struct{}{}
	}
	for _, k := range data {
		if _, ok := seen[k]; !ok {
			return fmt.Errorf("release %q: key %q: %w", id, k, ErrUndeclaredKey)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Counts releases a DP histogram of distinct users over the declared keys:
// counts[key] is the number of distinct users in the cell (a user in at most
// p.MaxPartitionsContributed cells). Every declared key is released in the
// order given; cells whose noisy count is below k are suppressed. A key in
// counts that is not declared is refused with ErrUndeclaredKey. The whole
// histogram is one charge.
func (r *Releaser) Counts(p Params, keys []string, counts map[string]int64) ([]Cell, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.validate(p); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("release %q: no keys: %w", p.ID, ErrInvalidParams)
	}
	if err := checkKeys(p.ID, keys, sortedKeys(counts)); err != nil {
		return nil, err
	}
	for k, n := range counts {
		if n < 0 {
			return nil, fmt.Errorf("release %q: count %d for %q: %w", p.ID, n, k, ErrInvalidParams)
		}
	}
	aggs := make([]*dpagg.Count, len(keys))
	for i := range keys {
		c, err := dpagg.NewCount(&dpagg.CountOptions{
			Epsilon: p.Epsilon, Delta: p.Delta, MaxPartitionsContributed: p.l0(), Noise: r.libNoise(),
		})
		if err != nil {
			return nil, fmt.Errorf("release %q: %w: %w", p.ID, ErrInvalidParams, err)
		}
		aggs[i] = c
	}
	cost, err := r.cost(p.Epsilon, p.Delta, p.l0(), 1)
	if err != nil {
		return nil, fmt.Errorf("release %q: %w", p.ID, err)
	}
	if err := r.pay(p.ID, cost); err != nil {
		return nil, err
	}
	return r.countResults(p.ID, keys, counts, aggs)
}

func (r *Releaser) countResults(id string, keys []string, counts map[string]int64, aggs []*dpagg.Count) ([]Cell, error) {
	out := make([]Cell, len(keys))
	for i, k := range keys {
		if err := aggs[i].IncrementBy(counts[k]); err != nil {
			return nil, fmt.Errorf("release %q: %w", id, err)
		}
		v, err := aggs[i].Result()
		if err != nil {
			return nil, fmt.Errorf("release %q: %w", id, err)
		}
		out[i] = Cell{Key: k, Value: v}
		if v < r.k {
			out[i] = Cell{Key: k, Suppressed: true}
		}
	}
	return out, nil
}

// Count releases one DP count (a histogram with a single key "").
func (r *Releaser) Count(p Params, n int64) (Cell, error) {
	cells, err := r.Counts(p, []string{""}, map[string]int64{"": n})
	if err != nil {
		return Cell{}, err
	}
	return cells[0], nil
}

// SumParams configures a bounded-sum release.
type SumParams struct {
	Params
	// Lower and Upper clamp each user's (pre-aggregated) value per cell.
	// Required, Lower ≤ Upper, not both 0.
	Lower, Upper int64
}

// BoundedSums releases, for each declared key, the DP sum of per-user values
// clamped to [Lower, Upper]: values[key] holds one pre-aggregated value per
// user in the cell. Every declared key is released in the order given. Sums
// are not suppressed by themselves: apply [SuppressLike] with the counts of
// the same cells.
func (r *Releaser) BoundedSums(p SumParams, keys []string, values map[string][]int64) ([]Cell, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.validate(p.Params); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("release %q: no keys: %w", p.ID, ErrInvalidParams)
	}
	if err := checkKeys(p.ID, keys, sortedKeys(values)); err != nil {
		return nil, err
	}
	aggs := make([]*dpagg.BoundedSumInt64, len(keys))
	for i := range keys {
		s, err := dpagg.NewBoundedSumInt64(&dpagg.BoundedSumInt64Options{
			Epsilon: p.Epsilon, Delta: p.Delta, MaxPartitionsContributed: p.l0(),
			Lower: p.Lower, Upper: p.Upper, Noise: r.libNoise(),
		})
		if err != nil {
			return nil, fmt.Errorf("release %q: %w: %w", p.ID, ErrInvalidParams, err)
		}
		aggs[i] = s
	}
	lInf := math.Max(math.Abs(float64(p.Lower)), math.Abs(float64(p.Upper)))
	cost, err := r.cost(p.Epsilon, p.Delta, p.l0(), lInf)
	if err != nil {
		return nil, fmt.Errorf("release %q: %w", p.ID, err)
	}
	if err := r.pay(p.ID, cost); err != nil {
		return nil, err
	}
	out := make([]Cell, len(keys))
	for i, k := range keys {
		for _, v := range values[k] {
			if err := aggs[i].Add(v); err != nil {
				return nil, fmt.Errorf("release %q: %w", p.ID, err)
			}
		}
		v, err := aggs[i].Result()
		if err != nil {
			return nil, fmt.Errorf("release %q: %w", p.ID, err)
		}
		out[i] = Cell{Key: k, Value: v}
	}
	return out, nil
}

// SuppressLike marks cells suppressed (value withheld) wherever the cell with
// the same key in counts is suppressed. It is post-processing and costs
// nothing. cells is modified in place and returned.
func SuppressLike(cells, counts []Cell) []Cell {
	sup := make(map[string]bool, len(counts))
	for _, c := range counts {
		if c.Suppressed {
			sup[c.Key] = true
		}
	}
	for i := range cells {
		if sup[cells[i].Key] {
			cells[i] = Cell{Key: cells[i].Key, Suppressed: true}
		}
	}
	return cells
}

// QuantileParams configures a quantile release.
type QuantileParams struct {
	Params
	// MaxContributionsPerPartition is how many values one user may add.
	// Defaults to 1.
	MaxContributionsPerPartition int64
	// Lower and Upper clamp values. Required, Lower < Upper.
	Lower, Upper float64
}

// Quantiles releases DP quantiles of values at the given ranks (each in
// [0, 1]) with the library's quantile tree (default height and branching).
// The tree is paid once for all ranks. Results are not k-suppressed.
func (r *Releaser) Quantiles(p QuantileParams, values []float64, ranks []float64) ([]float64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.validate(p.Params); err != nil {
		return nil, err
	}
	if p.MaxContributionsPerPartition < 0 {
		return nil, fmt.Errorf("release %q: MaxContributionsPerPartition %d: %w", p.ID, p.MaxContributionsPerPartition, ErrInvalidParams)
	}
	if len(ranks) == 0 {
		return nil, fmt.Errorf("release %q: no ranks: %w", p.ID, ErrInvalidParams)
	}
	for _, q := range ranks {
		if !(q >= 0 && q <= 1) {
			return nil, fmt.Errorf("release %q: rank %v: %w", p.ID, q, ErrInvalidParams)
		}
	}
	perUser := max(p.MaxContributionsPerPartition, 1)
	bq, err := dpagg.NewBoundedQuantiles(&dpagg.BoundedQuantilesOptions{
		Epsilon: p.Epsilon, Delta: p.Delta, MaxPartitionsContributed: p.l0(),
		MaxContributionsPerPartition: perUser, Lower: p.Lower, Upper: p.Upper, Noise: r.libNoise(),
	})
	if err != nil {
		return nil, fmt.Errorf("release %q: %w: %w", p.ID, ErrInvalidParams, err)
	}
	cost, err := r.cost(p.Epsilon, p.Delta, int64(dpagg.DefaultTreeHeight)*p.l0(), float64(perUser))
	if err != nil {
		return nil, fmt.Errorf("release %q: %w", p.ID, err)
	}
	if err := r.pay(p.ID, cost); err != nil {
		return nil, err
	}
	for _, v := range values {
		if err := bq.Add(v); err != nil {
			return nil, fmt.Errorf("release %q: %w", p.ID, err)
		}
	}
	out := make([]float64, len(ranks))
	for i, q := range ranks {
		if out[i], err = bq.Result(q); err != nil {
			return nil, fmt.Errorf("release %q: %w", p.ID, err)
		}
	}
	return out, nil
}

// Selection configures DP partition selection for data-dependent keys.
type Selection struct {
	// Epsilon and Delta of the selection step. Required: ε > 0, δ in (0, 1).
	Epsilon, Delta float64
}

// SelectCounts releases DP counts for keys that come from the data. Each key
// is kept only if it has at least k distinct users (k = MinCount, at least 1)
// and passes the library's DP partition selection (PreAggSelectPartition with
// PreThreshold k, (sel.Epsilon, sel.Delta)-DP); kept keys get a noisy count,
// suppressed too if below k. Dropped keys are not mentioned in the result,
// which is sorted by key. Cost: the counts' cost plus sel as δ-approximate
// zCDP, in one charge; the budget needs a δ reserve (budget.Spec.ApproxDelta).
func (r *Releaser) SelectCounts(p Params, sel Selection, counts map[string]int64) ([]Cell, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.validate(p); err != nil {
		return nil, err
	}
	keys := sortedKeys(counts)
	kept := make([]string, 0, len(keys))
	selectors := make([]*dpagg.PreAggSelectPartition, len(keys))
	for i, k := range keys {
		if counts[k] < 0 {
			return nil, fmt.Errorf("release %q: count %d for %q: %w", p.ID, counts[k], k, ErrInvalidParams)
		}
		s, err := dpagg.NewPreAggSelectPartition(&dpagg.PreAggSelectPartitionOptions{
			Epsilon: sel.Epsilon, Delta: sel.Delta, PreThreshold: max(r.k, 1), MaxPartitionsContributed: p.l0(),
		})
		if err != nil {
			return nil, fmt.Errorf("release %q: selection: %w: %w", p.ID, ErrInvalidParams, err)
		}
		selectors[i] = s
	}
	selCost, err := budget.ApproxDPCost(sel.Epsilon, sel.Delta)
	if err != nil {
		return nil, fmt.Errorf("release %q: selection: %w", p.ID, err)
	}
	countCost, err := r.cost(p.Epsilon, p.Delta, p.l0(), 1)
	if err != nil {
		return nil, fmt.Errorf("release %q: %w", p.ID, err)
	}
	cost, ok := selCost.Add(countCost)
	if !ok {
		return nil, fmt.Errorf("release %q: cost overflow: %w", p.ID, budget.ErrInvalidCost)
	}
	// Build the counts before paying so parameter errors cost nothing.
	aggs := make([]*dpagg.Count, 0, len(keys))
	for range keys {
		c, err := dpagg.NewCount(&dpagg.CountOptions{
			Epsilon: p.Epsilon, Delta: p.Delta, MaxPartitionsContributed: p.l0(), Noise: r.libNoise(),
		})
		if err != nil {
			return nil, fmt.Errorf("release %q: %w: %w", p.ID, ErrInvalidParams, err)
		}
		aggs = append(aggs, c)
	}
	if err := r.pay(p.ID, cost); err != nil {
		return nil, err
	}
	keptAggs := aggs[:0]
	for i, k := range keys {
		if err := selectors[i].IncrementBy(counts[k]); err != nil {
			return nil, fmt.Errorf("release %q: %w", p.ID, err)
		}
		keep, err := selectors[i].ShouldKeepPartition()
		if err != nil {
			return nil, fmt.Errorf("release %q: %w", p.ID, err)
		}
		if keep {
			kept = append(kept, k)
			keptAggs = append(keptAggs, aggs[i])
		}
	}
	return r.countResults(p.ID, kept, counts, keptAggs)
}
