// Package budget is the privacy-budget accountant of one (federation, dataset).
//
// An [Accountant] holds a total budget, the amount spent so far and the ordered
// list of charges. It is a plain value with exported, JSON-friendly fields so the
// raft state machine can store it in its snapshot; its methods are pure and
// deterministic. It is not safe for concurrent use: it has a single owner (the
// FSM, or a release.Releaser for site-local releases).
//
// # Composition rule: zero-concentrated DP (zCDP)
//
// Costs are measured in ρ of ρ-zCDP (Bun & Steinke 2016, "Concentrated
// Differential Privacy: Simplifications, Extensions, and Lower Bounds"): a
// mechanism M is ρ-zCDP if for all neighbouring inputs x, x' and all α > 1 the
// Rényi divergence D_α(M(x) ‖ M(x')) ≤ ρ·α. Under adaptive composition the ρ of
// the parts add up (Bun & Steinke, Lemma 2.3), so the ledger adds integers.
//
// Costs of the mechanisms we use:
//
//   - Gaussian noise N(0, σ²) on a query of L2 sensitivity Δ₂:
//     ρ = Δ₂² / (2σ²) (Bun & Steinke, Prop. 1.6). [GaussianRho].
//
//   - Any ε-DP (pure) mechanism, e.g. Laplace or the library's discrete Laplace:
//     ρ = ε²/2 (Bun & Steinke, Prop. 1.4). [PureRho]. Note that this is costly
//     next to Gaussian noise at the small ε we use: prefer Gaussian-type noise.
//
//   - Symmetric Skellam noise Sk(μ/2, μ/2) (variance μ) on an integer query of L1
//     sensitivity Δ₁ and L2 sensitivity Δ₂: Agarwal, Kairouz & Liu 2021 ("The
//     Skellam Mechanism for Differentially Private Federated Learning",
//     Theorem 3.5/Corollary 3.6) bound its Rényi DP, for integer α > 1, by
//
//     ε(α) ≤ α·Δ₂²/(2μ) + min{ ((2α−1)·Δ₂² + 6Δ₁)/(4μ²), 3Δ₁/(2μ) }.
//
//     Keeping the first branch of the min and using (2α−1)Δ₂² + 6Δ₁ ≤
//     α(2Δ₂² + 6Δ₁) for α ≥ 1, the bound is α·ρ with
//
//     ρ_Sk = Δ₂²/(2μ) + (Δ₂² + 3Δ₁)/(2μ²)
//
//     ([SkellamRho]), i.e. the Gaussian cost plus an O(1/μ²) term. The theorem is stated for
//     integer α; the conversion below picks α* = 1 + √(ln(1/δ)/ρ), and the
//     convexity of (α−1)·D_α in α (a log-moment-generating function) bounds
//     the divergence between integer orders k ≤ α ≤ k+1 by α·ρ + ρ/(4(α−1)),
//     which adds at most ρ^{3/2}/(4√ln(1/δ)) to ε at α* ≥ 2 (3.5e-4 at ε = 1,
//     δ = 1e-6); the ledger's conversion includes this margin. This package's tests check the bound
//     numerically against the exact Skellam Rényi divergence at integer and
//     non-integer α.
//
//   - δ-approximate charges (an (ε, δ)-DP step such as data-dependent partition
//     selection): ρ = ε²/2 plus Delta = δ, as δ-approximate zCDP (Bun & Steinke,
//     Section 8); the δ parts add up as well.
//
// # Conversion to (ε, δ)
//
// A total budget (ε, δ) is turned into ledger caps once, when the budget is
// created ([NewBudget]): δ is split into δ_approx, reserved for δ-approximate
// charges ([Spec.ApproxDelta], zero by default), and δ_conv = δ − δ_approx.
// The zCDP conversion (Bun & Steinke, Prop. 1.3) is
//
//	ε = ρ + 2·√(ρ·L),   L = ln(1/δ_conv)                       [EpsilonForRho]
//
// Because the Skellam bound is proven at integer orders only, the ledger adds
// the margin derived above and uses
//
//	ε_ledger(ρ) = ρ + 2·√(ρ·L) + ρ^{3/2}/(4·√L)                [LedgerEpsilon]
//
// for every ledger (conservative for the other mechanisms). The ρ cap is the
// largest ρ with ε_ledger(ρ) ≤ ε, and the spent budget is reported as
// (ε_ledger(ρ_spent), δ_conv + spent δ_approx).
//
// # Determinism
//
// Decisions (Charge, Covers, Check) compare and add int64 fixed-point values
// only: ρ in units of 1e-12 ([RhoScale]) and δ in units of 1e-18 ([DeltaScale]).
// Floats are converted once — costs rounded up, caps rounded down — by the
// proposer, before the command enters the raft log; the FSM replays integers, so
// every node decides identically. The float reports (SpentEpsilonDelta,
// RemainingEpsilon) are for humans and never feed a decision.
//
// # Use in a round
//
//  1. Proposer: allot a share of what is left, in units (Remaining().Div(n)),
//     and calibrate the noise to it ([SkellamVarianceFor], [GaussianSigmaFor]);
//     the round record carries the integer Cost and the noise parameters.
//  2. FSM: Charge(roundID, cost) when the round is committed; a refusal
//     (ErrBudgetExhausted) ends the round before any share exists.
//  3. Every node, before producing its decryption share: Covers(roundID,
//     cost) with the cost from the committed round record (not recomputed from
//     floats), and refuse otherwise.
//
// Charge IDs are unique. A round redone after a failure may reuse its paid
// charge (same ID) only if no decryption share of the first attempt was
// produced; otherwise two noisy releases of the same data exist and the redo
// must be charged anew under a new ID. That policy belongs to the round state
// machine.
package budget
