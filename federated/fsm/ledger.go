package fsm

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
	// Spent returns the total (ε, δ) of the costs, in log order.
	Spent(costs []Cost) Cost
}

// BasicComposition is basic sequential composition: ε and δ add up.
type BasicComposition struct{}

// Name returns "basic".
func (BasicComposition) Name() string { return "basic" }

// Spent sums ε and δ in order.
func (BasicComposition) Spent(costs []Cost) Cost {
	var s Cost
	for _, c := range costs {
		s.Epsilon += c.Epsilon
		s.Delta += c.Delta
	}
	return s
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
