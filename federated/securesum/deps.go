package securesum

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/strata-fed/strata/federated/fsm"
)

// Log is the replicated log as this package needs it. The daemon implements
// it over hashicorp/raft. Methods are called from several goroutines.
type Log interface {
	// Apply proposes cmd (leader only) and returns once it is committed and
	// applied: nil if the FSM accepted it, the FSM's rejection (wrapping an
	// fsm sentinel) otherwise, or an error wrapping ErrNotLeader.
	Apply(ctx context.Context, cmd fsm.Command) error
	// FSM is the local, applied federation state machine (read only).
	FSM() *fsm.FSM
	// IsLeader reports whether this node is the raft leader now.
	IsLeader() bool
	// Leader returns the current leader's site id, "" if unknown.
	Leader() string
	// Barrier waits (leader only) until the local FSM has applied every
	// entry committed before the call, so a new leader reads current state.
	Barrier(ctx context.Context) error
}

// Network moves blobs between sites over mutually authenticated streams (the
// daemon uses QUIC bulk streams). The site id of a peer always comes from its
// verified certificate, never from message contents. Methods are called from
// several goroutines; returned conns are owned (and closed) by the caller.
type Network interface {
	// Open opens a stream to the node at addr (a site's registered address)
	// and returns it with the peer's verified site id.
	Open(ctx context.Context, addr string) (net.Conn, string, error)
	// Accept returns the next stream a peer opened, with its site id.
	Accept(ctx context.Context) (net.Conn, string, error)
}

// KeyStore persists this site's secret key material and the collective
// public key, keyed by short names ("epoch-1.secret", ...). Implementations
// must write durably and privately (0600) before Put returns. Get returns an
// error wrapping os.ErrNotExist for a missing name. Safe for concurrent use.
type KeyStore interface {
	Put(name string, data []byte) error
	Get(name string) ([]byte, error)
}

// Provider returns this site's local statistics. The vectors never leave the
// site in the clear: they are clamped, noised and encrypted first. The
// returned slice is the caller's to modify. Safe for concurrent use.
type Provider interface {
	// Statistic returns the named vector, or an error wrapping
	// ErrUnknownStatistic.
	Statistic(ctx context.Context, name string) ([]int64, error)
}

// DirKeyStore is a KeyStore of 0600 files in a 0700 directory.
type DirKeyStore struct{ dir string }

// NewDirKeyStore creates dir (0700) if needed.
func NewDirKeyStore(dir string) (*DirKeyStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	return &DirKeyStore{dir: dir}, nil
}

func (s *DirKeyStore) path(name string) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("key store: bad name %q", name)
	}
	return filepath.Join(s.dir, name), nil
}

// Put writes data to name atomically (temp file, fsync, rename), mode 0600.
func (s *DirKeyStore) Put(name string, data []byte) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("key store: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("key store: write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("key store: sync %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	return nil
}

// Get reads name.
func (s *DirKeyStore) Get(name string) ([]byte, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	return b, nil
}

// MemProvider is an in-memory Provider whose statistics are set by the
// site's operator (admin API) or by tests. Safe for concurrent use.
type MemProvider struct {
	mu    sync.RWMutex
	stats map[string][]int64
}

// NewMemProvider returns an empty provider.
func NewMemProvider() *MemProvider { return &MemProvider{stats: map[string][]int64{}} }

// Set stores a copy of values under name.
func (p *MemProvider) Set(name string, values []int64) error {
	if !validName(name) {
		return fmt.Errorf("statistic name %q: want 1..64 bytes of [A-Za-z0-9._-]: %w", name, ErrBadSpec)
	}
	if len(values) == 0 || len(values) > MaxLength {
		return fmt.Errorf("statistic %s: %d values, want 1..%d: %w", name, len(values), MaxLength, ErrBadSpec)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats[name] = slices.Clone(values)
	return nil
}

// Statistic implements Provider.
func (p *MemProvider) Statistic(_ context.Context, name string) ([]int64, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	v, ok := p.stats[name]
	if !ok {
		return nil, fmt.Errorf("statistic %q: %w", name, ErrUnknownStatistic)
	}
	return slices.Clone(v), nil
}

// Names lists the statistics, sorted.
func (p *MemProvider) Names() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]string, 0, len(p.stats))
	for k := range p.stats {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
