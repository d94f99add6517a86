package budget

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
)

func mustBudget(t testing.TB, s Spec) *Accountant {
	t.Helper()
	b, err := NewBudget(s)
	if err != nil {
		t.Fatalf("NewBudget(%+v): %v", s, err)
	}
	a, err := New(b)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// mustCost returns a function that fails t on a cost constructor's error.
func mustCost(t testing.TB) func(Cost, error) Cost {
	return func(c Cost, err error) Cost {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func TestNewBudgetUnits(t *testing.T) {
	b, err := NewBudget(Spec{Epsilon: 1, Delta: 1e-6, ApproxDelta: 1e-7})
	if err != nil {
		t.Fatal(err)
	}
	// ρ cap: the root of ρ + 2√(ρL) + ρ^{3/2}/(4√L) = 1 with L = ln(1/9e-7),
	// 0.017335984274167583 (the plain zCDP inverse would give 0.017341197907499658).
	if got, want := b.Total.Rho, int64(math.Floor(0.017335984274167583*RhoScale)); got < want-1 || got > want {
		t.Errorf("Total.Rho = %d, want %d", got, want)
	}
	if got, want := b.Total.Delta, int64(1e11); got != want {
		t.Errorf("Total.Delta = %d, want %d", got, want)
	}
	if got, want := b.ConversionDelta, int64(9e11); got != want {
		t.Errorf("ConversionDelta = %d, want %d", got, want)
	}
	for _, bad := range []Spec{{}, {Epsilon: 1}, {Epsilon: 1, Delta: 1}, {Epsilon: -1, Delta: 1e-6},
		{Epsilon: math.NaN(), Delta: 1e-6}, {Epsilon: math.Inf(1), Delta: 1e-6}, {Epsilon: 1, Delta: 1e-6, ApproxDelta: 1e-6}} {
		if _, err := NewBudget(bad); !errors.Is(err, ErrInvalidCost) {
			t.Errorf("NewBudget(%+v) = %v, want ErrInvalidCost", bad, err)
		}
	}
}

func TestCompositionAndExhaustion(t *testing.T) {
	a := mustBudget(t, Spec{Epsilon: 1, Delta: 1e-6})
	total := a.Budget.Total.Rho
	// Ten Gaussian releases at σ chosen to cost a tenth of the budget each
	// (rounding up may make the last one not fit, so aim at 0.0999).
	rho := 0.0999 * float64(total) / RhoScale
	cost := mustCost(t)(GaussianCost(1, GaussianSigma(rho, 1)))
	for i := range 10 {
		if err := a.Charge(fmt.Sprintf("round-%d", i), cost); err != nil {
			t.Fatalf("charge %d: %v", i, err)
		}
	}
	if got, want := a.Spent.Rho, 10*cost.Rho; got != want {
		t.Errorf("Spent.Rho = %d, want %d (ρ adds up)", got, want)
	}
	// Spent (ε, δ) follows the ledger's conversion.
	eps, delta := a.SpentEpsilonDelta()
	wantEps := LedgerEpsilon(float64(10*cost.Rho)/RhoScale, 1e-6)
	if !near(eps, wantEps, 1e-9) || eps > 1 || eps < 0.99 || delta != 1e-6 {
		t.Errorf("SpentEpsilonDelta = (%v, %v), want (%v ≤ 1, 1e-6)", eps, delta, wantEps)
	}
	before := *a.Clone()
	if err := a.Charge("round-10", cost); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("charge beyond budget = %v, want ErrBudgetExhausted", err)
	}
	if !reflect.DeepEqual(*a, before) {
		t.Errorf("a refused charge changed the ledger")
	}
	// What is left can still be spent exactly.
	if err := a.Charge("rest", a.Remaining()); err != nil {
		t.Fatalf("charge of the remainder: %v", err)
	}
	if a.Remaining().Rho != 0 {
		t.Errorf("Remaining = %v after spending it", a.Remaining())
	}
	if err := a.Charge("one-more", Cost{Rho: 1}); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("charge of one unit on an empty budget = %v, want ErrBudgetExhausted", err)
	}
	if err := a.Charge("free", Cost{}); err != nil {
		t.Errorf("zero-cost charge = %v", err)
	}
	if a.RemainingEpsilon() > 1e-6 {
		t.Errorf("RemainingEpsilon = %v on a spent budget", a.RemainingEpsilon())
	}
}

func TestApproximateDelta(t *testing.T) {
	a := mustBudget(t, Spec{Epsilon: 1, Delta: 1e-6, ApproxDelta: 2e-7})
	sel := mustCost(t)(ApproxDPCost(0.01, 1e-7))
	if err := a.Charge("select-1", sel); err != nil {
		t.Fatal(err)
	}
	if err := a.Charge("select-2", sel); err != nil {
		t.Fatal(err)
	}
	if err := a.Charge("select-3", sel); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("third δ charge = %v, want ErrBudgetExhausted", err)
	}
	_, delta := a.SpentEpsilonDelta()
	if !near(delta, 1e-6, 1e-9) {
		t.Errorf("spent δ = %v, want 8e-7 + 2e-7", delta)
	}
	// Without a reserve, no δ charge is ever covered.
	b := mustBudget(t, Spec{Epsilon: 1, Delta: 1e-6})
	if err := b.Charge("select", sel); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("δ charge without a reserve = %v, want ErrBudgetExhausted", err)
	}
}

