package clv

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"
)

// Convergence settings shared by every maximum-likelihood fit in this
// package. The optimiser works on θ = log(parameters) and minimises the mean
// negative log-likelihood per customer, f(θ) = −LL(exp θ)/n, so that the
// tolerances below do not depend on the number of customers.
const (
	// gradTol stops the fit once ‖∇_θ f‖∞ < gradTol.
	gradTol = 1e-9
	// acceptTol is the looser gradient bound under which a fit is still
	// accepted when the line search can make no further progress in
	// floating point (gonum reports ErrNoProgress or ErrLinesearcherFailure).
	acceptTol = 1e-6
	// maxIterations bounds the number of BFGS major iterations.
	maxIterations = 1000
	// maxLogParam bounds |θ|: parameters outside [e^-40, e^40] make the
	// objective report +Inf, which the line search treats as a failed step.
	maxLogParam = 40
)

// evalFunc returns the summed log-likelihood at natural parameters p and
// writes its gradient w.r.t. p into grad.
type evalFunc func(p, grad []float64) (float64, error)

// fitResult is the outcome of maximize.
type fitResult struct {
	params     []float64
	logLik     float64
	iterations int
	gradNorm   float64 // ‖∇_θ f‖∞ at the optimum
}

// maximize maximises the log-likelihood eval over positive parameters with
// gonum's BFGS on log-parameters, starting from start. n is the number of
// customers the log-likelihood sums over (used only for scaling).
func maximize(n float64, start []float64, eval evalFunc) (fitResult, error) {
	dim := len(start)
	if !(n > 0) || math.IsInf(n, 0) {
		return fitResult{}, fmt.Errorf("customer count %v: %w", n, ErrNoData)
	}
	theta0 := make([]float64, dim)
	for i, v := range start {
		if !(v > 0) || math.IsInf(v, 0) {
			return fitResult{}, fmt.Errorf("start value %d = %v: %w", i, v, ErrInvalidInput)
		}
		theta0[i] = math.Log(v)
	}

	var (
		lastX   = make([]float64, dim)
		lastF   float64
		lastG   = make([]float64, dim)
		valid   bool
		p       = make([]float64, dim)
		gp      = make([]float64, dim)
		evalErr error
	)
	// compute evaluates f and ∇_θ f at theta once; gonum asks for the value
	// and the gradient in separate calls at the same point.
	compute := func(theta []float64) {
		if valid && floats.Equal(theta, lastX) {
			return
		}
		copy(lastX, theta)
		valid = true
		for i, t := range theta {
			if math.Abs(t) > maxLogParam || math.IsNaN(t) {
				lastF = math.Inf(1)
				for j := range lastG {
					lastG[j] = 0
				}
				return
			}
			p[i] = math.Exp(t)
		}
		ll, err := eval(p, gp)
		if err != nil {
			if evalErr == nil {
				evalErr = err
			}
			lastF = math.Inf(1)
			return
		}
		if math.IsNaN(ll) {
			ll = math.Inf(-1)
		}
		lastF = -ll / n
		for i := range gp {
			// Chain rule: ∂/∂θ_i = p_i ∂/∂p_i.
			lastG[i] = -gp[i] * p[i] / n
		}
	}
	prob := optimize.Problem{
		Func: func(theta []float64) float64 {
			compute(theta)
			return lastF
		},
		Grad: func(grad, theta []float64) {
			compute(theta)
			copy(grad, lastG)
		},
		Status: func() (optimize.Status, error) {
			if evalErr != nil {
				return optimize.Failure, evalErr
			}
			return optimize.NotTerminated, nil
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: gradTol,
		MajorIterations:   maxIterations,
		// Never stop on a stalled function value alone: stopping is decided
		// by the gradient (or by the line search giving up, checked below).
		Converger: optimize.NeverTerminate{},
	}
	res, err := optimize.Minimize(prob, theta0, settings, &optimize.BFGS{})
	if evalErr != nil {
		return fitResult{}, errors.Join(ErrObjective, evalErr)
	}
	if res == nil {
		return fitResult{}, fmt.Errorf("gonum optimize: %w: %w", ErrNotConverged, err)
	}
	// Re-evaluate at the reported optimum for the exact value and gradient.
	compute(res.X)
	if evalErr != nil {
		return fitResult{}, errors.Join(ErrObjective, evalErr)
	}
	out := fitResult{
		params:     append([]float64(nil), p...),
		logLik:     -lastF * n,
		iterations: res.Stats.MajorIterations,
		gradNorm:   floats.Norm(lastG, math.Inf(1)),
	}
	switch {
	case math.IsInf(lastF, 0) || math.IsNaN(out.gradNorm):
		return out, fmt.Errorf("non-finite log-likelihood at optimum: %w", ErrNotConverged)
	case err == nil && res.Status == optimize.GradientThreshold:
		return out, nil
	case out.gradNorm < acceptTol:
		// The line search stalled in floating point close to the optimum.
		return out, nil
	case err != nil:
		return out, fmt.Errorf("status %v, gradient norm %.3g: %w: %w", res.Status, out.gradNorm, ErrNotConverged, err)
	default:
		return out, fmt.Errorf("status %v, gradient norm %.3g: %w", res.Status, out.gradNorm, ErrNotConverged)
	}
}
