package budget

import "math"

// EpsilonForRho converts ρ-zCDP to (ε, δ)-DP: ε = ρ + 2√(ρ·ln(1/δ))
// (Bun & Steinke 2016, Prop. 1.3). It returns +Inf for δ outside (0, 1) or
// ρ < 0.
func EpsilonForRho(rho, delta float64) float64 {
	if !(delta > 0 && delta < 1) || !(rho >= 0) {
		return math.Inf(1)
	}
	return rho + 2*math.Sqrt(rho*math.Log(1/delta))
}

// RhoForEpsilon is the inverse of [EpsilonForRho]: the largest ρ with
// ρ + 2√(ρ·ln(1/δ)) ≤ ε, namely (√(L+ε) − √L)² with L = ln(1/δ). It returns 0
// for ε ≤ 0 or δ outside (0, 1).
func RhoForEpsilon(eps, delta float64) float64 {
	if !(eps > 0) || !(delta > 0 && delta < 1) || math.IsInf(eps, 0) {
		return 0
	}
	l := math.Log(1 / delta)
	// √(L+ε) − √L = ε / (√(L+ε) + √L), which avoids cancellation for small ε.
	r := eps / (math.Sqrt(l+eps) + math.Sqrt(l))
	return r * r
}

// LedgerEpsilon is the ledger's conversion of a composed ρ to ε at δ:
// ρ + 2√(ρ·L) + ρ^{3/2}/(4√L) with L = ln(1/δ). The last term covers
// mechanisms whose Rényi bound holds at integer orders only (Skellam); see the
// package documentation. It returns +Inf for δ outside (0, 1) or ρ < 0.
func LedgerEpsilon(rho, delta float64) float64 {
	e := EpsilonForRho(rho, delta)
	if math.IsInf(e, 1) {
		return e
	}
	return e + rho*math.Sqrt(rho)/(4*math.Sqrt(math.Log(1/delta)))
}

// LedgerRho is the inverse of LedgerEpsilon: the largest ρ with
// LedgerEpsilon(ρ, δ) ≤ ε, by bisection below RhoForEpsilon(ε, δ). Callers
// that calibrate noise to an (ε, δ) the ledger charges use it, so that what
// is charged covers what is released.
func LedgerRho(eps, delta float64) float64 {
	lo, hi := 0.0, RhoForEpsilon(eps, delta)
	if LedgerEpsilon(hi, delta) <= eps {
		return hi
	}
	for range 200 {
		mid := (lo + hi) / 2
		if LedgerEpsilon(mid, delta) <= eps {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// PureRho is the zCDP cost ε²/2 of an ε-DP mechanism (Bun & Steinke, Prop. 1.4).
func PureRho(eps float64) float64 { return eps * eps / 2 }

// GaussianRho is the zCDP cost Δ₂²/(2σ²) of Gaussian noise with standard
// deviation sigma on a query of L2 sensitivity l2.
func GaussianRho(l2, sigma float64) float64 { return l2 * l2 / (2 * sigma * sigma) }

// GaussianSigma is the inverse of [GaussianRho]: the σ = Δ₂/√(2ρ) at which a
// Gaussian release of L2 sensitivity l2 costs rho.
func GaussianSigma(rho, l2 float64) float64 { return l2 / math.Sqrt(2*rho) }

// SkellamRho is the zCDP cost charged for symmetric Skellam noise of total
// variance mu (Agarwal et al.'s μ; each Poisson has mean μ/2) on an integer query
// with L1 sensitivity l1 and L2 sensitivity l2:
// ρ = Δ₂²/(2μ) + (Δ₂² + 3Δ₁)/(2μ²). See the package documentation.
func SkellamRho(l1, l2, mu float64) float64 {
	return l2*l2/(2*mu) + (l2*l2+3*l1)/(2*mu*mu)
}

// SkellamRDP is Agarwal, Kairouz & Liu's Rényi-DP bound ε(α) for symmetric
// Skellam noise of variance mu at integer order alpha > 1:
// α·Δ₂²/(2μ) + min{((2α−1)Δ₂² + 6Δ₁)/(4μ²), 3Δ₁/(2μ)}.
func SkellamRDP(alpha, l1, l2, mu float64) float64 {
	return alpha*l2*l2/(2*mu) + math.Min(((2*alpha-1)*l2*l2+6*l1)/(4*mu*mu), 3*l1/(2*mu))
}

// SkellamVariance is the inverse of [SkellamRho]: the smallest total variance μ
// at which Skellam noise on a query with sensitivities (l1, l2) costs at most
// rho. It solves ρμ² − (Δ₂²/2)μ − (Δ₂² + 3Δ₁)/2 = 0.
func SkellamVariance(rho, l1, l2 float64) float64 {
	a := l2 * l2 / 2
	b := (l2*l2 + 3*l1) / 2
	return (a + math.Sqrt(a*a+4*rho*b)) / (2 * rho)
}

// SigmaForEpsilon is the Gaussian σ for a release that alone should be (ε, δ)-DP
// under the zCDP conversion: GaussianSigma(RhoForEpsilon(ε, δ), Δ₂).
func SigmaForEpsilon(eps, delta, l2 float64) float64 {
	return GaussianSigma(RhoForEpsilon(eps, delta), l2)
}

// EpsilonForSigma is the inverse of [SigmaForEpsilon].
func EpsilonForSigma(sigma, delta, l2 float64) float64 {
	return EpsilonForRho(GaussianRho(l2, sigma), delta)
}

// SkellamVarianceForEpsilon is the Skellam variance μ for a release that alone
// should be (ε, δ)-DP: SkellamVariance(RhoForEpsilon(ε, δ), Δ₁, Δ₂).
func SkellamVarianceForEpsilon(eps, delta, l1, l2 float64) float64 {
	return SkellamVariance(RhoForEpsilon(eps, delta), l1, l2)
}

// EpsilonForSkellam is the inverse of [SkellamVarianceForEpsilon].
func EpsilonForSkellam(mu, delta, l1, l2 float64) float64 {
	return EpsilonForRho(SkellamRho(l1, l2, mu), delta)
}
