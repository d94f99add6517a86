package clv

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Summary is one customer's calibration-period history in the BG/NBD
// (x, t_x, T) notation, in the caller's time unit.
type Summary struct {
	// X is the number of repeat transactions (the first purchase is not
	// counted). Normally an integer ≥ 0.
	X float64
	// Tx is the time from the first purchase to the last repeat purchase;
	// 0 when X = 0.
	Tx float64
	// T is the time from the first purchase to the end of the calibration
	// period; Tx ≤ T.
	T float64
}

// validate reports whether s is a usable summary.
func (s Summary) validate() error {
	switch {
	case !finite(s.X) || !finite(s.Tx) || !finite(s.T):
		return fmt.Errorf("summary %+v: non-finite value: %w", s, ErrInvalidInput)
	case s.X < 0 || s.Tx < 0 || s.T < 0:
		return fmt.Errorf("summary %+v: negative value: %w", s, ErrInvalidInput)
	case s.Tx > s.T:
		return fmt.Errorf("summary %+v: t_x > T: %w", s, ErrInvalidInput)
	}
	return nil
}

// ValidateSummaries checks every summary and names the first bad one.
func ValidateSummaries(s []Summary) error {
	for i := range s {
		if err := s[i].validate(); err != nil {
			return fmt.Errorf("customer %d: %w", i, err)
		}
	}
	return nil
}

// BGNBD is a fitted BG/NBD model: purchase rates λ ~ Gamma(shape R, rate
// Alpha) and dropout probabilities p ~ Beta(A, B). Alpha is in the time unit
// of the summaries it was fitted on.
type BGNBD struct {
	R, Alpha, A, B float64
	// LogLik is the maximised log-likelihood Σ log L_i (0 when the model was
	// built by hand).
	LogLik float64
	// N is the number of customers the model was fitted on.
	N int
	// Iterations is the number of BFGS major iterations the fit took.
	Iterations int
}

// Params returns (r, α, a, b) in the order used by BGNBDLogLik.
func (m BGNBD) Params() [4]float64 { return [4]float64{m.R, m.Alpha, m.A, m.B} }

// BGNBDStart returns the start values FitBGNBD uses, computed from two sums
// a federation can aggregate: Σx and ΣT over all customers. It sets r = 1,
// a = 1, b = 1 and α = ΣT / Σx (clamped to a sane range), so that the start
// rate r/α matches the observed repeat rate in any time unit.
func BGNBDStart(sumX, sumT float64) [4]float64 {
	alpha := 1.0
	if sumX > 0 && sumT > 0 && finite(sumX) && finite(sumT) {
		alpha = math.Min(math.Max(sumT/sumX, 1e-6), 1e6)
	}
	return [4]float64{1, alpha, 1, 1}
}

// BGNBDObjective evaluates the summed BG/NBD log-likelihood and its gradient
// with respect to the natural parameters (r, α, a, b). A federation
// implements it by summing every site's BGNBDLogLik; an error stops the fit.
type BGNBDObjective func(p [4]float64) (ll float64, grad [4]float64, err error)

// FitBGNBD fits the BG/NBD model to the summaries by maximum likelihood
// (see the package documentation for the optimiser and its settings). If the
// fit does not converge it returns ErrNotConverged with the last point.
func FitBGNBD(s []Summary) (BGNBD, error) {
	if len(s) == 0 {
		return BGNBD{}, fmt.Errorf("fit BG/NBD: %w", ErrNoData)
	}
	if err := ValidateSummaries(s); err != nil {
		return BGNBD{}, fmt.Errorf("fit BG/NBD: %w", err)
	}
	var sumX, sumT float64
	for _, c := range s {
		sumX += c.X
		sumT += c.T
	}
	return FitBGNBDObjective(float64(len(s)), BGNBDStart(sumX, sumT), func(p [4]float64) (float64, [4]float64, error) {
		ll, g := BGNBDLogLik(p, s)
		return ll, g, nil
	})
}

// FitBGNBDObjective maximises a BG/NBD log-likelihood given only as an
// objective (value and natural-parameter gradient summed over n customers),
// starting from start. FitBGNBD is FitBGNBDObjective over local data; a
// federation passes an objective that aggregates sites' BGNBDLogLik.
func FitBGNBDObjective(n float64, start [4]float64, obj BGNBDObjective) (BGNBD, error) {
	res, err := maximize(n, start[:], func(p, grad []float64) (float64, error) {
		ll, g, err := obj([4]float64{p[0], p[1], p[2], p[3]})
		copy(grad, g[:])
		return ll, err
	})
	m := BGNBD{N: int(n), Iterations: res.iterations, LogLik: res.logLik}
	if len(res.params) == 4 {
		m.R, m.Alpha, m.A, m.B = res.params[0], res.params[1], res.params[2], res.params[3]
	}
	if err != nil {
		return m, fmt.Errorf("fit BG/NBD: %w", err)
	}
	return m, nil
}

