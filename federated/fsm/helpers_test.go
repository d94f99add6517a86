package fsm

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

// assertUnchanged fails unless before and after differ at most in AppliedIndex:
// a rejected command must not change the state.
func assertUnchanged(t *testing.T, before, after *State) {
	t.Helper()
	b, a := *before, *after
	b.AppliedIndex, a.AppliedIndex = 0, 0
	bj, err := json.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	aj, err := json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	if string(bj) != string(aj) {
		t.Fatalf("rejected command changed the state:\nbefore %s\nafter  %s", bj, aj)
	}
}

// node drives an FSM with consecutive log indexes.
type node struct {
	t     testing.TB
	f     *FSM
	index uint64
}

func newNode(t testing.TB, opts ...Option) *node { return &node{t: t, f: New(opts...)} }

// applyRaw applies data as the next log entry.
func (n *node) applyRaw(data []byte) ApplyResult {
	n.index++
	return n.f.Apply(&raft.Log{Index: n.index, Term: 1, Type: raft.LogCommand, Data: data}).(ApplyResult)
}

// apply encodes and applies c, returning the rejection.
func (n *node) apply(c Command) error {
	n.t.Helper()
	b, err := Encode(c)
	if err != nil {
		n.t.Fatalf("Encode(%#v) = %v", c, err)
	}
	return n.applyRaw(b).Err
}

// must applies c and fails the test on rejection.
func (n *node) must(cs ...Command) {
	n.t.Helper()
	for _, c := range cs {
		if err := n.apply(c); err != nil {
			n.t.Fatalf("apply %s: %v", c.CommandType(), err)
		}
	}
}

// reject applies c and fails the test unless it is rejected with want and
// leaves the state unchanged.
func (n *node) reject(c Command, want error) {
	n.t.Helper()
	t, ok := n.t.(*testing.T)
	var before *State
	if ok {
		before = n.f.State()
	}
	err := n.apply(c)
	if !errors.Is(err, want) {
		n.t.Fatalf("apply %s = %v, want %v", c.CommandType(), err, want)
	}
	if ok {
		assertUnchanged(t, before, n.f.State())
	}
}

func hashOf(s string) string { return sha256Hex([]byte(s)) }

// federation sets up joined live sites, settings (DP on), an active key epoch 1
// over the sites with threshold t, and a ledger fed/orders with the total.
func federation(t testing.TB, sites []string, threshold int, total Cost, opts ...Option) *node {
	n := newNode(t, opts...)
	for i, s := range sites {
		role := RoleVoter
		if i >= MaxVoters {
			role = RoleNonvoter
		}
		n.must(&AddSite{Site: s, Address: "127.0.0.1:1/" + s, Role: role}, &SiteJoined{Site: s})
	}
	n.must(
		&SetSettings{Settings: Settings{HEParams: "bgv-logn13", Threshold: threshold}},
		&BeginKeySetup{Epoch: 1, Participants: sites, Threshold: threshold, Seed: hashOf("seed")},
		&CompleteKeySetup{Epoch: 1, PublicKeyHash: hashOf("cpk")},
		&SetBudget{Federation: "fed", Dataset: "orders", Total: total},
	)
	return n
}

func startRound(id string, participants []string, eps float64) *StartRound {
	return &StartRound{ID: id, Kind: "sum", Federation: "fed", Dataset: "orders", KeyEpoch: 1,
		Participants: participants, Cost: Cost{Epsilon: eps}}
}

// mustEncode is Encode for commands known to be valid; it panics otherwise.
func mustEncode(c Command) []byte {
	b, err := Encode(c)
	if err != nil {
		panic(err)
	}
	return b
}
