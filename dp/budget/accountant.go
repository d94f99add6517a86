package budget

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Errors returned by the accountant. Test them with errors.Is.
var (
	// ErrBudgetExhausted: the charge would take the spent budget beyond the
	// total. Nothing was charged.
	ErrBudgetExhausted = errors.New("privacy budget exhausted")
	// ErrDuplicateCharge: a charge with this id is already in the ledger. A
	// release is paid, and released, at most once.
	ErrDuplicateCharge = errors.New("charge id already in the ledger")
	// ErrInvalidCost: a cost or budget is negative, NaN, infinite or too large.
	ErrInvalidCost = errors.New("invalid privacy cost")
	// ErrInvalidLedger: a decoded ledger is inconsistent (spent ≠ sum of
	// charges, spent beyond total, duplicate ids, …).
	ErrInvalidLedger = errors.New("invalid privacy ledger")
)

// Spec is the human-facing total budget of a (federation, dataset).
type Spec struct {
	// Epsilon is the total ε. Required, > 0.
	Epsilon float64 `json:"epsilon"`
	// Delta is the total δ. Required, in (0, 1).
	Delta float64 `json:"delta"`
	// ApproxDelta is the part of Delta reserved for δ-approximate charges
	// (data-dependent partition selection). Defaults to 0: no such charge is
	// ever covered. Must be < Delta.
	ApproxDelta float64 `json:"approx_delta,omitempty"`
}

// Budget is the total budget in ledger units, computed once by [NewBudget].
type Budget struct {
	// Spec is the (ε, δ) the budget was made from. Informational: decisions use
	// Total only.
	Spec Spec `json:"spec"`
	// Total is the cap: Total.Rho = ρ_total (1e-12 units), Total.Delta = the
	// approximate-δ reserve (1e-18 units).
	Total Cost `json:"total"`
	// ConversionDelta is δ_conv = Delta − ApproxDelta in 1e-18 units, the δ of
	// the ρ → (ε, δ) conversion.
	ConversionDelta int64 `json:"conversion_delta"`
}

// NewBudget converts spec into ledger caps: ρ_total, the largest ρ with
// LedgerEpsilon(ρ, δ_conv) ≤ ε, rounded down, the approximate-δ reserve rounded down. Call it on the proposer
// and replicate the result; never recompute it on followers.
func NewBudget(spec Spec) (Budget, error) {
	if !(spec.Epsilon > 0) || math.IsInf(spec.Epsilon, 0) {
		return Budget{}, fmt.Errorf("budget epsilon %v: %w", spec.Epsilon, ErrInvalidCost)
	}
	if !(spec.Delta > 0 && spec.Delta < 1) {
		return Budget{}, fmt.Errorf("budget delta %v must be in (0, 1): %w", spec.Delta, ErrInvalidCost)
	}
	if !(spec.ApproxDelta >= 0 && spec.ApproxDelta < spec.Delta) {
		return Budget{}, fmt.Errorf("budget approx delta %v must be in [0, delta): %w", spec.ApproxDelta, ErrInvalidCost)
	}
	conv := spec.Delta - spec.ApproxDelta
	rho, err := toUnits(LedgerRho(spec.Epsilon, conv), RhoScale, false)
	if err != nil {
		return Budget{}, fmt.Errorf("budget rho: %w", err)
	}
	approx, err := toUnits(spec.ApproxDelta, DeltaScale, false)
	if err != nil {
		return Budget{}, fmt.Errorf("budget approx delta: %w", err)
	}
	convUnits, err := toUnits(conv, DeltaScale, false)
	if err != nil || convUnits == 0 {
		return Budget{}, fmt.Errorf("budget conversion delta %v: %w", conv, ErrInvalidCost)
	}
	return Budget{Spec: spec, Total: Cost{Rho: rho, Delta: approx}, ConversionDelta: convUnits}, nil
}

// Entry is one charge in the ledger.
type Entry struct {
	// ID names what was paid for (a round id, a release id). Unique in a ledger.
	ID string `json:"id"`
	// Cost is what was charged.
	Cost Cost `json:"cost"`
}

// Accountant is the ledger of one (federation, dataset). The zero value has no
// budget and covers nothing; make one with [New]. Fields are exported for
// serialisation only: change them through the methods. Not safe for
// concurrent use.
type Accountant struct {
	Budget Budget `json:"budget"`
	// Spent is the sum of the costs of Charges.
	Spent Cost `json:"spent"`
	// Charges in the order they were applied.
	Charges []Entry `json:"charges"`
}

// New returns an empty ledger with budget b.
func New(b Budget) (*Accountant, error) {
	if err := b.Total.validate(); err != nil {
		return nil, fmt.Errorf("new accountant: %w", err)
	}
	if b.ConversionDelta <= 0 || b.ConversionDelta >= DeltaScale {
		return nil, fmt.Errorf("new accountant: conversion delta %d units: %w", b.ConversionDelta, ErrInvalidCost)
	}
	return &Accountant{Budget: b, Charges: []Entry{}}, nil
}