// BGNBDLogLik returns the BG/NBD log-likelihood summed over the customers and
// its exact gradient with respect to the natural parameters p = (r, α, a, b)
// (Fader, Hardie & Lee 2005, eq. 6):
//
//	L = Γ(r+x)α^r/Γ(r) · B(a, b+x)/B(a, b) · [(α+T)^-(r+x) + 1{x>0}·a/(b+x−1)·(α+t_x)^-(r+x)]
//
// Sums are additive over customers, so sites can evaluate their own share and
// a federation add them. If a parameter is not positive and finite it returns
// ll = −Inf and a zero gradient. Summaries are not validated here (see
// ValidateSummaries); invalid ones give NaN.
func BGNBDLogLik(p [4]float64, s []Summary) (ll float64, grad [4]float64) {
	r, alpha, a, b := p[0], p[1], p[2], p[3]
	for _, v := range p {
		if !(v > 0) || math.IsInf(v, 1) {
			return math.Inf(-1), grad
		}
	}
	tab := newBGTable(r, a, b, s)
	logAlpha := math.Log(alpha)
	var gr, galpha, ga, gb float64
	for _, c := range s {
		lr, la2, dr, da, db := tab.terms(r, a, b, c.X)
		rx := r + c.X
		logAT := math.Log(alpha + c.T)
		l3 := -rx * logAT
		var lse, w4, bx1, logATx float64
		if c.X > 0 {
			bx1 = b + c.X - 1
			logATx = math.Log(alpha + c.Tx)
			l4 := math.Log(a/bx1) - rx*logATx
			// log(e^l3 + e^l4) and the weight of the second term.
			if l4 > l3 {
				e := math.Exp(l3 - l4)
				lse = l4 + math.Log1p(e)
				w4 = 1 / (1 + e)
			} else {
				e := math.Exp(l4 - l3)
				lse = l3 + math.Log1p(e)
				w4 = e / (1 + e)
			}
		} else {
			lse = l3
		}
		w3 := 1 - w4
		ll += lr + r*logAlpha + la2 + lse
		gr += dr + logAlpha - w3*logAT
		galpha += r/alpha - w3*rx/(alpha+c.T)
		ga += da
		gb += db
		if w4 > 0 {
			gr -= w4 * logATx
			galpha -= w4 * rx / (alpha + c.Tx)
			ga += w4 / a
			gb -= w4 / bx1
		}
	}
	return ll, [4]float64{gr, galpha, ga, gb}
}

// BGNBDCustomerLogLik is BGNBDLogLik for a single customer.
func BGNBDCustomerLogLik(p [4]float64, s Summary) (float64, [4]float64) {
	return BGNBDLogLik(p, []Summary{s})
}

// maxTableX bounds the integer x for which the x-dependent Gamma-function
// terms are tabulated by recurrence; larger or non-integer x use lgamma and
// digamma directly.
const maxTableX = 1 << 16

// bgTable holds, for integer x = 0..len-1, the x-dependent terms of the
// BG/NBD log-likelihood, built by the recurrences Γ(z+1) = zΓ(z) and
// ψ(z+1) = ψ(z) + 1/z.
type bgTable struct {
	lr  []float64 // log Γ(r+x) − log Γ(r)
	la2 []float64 // log B(a, b+x) − log B(a, b)
	dr  []float64 // ψ(r+x) − ψ(r)
	da  []float64 // ψ(a+b) − ψ(a+b+x)
	db  []float64 // ψ(a+b) − ψ(a+b+x) + ψ(b+x) − ψ(b)
}

func newBGTable(r, a, b float64, s []Summary) bgTable {
	maxX := 0
	for _, c := range s {
		if c.X > float64(maxX) && c.X < maxTableX && c.X == math.Trunc(c.X) {
			maxX = int(c.X)
		}
	}
	n := maxX + 1
	buf := make([]float64, 5*n)
	t := bgTable{lr: buf[:n], la2: buf[n : 2*n], dr: buf[2*n : 3*n], da: buf[3*n : 4*n], db: buf[4*n:]}
	for i := 1; i < n; i++ {
		k := float64(i - 1)
		t.lr[i] = t.lr[i-1] + math.Log(r+k)
		t.la2[i] = t.la2[i-1] + math.Log((b+k)/(a+b+k))
		t.dr[i] = t.dr[i-1] + 1/(r+k)
		t.da[i] = t.da[i-1] - 1/(a+b+k)
		t.db[i] = t.db[i-1] + 1/(b+k) - 1/(a+b+k)
	}
	return t
}

// terms returns the x-dependent terms for one customer.
func (t bgTable) terms(r, a, b, x float64) (lr, la2, dr, da, db float64) {
	if x >= 0 && x < float64(len(t.lr)) && x == math.Trunc(x) {
		i := int(x)
		return t.lr[i], t.la2[i], t.dr[i], t.da[i], t.db[i]
	}
	lr = lgamma(r+x) - lgamma(r)
	la2 = lgamma(b+x) - lgamma(b) + lgamma(a+b) - lgamma(a+b+x)
	dr = mathext.Digamma(r+x) - mathext.Digamma(r)
	da = mathext.Digamma(a+b) - mathext.Digamma(a+b+x)
	db = da + mathext.Digamma(b+x) - mathext.Digamma(b)
	return lr, la2, dr, da, db
}

