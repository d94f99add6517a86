package clv

import "errors"

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrInvalidInput reports a malformed summary, parameter vector or
	// argument: NaN or infinite values, negative counts or times, t_x > T,
	// non-positive model parameters, or slices of different lengths.
	ErrInvalidInput = errors.New("clv: invalid input")

	// ErrNoData reports that a fit was asked for with no usable customers.
	ErrNoData = errors.New("clv: no usable customers")

	// ErrNotConverged reports that the optimiser stopped without meeting the
	// gradient tolerance (see FitSettings).
	ErrNotConverged = errors.New("clv: optimiser did not converge")

	// ErrObjective reports that a caller-supplied objective failed; the
	// objective's own error is joined to it.
	ErrObjective = errors.New("clv: objective evaluation failed")
)
