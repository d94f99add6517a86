// Package release makes site-local differentially private releases — counts,
// bounded sums and quantiles — through the Google differential-privacy library
// (dpagg), each paid from the privacy budget before it is computed.
//
// A [Releaser] owns a [Ledger] (a budget.Accountant, or an adapter that charges
// the federation's raft-replicated ledger). Every release:
//
//  1. validates its parameters and builds the dpagg aggregations (no noise yet);
//  2. charges its cost under its release ID; if the ledger refuses
//     (budget.ErrBudgetExhausted, or [ErrAlreadyReleased] for a used ID) the
//     release returns the error and no value;
//  3. only then adds the data and draws the noise (dpagg Result, once).
//
// A release ID can be paid, and so released, only once. Raw dpagg state is
// never serialised or returned: Merge/GobEncode move un-noised data and are not
// used here.
//
// # Costs (zCDP, see package budget)
//
//   - Laplace noise (the library's default, ε-DP): ρ = ε²/2. Expensive under
//     zCDP at small ε: a single ε = 1 Laplace release costs more than a whole
//     (ε = 1, δ = 1e-6) budget (ρ ≈ 0.0175).
//   - Gaussian noise (the default here): the library calibrates σ to (ε, δ)
//     with noise.SigmaForGaussian(l0, l∞, ε, δ) for L2 sensitivity √l0·l∞; we
//     charge ρ = l0·l∞²/(2σ²). The library draws a binomial approximation of
//     N(0, σ²) on a power-of-two grid (Secure_Noise_Generation.pdf); we charge
//     it as the Gaussian it approximates.
//   - Quantiles (BoundedQuantiles, the quantile tree): as above with
//     l0 = TreeHeight·MaxPartitionsContributed and l∞ =
//     MaxContributionsPerPartition, the tree's own sensitivity accounting.
//   - Data-dependent keys ([Releaser.SelectCounts]): the library's
//     PreAggSelectPartition is (ε_s, δ_s)-DP, charged as δ_s-approximate
//     ε_s²/2-zCDP on top of the counts' cost; it needs a δ reserve in the budget.
//
// # Minimum aggregation threshold k
//
// Cells are released for a declared, public list of keys (e.g. segment ×
// channel): every declared key is released, with noise, whether or not it has
// data, so the key set leaks nothing. A cell whose NOISY count is below k is
// suppressed (value withheld, Suppressed set). Thresholding the noisy count is
// post-processing of a DP output and costs nothing; the raw count is never
// consulted, since a raw-count threshold would leak. Sums and other
// statistics of the same cells can be suppressed alike with [SuppressLike].
//
// Keys that come from the data (not declared in advance) are refused with
// [ErrUndeclaredKey]; for those use [Releaser.SelectCounts], which selects keys
// with DP partition selection pre-thresholded at k (the library's
// pre-thresholding: a cell needs at least k distinct users and must pass the DP
// selection), then suppresses on the noisy count as well.
//
// Quantiles are not k-suppressed; release a count of the same population first
// and suppress on it.
package release
