package securesum

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strata-fed/strata/federated/fsm"
)

// memCluster is an in-process federation: one real fsm.FSM applied in log
// order (standing in for raft), an in-memory network of net.Pipe streams,
// and a Node per site with a real key store in t.TempDir().
type memCluster struct {
	t      testing.TB
	mu     sync.Mutex
	f      *fsm.FSM
	idx    uint64
	leader string
	nodes  map[string]*Node
	stats  map[string]*MemProvider
	queues map[string]chan memConn
	down   map[string]bool
	stops  map[string]func()
}

type memConn struct {
	conn net.Conn
	from string
}

type memLog struct {
	c    *memCluster
	site string
}

func (l memLog) Apply(_ context.Context, cmd fsm.Command) error {
	c := l.c
	if !l.IsLeader() {
		return fmt.Errorf("%s: %w", cmd.CommandType(), ErrNotLeader)
	}
	b, err := fsm.Encode(cmd)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.idx++
	res := c.f.Apply(&raft.Log{Index: c.idx, Type: raft.LogCommand, Data: b})
	nodes := make([]*Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	for _, n := range nodes {
		n.Notify()
	}
	return fsm.ResponseError(res)
}
func (l memLog) FSM() *fsm.FSM                   { return l.c.f }
func (l memLog) Barrier(_ context.Context) error { return nil }
func (l memLog) IsLeader() bool {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.c.leader == l.site && !l.c.down[l.site]
}
func (l memLog) Leader() string {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.c.leader
}

type memNet struct {
	c    *memCluster
	site string
}

func (m memNet) Open(ctx context.Context, addr string) (net.Conn, string, error) {
	m.c.mu.Lock()
	q, ok := m.c.queues[addr]
	down := m.c.down[addr] || m.c.down[m.site]
	m.c.mu.Unlock()
	if !ok || down {
		return nil, "", fmt.Errorf("dial %s: unreachable", addr)
	}
	a, b := net.Pipe()
	select {
	case q <- memConn{conn: b, from: m.site}:
		return a, addr, nil
	case <-ctx.Done():
		a.Close()
		b.Close()
		return nil, "", ctx.Err()
	}
}

func (m memNet) Accept(ctx context.Context) (net.Conn, string, error) {
	m.c.mu.Lock()
	q := m.c.queues[m.site]
	m.c.mu.Unlock()
	select {
	case mc := <-q:
		return mc.conn, mc.from, nil
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// newMemCluster starts n sites ("s0", "s1", ...; s0 leads) with the insecure
// test parameters and runs a t-of-n key set-up.
func newMemCluster(t testing.TB, n, threshold int, dpOff bool) *memCluster {
	return newMemClusterParams(t, n, threshold, dpOff, "TestPN11QP120", nil)
}

// newMemClusterParams is newMemCluster with a named HE parameter set and a
// hook to change each node's Config (its Site is set). With dpOff every
// node allows DP-off rounds unless tune says otherwise.
func newMemClusterParams(t testing.TB, n, threshold int, dpOff bool, params string, tune func(*Config)) *memCluster {
	t.Helper()
	c := &memCluster{t: t, f: fsm.New(), nodes: map[string]*Node{}, stats: map[string]*MemProvider{},
		queues: map[string]chan memConn{}, down: map[string]bool{}, stops: map[string]func(){}, leader: "s0"}
	var sites []string
	for i := range n {
		sites = append(sites, fmt.Sprintf("s%d", i))
	}
	boot := memLog{c: c, site: "s0"}
	ctx := context.Background()
	for i, s := range sites {
		role := fsm.RoleVoter
		if i >= fsm.MaxVoters {
			role = fsm.RoleNonvoter
		}
		must(t, boot.Apply(ctx, &fsm.AddSite{Site: s, Address: s, Role: role}))
		must(t, boot.Apply(ctx, &fsm.SiteJoined{Site: s}))
		c.queues[s] = make(chan memConn, 64)
	}
	must(t, boot.Apply(ctx, &fsm.SetSettings{Settings: fsm.Settings{DPDisabled: dpOff, HEParams: params}}))
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, s := range sites {
		ks, err := NewDirKeyStore(t.TempDir())
		must(t, err)
		c.stats[s] = NewMemProvider()
		cfg := Config{Site: s, Log: memLog{c: c, site: s}, Network: memNet{c: c, site: s}, Keys: ks,
			Stats: c.stats[s], Logger: logger.With("site", s), PingInterval: 100 * time.Millisecond,
			TickInterval: 100 * time.Millisecond, CollectTimeout: 5 * time.Second, RoundTimeout: 30 * time.Second,
			AllowDPOff: dpOff}
		if tune != nil {
			tune(&cfg)
		}
		node, err := New(cfg)
		must(t, err)
		c.mu.Lock()
		c.nodes[s] = node
		c.mu.Unlock()
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = node.Run(rctx)
		}()
		c.stops[s] = func() { cancel(); <-done }
		t.Cleanup(c.stops[s])
	}
	kctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := c.nodes["s0"].StartKeySetup(kctx, threshold, ""); err != nil {
		t.Fatalf("StartKeySetup(%d of %d) = %v", threshold, n, err)
	}
	// Every participant must hold its key material before rounds start.
	must(t, waitFor(kctx, func() (bool, error) {
		for _, node := range c.nodes {
			if _, k, _ := node.activeKeys(c.f); k == nil {
				return false, nil
			}
		}
		return true, nil
	}))
	return c
}

// kill takes a site off the network and stops its node.
func (c *memCluster) kill(site string) {
	c.mu.Lock()
	c.down[site] = true
	stop := c.stops[site]
	c.mu.Unlock()
	stop()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
