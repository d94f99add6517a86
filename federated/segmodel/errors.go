package segmodel

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them; test
// with errors.Is.
var (
	// ErrInvalid: a model (decoded or built) is malformed: see Model.Validate.
	ErrInvalid = errors.New("segmodel: invalid model")
	// ErrSiteData: site columns of different lengths or impossible values.
	ErrSiteData = errors.New("segmodel: invalid site data")
)
