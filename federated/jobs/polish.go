package jobs

import (
	"errors"
	"math"

	"github.com/strata-fed/strata/node/analytics/clv"
)

// polishAcceptTol bounds ‖∇_θ LL‖∞ per customer after polishing for an
// exact fit whose BFGS stalled (clv.ErrNotConverged): the fixed-point
// log-likelihood's rounding (≤ 2^−37 per customer) can stop BFGS's line
// search short of clv's 1e-9 where the likelihood is nearly flat (small
// data whose maximum lies far out); polish, which needs only gradients,
// goes on from there. The bound is clv's own for a stalled line search.
const polishAcceptTol = 1e-6

// canPolish reports whether a fit that returned err goes on to polishing:
// it converged, or BFGS stopped (clv.ErrNotConverged) at a finite, positive
// point. Failed evaluations (rounds, the evaluation cap) end the job.
func canPolish(err error, params ...float64) bool {
	return err == nil || errors.Is(err, clv.ErrNotConverged) && !errors.Is(err, clv.ErrObjective) && positive(params...)
}

// polishSteps is the number of Newton steps to polish a fit that returned
// err: three after convergence, more after a stall.
func polishSteps(err error) int {
	if err == nil {
		return 3
	}
	return 8
}

// polish refines a maximum-likelihood point with Newton steps on θ =
// log(params), the Hessian from central differences of the (aggregated)
// gradient. BFGS on a fixed-point objective stops where function values are
// dominated by rounding (~1e-10 absolute on CDNOW), short of the optimum
// along flat directions; gradients stay accurate far below that, and Newton
// needs only gradients. Each step costs 2·dim+1 evaluations (rounds). A
// step is kept only if it lowers ‖∇_θ‖∞; polishing stops after maxSteps,
// when the gradient is below 1e-12·n, or on a failed evaluation. It returns
// the best point, its log-likelihood, its ‖∇_θ LL‖∞ (+Inf if the start
// could not be evaluated) and the evaluations used.
func polish(eval func(p []float64) (float64, []float64, bool), start []float64, ll0 float64, n float64, maxSteps int) ([]float64, float64, float64, int) {
	dim := len(start)
	theta := make([]float64, dim)
	for i, v := range start {
		theta[i] = math.Log(v)
	}
	evals := 0
	gradTheta := func(th []float64) (float64, []float64, bool) {
		p := make([]float64, dim)
		for i, t := range th {
			p[i] = math.Exp(t)
		}
		evals++
		ll, g, ok := eval(p)
		if !ok || !checkFinite(ll) || !checkFinite(g...) {
			return 0, nil, false
		}
		gt := make([]float64, dim)
		for i := range g {
			gt[i] = g[i] * p[i]
		}
		return ll, gt, true
	}
	ll, g, ok := gradTheta(theta)
	if !ok {
		return start, ll0, math.Inf(1), evals
	}
	best, bestLL, bestNorm := append([]float64(nil), theta...), ll, infNorm(g)
	const h = 1e-5
	for range maxSteps {
		if bestNorm < 1e-12*n {
			break
		}
		H := make([][]float64, dim)
		for i := range H {
			H[i] = make([]float64, dim+1)
		}
		for j := range dim {
			a, b := append([]float64(nil), best...), append([]float64(nil), best...)
			a[j] += h
			b[j] -= h
			_, ga, ok1 := gradTheta(a)
			_, gb, ok2 := gradTheta(b)
			if !ok1 || !ok2 {
				return expAll(best), bestLL, bestNorm, evals
			}
			for i := range dim {
				H[i][j] = (ga[i] - gb[i]) / (2 * h)
			}
		}
		for i := range dim {
			// Symmetrise, and solve H·d = −g.
			for j := range i {
				s := (H[i][j] + H[j][i]) / 2
				H[i][j], H[j][i] = s, s
			}
			H[i][dim] = -g[i]
		}
		d, ok := solve(H)
		if !ok {
			break
		}
		next := make([]float64, dim)
		for i := range dim {
			next[i] = best[i] + d[i]
		}
		nll, ng, ok := gradTheta(next)
		if !ok || infNorm(ng) >= bestNorm {
			break
		}
		best, bestLL, bestNorm, g = next, nll, infNorm(ng), ng
	}
	return expAll(best), bestLL, bestNorm, evals
}

func expAll(th []float64) []float64 {
	p := make([]float64, len(th))
	for i, t := range th {
		p[i] = math.Exp(t)
	}
	return p
}

func infNorm(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// solve does Gaussian elimination with partial pivoting on an augmented
// dim×(dim+1) matrix (modified in place).
func solve(a [][]float64) ([]float64, bool) {
	n := len(a)
	for c := range n {
		piv := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[piv][c]) {
				piv = r
			}
		}
		if a[piv][c] == 0 || !checkFinite(a[piv][c]) {
			return nil, false
		}
		a[c], a[piv] = a[piv], a[c]
		for r := range n {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for k := c; k <= n; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	x := make([]float64, n)
	for i := range n {
		x[i] = a[i][n] / a[i][i]
		if !checkFinite(x[i]) {
			return nil, false
		}
	}
	return x, true
}
