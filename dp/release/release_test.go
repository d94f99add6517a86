package release

import (
	"errors"
	"flag"
	"math"
	"os"
	"reflect"
	"testing"

	dpnoise "github.com/google/differential-privacy/go/v3/noise"

	"github.com/strata-fed/strata/dp/budget"
)

func TestMain(m *testing.M) {
	// The library logs (glog) a warning for test noise; keep it off /tmp.
	_ = flag.Set("logtostderr", "true")
	os.Exit(m.Run())
}

// noNoise is deterministic library noise: it adds nothing and counts calls.
// Methods the releases do not use are left to the embedded nil interface.
type noNoise struct {
	dpnoise.Noise
	// noised counts calls on non-zero values: the library's parameter checks
	// call the noise on 0 when aggregations are built.
	noised int
}

func (n *noNoise) AddNoiseInt64(x, _, _ int64, _, _ float64) (int64, error) {
	if x != 0 {
		n.noised++
	}
	return x, nil
}

func (n *noNoise) AddNoiseFloat64(x float64, _ int64, _, _, _ float64) (float64, error) {
	if x != 0 {
		n.noised++
	}
	return x, nil
}

func newAccountant(t *testing.T, spec budget.Spec) *budget.Accountant {
	t.Helper()
	b, err := budget.NewBudget(spec)
	if err != nil {
		t.Fatal(err)
	}
	a, err := budget.New(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// newTest returns a Releaser with deterministic noise.
func newTest(t *testing.T, a *budget.Accountant, mech Mechanism, k int64) (*Releaser, *noNoise) {
	t.Helper()
	r, err := New(Options{Ledger: a, Mechanism: mech, MinCount: k})
	if err != nil {
		t.Fatal(err)
	}
	n := &noNoise{}
	r.noise = n
	return r, n
}

func gaussRho(l0 int64, lInf, eps, delta float64) int64 {
	s := dpnoise.SigmaForGaussian(l0, lInf, eps, delta)
	return int64(math.Ceil(float64(l0) * lInf * lInf / (2 * s * s) * budget.RhoScale))
}

func TestCountsChargeAndSuppress(t *testing.T) {
	a := newAccountant(t, budget.Spec{Epsilon: 1, Delta: 1e-6})
	r, _ := newTest(t, a, Gaussian, 10)
	keys := []string{"champions/store", "champions/market", "lost/store", "empty"}
	counts := map[string]int64{"champions/store": 1200, "champions/market": 10, "lost/store": 9}
	p := Params{ID: "seg-counts", Epsilon: 0.3, Delta: 1e-8, MaxPartitionsContributed: 2}
	cells, err := r.Counts(p, keys, counts)
	if err != nil {
		t.Fatal(err)
	}
	want := []Cell{
		{Key: "champions/store", Value: 1200},
		{Key: "champions/market", Value: 10},
		{Key: "lost/store", Suppressed: true},
		{Key: "empty", Suppressed: true},
	}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("Counts = %+v, want %+v", cells, want)
	}
	// One charge for the histogram: ρ = l0·1²/(2σ²), σ the library's σ for (ε, δ, l0).
	c, ok := a.Charged("seg-counts")
	if !ok || c.Rho != gaussRho(2, 1, 0.3, 1e-8) || c.Delta != 0 || len(a.Charges) != 1 {
		t.Errorf("charged %+v (%v), want ρ units %d", c, ok, gaussRho(2, 1, 0.3, 1e-8))
	}
	// Released once.
	if _, err := r.Counts(p, keys, counts); !errors.Is(err, ErrAlreadyReleased) {
		t.Errorf("second release with the same ID = %v, want ErrAlreadyReleased", err)
	}
	if len(a.Charges) != 1 {
		t.Errorf("a refused release was charged")
	}
}

func TestLaplaceCostHandComputed(t *testing.T) {
	a := newAccountant(t, budget.Spec{Epsilon: 10, Delta: 1e-6})
	r, _ := newTest(t, a, Laplace, 0)
	if _, err := r.Count(Params{ID: "n", Epsilon: 0.1}, 42); err != nil {
		t.Fatal(err)
	}
	// ρ = ε²/2 = 0.005 = 5e9 units (+1 for float rounding up).
	if c, _ := a.Charged("n"); c.Rho != 5_000_000_000 && c.Rho != 5_000_000_001 {
		t.Errorf("Laplace ε=0.1 charged %d units, want 5e9", c.Rho)
	}
	if _, err := r.Count(Params{ID: "m", Epsilon: 0.1, Delta: 1e-9}, 42); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("Laplace with δ > 0 = %v, want ErrInvalidParams", err)
	}
}

