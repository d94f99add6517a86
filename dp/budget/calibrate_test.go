package budget

import (
	"errors"
	"math"
	"testing"
)

func near(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Max(math.Abs(want), 1e-300)
}

func TestConversionHandComputed(t *testing.T) {
	// L = ln(1e6) = 13.815510557964274.
	// (√(L+1) − √L)² = 0.017468904769123432; 0.5 + 2√(0.5 L) = 5.756521769756932.
	if got, want := RhoForEpsilon(1, 1e-6), 0.017468904769123432; !near(got, want, 1e-12) {
		t.Errorf("RhoForEpsilon(1, 1e-6) = %v, want %v", got, want)
	}
	if got, want := EpsilonForRho(0.5, 1e-6), 5.756521769756932; !near(got, want, 1e-12) {
		t.Errorf("EpsilonForRho(0.5, 1e-6) = %v, want %v", got, want)
	}
	// Ledger conversion adds ρ^{3/2}/(4√L): 5.756521769756932 + 0.023779983318852 = 5.780301753075784.
	if got, want := LedgerEpsilon(0.5, 1e-6), 5.780301753075784; !near(got, want, 1e-12) {
		t.Errorf("LedgerEpsilon(0.5, 1e-6) = %v, want %v", got, want)
	}
	if got := LedgerEpsilon(LedgerRho(1, 1e-6), 1e-6); !near(got, 1, 1e-9) || got > 1 {
		t.Errorf("LedgerEpsilon(LedgerRho(1, 1e-6)) = %v, want 1 (≤)", got)
	}
	// Skellam: Δ₁ = Δ₂ = 1, μ = 100: 1/200 + 4/20000 = 0.0052.
	if got, want := SkellamRho(1, 1, 100), 0.0052; !near(got, want, 1e-12) {
		t.Errorf("SkellamRho(1, 1, 100) = %v, want %v", got, want)
	}
	if got, want := GaussianRho(2, 4), 0.125; !near(got, want, 1e-15) {
		t.Errorf("GaussianRho(2, 4) = %v, want %v", got, want)
	}
	if got, want := PureRho(0.2), 0.02; !near(got, want, 1e-15) {
		t.Errorf("PureRho(0.2) = %v, want %v", got, want)
	}
}

func TestCalibrationInverses(t *testing.T) {
	for _, eps := range []float64{0.01, 0.1, 1, 3} {
		for _, delta := range []float64{1e-9, 1e-6, 1e-3} {
			rho := RhoForEpsilon(eps, delta)
			if got := EpsilonForRho(rho, delta); !near(got, eps, 1e-9) {
				t.Errorf("EpsilonForRho(RhoForEpsilon(%v, %v)) = %v", eps, delta, got)
			}
			for _, l2 := range []float64{1, 3.5} {
				s := SigmaForEpsilon(eps, delta, l2)
				if got := EpsilonForSigma(s, delta, l2); !near(got, eps, 1e-9) {
					t.Errorf("EpsilonForSigma(SigmaForEpsilon(%v, %v, %v)) = %v", eps, delta, l2, got)
				}
				l1 := l2 * l2 // any l1 ≥ l2 for an integer query
				mu := SkellamVarianceForEpsilon(eps, delta, l1, l2)
				if got := EpsilonForSkellam(mu, delta, l1, l2); !near(got, eps, 1e-9) {
					t.Errorf("EpsilonForSkellam(SkellamVarianceForEpsilon(%v, %v, %v, %v)) = %v", eps, delta, l1, l2, got)
				}
				// Skellam needs a little more variance than the Gaussian for the same ρ.
				if mu < s*s {
					t.Errorf("Skellam variance %v < Gaussian variance %v at ε=%v", mu, s*s, eps)
				}
			}
		}
	}
}

func TestSkellamRhoDominatesRDPBound(t *testing.T) {
	// α·ρ_Sk must be at least the paper's bound at every integer order.
	for _, mu := range []float64{2, 10, 1e3, 1e6} {
		for _, sens := range [][2]float64{{1, 1}, {4, 2}, {100, 10}} {
			rho := SkellamRho(sens[0], sens[1], mu)
			for alpha := 2.0; alpha <= 512; alpha++ {
				if b := SkellamRDP(alpha, sens[0], sens[1], mu); alpha*rho < b*(1-1e-12) {
					t.Fatalf("α·ρ_Sk = %v < RDP bound %v (α=%v μ=%v Δ=%v)", alpha*rho, b, alpha, mu, sens)
				}
			}
		}
	}
}

