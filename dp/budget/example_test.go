package budget_test

import (
	"errors"
	"fmt"
	"math"

	"github.com/strata-fed/strata/dp/budget"
)

// A federation plans ten secure-sum rounds of per-segment user counts (each
// user in one cell: Δ₁ = Δ₂ = 1) out of an (ε = 1, δ = 1e-6) budget, with
// Skellam noise split among the sites.
func Example() {
	b, err := budget.NewBudget(budget.Spec{Epsilon: 1, Delta: 1e-6})
	if err != nil {
		panic(err)
	}
	ledger, err := budget.New(b) // stored in the raft FSM
	if err != nil {
		panic(err)
	}
	// Proposer: give each round a tenth of the budget (in integer units, so
	// ten rounds fit exactly) and calibrate its noise to that allotment.
	cost := b.Total.Div(10)
	mu, err := budget.SkellamVarianceFor(cost, 1, 1) // total noise variance σ²
	if err != nil {
		panic(err)
	}
	// The round record in the log carries cost and mu; sites add shares of
	// variance mu/T (package noise).
	fmt.Printf("σ ≈ %.1f per round\n", math.Sqrt(mu))
	// FSM: charge each round when it is committed; every node checks Covers
	// before producing its decryption share.
	for i := range 11 {
		id := fmt.Sprintf("round-%d", i)
		if err := ledger.Charge(id, cost); errors.Is(err, budget.ErrBudgetExhausted) {
			fmt.Println(id, "refused:", ledger.Covers(id, cost))
			continue
		}
		if i == 0 {
			fmt.Println(id, "covered:", ledger.Covers(id, cost))
		}
	}
	eps, delta := ledger.SpentEpsilonDelta()
	fmt.Printf("spent ε ≤ %.3f, δ = %g\n", eps, delta)
	// Output:
	// σ ≈ 17.0 per round
	// round-0 covered: true
	// round-10 refused: false
	// spent ε ≤ 1.000, δ = 1e-06
}
