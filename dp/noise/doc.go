// Package noise provides the integer noise Strata adds before secure
// aggregation, and the clamping that bounds each user's contribution first.
//
// # Mechanism: distributed Skellam noise
//
// A symmetric Skellam variable Sk(λ) is P₁ − P₂ with P₁, P₂ independent
// Poisson(λ); it has mean 0 and variance 2λ. Sums of independent Skellam
// variables are Skellam — Sk(λ₁) + Sk(λ₂) = Sk(λ₁ + λ₂), exactly, because
// sums of independent Poisson variables are Poisson. So noise can be split
// among sites without any loss: the sum of the shares is exactly the noise a
// single trusted curator would have added.
//
// For a round with N sites and threshold t, [ShareParams] calibrates each
// site's share to variance σ²/t (Poisson means σ²/(2t)) per coordinate. The
// noise in the decrypted total is then Sk(h·σ²/(2t)) with variance h·σ²/t,
// where h is the number of honest sites whose shares are in the total: at
// least σ² whenever h ≥ t. The privacy of the released total against the
// analyst and against colluding sites is that of the Skellam mechanism with
// variance μ ≥ σ² (Agarwal, Kairouz & Liu 2021, "The Skellam Mechanism for
// Differentially Private Federated Learning"): the cost charged by
// budget.SkellamRho, ρ = Δ₂²/(2μ) + (Δ₂² + 3Δ₁)/(2μ²) for L1/L2
// sensitivities Δ₁, Δ₂ of one user's (clamped) contribution.
//
// # Threat model
//
//   - Colluding sites know their own shares and can subtract them from the
//     released total; they learn nothing else about other sites' noise, which
//     is drawn independently from each site's own CSPRNG. Dropped sites add no
//     noise. The guarantee therefore holds as long as the total includes the
//     shares of at least t honest (non-colluding, noise-adding) sites: up to
//     N − t sites dropped or colluding, together. The round protocol must refuse
//     to decrypt a total with fewer than t contributions.
//   - With all N sites live the total carries variance N·σ²/t: more privacy
//     than paid for, and N/t times the variance. That is the price of dropout
//     and collusion tolerance.
//   - A site that skips its share weakens the guarantee for everyone (it
//     counts as colluding); DP cannot detect this.
//   - Noise protects the users in the released total. A site's raw, un-noised
//     vector is protected by the threshold encryption, not by this package.
//   - Sensitivity is only what clamping enforces: clamp each user's
//     contribution ([ClampInt64], [ClampLInf], [ClampL1]) before summing.
//   - Every share must be fresh: never reuse a [Skellam] stream's output for two
//     rounds, and never store shares.
//
// # Sampling
//
// The noise is integer-valued end to end (no floating-point values are ever
// released, so the Mironov 2012 least-significant-bit attack on floating-point
// Laplace noise does not apply). Each [Skellam] draws a 32-byte seed from
// crypto/rand once and then reads a ChaCha8 stream (math/rand/v2.ChaCha8, a
// CSPRNG that erases its key as it goes, the generator behind Go's runtime
// randomness). This keeps the cryptographic unpredictability of crypto/rand
// while making a sample cost tens of nanoseconds instead of the ~13 µs of the
// DP library's per-sample crypto/rand Gaussian. Poisson variables are drawn by
// sequential inversion for λ < 10 and by Hörmann's transformed rejection
// (PTRS, 1993) otherwise; both are exact up to float64 rounding of their
// acceptance tests.
//
// Why not the DP library's integer Gaussian (noise.Gaussian().AddNoiseInt64)?
// It samples a binomial approximation on a power-of-two grid whose spacing
// grows with σ, and it is calibrated to (ε, δ) per call: shares from N sites
// neither sum to a distribution with a known privacy analysis nor to the
// calibrated variance's mechanism, and 2^20 samples take ~14 s. Skellam shares
// sum exactly.
//
// # Testing
//
// Unit tests of code that adds noise use a deterministic [Int64Noise]
// (package tests use a noNoise fake; [Zero] is the production "DP off"
// switch). Statistical tests of the samplers state their false-failure rates.
package noise
