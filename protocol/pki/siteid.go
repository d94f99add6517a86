package pki

import (
	"crypto/x509"
	"fmt"
	"net/url"
)

// URIScheme and uriHost form a node identity URI: strata://site/<site-id>.
const (
	URIScheme = "strata"
	uriHost   = "site"
)

// MaxSiteIDLen is the longest valid site id (a DNS label).
const MaxSiteIDLen = 63

// ValidateSiteID reports whether id is a valid site id:
// ^[a-z0-9][a-z0-9-]{0,62}$. The error wraps [ErrInvalidSiteID].
func ValidateSiteID(id string) error {
	if len(id) == 0 || len(id) > MaxSiteIDLen {
		return fmt.Errorf("%w: %q: length must be 1..%d", ErrInvalidSiteID, id, MaxSiteIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0:
		default:
			return fmt.Errorf("%w: %q: want lower-case letters, digits and '-' (not first)", ErrInvalidSiteID, id)
		}
	}
	return nil
}

// SiteURI returns the identity URI strata://site/<id> of a site.
func SiteURI(id string) *url.URL {
	return &url.URL{Scheme: URIScheme, Host: uriHost, Path: "/" + id}
}

// SiteID returns the site id a certificate identifies: the id of its single
// strata://site/<id> URI SAN. The subject common name, if not empty, must be
// the same id. Errors wrap [ErrNoSiteID] or [ErrInvalidSiteID]. SiteID does
// not verify the certificate's signature; see [VerifyPeer].
func SiteID(cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", fmt.Errorf("%w: nil certificate", ErrNoSiteID)
	}
	var id string
	n := 0
	for _, u := range cert.URIs {
		if u.Scheme != URIScheme {
			continue
		}
		n++
		if u.Host != uriHost || len(u.Path) < 2 || u.Path[0] != '/' || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return "", fmt.Errorf("%w: malformed identity URI %q", ErrNoSiteID, u.String())
		}
		id = u.Path[1:]
	}
	if n != 1 {
		return "", fmt.Errorf("%w: %d strata identity URIs (subject %q)", ErrNoSiteID, n, cert.Subject.String())
	}
	if err := ValidateSiteID(id); err != nil {
		return "", fmt.Errorf("certificate identity: %w", err)
	}
	if cn := cert.Subject.CommonName; cn != "" && cn != id {
		return "", fmt.Errorf("%w: common name %q differs from URI site id %q", ErrNoSiteID, cn, id)
	}
	return id, nil
}
