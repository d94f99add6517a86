package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Info is a human-oriented summary of a certificate, for `strata certs list`
// and logs.
type Info struct {
	Subject string
	Issuer  string
	// SiteID is the site identity, empty for a CA or a certificate without a
	// valid identity (SiteIDError then says why).
	SiteID      string
	SiteIDError string
	IsCA        bool
	// Serial is the serial number in lower-case hex.
	Serial    string
	NotBefore time.Time
	NotAfter  time.Time
	// Fingerprint is the SHA-256 of the DER certificate, colon-separated
	// upper-case hex as openssl prints it.
	Fingerprint  string
	KeyAlgorithm string
	DNSNames     []string
	IPAddresses  []string
	URIs         []string
}

// Inspect summarizes cert.
func Inspect(cert *x509.Certificate) Info {
	in := Info{
		Subject:      cert.Subject.String(),
		Issuer:       cert.Issuer.String(),
		IsCA:         cert.IsCA,
		Serial:       cert.SerialNumber.Text(16),
		NotBefore:    cert.NotBefore,
		NotAfter:     cert.NotAfter,
		Fingerprint:  Fingerprint(cert),
		KeyAlgorithm: cert.PublicKeyAlgorithm.String(),
		DNSNames:     append([]string(nil), cert.DNSNames...),
	}
	for _, ip := range cert.IPAddresses {
		in.IPAddresses = append(in.IPAddresses, ip.String())
	}
	for _, u := range cert.URIs {
		in.URIs = append(in.URIs, u.String())
	}
	if !cert.IsCA {
		id, err := SiteID(cert)
		if err != nil {
			in.SiteIDError = err.Error()
		}
		in.SiteID = id
	}
	return in
}

// ValidAt reports whether t lies within the certificate's validity period.
func (in Info) ValidAt(t time.Time) bool {
	return !t.Before(in.NotBefore) && !t.After(in.NotAfter)
}

// String renders the summary on a few lines.
func (in Info) String() string {
	var b strings.Builder
	kind := "node"
	if in.IsCA {
		kind = "CA"
	}
	fmt.Fprintf(&b, "%s certificate\n", kind)
	if in.SiteID != "" {
		fmt.Fprintf(&b, "  site id:     %s\n", in.SiteID)
	} else if in.SiteIDError != "" {
		fmt.Fprintf(&b, "  site id:     (invalid: %s)\n", in.SiteIDError)
	}
	fmt.Fprintf(&b, "  subject:     %s\n  issuer:      %s\n  serial:      %s\n", in.Subject, in.Issuer, in.Serial)
	fmt.Fprintf(&b, "  valid:       %s to %s\n", in.NotBefore.UTC().Format(time.RFC3339), in.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "  key:         %s\n  sha256:      %s\n", in.KeyAlgorithm, in.Fingerprint)
	if len(in.URIs)+len(in.DNSNames)+len(in.IPAddresses) > 0 {
		sans := append(append(append([]string(nil), in.URIs...), in.DNSNames...), in.IPAddresses...)
		fmt.Fprintf(&b, "  names:       %s\n", strings.Join(sans, ", "))
	}
	return b.String()
}

// Fingerprint returns the SHA-256 fingerprint of the DER certificate as
// colon-separated upper-case hex (the openssl x509 -fingerprint form).
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}
