package pki

import "errors"

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrInvalidSiteID means a site id does not match ^[a-z0-9][a-z0-9-]{0,62}$.
	ErrInvalidSiteID = errors.New("invalid site id")
	// ErrNoSiteID means a certificate carries no strata://site/<id> URI SAN,
	// more than one, or a common name that disagrees with it.
	ErrNoSiteID = errors.New("certificate has no valid site identity")
	// ErrNotCA means a certificate used as a CA is not a CA certificate.
	ErrNotCA = errors.New("certificate is not a CA")
	// ErrKeyMismatch means a private key does not belong to its certificate.
	ErrKeyMismatch = errors.New("private key does not match certificate")
	// ErrNoKey means an operation needs a private key that was not loaded.
	ErrNoKey = errors.New("no private key")
	// ErrExists means a file would be overwritten without permission.
	ErrExists = errors.New("file already exists")
	// ErrPEM means a file holds no usable PEM block of the expected type.
	ErrPEM = errors.New("malformed PEM")
	// ErrUntrusted means a peer certificate does not chain to the federation
	// CA, is expired or not yet valid, or lacks the needed key usage.
	ErrUntrusted = errors.New("peer certificate not trusted")
	// ErrWrongSite means a peer presented a valid certificate for another site
	// than the one expected.
	ErrWrongSite = errors.New("peer is not the expected site")
	// ErrConfig means TLS options are incomplete.
	ErrConfig = errors.New("invalid TLS options")
)
