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
	// Statistic computes the named vector for the round's public params
	// (JSON as committed in the log; empty for plain named vectors), or
	// returns an error wrapping ErrUnknownStatistic (no such statistic) or
	// ErrBadSpec (params it does not accept).
	Statistic(ctx context.Context, name string, params []byte) ([]int64, error)
	// Binding returns what the site binds the named statistic to, for
	// these params: the dataset it is computed from and, for a provider
	// that bounds each user's contribution itself, the per-user
	// sensitivity it guarantees. Errors as Statistic.
	Binding(ctx context.Context, name string, params []byte) (Binding, error)
}

// Binding is what a site binds one of its statistics to. A site contributes
// to a round only if the round is charged to Binding.Dataset's ledger, and,
// for a round with explicit sensitivities, only if the round's L1 and L2 are
// at least the ones its Provider guarantees here.
type Binding struct {
	// Dataset is the dataset the statistic is computed from (the ledger
	// that must pay for releasing it). Required.
	Dataset string
	// L1 and L2 are the sensitivities of the statistic to adding or
	// removing one user's contribution that the Provider enforces itself.
	// Zero: the Provider does not bound per-user contributions, and the
	// site only contributes to rounds whose sensitivity comes from clamping
	// its whole vector to [Lo, Hi].
	L1, L2 float64
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

// MemProvider is an in-memory Provider of plain named vectors, set by the
// site's operator (admin API) or by tests, each bound to the dataset it is
// computed from. Its vectors take no params and are not bounded per user
// (Binding's L1, L2 are zero). Safe for concurrent use.
type MemProvider struct {
	mu    sync.RWMutex
	stats map[string]memStat
}

type memStat struct {
	dataset string
	values  []int64
}

// NewMemProvider returns an empty provider.
func NewMemProvider() *MemProvider { return &MemProvider{stats: map[string]memStat{}} }

// Set stores a copy of values under name, bound to dataset ("" = name).
func (p *MemProvider) Set(name, dataset string, values []int64) error {
	if !validName(name) {
		return fmt.Errorf("statistic name %q: want 1..64 bytes of [A-Za-z0-9._-]: %w", name, ErrBadSpec)
	}
	if dataset == "" {
		dataset = name
	}
	if !validName(dataset) {
		return fmt.Errorf("statistic %s: dataset %q: want 1..64 bytes of [A-Za-z0-9._-]: %w", name, dataset, ErrBadSpec)
	}
	if len(values) == 0 || len(values) > MaxLength {
		return fmt.Errorf("statistic %s: %d values, want 1..%d: %w", name, len(values), MaxLength, ErrBadSpec)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats[name] = memStat{dataset: dataset, values: slices.Clone(values)}
	return nil
}

func (p *MemProvider) get(name string, params []byte) (memStat, error) {
	if len(params) != 0 {
		return memStat{}, fmt.Errorf("statistic %q is a plain vector and takes no params: %w", name, ErrBadSpec)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	st, ok := p.stats[name]
	if !ok {
		return memStat{}, fmt.Errorf("statistic %q: %w", name, ErrUnknownStatistic)
	}
	return st, nil
}

// Statistic implements Provider; params must be empty.
func (p *MemProvider) Statistic(_ context.Context, name string, params []byte) ([]int64, error) {
	st, err := p.get(name, params)
	if err != nil {
		return nil, err
	}
	return slices.Clone(st.values), nil
}

// Binding implements Provider: the statistic's dataset, no per-user bound.
func (p *MemProvider) Binding(_ context.Context, name string, params []byte) (Binding, error) {
	st, err := p.get(name, params)
	if err != nil {
		return Binding{}, err
	}
	return Binding{Dataset: st.dataset}, nil
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