// PAlive returns the probability that a customer with history s is still
// alive at the end of calibration (FHL 2005, eq. 11):
//
//	P(alive) = 1 / (1 + 1{x>0}·a/(b+x−1)·((α+T)/(α+t_x))^(r+x)).
//
// 1 − PAlive is the customer's churn risk. Invalid input gives NaN.
func (m BGNBD) PAlive(s Summary) float64 {
	if s.validate() != nil || !m.valid() {
		return math.NaN()
	}
	if s.X == 0 {
		return 1
	}
	// log of the odds of being dead.
	lo := math.Log(m.A/(m.B+s.X-1)) + (m.R+s.X)*(math.Log(m.Alpha+s.T)-math.Log(m.Alpha+s.Tx))
	return 1 / (1 + math.Exp(lo))
}

// ExpectedPurchases returns E[Y(t) | x, t_x, T], the expected number of
// purchases in (T, T+t] for a customer with history s (FHL 2005, eq. 10):
//
//	(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] · PAlive
//
// that is, PAlive times E[X(t)] of a new customer under the posterior
// parameters (r+x, α+T, a, b+x). Invalid input or t < 0 gives NaN. See
// expectedX for the numerics.
func (m BGNBD) ExpectedPurchases(t float64, s Summary) float64 {
	if s.validate() != nil || !m.valid() || !(t >= 0) || math.IsInf(t, 1) {
		return math.NaN()
	}
	if t == 0 {
		return 0
	}
	return m.PAlive(s) * expectedX(m.R+s.X, m.Alpha+s.T, m.A, m.B+s.X, t, 0)
}

// ExpectedPurchasesNew returns E[X(t)], the expected number of repeat
// purchases in (0, t] for a randomly chosen customer who made a first
// purchase at 0 (FHL 2005, eq. 9):
//
//	(a+b−1)/(a−1) · [1 − (α/(α+t))^r · ₂F₁(r, b; a+b−1; t/(α+t))].
func (m BGNBD) ExpectedPurchasesNew(t float64) float64 {
	if !m.valid() || !(t >= 0) || math.IsInf(t, 1) {
		return math.NaN()
	}
	if t == 0 {
		return 0
	}
	return expectedX(m.R, m.Alpha, m.A, m.B, t, 0)
}

// expectedX returns E[X(t)] for BG/NBD parameters (r, α, a, b) and t > 0.
//
// The closed form has ₂F₁ parameter c = a+b−1, which is ≤ 0 when a+b ≤ 1,
// where ₂F₁ has poles and Cephes loses accuracy. Since E[X(t)] is the mean
// over p ~ Beta(a, b) of E[X(t) | p], and the Beta(a, b) density splits as
// b/(a+b)·Beta(a, b+1) + a/(a+b)·Beta(a+1, b), for c < 1 it recurses into
// those two (each with c one larger; depth ≤ 2 for any a+b > 0). The
// removable singularity at a = 1 is bridged by linear interpolation between
// a = 1 ± 1e-5 (error O(1e-10) relative).
func expectedX(r, alpha, a, b, t float64, depth int) float64 {
	if a+b-1 < 1 && depth < 3 {
		w := b / (a + b)
		return w*expectedX(r, alpha, a, b+1, t, depth+1) + (1-w)*expectedX(r, alpha, a+1, b, t, depth+1)
	}
	const h = 1e-5
	if math.Abs(a-1) < h {
		lo, hi := expectedXDirect(r, alpha, 1-h, b, t), expectedXDirect(r, alpha, 1+h, b, t)
		return lo + (a-(1-h))/(2*h)*(hi-lo)
	}
	return expectedXDirect(r, alpha, a, b, t)
}

// expectedXDirect is the closed form of E[X(t)] (a ≠ 1, a+b−1 > 0). The ₂F₁
// argument z = t/(α+t) lies in [0, 1).
func expectedXDirect(r, alpha, a, b, t float64) float64 {
	z := t / (alpha + t)
	lead := (a + b - 1) / (a - 1)
	return lead * (1 - powHyp(r, b, a+b-1, z, alpha/(alpha+t)))
}

// valid reports whether the model parameters are positive and finite.
func (m BGNBD) valid() bool {
	for _, v := range m.Params() {
		if !(v > 0) || math.IsInf(v, 1) {
			return false
		}
	}
	return true
}

// powHyp returns (1−z)^a · ₂F₁(a, b; c; z) for a, b, c > 0 and z in [0, 1),
// with oneMinusZ = 1 − z passed in exactly. It uses gonum's Cephes-derived
// mathext.Hypergeo; see hypergeo_test.go for its accuracy on this domain.
func powHyp(a, b, c, z, oneMinusZ float64) float64 {
	return math.Exp(a*math.Log(oneMinusZ)) * mathext.Hypergeo(a, b, c, z)
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
