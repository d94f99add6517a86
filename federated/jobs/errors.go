package jobs

import (
	"bytes"
	"errors"
)

// Sentinel errors. Errors returned by this package wrap one of them (or an
// error of the Summer); test with errors.Is.
var (
	// ErrUnknown: Local was asked for a statistic it does not know.
	ErrUnknown = errors.New("jobs: unknown statistic")
	// ErrParams: malformed statistic parameters, options or vector lengths.
	ErrParams = errors.New("jobs: bad parameters")
	// ErrPrivacy: privacy parameters that cannot be calibrated.
	ErrPrivacy = errors.New("jobs: bad privacy parameters")
	// ErrNoData: an aggregate too small to compute a result (no users,
	// fewer non-empty cells than clusters, ...).
	ErrNoData = errors.New("jobs: not enough data")
	// ErrFit: an optimiser did not converge or ran out of evaluations.
	ErrFit = errors.New("jobs: fit failed")
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
