package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidateSiteID(t *testing.T) {
	good := []string{"a", "0", "site-1", "acme", strings.Repeat("a", 63), "a-"}
	bad := []string{"", "-a", "A", "site_1", "site.1", "sité", strings.Repeat("a", 64), "a b", "../x"}
	for _, id := range good {
		if err := ValidateSiteID(id); err != nil {
			t.Errorf("ValidateSiteID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range bad {
		if err := ValidateSiteID(id); !errors.Is(err, ErrInvalidSiteID) {
			t.Errorf("ValidateSiteID(%q) = %v, want ErrInvalidSiteID", id, err)
		}
	}
}

func newCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA(CAOptions{Name: "test"})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func issue(t *testing.T, ca *CA, site string) *NodeCert {
	t.Helper()
	n, err := ca.Issue(site, NodeOptions{})
	if err != nil {
		t.Fatalf("Issue(%q): %v", site, err)
	}
	return n
}

func TestIssueIdentity(t *testing.T) {
	ca := newCA(t)
	n, err := ca.Issue("site-a", NodeOptions{DNSNames: []string{"a.example"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := SiteID(n.Cert); err != nil || got != "site-a" {
		t.Fatalf("SiteID = %q, %v; want site-a", got, err)
	}
	if n.Cert.Subject.CommonName != "site-a" {
		t.Errorf("CN = %q, want site-a", n.Cert.Subject.CommonName)
	}
	if len(n.Cert.URIs) != 1 || n.Cert.URIs[0].String() != "strata://site/site-a" {
		t.Errorf("URIs = %v, want [strata://site/site-a]", n.Cert.URIs)
	}
	for _, name := range []string{"localhost", "a.example", "127.0.0.1", "::1", "10.0.0.1"} {
		if err := n.Cert.VerifyHostname(name); err != nil {
			t.Errorf("VerifyHostname(%q): %v", name, err)
		}
	}
	if _, ok := n.Key.(*ecdsa.PrivateKey); !ok || n.Key.Public().(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Errorf("key is %T, want ECDSA P-256", n.Key)
	}
	if n.Cert.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("node NotAfter %v after CA NotAfter %v", n.Cert.NotAfter, ca.Cert.NotAfter)
	}
	if _, _, err := VerifyPeer([][]byte{n.Cert.Raw}, ca.Pool(), time.Now(), x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("VerifyPeer(own CA) = %v", err)
	}
	if _, err := ca.Issue("Bad_Site", NodeOptions{}); !errors.Is(err, ErrInvalidSiteID) {
		t.Errorf("Issue(Bad_Site) = %v, want ErrInvalidSiteID", err)
	}
	noKey := &CA{Cert: ca.Cert}
	if _, err := noKey.Issue("x", NodeOptions{}); !errors.Is(err, ErrNoKey) {
		t.Errorf("Issue without key = %v, want ErrNoKey", err)
	}
	if _, err := (&CA{Cert: n.Cert, Key: n.Key}).Issue("x", NodeOptions{}); !errors.Is(err, ErrNotCA) {
		t.Errorf("Issue from node cert = %v, want ErrNotCA", err)
	}
}

func TestSiteIDRejects(t *testing.T) {
	u := func(s string) *url.URL {
		v, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name string
		cert *x509.Certificate
		want error
	}{
		{"none", &x509.Certificate{}, ErrNoSiteID},
		{"two", &x509.Certificate{URIs: []*url.URL{u("strata://site/a"), u("strata://site/b")}}, ErrNoSiteID},
		{"wrong host", &x509.Certificate{URIs: []*url.URL{u("strata://node/a")}}, ErrNoSiteID},
		{"query", &x509.Certificate{URIs: []*url.URL{u("strata://site/a?x=1")}}, ErrNoSiteID},
		{"bad id", &x509.Certificate{URIs: []*url.URL{u("strata://site/A")}}, ErrInvalidSiteID},
		{"nested", &x509.Certificate{URIs: []*url.URL{u("strata://site/a/b")}}, ErrInvalidSiteID},
	}
	for _, c := range cases {
		if _, err := SiteID(c.cert); !errors.Is(err, c.want) {
			t.Errorf("%s: SiteID = %v, want %v", c.name, err, c.want)
		}
	}
	c := &x509.Certificate{URIs: []*url.URL{u("strata://site/a"), u("https://example.com")}}
	c.Subject.CommonName = "b"
	if _, err := SiteID(c); !errors.Is(err, ErrNoSiteID) {
		t.Errorf("CN mismatch: SiteID = %v, want ErrNoSiteID", err)
	}
	c.Subject.CommonName = "a"
	if got, err := SiteID(c); err != nil || got != "a" {
		t.Errorf("SiteID = %q, %v; want a", got, err)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	caCert, caKey := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := ca.Save(caCert, caKey, false); err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(caCert, caKey, false); !errors.Is(err, ErrExists) {
		t.Errorf("second Save = %v, want ErrExists", err)
	}
	if err := ca.Save(caCert, caKey, true); err != nil {
		t.Errorf("Save(overwrite) = %v", err)
	}
	for path, want := range map[string]os.FileMode{caCert: 0o644, caKey: 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", filepath.Base(path), st.Mode().Perm(), want)
		}
	}
	ca2, err := LoadCA(caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if !ca2.Cert.Equal(ca.Cert) {
		t.Error("loaded CA certificate differs")
	}
	n, err := ca2.Issue("node-1", NodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nCert, nKey := filepath.Join(dir, "node-1.crt"), filepath.Join(dir, "node-1.key")
	if err := n.Save(nCert, nKey, false); err != nil {
		t.Fatal(err)
	}
	n2, err := LoadNodeCert(nCert, nKey)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := n2.SiteID(); id != "node-1" {
		t.Errorf("loaded node site = %q, want node-1", id)
	}
	pool, err := LoadPool(caCert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n2.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("loaded node does not verify against loaded pool: %v", err)
	}
	// Key of another certificate.
	if _, err := LoadNodeCert(nCert, caKey); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("LoadNodeCert(mismatched key) = %v, want ErrKeyMismatch", err)
	}
	if _, err := LoadCA(nCert, ""); !errors.Is(err, ErrNotCA) {
		t.Errorf("LoadCA(node cert) = %v, want ErrNotCA", err)
	}
	if _, err := LoadPool(nCert); !errors.Is(err, ErrNotCA) {
		t.Errorf("LoadPool(node cert) = %v, want ErrNotCA", err)
	}
	if _, err := LoadNodeCert(caCert, ""); !errors.Is(err, ErrNoSiteID) {
		t.Errorf("LoadNodeCert(CA cert) = %v, want ErrNoSiteID", err)
	}
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not pem"), 0o600)
	if _, err := ReadCertFile(junk); !errors.Is(err, ErrPEM) {
		t.Errorf("ReadCertFile(junk) = %v, want ErrPEM", err)
	}
	if _, err := LoadNodeCert(nCert, junk); !errors.Is(err, ErrPEM) {
		t.Errorf("LoadNodeCert(junk key) = %v, want ErrPEM", err)
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestInspect(t *testing.T) {
	ca := newCA(t)
	n := issue(t, ca, "site-b")
	in := Inspect(n.Cert)
	if in.SiteID != "site-b" || in.IsCA || in.SiteIDError != "" {
		t.Errorf("Inspect(node) = %+v", in)
	}
	if in.Serial != n.Cert.SerialNumber.Text(16) {
		t.Errorf("Serial = %s", in.Serial)
	}
	if len(in.Fingerprint) != 32*3-1 || strings.Count(in.Fingerprint, ":") != 31 {
		t.Errorf("Fingerprint = %q", in.Fingerprint)
	}
	if !in.ValidAt(time.Now()) || in.ValidAt(time.Now().Add(2*DefaultNodeValidity)) {
		t.Error("ValidAt wrong")
	}
	if s := in.String(); !strings.Contains(s, "site-b") || !strings.Contains(s, in.Fingerprint) {
		t.Errorf("String() = %q", s)
	}
	ci := Inspect(ca.Cert)
	if !ci.IsCA || ci.SiteID != "" || ci.Fingerprint == in.Fingerprint {
		t.Errorf("Inspect(CA) = %+v", ci)
	}
}

func TestVerifyPeer(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	good := issue(t, ca, "good")
	foreign := issue(t, other, "good")
	old, err := ca.Issue("old", NodeOptions{NotBefore: time.Now().Add(-48 * time.Hour), Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	if site, _, err := VerifyPeer([][]byte{good.Cert.Raw}, ca.Pool(), time.Now(), both...); err != nil || site != "good" {
		t.Errorf("VerifyPeer(good) = %q, %v", site, err)
	}
	for name, raw := range map[string][][]byte{
		"foreign CA": {foreign.Cert.Raw},
		"expired":    {old.Cert.Raw},
		"CA itself":  {ca.Cert.Raw},
		"none":       nil,
		"garbage":    {[]byte("xx")},
	} {
		if _, _, err := VerifyPeer(raw, ca.Pool(), time.Now(), both...); !errors.Is(err, ErrUntrusted) {
			t.Errorf("VerifyPeer(%s) = %v, want ErrUntrusted", name, err)
		}
	}
}

// handshake runs a TLS handshake over an in-memory pipe and returns both
// sides' errors.
func handshake(t *testing.T, server, client *tls.Config) (serr, cerr error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := tls.Server(a, server)
		s.SetDeadline(time.Now().Add(5 * time.Second))
		serr = s.Handshake()
		a.Close() // unblock a client still waiting for our flight
	}()
	c := tls.Client(b, client)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	cerr = c.Handshake()
	b.Close() // unblock a server still waiting for our flight
	wg.Wait()
	return serr, cerr
}

func tlsFor(t *testing.T, roots *CA, n *NodeCert, serverSite string, keyLog io.Writer) (srv, cli *tls.Config) {
	t.Helper()
	tc, err := n.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	o := TLSOptions{Roots: roots.Pool(), Certificate: tc, ServerSiteID: serverSite, KeyLogWriter: keyLog}
	if srv, err = ServerTLSConfig(o); err != nil {
		t.Fatal(err)
	}
	if cli, err = ClientTLSConfig(o); err != nil {
		t.Fatal(err)
	}
	return srv, cli
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func TestMutualTLS(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	a, b := issue(t, ca, "a"), issue(t, ca, "b")
	stranger := issue(t, other, "b")

	var keys lockedBuf
	srvA, _ := tlsFor(t, ca, a, "", nil)
	_, cliB := tlsFor(t, ca, b, "a", &keys)
	if serr, cerr := handshake(t, srvA, cliB); serr != nil || cerr != nil {
		t.Fatalf("a<-b handshake: server %v, client %v", serr, cerr)
	}
	if !strings.Contains(keys.b.String(), "CLIENT_HANDSHAKE_TRAFFIC_SECRET") {
		t.Errorf("key log has no TLS 1.3 secrets: %q", keys.b.String())
	}

	// Client expects site "c" but the server is "a".
	_, cliWrong := tlsFor(t, ca, b, "c", nil)
	if _, cerr := handshake(t, srvA, cliWrong); !errors.Is(cerr, ErrWrongSite) {
		t.Errorf("wrong expected site: client error %v, want ErrWrongSite", cerr)
	}
	// Client from another CA: the server refuses it.
	_, cliStranger := tlsFor(t, ca, stranger, "", nil)
	if serr, _ := handshake(t, srvA, cliStranger); !errors.Is(serr, ErrUntrusted) {
		t.Errorf("foreign client: server error %v, want ErrUntrusted", serr)
	}
	// Server from another CA: the client refuses it.
	srvStranger, _ := tlsFor(t, ca, stranger, "", nil)
	if _, cerr := handshake(t, srvStranger, cliB); !errors.Is(cerr, ErrUntrusted) {
		t.Errorf("foreign server: client error %v, want ErrUntrusted", cerr)
	}
	// A client without a certificate is refused.
	noCert := cliB.Clone()
	noCert.Certificates = nil
	if serr, _ := handshake(t, srvA, noCert); serr == nil {
		t.Error("client without certificate accepted")
	}
	// TLS 1.2 is not offered.
	old := cliB.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, cerr := handshake(t, srvA, old); cerr == nil {
		t.Error("TLS 1.2 client accepted")
	}
	// Mutual config works in both roles.
	ta, _ := a.TLSCertificate()
	tb, _ := b.TLSCertificate()
	ma, err := MutualTLSConfig(TLSOptions{Roots: ca.Pool(), Certificate: ta})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := MutualTLSConfig(TLSOptions{Roots: ca.Pool(), Certificate: tb})
	if err != nil {
		t.Fatal(err)
	}
	if serr, cerr := handshake(t, ma, mb); serr != nil || cerr != nil {
		t.Fatalf("mutual handshake: server %v, client %v", serr, cerr)
	}
	if _, err := MutualTLSConfig(TLSOptions{Certificate: ta}); !errors.Is(err, ErrConfig) {
		t.Errorf("no roots: %v, want ErrConfig", err)
	}
	if _, err := MutualTLSConfig(TLSOptions{Roots: ca.Pool()}); !errors.Is(err, ErrConfig) {
		t.Errorf("no certificate: %v, want ErrConfig", err)
	}
}

func TestLoadMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := newCA(t), newCA(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	if err := ca.Save(p("ca.crt"), "", false); err != nil {
		t.Fatal(err)
	}
	if err := issue(t, ca, "site-a").Save(p("a.crt"), p("a.key"), false); err != nil {
		t.Fatal(err)
	}
	if err := issue(t, other, "site-x").Save(p("x.crt"), p("x.key"), false); err != nil {
		t.Fatal(err)
	}
	kl, err := OpenKeyLog(p("keys.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer kl.Close()
	if st, _ := os.Stat(p("keys.log")); st.Mode().Perm() != 0o600 {
		t.Errorf("key log mode %v, want 0600", st.Mode().Perm())
	}
	tc, site, err := LoadMutualTLS(p("ca.crt"), p("a.crt"), p("a.key"), kl)
	if err != nil || site != "site-a" || tc.KeyLogWriter != kl || tc.MinVersion != tls.VersionTLS13 {
		t.Fatalf("LoadMutualTLS = %v, %q, %v", tc, site, err)
	}
	if _, _, err := LoadMutualTLS(p("ca.crt"), p("x.crt"), p("x.key"), nil); !errors.Is(err, ErrUntrusted) {
		t.Errorf("LoadMutualTLS(foreign node cert) = %v, want ErrUntrusted", err)
	}
}