func TestExhaustedReleasesNothing(t *testing.T) {
	a := newAccountant(t, budget.Spec{Epsilon: 1, Delta: 1e-6})
	r, n := newTest(t, a, Laplace, 0)
	before := a.Clone()
	// ε = 1 Laplace costs ρ = 0.5 > ρ_total ≈ 0.0175.
	cell, err := r.Count(Params{ID: "too-much", Epsilon: 1}, 7)
	if !errors.Is(err, budget.ErrBudgetExhausted) {
		t.Fatalf("Count beyond budget = %v, want ErrBudgetExhausted", err)
	}
	if cell != (Cell{}) || n.noised != 0 {
		t.Errorf("refused release returned %+v and noised %d values", cell, n.noised)
	}
	if !reflect.DeepEqual(a, before) {
		t.Errorf("refused release changed the ledger")
	}
	// Spend the budget with Gaussian releases until one is refused.
	g, _ := newTest(t, a, Gaussian, 0)
	released := 0
	for i := range 100 {
		_, err := g.Count(Params{ID: "g" + string(rune('a'+i)), Epsilon: 0.5, Delta: 1e-7}, 7)
		if errors.Is(err, budget.ErrBudgetExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		released++
	}
	per := gaussRho(1, 1, 0.5, 1e-7)
	if want := a.Budget.Total.Rho / per; int64(released) != want {
		t.Errorf("released %d Gaussian counts, want ⌊ρ_total/ρ⌋ = %d", released, want)
	}
}

func TestInvalidRequestsCostNothing(t *testing.T) {
	a := newAccountant(t, budget.Spec{Epsilon: 1, Delta: 1e-6})
	r, _ := newTest(t, a, Gaussian, 0)
	keys := []string{"a", "b"}
	for name, f := range map[string]func() error{
		"undeclared key": func() error {
			_, err := r.Counts(Params{ID: "x", Epsilon: 0.1, Delta: 1e-8}, keys, map[string]int64{"c": 3})
			if !errors.Is(err, ErrUndeclaredKey) {
				t.Errorf("undeclared key: %v, want ErrUndeclaredKey", err)
			}
			return err
		},
		"no id":          func() error { _, err := r.Count(Params{Epsilon: 0.1, Delta: 1e-8}, 1); return err },
		"no delta":       func() error { _, err := r.Count(Params{ID: "x", Epsilon: 0.1}, 1); return err },
		"bad epsilon":    func() error { _, err := r.Count(Params{ID: "x", Epsilon: math.NaN(), Delta: 1e-8}, 1); return err },
		"negative count": func() error { _, err := r.Count(Params{ID: "x", Epsilon: 0.1, Delta: 1e-8}, -1); return err },
		"duplicate key": func() error {
			_, err := r.Counts(Params{ID: "x", Epsilon: 0.1, Delta: 1e-8}, []string{"a", "a"}, nil)
			return err
		},
		"bad bounds": func() error {
			_, err := r.BoundedSums(SumParams{Params: Params{ID: "x", Epsilon: 0.1, Delta: 1e-8}, Lower: 5, Upper: 1}, keys, nil)
			return err
		},
		"bad rank": func() error {
			_, err := r.Quantiles(QuantileParams{Params: Params{ID: "x", Epsilon: 0.1, Delta: 1e-8}, Lower: 0, Upper: 1}, nil, []float64{1.5})
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if len(a.Charges) != 0 {
		t.Errorf("invalid requests were charged: %+v", a.Charges)
	}
	if _, err := New(Options{}); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("New without ledger = %v", err)
	}
}

func TestBoundedSumsClampAndSuppressLike(t *testing.T) {
	a := newAccountant(t, budget.Spec{Epsilon: 1, Delta: 1e-6})
	r, _ := newTest(t, a, Gaussian, 3)
	keys := []string{"a", "b"}
	p := SumParams{Params: Params{ID: "rev", Epsilon: 0.2, Delta: 1e-8}, Lower: 0, Upper: 100}
	sums, err := r.BoundedSums(p, keys, map[string][]int64{"a": {10, 250, -5}, "b": {40}})
	if err != nil {
		t.Fatal(err)
	}
	// Clamped to [0, 100]: 10 + 100 + 0.
	if sums[0].Value != 110 || sums[1].Value != 40 {
		t.Errorf("BoundedSums = %+v, want a=110 b=40", sums)
	}
	if c, _ := a.Charged("rev"); c.Rho != gaussRho(1, 100, 0.2, 1e-8) {
		t.Errorf("sum charged %d units, want %d", c.Rho, gaussRho(1, 100, 0.2, 1e-8))
	}
	counts, err := r.Counts(Params{ID: "cnt", Epsilon: 0.2, Delta: 1e-8}, keys, map[string]int64{"a": 3, "b": 1})
	if err != nil {
		t.Fatal(err)
	}
	got := SuppressLike(sums, counts)
	if got[0] != (Cell{Key: "a", Value: 110}) || got[1] != (Cell{Key: "b", Suppressed: true}) {
		t.Errorf("SuppressLike = %+v", got)
	}
}

func TestQuantiles(t *testing.T) {
	a := newAccountant(t, budget.Spec{Epsilon: 1, Delta: 1e-6})
	r, _ := newTest(t, a, Gaussian, 0)
	vals := make([]float64, 1001)
	for i := range vals {
		vals[i] = float64(i)
	}
	p := QuantileParams{Params: Params{ID: "q", Epsilon: 0.5, Delta: 1e-8}, Lower: 0, Upper: 1000}
	qs, err := r.Quantiles(p, vals, []float64{0.2, 0.5, 0.9})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{200, 500, 900} {
		if math.Abs(qs[i]-want) > 1 {
			t.Errorf("quantile %d = %v, want ≈ %v", i, qs[i], want)
		}
	}
	// The tree has height 4: l0 = 4, l∞ = 1.
	if c, _ := a.Charged("q"); c.Rho != gaussRho(4, 1, 0.5, 1e-8) {
		t.Errorf("quantiles charged %d units, want %d", c.Rho, gaussRho(4, 1, 0.5, 1e-8))
	}
}

func TestSelectCounts(t *testing.T) {
	counts := map[string]int64{"big": 5000, "small": 4, "zero": 0, "mid": 3000}
	p := Params{ID: "sel", Epsilon: 0.2, Delta: 1e-8}
	sel := Selection{Epsilon: 0.1, Delta: 1e-8}

	noReserve := newAccountant(t, budget.Spec{Epsilon: 1, Delta: 1e-6})
	r, _ := newTest(t, noReserve, Gaussian, 5)
	if _, err := r.SelectCounts(p, sel, counts); !errors.Is(err, budget.ErrBudgetExhausted) {
		t.Errorf("selection without a δ reserve = %v, want ErrBudgetExhausted", err)
	}

	a := newAccountant(t, budget.Spec{Epsilon: 1, Delta: 1e-6, ApproxDelta: 1e-7})
	r, _ = newTest(t, a, Gaussian, 5)
	cells, err := r.SelectCounts(p, sel, counts)
	if err != nil {
		t.Fatal(err)
	}
	// Below the pre-threshold k = 5 are always dropped; thousands of users are
	// kept with probability 1 at these parameters.
	want := []Cell{{Key: "big", Value: 5000}, {Key: "mid", Value: 3000}}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("SelectCounts = %+v, want %+v", cells, want)
	}
	c, _ := a.Charged("sel")
	// Counts' Gaussian ρ plus the selection's ε²/2 = 0.005 (5e9 units, +1 rounding).
	wantRho := gaussRho(1, 1, 0.2, 1e-8) + 5_000_000_000
	if (c.Rho != wantRho && c.Rho != wantRho+1) || c.Delta != 1e10 {
		t.Errorf("selection charged %+v, want ρ %d δ 1e10", c, wantRho)
	}
}

func TestRealNoiseSmoke(t *testing.T) {
	a := newAccountant(t, budget.Spec{Epsilon: 1, Delta: 1e-6})
	r, err := New(Options{Ledger: a})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Count(Params{ID: "real", Epsilon: 0.5, Delta: 1e-8}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// |noise| > 10σ has probability < 1e-22.
	if s := dpnoise.SigmaForGaussian(1, 1, 0.5, 1e-8); math.Abs(float64(c.Value-1000)) > 10*s {
		t.Errorf("noisy count %d is more than 10σ (σ=%v) from 1000", c.Value, s)
	}
}