// Check reports whether cost could be charged under id now, without charging:
// nil, ErrDuplicateCharge, ErrBudgetExhausted or ErrInvalidCost.
func (a *Accountant) Check(id string, cost Cost) error {
	if err := cost.validate(); err != nil {
		return fmt.Errorf("charge %q: %w", id, err)
	}
	if a.find(id) >= 0 {
		return fmt.Errorf("charge %q: %w", id, ErrDuplicateCharge)
	}
	after, ok := a.Spent.Add(cost)
	if !ok || !a.Budget.Total.Covers(after) {
		return fmt.Errorf("charge %q of %v with %v left: %w", id, cost, a.Remaining(), ErrBudgetExhausted)
	}
	return nil
}

// Charge records cost under id if the budget covers it. On error nothing
// changes: ErrBudgetExhausted when the total would be exceeded,
// ErrDuplicateCharge when id was already charged, ErrInvalidCost for a negative
// cost. A zero cost is recorded too, so Covers(id) holds afterwards.
func (a *Accountant) Charge(id string, cost Cost) error {
	if err := a.Check(id, cost); err != nil {
		return err
	}
	a.Spent, _ = a.Spent.Add(cost)
	a.Charges = append(a.Charges, Entry{ID: id, Cost: cost})
	return nil
}

// Covers reports whether the ledger holds a charge under id of at least cost
// (componentwise). A node asks this before producing a decryption share or
// releasing a result: a round is covered only if it was paid for at least
// what its noise parameters cost.
func (a *Accountant) Covers(id string, cost Cost) bool {
	i := a.find(id)
	return i >= 0 && a.Charges[i].Cost.Covers(cost)
}

// Charged returns the cost charged under id, and whether there is one.
func (a *Accountant) Charged(id string) (Cost, bool) {
	if i := a.find(id); i >= 0 {
		return a.Charges[i].Cost, true
	}
	return Cost{}, false
}

func (a *Accountant) find(id string) int {
	for i := range a.Charges {
		if a.Charges[i].ID == id {
			return i
		}
	}
	return -1
}

// Remaining returns the budget left in ledger units.
func (a *Accountant) Remaining() Cost { return a.Budget.Total.Sub(a.Spent) }

// SpentEpsilonDelta reports the spent budget as (ε, δ): ε = LedgerEpsilon(ρ,
// δ_conv) and δ = δ_conv + spent approximate δ (δ = 0 when nothing was spent).
// For display only.
func (a *Accountant) SpentEpsilonDelta() (eps, delta float64) {
	if a.Spent.IsZero() {
		return 0, 0
	}
	conv := float64(a.Budget.ConversionDelta) / DeltaScale
	return LedgerEpsilon(a.Spent.RhoFloat(), conv), conv + a.Spent.DeltaFloat()
}

// RemainingEpsilon reports the ε left: the total ε minus the spent ε (ε does
// not add up under zCDP, so this is not the ε of the remaining ρ). For display
// only.
func (a *Accountant) RemainingEpsilon() float64 {
	eps, _ := a.SpentEpsilonDelta()
	return math.Max(0, a.Budget.Spec.Epsilon-eps)
}

// Validate checks a decoded ledger: non-negative caps and costs, unique ids,
// Spent equal to the sum of Charges and within Total.
func (a *Accountant) Validate() error {
	if err := a.Budget.Total.validate(); err != nil {
		return fmt.Errorf("ledger total: %w", ErrInvalidLedger)
	}
	if a.Budget.ConversionDelta <= 0 || a.Budget.ConversionDelta >= DeltaScale {
		return fmt.Errorf("ledger conversion delta %d units: %w", a.Budget.ConversionDelta, ErrInvalidLedger)
	}
	seen := make(map[string]struct{}, len(a.Charges))
	var sum Cost
	for _, e := range a.Charges {
		if _, dup := seen[e.ID]; dup {
			return fmt.Errorf("ledger: charge %q twice: %w", e.ID, ErrInvalidLedger)
		}
		seen[e.ID] = struct{}{}
		if e.Cost.validate() != nil {
			return fmt.Errorf("ledger: charge %q has a negative cost: %w", e.ID, ErrInvalidLedger)
		}
		var ok bool
		if sum, ok = sum.Add(e.Cost); !ok {
			return fmt.Errorf("ledger: charges overflow: %w", ErrInvalidLedger)
		}
	}
	if sum != a.Spent {
		return fmt.Errorf("ledger: spent %v, charges sum to %v: %w", a.Spent, sum, ErrInvalidLedger)
	}
	if !a.Budget.Total.Covers(a.Spent) {
		return fmt.Errorf("ledger: spent %v beyond total %v: %w", a.Spent, a.Budget.Total, ErrInvalidLedger)
	}
	return nil
}

// Clone returns a deep copy.
func (a *Accountant) Clone() *Accountant {
	c := *a
	c.Charges = slices.Clone(a.Charges)
	return &c
}
