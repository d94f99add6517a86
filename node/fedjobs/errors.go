package fedjobs

import "errors"

// Sentinel errors; errors from this package wrap one of them (or an error
// of securesum or jobs). Test with errors.Is.
var (
	// ErrConfig: a Summer or Provider that is not usable as configured (no
	// runner, no site data, no active key to derive MaxAbs from, ...).
	ErrConfig = errors.New("fedjobs: bad configuration")
	// ErrRelease: a secure sum released something other than what the query
	// asked for (wrong length, noise on a DP-off query).
	ErrRelease = errors.New("fedjobs: unexpected release")
	// ErrEngine: an engine result that cannot be turned into SiteData.
	ErrEngine = errors.New("fedjobs: bad engine result")
	// ErrIncomplete: a site that should have contributed to a round did
	// not (its data not ready, or no data): the run stops rather than
	// leave its users out of the model.
	ErrIncomplete = errors.New("fedjobs: a site did not contribute")
)
