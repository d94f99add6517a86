package demo

import "errors"

// Errors returned by this package; match them with errors.Is.
var (
	// ErrOptions: the options are inconsistent (a wrong number of --data
	// files, a DP-off run without allow_dp_off, ...). Nothing was started.
	ErrOptions = errors.New("demo: invalid options")
	// ErrData: a --data file is missing, unreadable or not in the standard
	// schema. Nothing was started.
	ErrData = errors.New("demo: invalid data file")
	// ErrTimeout: the federation did not reach a step (a leader, all
	// members joined, every site's outputs) in time.
	ErrTimeout = errors.New("demo: timed out")
	// ErrOutput: a site's outputs are missing or inconsistent.
	ErrOutput = errors.New("demo: bad outputs")
)
