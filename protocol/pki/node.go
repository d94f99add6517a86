package pki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// NodeCert is a node's certificate and private key. Key is nil when only the
// certificate was loaded.
type NodeCert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// SiteID returns the site id the certificate identifies (see [SiteID]).
func (n *NodeCert) SiteID() (string, error) { return SiteID(n.Cert) }

// TLSCertificate returns the certificate and key in the form crypto/tls
// wants. It fails with [ErrNoKey] if the key was not loaded.
func (n *NodeCert) TLSCertificate() (tls.Certificate, error) {
	if n.Key == nil {
		return tls.Certificate{}, fmt.Errorf("node certificate %q: %w", n.Cert.Subject.CommonName, ErrNoKey)
	}
	return tls.Certificate{
		Certificate: [][]byte{n.Cert.Raw},
		PrivateKey:  n.Key,
		Leaf:        n.Cert,
	}, nil
}
