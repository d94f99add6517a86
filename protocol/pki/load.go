package pki

import (
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"time"
)

// LoadMutualTLS is the usual way a node builds its transport's TLS
// configuration: it loads the federation CA certificate (caCertPath), the
// node certificate and key, and returns [MutualTLSConfig] plus the node's
// site id. keyLog may be nil (see [TLSOptions.KeyLogWriter]).
func LoadMutualTLS(caCertPath, certPath, keyPath string, keyLog io.Writer) (*tls.Config, string, error) {
	roots, err := LoadPool(caCertPath)
	if err != nil {
		return nil, "", err
	}
	n, err := LoadNodeCert(certPath, keyPath)
	if err != nil {
		return nil, "", err
	}
	site, err := n.SiteID()
	if err != nil {
		return nil, "", err
	}
	cert, err := n.TLSCertificate()
	if err != nil {
		return nil, "", err
	}
	if _, _, err := VerifyPeer([][]byte{n.Cert.Raw}, roots, time.Now()); err != nil {
		return nil, "", fmt.Errorf("node certificate %s is not from the CA in %s: %w", certPath, caCertPath, err)
	}
	tc, err := MutualTLSConfig(TLSOptions{Roots: roots, Certificate: cert, KeyLogWriter: keyLog})
	if err != nil {
		return nil, "", err
	}
	return tc, site, nil
}

// OpenKeyLog opens (appending, creating with mode 0600) a file for TLS
// session secrets in SSLKEYLOGFILE format. DEBUGGING ONLY: the file lets
// anyone decrypt captured traffic of this node. The caller closes it.
func OpenKeyLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, KeyFileMode)
	if err != nil {
		return nil, fmt.Errorf("open TLS key log: %w", err)
	}
	// OpenFile applies the mode only when it creates the file: make sure an
	// existing file is not readable by others before secrets go into it.
	if err := f.Chmod(KeyFileMode); err != nil {
		f.Close()
		return nil, fmt.Errorf("open TLS key log: restrict %s to mode %o: %w", path, KeyFileMode, err)
	}
	return f, nil
}
