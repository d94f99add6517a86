package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// logWriter sends raft's logs to t.Log, so they show only when a test fails.
type logWriter struct {
	mu sync.Mutex
	t  *testing.T
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.t != nil {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// stop silences the writer once the test is over.
func (w *logWriter) stop() {
	w.mu.Lock()
	w.t = nil
	w.mu.Unlock()
}

type raftNode struct {
	id    raft.ServerID
	fsm   *FSM
	raft  *raft.Raft
	trans *raft.InmemTransport
}

func newRaftNode(t *testing.T, w *logWriter, id string) *raftNode {
	t.Helper()
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = 1 << 20 // snapshots only when the test asks
	conf.TrailingLogs = 1
	conf.LogOutput = w
	conf.LogLevel = "WARN"
	_, trans := raft.NewInmemTransport(raft.ServerAddress(id))
	store := raft.NewInmemStore()
	f := New()
	r, err := raft.NewRaft(conf, f, store, store, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatalf("NewRaft(%s) = %v", id, err)
	}
	return &raftNode{id: conf.LocalID, fsm: f, raft: r, trans: trans}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRaftCluster runs three nodes on raft's in-memory transport, applies a
// federation's commands through the leader, and checks that every node,
// including a fourth that catches up from a snapshot, ends in the same state.
func TestRaftCluster(t *testing.T) {
	w := &logWriter{t: t}
	var nodes []*raftNode
	connect := func(n *raftNode) {
		for _, m := range nodes {
			n.trans.Connect(raft.ServerAddress(m.id), m.trans)
			m.trans.Connect(raft.ServerAddress(n.id), n.trans)
		}
		nodes = append(nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			_ = n.raft.Shutdown().Error()
		}
		w.stop()
	})
	var servers []raft.Server
	for _, id := range abc {
		connect(newRaftNode(t, w, id))
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(id)})
	}
	if err := nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatal(err)
	}
	var leader *raftNode
	waitFor(t, "a leader", func() bool {
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				leader = n
				return true
			}
		}
		return false
	})

	apply := func(c Command) error {
		t.Helper()
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		fut := leader.raft.Apply(b, 5*time.Second)
		if err := fut.Error(); err != nil {
			t.Fatalf("raft Apply(%s) = %v", c.CommandType(), err)
		}
		return ResponseError(fut.Response())
	}
	must := func(cs ...Command) {
		t.Helper()
		for _, c := range cs {
			if err := apply(c); err != nil {
				t.Fatalf("apply %s: %v", c.CommandType(), err)
			}
		}
	}
	for _, s := range abc {
		must(&AddSite{Site: s, Address: s, Role: RoleVoter}, &SiteJoined{Site: s})
	}
	must(
		&SetSettings{Settings: Settings{HEParams: "bgv-logn13", Threshold: 2}},
		&BeginKeySetup{Epoch: 1, Participants: abc, Threshold: 2, Seed: hashOf("seed")},
		&CompleteKeySetup{Epoch: 1, PublicKeyHash: hashOf("cpk")},
		&SetBudget{Federation: "fed", Dataset: "orders", Total: Cost{Epsilon: 1}},
		startRound("r1", abc, 0.6),
		&Contribute{Round: "r1", Site: "a", Hash: hashOf("a1"), Size: 10},
		&Contribute{Round: "r1", Site: "c", Hash: hashOf("c1"), Size: 10},
	)
	// Rejections come back through the future, on the leader.
	if err := apply(&Contribute{Round: "r1", Site: "a", Hash: hashOf("a2"), Size: 10}); !errors.Is(err, ErrDuplicateContribution) {
		t.Fatalf("duplicate contribution through raft = %v", err)
	}
	if err := apply(startRound("r2", abc, 0.6)); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("round beyond budget through raft = %v", err)
	}
	must(&CloseRound{Round: "r1", Decryptors: []string{"c", "a"}, AggregateHash: hashOf("agg")})

	// Snapshot the leader and compact its log, then add a fourth node: it must
	// be brought up to date by Restore from the snapshot.
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatalf("Snapshot() = %v", err)
	}
	d := newRaftNode(t, w, "d")
	connect(d)
	must(&AddSite{Site: "d", Address: "d", Role: RoleNonvoter})
	if err := leader.raft.AddNonvoter("d", "d", 0, 5*time.Second).Error(); err != nil {
		t.Fatalf("AddNonvoter(d) = %v", err)
	}
	must(&SiteJoined{Site: "d"},
		&FinishRound{Round: "r1", ResultHash: hashOf("res"), Noise: NoiseParams{Mechanism: "discrete_gaussian", Sigma: 4}},
		&Tick{Now: 1000},
	)

	last := leader.raft.LastIndex()
	waitFor(t, "all nodes to apply the log", func() bool {
		for _, n := range nodes {
			if n.fsm.AppliedIndex() < last {
				return false
			}
		}
		return true
	})
	want := mustSnapshot(t, leader.fsm)
	for _, n := range nodes {
		if got := mustSnapshot(t, n.fsm); !bytes.Equal(got, want) {
			t.Errorf("node %s state differs from the leader's:\n%s\n%s", n.id, got, want)
		}
		if !n.fsm.IsAllowed("d") || n.fsm.Covers("r2") || !n.fsm.Covers("r1") {
			t.Errorf("node %s: IsAllowed(d) %v, Covers(r1) %v, Covers(r2) %v", n.id, n.fsm.IsAllowed("d"), n.fsm.Covers("r1"), n.fsm.Covers("r2"))
		}
		if r, _ := n.fsm.Round("r1"); r.State != RoundDone {
			t.Errorf("node %s: round r1 is %s, want done", n.id, r.State)
		}
	}
	if got := fmt.Sprint(d.raft.Stats()["last_snapshot_index"]); got == "0" {
		t.Errorf("node d did not install a snapshot (last_snapshot_index %s)", got)
	}
}
