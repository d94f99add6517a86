package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma is a fitted Gamma-Gamma spend model: a customer's transaction
// values are Gamma(P, ν) with ν ~ Gamma(Q, rate Gamma) across customers.
// Gamma is in the caller's money unit.
type GammaGamma struct {
	P, Q, Gamma float64
	// LogLik is the maximised log-likelihood of the mean repeat values
	// (Hardie note 025 density of m̄, including the x^(px) Jacobian term).
	LogLik float64
	// N is the number of customers the model was fitted on (x > 0, m̄ > 0).
	N int
	// Iterations is the number of BFGS major iterations the fit took.
	Iterations int
}

// Params returns (p, q, γ) in the order used by GammaGammaLogLik.
func (m GammaGamma) Params() [3]float64 { return [3]float64{m.P, m.Q, m.Gamma} }

// GammaGammaObjective evaluates the summed Gamma-Gamma log-likelihood and its
// gradient with respect to (p, q, γ); an error stops the fit.
type GammaGammaObjective func(p [3]float64) (ll float64, grad [3]float64, err error)

// GammaGammaStart returns the start values FitGammaGamma uses, from the mean
// of the customers' mean repeat values (a sum and a count a federation can
// aggregate): p = 1, q = 2, γ = mean, so the start population mean spend
// pγ/(q−1) equals the observed mean.
func GammaGammaStart(meanValue float64) [3]float64 {
	g := 1.0
	if meanValue > 0 && finite(meanValue) {
		g = meanValue
	}
	return [3]float64{1, 2, g}
}

// usableGG reports whether a customer enters the Gamma-Gamma likelihood:
// at least one repeat transaction and a positive mean repeat value.
func usableGG(x, m float64) bool { return x > 0 && m > 0 }

// validateGG checks the inputs of the Gamma-Gamma functions and returns how
// many customers are usable and the sum of their mean values.
func validateGG(x, mbar []float64) (n int, sum float64, err error) {
	if len(x) != len(mbar) {
		return 0, 0, fmt.Errorf("%d frequencies, %d mean values: %w", len(x), len(mbar), ErrInvalidInput)
	}
	for i := range x {
		if !finite(x[i]) || !finite(mbar[i]) || x[i] < 0 || mbar[i] < 0 {
			return 0, 0, fmt.Errorf("customer %d: x = %v, mean value = %v: %w", i, x[i], mbar[i], ErrInvalidInput)
		}
		if usableGG(x[i], mbar[i]) {
			n++
			sum += mbar[i]
		}
	}
	return n, sum, nil
}

// FitGammaGamma fits the Gamma-Gamma model by maximum likelihood to
// customers' repeat-transaction counts x and mean repeat transaction values
// mbar. Customers with x = 0 (no repeat value observed) or mbar = 0 carry no
// information and are skipped; the returned N counts the customers used.
// If the fit does not converge it returns ErrNotConverged with the last point.
func FitGammaGamma(x, meanValue []float64) (GammaGamma, error) {
	n, sum, err := validateGG(x, meanValue)
	if err != nil {
		return GammaGamma{}, fmt.Errorf("fit Gamma-Gamma: %w", err)
	}
	if n == 0 {
		return GammaGamma{}, fmt.Errorf("fit Gamma-Gamma: %w", ErrNoData)
	}
	return FitGammaGammaObjective(float64(n), GammaGammaStart(sum/float64(n)), func(p [3]float64) (float64, [3]float64, error) {
		ll, g := GammaGammaLogLik(p, x, meanValue)
		return ll, g, nil
	})
}

// FitGammaGammaObjective maximises a Gamma-Gamma log-likelihood given only
// as an objective summed over n customers, starting from start.
func FitGammaGammaObjective(n float64, start [3]float64, obj GammaGammaObjective) (GammaGamma, error) {
	res, err := maximize(n, start[:], func(p, grad []float64) (float64, error) {
		ll, g, err := obj([3]float64{p[0], p[1], p[2]})
		copy(grad, g[:])
		return ll, err
	})
	m := GammaGamma{N: int(n), Iterations: res.iterations, LogLik: res.logLik}
	if len(res.params) == 3 {
		m.P, m.Q, m.Gamma = res.params[0], res.params[1], res.params[2]
	}
	if err != nil {
		return m, fmt.Errorf("fit Gamma-Gamma: %w", err)
	}
	return m, nil
}

