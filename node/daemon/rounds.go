package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/protocol/wire"
)

// sumService is the daemon's secure-sum runner (federated/securesum) with
// its dependencies: key shares under data_dir/keys (0600 files, reloaded on
// restart) and the site's local statistics (in memory, set through the
// admin API, each bound to its dataset, or from a Provider installed with
// SetProvider; they never leave the node unencrypted). The node takes part in DP-off rounds only if its config
// sets federation.allow_dp_off.
type sumService struct {
	node  *securesum.Node
	stats *securesum.MemProvider
	// provider is what the runner reads statistics from: stats, unless
	// SetProvider installed another Provider.
	provider *switchProvider
}

// switchProvider is a securesum.Provider that delegates to the installed
// provider, or to the in-memory one when none is installed. Safe for
// concurrent use.
type switchProvider struct {
	mem *securesum.MemProvider

	mu  sync.RWMutex
	cur securesum.Provider
}

func (p *switchProvider) get() securesum.Provider {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.cur != nil {
		return p.cur
	}
	return p.mem
}

func (p *switchProvider) set(q securesum.Provider) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = q
}

func (p *switchProvider) Statistic(ctx context.Context, name string, params []byte) ([]int64, error) {
	return p.get().Statistic(ctx, name, params)
}

func (p *switchProvider) Binding(ctx context.Context, name string, params []byte) (securesum.Binding, error) {
	return p.get().Binding(ctx, name, params)
}

// startRounds builds the runner; called by start before raft starts, so
// the FSM wrapper can notify it of every applied entry.
func (d *Daemon) startRounds() error {
	keys, err := securesum.NewDirKeyStore(filepath.Join(d.cfg.DataDir, "keys"))
	if err != nil {
		return err
	}
	stats := securesum.NewMemProvider()
	provider := &switchProvider{mem: stats}
	node, err := securesum.New(securesum.Config{
		Site: d.cfg.Site, Log: raftLog{d}, Network: bulkNet{d}, Keys: keys, Stats: provider,
		AllowDPOff: d.cfg.Federation.AllowDPOff, Logger: d.log,
	})
	if err != nil {
		return err
	}
	d.sum = &sumService{node: node, stats: stats, provider: provider}
	return nil
}

// SetProvider makes p the site's source of local statistics for secure-sum
// rounds, in place of the in-memory provider the admin API fills (nil
// restores that one). A provider that serves only some statistics should
// fall back to MemProvider for the others (node/fedjobs.Provider does).
// Safe to call at any time, but meant to be called before the site takes
// part in rounds: a round contributing at the moment of the switch may take
// its binding from the old provider and its vector from the new one.
func (d *Daemon) SetProvider(p securesum.Provider) { d.sum.provider.set(p) }

// MemProvider returns the in-memory provider of operator-set statistics
// (admin API PUT /v1/stats/{name}).
func (d *Daemon) MemProvider() *securesum.MemProvider { return d.sum.stats }

// runRounds is the runner's Run, owned by Daemon.Run.
func (d *Daemon) runRounds(ctx context.Context) error { return d.sum.node.Run(ctx) }

// raftFSM is the FSM given to raft: the federation FSM, plus what this node
// does after every applied entry (see applied).
func (d *Daemon) raftFSM() raft.FSM { return notifyFSM{FSM: d.fsm, applied: d.applied} }

// applied runs on raft's FSM goroutine after each entry: it drops the
// connections of a site the entry removed (on every node, not only the
// leader: streams opened before the removal would otherwise stay up), wakes
// the secure-sum runner, and wakes the model watcher on a committed model.
func (d *Daemon) applied(l *raft.Log, res any) {
	if r, ok := res.(fsm.ApplyResult); ok && r.Err == nil && r.Type == fsm.TypeRemoveSite {
		if cmd, err := fsm.Decode(l.Data); err == nil {
			if rm, ok := cmd.(*fsm.RemoveSite); ok && d.tr != nil {
				d.tr.ClosePeer(rm.Site, "removed from the federation")
			}
		}
	}
	if d.sum != nil {
		d.sum.node.Notify()
	}
	if r, ok := res.(fsm.ApplyResult); ok && r.Err == nil && r.Type == fsm.TypeCommitModel && d.seg != nil {
		d.seg.notifyModel()
	}
}