// skellamLogPMF returns log P(X = k) for k in [-K, K] (index k+K), X the
// difference of two independent Poisson(mu/2) variables.
func skellamLogPMF(mu float64, K int) []float64 {
	lam := mu / 2
	J := int(lam+40*math.Sqrt(lam)) + 200
	logPois := make([]float64, J+2*K+1)
	for j := range logPois {
		lg, _ := math.Lgamma(float64(j) + 1)
		logPois[j] = float64(j)*math.Log(lam) - lam - lg
	}
	out := make([]float64, 2*K+1)
	for k := 0; k <= K; k++ {
		m := math.Inf(-1)
		terms := make([]float64, J)
		for j := range J {
			terms[j] = logPois[j+k] + logPois[j]
			m = math.Max(m, terms[j])
		}
		s := 0.0
		for _, x := range terms {
			s += math.Exp(x - m)
		}
		out[K+k] = m + math.Log(s)
		out[K-k] = out[K+k]
	}
	return out
}

// renyiShift is D_α(P ‖ P shifted by d) for a log-PMF on [-K, K].
func renyiShift(logp []float64, d int, alpha float64) float64 {
	m := math.Inf(-1)
	terms := make([]float64, 0, len(logp))
	for i := d; i < len(logp); i++ {
		x := alpha*logp[i] + (1-alpha)*logp[i-d]
		terms = append(terms, x)
		m = math.Max(m, x)
	}
	s := 0.0
	for _, x := range terms {
		s += math.Exp(x - m)
	}
	return (m + math.Log(s)) / (alpha - 1)
}

// TestSkellamBoundAgainstExactDivergence computes the exact Rényi divergence
// between Skellam noise and its shift by the sensitivity and checks it against
// Agarwal et al.'s bound (integer α) and against α·ρ_Sk (also non-integer α,
// where the ledger relies on it).
func TestSkellamBoundAgainstExactDivergence(t *testing.T) {
	alphas := []float64{1.1, 1.5, 2, 2.5, 3, 5, 10.5, 20, 37.3, 64}
	for _, mu := range []float64{4, 20, 100} {
		K := int(mu+40*math.Sqrt(mu)) + 100
		logp := skellamLogPMF(mu, K)
		total := 0.0
		for _, lp := range logp {
			total += math.Exp(lp)
		}
		if !near(total, 1, 1e-9) {
			t.Fatalf("Skellam(μ=%v) PMF sums to %v", mu, total)
		}
		for _, d := range []int{1, 2} {
			rho := SkellamRho(float64(d), float64(d), mu)
			for _, a := range alphas {
				div := renyiShift(logp, d, a)
				if div > a*rho {
					t.Errorf("μ=%v Δ=%d α=%v: D_α = %v > α·ρ_Sk = %v", mu, d, a, div, a*rho)
				}
				if a == math.Trunc(a) {
					if b := SkellamRDP(a, float64(d), float64(d), mu); div > b {
						t.Errorf("μ=%v Δ=%d α=%v: D_α = %v > paper bound %v", mu, d, a, div, b)
					}
				}
			}
		}
	}
	// Sanity of the divergence computation: for large μ the Skellam behaves
	// like a Gaussian of variance μ, whose D_α is αΔ²/(2μ).
	mu := 2000.0
	logp := skellamLogPMF(mu, int(mu+40*math.Sqrt(mu))+100)
	for _, a := range []float64{2, 8} {
		if got, want := renyiShift(logp, 1, a), a/(2*mu); !near(got, want, 0.02) {
			t.Errorf("μ=%v α=%v: D_α = %v, want ≈ %v", mu, a, got, want)
		}
	}
}

func TestCalibrateToAllotment(t *testing.T) {
	b, err := NewBudget(Spec{Epsilon: 1, Delta: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{1, 3, 7, 10, 1000} {
		share := b.Total.Div(n)
		if share.Rho*n > b.Total.Rho || share.Rho*n < b.Total.Rho-n {
			t.Errorf("Div(%d) = %d units of %d", n, share.Rho, b.Total.Rho)
		}
		for _, sens := range [][2]float64{{1, 1}, {3, math.Sqrt(3)}} {
			mu, err := SkellamVarianceFor(share, sens[0], sens[1])
			if err != nil {
				t.Fatal(err)
			}
			c, _ := SkellamCost(sens[0], sens[1], mu)
			if c.Rho > share.Rho || c.Rho < share.Rho-2 {
				t.Errorf("n=%d Δ=%v: Skellam μ=%v costs %d units, allotment %d", n, sens, mu, c.Rho, share.Rho)
			}
			sigma, err := GaussianSigmaFor(share, sens[1])
			if err != nil {
				t.Fatal(err)
			}
			g, _ := GaussianCost(sens[1], sigma)
			if g.Rho > share.Rho || g.Rho < share.Rho-2 {
				t.Errorf("n=%d Δ=%v: Gaussian σ=%v costs %d units, allotment %d", n, sens, sigma, g.Rho, share.Rho)
			}
		}
	}
	if _, err := SkellamVarianceFor(Cost{Rho: 1}, 1, 1); !errors.Is(err, ErrInvalidCost) {
		t.Errorf("calibration to 1 unit = %v, want ErrInvalidCost", err)
	}
}
