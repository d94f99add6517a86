package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// Default validity periods; a zero Validity in the options means these.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultNodeValidity = 365 * 24 * time.Hour
)

// clockSkew backdates NotBefore so peers with slightly late clocks accept a
// fresh certificate.
const clockSkew = 5 * time.Minute

// CA is a federation certificate authority. Key is nil when only the
// certificate was loaded (enough to verify, not to issue).
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CAOptions configures [NewCA].
type CAOptions struct {
	// Name is the federation's name, used in the CA's subject
	// ("Strata federation CA <Name>"). Defaults to "strata".
	Name string
	// Validity is the CA's lifetime. Defaults to DefaultCAValidity.
	Validity time.Duration
	// NotBefore starts the validity period. Zero means now (minus a few
	// minutes of allowed clock skew).
	NotBefore time.Time
}

// NewCA creates a federation CA with a fresh ECDSA P-256 key.
func NewCA(opts CAOptions) (*CA, error) {
	if opts.Name == "" {
		opts.Name = "strata"
	}
	if opts.Validity == 0 {
		opts.Validity = DefaultCAValidity
	}
	if opts.Validity < 0 {
		return nil, fmt.Errorf("create CA: negative validity %v", opts.Validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create CA: generate key: %w", err)
	}
	nb, na := validity(opts.NotBefore, opts.Validity)
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Strata federation CA " + opts.Name, Organization: []string{"Strata federation " + opts.Name}},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA: sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("create CA: parse: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Pool returns a certificate pool holding only this CA: the trust root for
// [TLSOptions.Roots].
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// NodeOptions configures [CA.Issue].
type NodeOptions struct {
	// Validity is the certificate's lifetime. Defaults to DefaultNodeValidity;
	// it is clamped to the CA's NotAfter.
	Validity time.Duration
	// NotBefore starts the validity period. Zero means now (minus a few
	// minutes of allowed clock skew).
	NotBefore time.Time
	// DNSNames and IPAddresses are added to the always-present loopback
	// names (localhost, 127.0.0.1, ::1). They help generic TLS tools only;
	// Strata identifies peers by site id.
	DNSNames    []string
	IPAddresses []net.IP
}

// Issue creates a node certificate for siteID with a fresh ECDSA P-256 key,
// signed by the CA. The certificate's identity is the URI SAN
// strata://site/<siteID>, repeated as the subject common name.
func (ca *CA) Issue(siteID string, opts NodeOptions) (*NodeCert, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, fmt.Errorf("issue node certificate: %w", err)
	}
	if ca.Key == nil {
		return nil, fmt.Errorf("issue node certificate for %q: CA %w", siteID, ErrNoKey)
	}
	if !ca.Cert.IsCA {
		return nil, fmt.Errorf("issue node certificate for %q: %w", siteID, ErrNotCA)
	}
	if opts.Validity == 0 {
		opts.Validity = DefaultNodeValidity
	}
	if opts.Validity < 0 {
		return nil, fmt.Errorf("issue node certificate for %q: negative validity %v", siteID, opts.Validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue node certificate for %q: generate key: %w", siteID, err)
	}
	nb, na := validity(opts.NotBefore, opts.Validity)
	if na.After(ca.Cert.NotAfter) {
		na = ca.Cert.NotAfter
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("issue node certificate for %q: %w", siteID, err)
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, fmt.Errorf("issue node certificate for %q: %w", siteID, err)
	}
	dns := append([]string{"localhost"}, opts.DNSNames...)
	ips := append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, opts.IPAddresses...)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   siteID,
			Organization: ca.Cert.Subject.Organization,
		},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          skid,
		URIs:                  []*url.URL{SiteURI(siteID)},
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue node certificate for %q: sign: %w", siteID, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issue node certificate for %q: parse: %w", siteID, err)
	}
	return &NodeCert{Cert: cert, Key: key}, nil
}

func validity(notBefore time.Time, d time.Duration) (time.Time, time.Time) {
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-clockSkew)
	}
	notBefore = notBefore.UTC().Truncate(time.Second)
	return notBefore, notBefore.Add(d)
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:20], nil
}
