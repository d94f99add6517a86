package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File modes of written files.
const (
	CertFileMode fs.FileMode = 0o644
	KeyFileMode  fs.FileMode = 0o600
)

// PEM block types.
const (
	pemCert = "CERTIFICATE"
	pemKey  = "PRIVATE KEY"
)

// EncodeCertPEM returns cert as a PEM "CERTIFICATE" block.
func EncodeCertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: cert.Raw})
}

// EncodeKeyPEM returns key as a PEM "PRIVATE KEY" (PKCS#8) block.
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemKey, Bytes: der}), nil
}

// ParseCertsPEM parses every "CERTIFICATE" block in data, in order. Other
// block types are skipped; no certificate at all is an [ErrPEM] error.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != pemCert {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE block", ErrPEM)
	}
	return certs, nil
}

// ParseKeyPEM parses the first private key block in data: PKCS#8
// ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("%w: no private key block", ErrPEM)
		}
		var (
			k   any
			err error
		)
		switch b.Type {
		case pemKey:
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: key type %T cannot sign", ErrPEM, k)
		}
		return s, nil
	}
}

// ReadCertFile reads every certificate of a PEM file.
func ReadCertFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate file: %w", err)
	}
	certs, err := ParseCertsPEM(data)
	if err != nil {
		return nil, fmt.Errorf("certificate file %s: %w", path, err)
	}
	return certs, nil
}

// LoadPool reads a PEM file of CA certificates into a pool, for
// [TLSOptions.Roots]. Every certificate must be a CA.
func LoadPool(path string) (*x509.CertPool, error) {
	certs, err := ReadCertFile(path)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	for _, c := range certs {
		if !c.IsCA {
			return nil, fmt.Errorf("CA file %s: %q: %w", path, c.Subject.String(), ErrNotCA)
		}
		p.AddCert(c)
	}
	return p, nil
}

// LoadCA loads a CA certificate and, if keyPath is not empty, its private
// key.
func LoadCA(certPath, keyPath string) (*CA, error) {
	cert, key, err := loadPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("load CA %s: %w", certPath, ErrNotCA)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadNodeCert loads a node certificate and, if keyPath is not empty, its
// private key. The certificate must carry a valid site id.
func LoadNodeCert(certPath, keyPath string) (*NodeCert, error) {
	cert, key, err := loadPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load node certificate: %w", err)
	}
	if _, err := SiteID(cert); err != nil {
		return nil, fmt.Errorf("load node certificate %s: %w", certPath, err)
	}
	return &NodeCert{Cert: cert, Key: key}, nil
}

// Save writes the CA certificate (0644) and, if keyPath is not empty, its
// key (0600). Without overwrite, an existing file is an [ErrExists] error.
func (ca *CA) Save(certPath, keyPath string, overwrite bool) error {
	if err := savePair(ca.Cert, ca.Key, certPath, keyPath, overwrite); err != nil {
		return fmt.Errorf("save CA: %w", err)
	}
	return nil
}

// Save writes the node certificate (0644) and, if keyPath is not empty, its
// key (0600). Without overwrite, an existing file is an [ErrExists] error.
func (n *NodeCert) Save(certPath, keyPath string, overwrite bool) error {
	if err := savePair(n.Cert, n.Key, certPath, keyPath, overwrite); err != nil {
		return fmt.Errorf("save node certificate: %w", err)
	}
	return nil
}

func loadPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	certs, err := ReadCertFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	cert := certs[0]
	if keyPath == "" {
		return cert, nil, nil
	}
	data, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read key file: %w", err)
	}
	key, err := ParseKeyPEM(data)
	if err != nil {
		return nil, nil, fmt.Errorf("key file %s: %w", keyPath, err)
	}
	if err := matchKey(cert, key); err != nil {
		return nil, nil, fmt.Errorf("key file %s: %w", keyPath, err)
	}
	return cert, key, nil
}

func matchKey(cert *x509.Certificate, key crypto.Signer) error {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return ErrKeyMismatch
	}
	return nil
}

func savePair(cert *x509.Certificate, key crypto.Signer, certPath, keyPath string, overwrite bool) error {
	if certPath == "" {
		return errors.New("no certificate path")
	}
	var keyPEM []byte
	if keyPath != "" {
		if key == nil {
			return ErrNoKey
		}
		var err error
		if keyPEM, err = EncodeKeyPEM(key); err != nil {
			return err
		}
	}
	if !overwrite {
		for _, p := range []string{certPath, keyPath} {
			if p == "" {
				continue
			}
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s: %w", p, ErrExists)
			}
		}
	}
	if keyPath != "" {
		if err := writeFileAtomic(keyPath, keyPEM, KeyFileMode); err != nil {
			return err
		}
	}
	return writeFileAtomic(certPath, EncodeCertPEM(cert), CertFileMode)
}

// writeFileAtomic writes data to a temporary file in path's directory with
// mode perm (set before any byte is written), syncs it and renames it over
// path.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