// GammaGammaLogLik returns the Gamma-Gamma log-likelihood summed over the
// usable customers (x > 0, mbar > 0; others contribute 0) and its exact
// gradient with respect to p = (p, q, γ) (Fader, Hardie & Lee 2005, "RFM and
// CLV"; Hardie note 025):
//
//	log L = log Γ(px+q) − log Γ(px) − log Γ(q) + q log γ + (px−1) log m̄ + px log x − (px+q) log(γ + x m̄)
//
// If a parameter is not positive and finite, or the slices differ in length,
// it returns ll = −Inf and a zero gradient.
func GammaGammaLogLik(p [3]float64, x, mbar []float64) (ll float64, grad [3]float64) {
	pp, q, g := p[0], p[1], p[2]
	for _, v := range p {
		if !(v > 0) || math.IsInf(v, 1) {
			return math.Inf(-1), grad
		}
	}
	if len(x) != len(mbar) {
		return math.Inf(-1), grad
	}
	lgq := lgamma(q)
	dgq := mathext.Digamma(q)
	logG := math.Log(g)
	cache := newGGCache()
	var gp, gq, gg float64
	for i, xi := range x {
		m := mbar[i]
		if !usableGG(xi, m) {
			continue
		}
		px := pp * xi
		lnum, dnum, dden := cache.terms(pp, q, xi)
		logM, logX := math.Log(m), math.Log(xi)
		den := g + xi*m
		logDen := math.Log(den)
		ll += lnum - lgq + q*logG + (px-1)*logM + px*logX - (px+q)*logDen
		gp += xi * (dnum - dden + logM + logX - logDen)
		gq += dnum - dgq + logG - logDen
		gg += q/g - (px+q)/den
	}
	return ll, [3]float64{gp, gq, gg}
}

// ggCache memoises, per integer x, log Γ(px+q) − log Γ(px), ψ(px+q) and ψ(px).
type ggCache struct {
	done           []bool
	lnum, dnum, dd []float64
}

const ggCacheX = 1024

func newGGCache() *ggCache {
	return &ggCache{
		done: make([]bool, ggCacheX),
		lnum: make([]float64, ggCacheX),
		dnum: make([]float64, ggCacheX),
		dd:   make([]float64, ggCacheX),
	}
}

// terms returns log Γ(px+q) − log Γ(px), ψ(px+q) and ψ(px).
func (c *ggCache) terms(p, q, x float64) (lnum, dnum, dden float64) {
	compute := func() (float64, float64, float64) {
		px := p * x
		return lgamma(px+q) - lgamma(px), mathext.Digamma(px + q), mathext.Digamma(px)
	}
	if x < ggCacheX && x == math.Trunc(x) {
		i := int(x)
		if !c.done[i] {
			c.lnum[i], c.dnum[i], c.dd[i] = compute()
			c.done[i] = true
		}
		return c.lnum[i], c.dnum[i], c.dd[i]
	}
	return compute()
}

// ExpectedValue returns E[M | x, m̄], the expected average transaction value
// of a customer with x repeat transactions of mean value m̄:
//
//	E[M | x, m̄] = p(γ + x m̄)/(px + q − 1)
//	            = (q−1)/(px+q−1) · pγ/(q−1) + px/(px+q−1) · m̄,
//
// a weighted mean of the population mean pγ/(q−1) and the observed m̄. For
// x = 0 it is the population mean, which requires q > 1 (NaN otherwise).
// Invalid input gives NaN.
func (m GammaGamma) ExpectedValue(x, mbar float64) float64 {
	if !(m.P > 0) || !(m.Q > 0) || !(m.Gamma > 0) || !finite(m.P) || !finite(m.Q) || !finite(m.Gamma) ||
		!finite(x) || !finite(mbar) || x < 0 || mbar < 0 {
		return math.NaN()
	}
	if x == 0 {
		mbar = 0
	}
	den := m.P*x + m.Q - 1
	if !(den > 0) {
		return math.NaN()
	}
	return m.P * (m.Gamma + x*mbar) / den
}
