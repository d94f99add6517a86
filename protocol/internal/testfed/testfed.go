// Package testfed builds throw-away federations for tests of the protocol
// packages: a CA, node certificates, transport configurations on loopback
// port 0, and loggers that write to t.Log and remember what they logged.
package testfed

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-fed/strata/protocol/pki"
	"github.com/strata-fed/strata/protocol/transport"
)

// Fed is a test federation: one CA.
type Fed struct {
	CA *pki.CA
}

// New creates a federation with a fresh CA.
func New(t testing.TB) *Fed {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{Name: "test-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return &Fed{CA: ca}
}

// Config returns a transport configuration for site on 127.0.0.1:0 with
// certificates from f's CA, trusting roots (f itself when nil), logging to
// log.
func (f *Fed) Config(t testing.TB, site string, roots *Fed, log *Log) transport.Config {
	t.Helper()
	if roots == nil {
		roots = f
	}
	n, err := f.CA.Issue(site, pki.NodeOptions{})
	if err != nil {
		t.Fatalf("Issue(%q): %v", site, err)
	}
	cert, err := n.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	tc, err := pki.MutualTLSConfig(pki.TLSOptions{Roots: roots.CA.Pool(), Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	return transport.Config{
		SiteID:     site,
		TLS:        tc,
		ListenAddr: "127.0.0.1:0",
		Logger:     log.Logger(),
	}
}

// Listen starts a transport and closes it in t.Cleanup.
func Listen(t testing.TB, cfg transport.Config) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := transport.Listen(ctx, cfg)
	if err != nil {
		t.Fatalf("Listen(%s): %v", cfg.SiteID, err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("Close(%s): %v", cfg.SiteID, err)
		}
	})
	return tr
}

// Allow returns an Authorize callback admitting exactly sites.
func Allow(sites ...string) func(string) error {
	ok := map[string]bool{}
	for _, s := range sites {
		ok[s] = true
	}
	return func(site string) error {
		if !ok[site] {
			return fmt.Errorf("site %q is not a member of the federation", site)
		}
		return nil
	}
}

// Log is a slog handler target that writes to t.Log while the test runs and
// keeps every record for assertions.
type Log struct {
	mu      sync.Mutex
	t       testing.TB
	done    bool
	records []string
}

// NewLog returns a log for t. It stops writing to t when the test ends.
func NewLog(t testing.TB) *Log {
	l := &Log{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

// Logger returns a slog.Logger writing to l (nil l: discard).
func (l *Log) Logger() *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Write implements io.Writer for the text handler.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := strings.TrimRight(string(p), "\n")
	l.records = append(l.records, line)
	if !l.done {
		l.t.Log(line)
	}
	return len(p), nil
}

// Find returns the first logged line containing every part, or "".
func (l *Log) Find(parts ...string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, r := range l.records {
		for _, p := range parts {
			if !strings.Contains(r, p) {
				continue next
			}
		}
		return r
	}
	return ""
}

// WaitFor polls Find until a line matches or the timeout passes.
func (l *Log) WaitFor(timeout time.Duration, parts ...string) string {
	deadline := time.Now().Add(timeout)
	for {
		if r := l.Find(parts...); r != "" || time.Now().After(deadline) {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
}
