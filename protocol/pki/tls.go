package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"time"
)

// ALPN is the application protocol Strata negotiates on every connection.
const ALPN = "strata/1"

// TLSOptions configures the mutual-TLS builders.
type TLSOptions struct {
	// Roots is the federation CA pool. Required. System roots are never used.
	Roots *x509.CertPool
	// Certificate is this node's certificate and key (see
	// [NodeCert.TLSCertificate]). Required.
	Certificate tls.Certificate
	// ServerSiteID, on the client side, is the site the server must prove
	// to be. Empty accepts any valid site, which the caller must then
	// authorize (the transport does, through its Authorize callback).
	ServerSiteID string
	// KeyLogWriter, if set, receives TLS secrets in SSLKEYLOGFILE format.
	// DEBUGGING ONLY: whoever has this output can decrypt captured traffic.
	// Use an unbuffered writer.
	KeyLogWriter io.Writer
	// Time returns the current time for certificate validity checks.
	// Defaults to time.Now.
	Time func() time.Time
}

// ServerTLSConfig returns a TLS 1.3 server configuration that requires a
// client certificate from the federation CA with a valid site id.
func ServerTLSConfig(o TLSOptions) (*tls.Config, error) {
	return build(o, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, "")
}

// ClientTLSConfig returns a TLS 1.3 client configuration that presents the
// node certificate and requires a server certificate from the federation CA
// with a valid site id (equal to ServerSiteID if set). Host names are not
// verified.
func ClientTLSConfig(o TLSOptions) (*tls.Config, error) {
	return build(o, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, o.ServerSiteID)
}

// MutualTLSConfig returns one configuration usable on both sides, for a
// node that listens and dials on the same socket (the QUIC transport): the
// peer must hold a federation node certificate valid for both server and
// client authentication, with a valid site id. ServerSiteID is ignored.
func MutualTLSConfig(o TLSOptions) (*tls.Config, error) {
	return build(o, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, "")
}

func build(o TLSOptions, usages []x509.ExtKeyUsage, wantSite string) (*tls.Config, error) {
	if o.Roots == nil {
		return nil, fmt.Errorf("%w: no CA roots", ErrConfig)
	}
	if len(o.Certificate.Certificate) == 0 || o.Certificate.PrivateKey == nil {
		return nil, fmt.Errorf("%w: no node certificate and key", ErrConfig)
	}
	if wantSite != "" {
		if err := ValidateSiteID(wantSite); err != nil {
			return nil, fmt.Errorf("%w: server site: %w", ErrConfig, err)
		}
	}
	now := o.Time
	if now == nil {
		now = time.Now
	}
	roots := o.Roots
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		NextProtos:   []string{ALPN},
		Certificates: []tls.Certificate{o.Certificate},
		// Verification of both sides happens in VerifyConnection, against
		// the federation CA only and by site id, never by host name.
		ClientAuth:             tls.RequireAnyClientCert,
		InsecureSkipVerify:     true,
		SessionTicketsDisabled: true,
		KeyLogWriter:           o.KeyLogWriter,
		VerifyConnection: func(cs tls.ConnectionState) error {
			raw := make([][]byte, len(cs.PeerCertificates))
			for i, c := range cs.PeerCertificates {
				raw[i] = c.Raw
			}
			site, _, err := VerifyPeer(raw, roots, now(), usages...)
			if err != nil {
				return err
			}
			if wantSite != "" && site != wantSite {
				return fmt.Errorf("%w: got %q, want %q", ErrWrongSite, site, wantSite)
			}
			if cs.NegotiatedProtocol != ALPN {
				return fmt.Errorf("pki: peer negotiated ALPN %q, want %q", cs.NegotiatedProtocol, ALPN)
			}
			return nil
		},
	}, nil
}

// VerifyPeer verifies a peer's certificate chain (leaf first, as sent in
// the handshake) against roots at time now, requiring every listed extended
// key usage, and returns the peer's site id and leaf certificate. Errors wrap
// [ErrUntrusted], [ErrNoSiteID] or [ErrInvalidSiteID].
func VerifyPeer(rawCerts [][]byte, roots *x509.CertPool, now time.Time, usages ...x509.ExtKeyUsage) (string, *x509.Certificate, error) {
	if len(rawCerts) == 0 {
		return "", nil, fmt.Errorf("%w: no certificate presented", ErrUntrusted)
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, r := range rawCerts {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return "", nil, fmt.Errorf("%w: parse certificate %d: %w", ErrUntrusted, i, err)
		}
		certs[i] = c
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	for _, u := range usages {
		// One Verify per usage: x509 accepts a chain valid for ANY listed
		// usage, and we want all of them.
		if _, err := leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			CurrentTime:   now,
			KeyUsages:     []x509.ExtKeyUsage{u},
		}); err != nil {
			return "", nil, fmt.Errorf("%w: %q: %w", ErrUntrusted, leaf.Subject.String(), err)
		}
	}
	if leaf.IsCA {
		return "", nil, fmt.Errorf("%w: %q is a CA certificate", ErrUntrusted, leaf.Subject.String())
	}
	site, err := SiteID(leaf)
	if err != nil {
		return "", nil, err
	}
	return site, leaf, nil
}

// PeerSiteID returns the site id of the peer of a connection whose
// configuration came from this package (the chain was already verified).
func PeerSiteID(cs tls.ConnectionState) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", fmt.Errorf("%w: no peer certificate", ErrNoSiteID)
	}
	return SiteID(cs.PeerCertificates[0])
}