type notifyFSM struct {
	*fsm.FSM
	applied func(*raft.Log, any)
}

func (f notifyFSM) Apply(l *raft.Log) any {
	r := f.FSM.Apply(l)
	f.applied(l, r)
	return r
}

// raftLog implements securesum.Log.
type raftLog struct{ d *Daemon }

func (l raftLog) Apply(_ context.Context, cmd fsm.Command) error {
	err := l.d.apply(cmd)
	if errors.Is(err, admin.ErrNotLeader) {
		return fmt.Errorf("%w: %w", securesum.ErrNotLeader, err)
	}
	return err
}

func (l raftLog) FSM() *fsm.FSM { return l.d.fsm }

func (l raftLog) IsLeader() bool { return l.d.raft.State() == raft.Leader }

func (l raftLog) Leader() string {
	_, id := l.d.raft.LeaderWithID()
	return string(id)
}

func (l raftLog) Barrier(context.Context) error {
	if l.d.raft.AppliedIndex() >= l.d.raft.LastIndex() {
		return nil
	}
	if err := l.d.raft.Barrier(applyTimeout).Error(); err != nil {
		if lostLeadership(err) {
			return fmt.Errorf("barrier: %w", securesum.ErrNotLeader)
		}
		return fmt.Errorf("barrier: %w", err)
	}
	return nil
}

// bulkNet implements securesum.Network over the transport's bulk streams.
type bulkNet struct{ d *Daemon }

func (b bulkNet) Open(ctx context.Context, addr string) (net.Conn, string, error) {
	conn, peer, err := b.d.tr.Open(ctx, addr, wire.KindBulk)
	if err != nil {
		return nil, "", err
	}
	return conn, peer.SiteID, nil
}

func (b bulkNet) Accept(ctx context.Context) (net.Conn, string, error) {
	conn, peer, err := b.d.tr.Accept(ctx, wire.KindBulk)
	if err != nil {
		return nil, "", err
	}
	return conn, peer.SiteID, nil
}

// --- admin.RoundsBackend ---

var _ admin.RoundsBackend = (*Daemon)(nil)

// StartKeySetup runs a t-of-N collective key set-up (leader only).
func (d *Daemon) StartKeySetup(ctx context.Context, threshold int, params string) (securesum.KeyInfo, error) {
	return d.sum.node.StartKeySetup(ctx, threshold, params)
}

// Keys lists the key epochs.
func (d *Daemon) Keys() []securesum.KeyInfo { return d.sum.node.Keys() }

// SetStatistic sets a local statistic of this site, bound to the dataset
// it is computed from ("" = name): the site contributes it only to rounds
// charged to that dataset's ledger.
func (d *Daemon) SetStatistic(name, dataset string, values []int64) error {
	return d.sum.stats.Set(name, dataset, values)
}

// Statistics lists this site's local statistic names.
func (d *Daemon) Statistics() []string { return d.sum.stats.Names() }

// SecureSum runs a secure sum across the federation (leader only).
func (d *Daemon) SecureSum(ctx context.Context, spec securesum.Spec) (securesum.Result, error) {
	return d.sum.node.SecureSum(ctx, spec)
}

// RoundResult returns a round and, when known, its result.
func (d *Daemon) RoundResult(id string) (securesum.Result, bool) { return d.sum.node.Round(id) }

// SetBudget creates a dataset's privacy-budget ledger (leader only).
func (d *Daemon) SetBudget(ctx context.Context, dataset string, epsilon, delta float64) (fsm.Budget, error) {
	return d.sum.node.SetBudget(ctx, dataset, epsilon, delta)
}

// Budgets lists the ledgers.
func (d *Daemon) Budgets() []fsm.Budget { return d.fsm.Budgets() }

// SumStats returns the secure-sum counters of this node.
func (d *Daemon) SumStats() securesum.Stats { return d.sum.node.Stats() }

// FederationState is the node's applied federation state machine (read
// only; for tests and tools).
func (d *Daemon) FederationState() *fsm.FSM { return d.fsm }

// SumNode is the node's secure-sum runner (for tests and tools).
func (d *Daemon) SumNode() *securesum.Node { return d.sum.node }