func TestChargeErrorsAndCovers(t *testing.T) {
	a := mustBudget(t, Spec{Epsilon: 1, Delta: 1e-6})
	c := mustCost(t)(SkellamCost(1, 1, 1e4))
	if err := a.Charge("r1", c); err != nil {
		t.Fatal(err)
	}
	if err := a.Charge("r1", c); !errors.Is(err, ErrDuplicateCharge) {
		t.Errorf("duplicate charge = %v, want ErrDuplicateCharge", err)
	}
	if err := a.Charge("neg", Cost{Rho: -5}); !errors.Is(err, ErrInvalidCost) {
		t.Errorf("negative charge = %v, want ErrInvalidCost", err)
	}
	if err := a.Charge("huge", Cost{Rho: math.MaxInt64}); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("overflowing charge = %v, want ErrBudgetExhausted", err)
	}
	if !a.Covers("r1", c) || !a.Covers("r1", Cost{}) {
		t.Errorf("Covers(r1, its cost) = false")
	}
	if a.Covers("r1", Cost{Rho: c.Rho + 1}) {
		t.Errorf("Covers(r1, more than paid) = true")
	}
	if a.Covers("r2", Cost{}) {
		t.Errorf("Covers(unpaid round) = true")
	}
	var zero Accountant
	if zero.Covers("r1", Cost{}) || zero.Charge("x", Cost{Rho: 1}) == nil {
		t.Errorf("the zero Accountant covers or accepts charges")
	}
	for _, f := range []func() (Cost, error){
		func() (Cost, error) { return RhoCost(math.NaN()) },
		func() (Cost, error) { return RhoCost(-1) },
		func() (Cost, error) { return RhoCost(1e30) },
		func() (Cost, error) { return PureDPCost(0) },
		func() (Cost, error) { return ApproxDPCost(1, 1) },
		func() (Cost, error) { return GaussianCost(1, 0) },
		func() (Cost, error) { return SkellamCost(1, 2, 10) },
	} {
		if _, err := f(); !errors.Is(err, ErrInvalidCost) {
			t.Errorf("invalid cost accepted: %v", err)
		}
	}
}

func TestCostRoundsUp(t *testing.T) {
	c := mustCost(t)(RhoCost(1.5e-13))
	if c.Rho != 1 {
		t.Errorf("RhoCost(1.5e-13).Rho = %d, want 1 (rounded up)", c.Rho)
	}
	c = mustCost(t)(ApproxDPCost(1, 1.5e-19))
	if c.Delta != 1 || c.Rho != RhoScale/2 {
		t.Errorf("ApproxDPCost(1, 1.5e-19) = %+v, want ρ=0.5e12, δ=1", c)
	}
}

func TestSerialisationRoundTripAndDeterminism(t *testing.T) {
	build := func() *Accountant {
		a := mustBudget(t, Spec{Epsilon: 1, Delta: 1e-6, ApproxDelta: 1e-7})
		for i, c := range []Cost{
			mustCost(t)(SkellamCost(3, 1.5, 250)),
			mustCost(t)(GaussianCost(1, 40)),
			mustCost(t)(ApproxDPCost(0.01, 1e-8)),
		} {
			if err := a.Charge(fmt.Sprintf("c%d", i), c); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	a1, a2 := build(), build()
	j1, err := json.Marshal(a1)
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := json.Marshal(a2)
	if string(j1) != string(j2) {
		t.Errorf("same charges, different ledgers:\n%s\n%s", j1, j2)
	}
	var back Accountant
	if err := json.Unmarshal(j1, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, a1) {
		t.Errorf("round trip: got %+v, want %+v", back, *a1)
	}
	if err := back.Validate(); err != nil {
		t.Errorf("Validate after round trip: %v", err)
	}
	// The decoded ledger decides as the original does.
	next := mustCost(t)(GaussianCost(1, 10))
	if e1, e2 := a1.Check("n", next), back.Check("n", next); (e1 == nil) != (e2 == nil) {
		t.Errorf("decisions differ after round trip: %v vs %v", e1, e2)
	}

	tampered := []func(*Accountant){
		func(a *Accountant) { a.Spent.Rho-- },
		func(a *Accountant) {
			a.Charges = append(a.Charges, a.Charges[0])
			a.Spent, _ = a.Spent.Add(a.Charges[0].Cost)
		},
		func(a *Accountant) { a.Budget.Total.Rho = a.Spent.Rho - 1 },
		func(a *Accountant) { a.Charges[1].Cost.Rho = -a.Charges[1].Cost.Rho },
	}
	for i, f := range tampered {
		c := a1.Clone()
		f(c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidLedger) {
			t.Errorf("tampered ledger %d: Validate = %v, want ErrInvalidLedger", i, err)
		}
	}
}

func BenchmarkCharge(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("ledger=%d", n), func(b *testing.B) {
			base := mustBudget(b, Spec{Epsilon: 1e6, Delta: 1e-6})
			for i := range n {
				if err := base.Charge(fmt.Sprintf("r%d", i), Cost{Rho: 1}); err != nil {
					b.Fatal(err)
				}
			}
			ids := make([]string, 1024)
			for i := range ids {
				ids[i] = fmt.Sprintf("new-%d", i)
			}
			a := base.Clone()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%len(ids) == 0 {
					b.StopTimer()
					a = base.Clone()
					b.StartTimer()
				}
				if err := a.Charge(ids[i%len(ids)], Cost{Rho: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
