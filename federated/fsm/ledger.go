package fsm

import "github.com/strata-fed/strata/dp/budget"

// Composition turns a ledger's charges into the privacy loss spent. It is how
// the dp/budget accountant plugs into the FSM (see Options.Composition).
//
// Implementations must be pure and deterministic: the same costs in the same
// order give bit-identical results on every node, with no clock, randomness or
// map iteration. Every node of a federation must use the same Composition;
// each ledger records the Name it was created with, and Apply refuses to
// charge a ledger created under another name (ErrCompositionMismatch).
type Composition interface {
	// Name identifies the rule, e.g. "basic".
	Name() string
	// Spent returns the total (ε, δ) of the costs, in log order; delta is
	// the δ of the ledger's total budget (rules that convert from another
	// measure, like zCDP, convert at that δ).
	Spent(costs []Cost, delta float64) Cost
}

// BasicComposition is basic sequential composition: ε and δ add up.
type BasicComposition struct{}

// Name returns "basic".
func (BasicComposition) Name() string { return "basic" }

// Spent sums ε and δ in order.
func (BasicComposition) Spent(costs []Cost, _ float64) Cost {
	var s Cost
	for _, c := range costs {
		s.Epsilon += c.Epsilon
		s.Delta += c.Delta
	}
	return s
}

// ZCDPComposition composes in zero-concentrated DP (dp/budget): a charge of
// (ε, δ) with δ > 0 is a mechanism calibrated to ρ = budget.LedgerRho(ε, δ)
// — how the secure sum calibrates its Skellam noise and how the federated
// jobs split a run's budget — and a charge with δ = 0 is pure ε-DP, ρ = ε²/2
// (Bun & Steinke, Prop. 1.4). The ρ of the charges add up, and the total is
// converted back at the ledger's δ: spent ε = budget.LedgerEpsilon(Σρ, δ),
// spent δ = δ once anything is charged. So k rounds of a split budget cost
// what one round of the whole budget would, not k times its δ. A ledger with
// δ = 0 is a pure ε-DP budget, which zCDP cannot convert to: there the
// charges compose basically (ε and δ add up), so only pure charges fit it.
type ZCDPComposition struct{}

// Name returns "zcdp".
func (ZCDPComposition) Name() string { return "zcdp" }

// Spent composes the charges' ρ in log order and converts at delta.
func (ZCDPComposition) Spent(costs []Cost, delta float64) Cost {
	if !(delta > 0 && delta < 1) {
		return BasicComposition{}.Spent(costs, delta)
	}
	var rho float64
	for _, c := range costs {
		rho += ChargeRho(c)
	}
	if rho == 0 {
		return Cost{}
	}
	return Cost{Epsilon: budget.LedgerEpsilon(rho, delta), Delta: delta}
}

// ChargeRho is the zCDP ρ ZCDPComposition assigns to one charge.
func ChargeRho(c Cost) float64 {
	switch {
	case !(c.Epsilon > 0):
		return 0
	case c.Delta > 0 && c.Delta < 1:
		return budget.LedgerRho(c.Epsilon, c.Delta)
	default:
		return budget.PureRho(c.Epsilon)
	}
}

// budgetSlack is the relative tolerance of the coverage test, so that e.g. ten
// charges of ε = 0.1 fit a total of ε = 1 despite rounding.
const budgetSlack = 1e-9

// within reports whether spent fits total, up to budgetSlack.
func within(spent, total Cost) bool {
	return spent.Epsilon <= total.Epsilon*(1+budgetSlack) && spent.Delta <= total.Delta*(1+budgetSlack)
}

// liveCosts returns the costs of the non-refunded charges, in log order, with
// extra appended.
func liveCosts(b *Budget, extra ...Cost) []Cost {
	costs := make([]Cost, 0, len(b.Charges)+len(extra))
	for _, ch := range b.Charges {
		if !ch.Refunded {
			costs = append(costs, ch.Cost)
		}
	}
	return append(costs, extra...)
}
