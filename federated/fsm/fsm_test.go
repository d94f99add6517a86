package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/strata-fed/strata/dp/budget"
)

// randomLog returns a pseudo-random command log over a small federation: mostly
// plausible commands (rounds started, contributed to, closed, finished), some
// rejected ones, some garbage.
func randomLog(seed uint64, n int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	sites := []string{"a", "b", "c", "d", "e", "f"}
	pick := func() string { return sites[rng.IntN(len(sites))] }
	var log [][]byte
	add := func(c Command) {
		if b, err := Encode(c); err == nil {
			log = append(log, b)
		}
	}
	for _, s := range sites {
		add(&AddSite{Site: s, Address: "10.0.0.1:" + s, Role: RoleNonvoter})
		add(&SiteJoined{Site: s})
	}
	add(&SetSettings{Settings: Settings{HEParams: "bgv", Threshold: 2}})
	add(&BeginKeySetup{Epoch: 1, Participants: sites, Threshold: 2, Seed: hashOf("s")})
	add(&CompleteKeySetup{Epoch: 1, PublicKeyHash: hashOf("k")})
	add(&SetBudget{Federation: "fed", Dataset: "orders", Total: Cost{Epsilon: 20, Delta: 1e-5}})
	type gen struct {
		id    string
		parts []string
	}
	var rounds []gen
	recent := func() gen {
		if len(rounds) == 0 || rng.IntN(20) == 0 {
			return gen{id: fmt.Sprint("r", rng.IntN(100)), parts: []string{pick(), pick()}}
		}
		return rounds[len(rounds)-1-rng.IntN(min(3, len(rounds)))]
	}
	now := int64(0)
	for len(log) < n {
		switch rng.IntN(24) {
		case 0, 1, 2:
			perm := rng.Perm(len(sites))
			g := gen{id: fmt.Sprint("r", len(rounds)+rng.IntN(2))}
			for _, p := range perm[:2+rng.IntN(3)] {
				g.parts = append(g.parts, sites[p])
			}
			rounds = append(rounds, g)
			var deadline int64
			if rng.IntN(2) == 0 {
				deadline = now + 1 + int64(rng.IntN(400))
			}
			add(&StartRound{ID: g.id, Kind: "sum", Federation: "fed", Dataset: "orders", KeyEpoch: 1,
				Participants: g.parts, Deadline: deadline, Cost: Cost{Epsilon: float64(rng.IntN(10)+1) / 10, Delta: 1e-7}})
		case 3, 4, 5, 6, 7, 8, 9, 10, 11:
			g := recent()
			site := g.parts[rng.IntN(len(g.parts))]
			if rng.IntN(10) == 0 {
				site = pick()
			}
			add(&Contribute{Round: g.id, Site: site, Hash: hashOf(fmt.Sprint(rng.IntN(400))), Size: 100})
		case 12, 13, 14:
			g := recent()
			add(&CloseRound{Round: g.id, Decryptors: g.parts[:2], AggregateHash: hashOf("agg" + g.id)})
		case 15, 16, 17:
			add(&FinishRound{Round: recent().id, ResultHash: hashOf("res"), Noise: NoiseParams{Mechanism: "skellam", Sigma: 2}})
		case 18:
			add(&SiteLiveness{Site: pick(), Live: rng.IntN(4) > 0})
		case 19, 20:
			now += int64(rng.IntN(40))
			add(&Tick{Now: now - 20}) // sometimes behind the FSM's time
		case 21:
			add(&FailRound{Round: recent().id, Reason: "x"})
		case 22:
			add(&ChargeBudget{ID: fmt.Sprint("q", rng.IntN(20)), Federation: "fed", Dataset: "orders", Site: pick(), Purpose: "count", Cost: Cost{Epsilon: 0.1}})
		case 23:
			b := make([]byte, rng.IntN(40))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			log = append(log, b)
		}
	}
	return log
}

func applyLog(t testing.TB, f *FSM, log [][]byte, from uint64) (rejected int) {
	for i, b := range log {
		res := f.Apply(&raft.Log{Index: from + uint64(i), Term: 1, Type: raft.LogCommand, Data: b}).(ApplyResult)
		if res.Err != nil {
			rejected++
		}
	}
	return rejected
}

func mustSnapshot(t testing.TB, f *FSM) []byte {
	t.Helper()
	b, err := f.SnapshotBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeterminism(t *testing.T) {
	states := map[RoundState]int{}
	for seed := range uint64(5) {
		log := randomLog(seed, 400)
		f1, f2 := New(), New()
		rej := applyLog(t, f1, log, 1)
		applyLog(t, f2, log, 1)
		s1, s2 := mustSnapshot(t, f1), mustSnapshot(t, f2)
		if !bytes.Equal(s1, s2) {
			t.Fatalf("seed %d: snapshots differ after the same log", seed)
		}
		// The log must exercise both paths.
		if rej == 0 || rej == len(log) {
			t.Fatalf("seed %d: %d of %d entries rejected; want a mix", seed, rej, len(log))
		}
		for _, r := range f1.Rounds() {
			states[r.State]++
		}
		// Snapshot and restore half way: the same end state.
		half := len(log) / 2
		f3 := New()
		applyLog(t, f3, log[:half], 1)
		f4 := New()
		if err := f4.RestoreBytes(mustSnapshot(t, f3)); err != nil {
			t.Fatal(err)
		}
		applyLog(t, f4, log[half:], uint64(half)+1)
		if s4 := mustSnapshot(t, f4); !bytes.Equal(s1, s4) {
			t.Fatalf("seed %d: restore half way changed the end state", seed)
		}
	}
	if states[RoundDone] == 0 || states[RoundFailed] == 0 || states[RoundCollecting] == 0 {
		t.Fatalf("rounds end %v; want the logs to reach done, failed and collecting", states)
	}
}

func TestSnapshotRestoreThroughSink(t *testing.T) {
	n := done(t)
	n.must(&CommitModel{Version: 1, ContentHash: hashOf("model"), Model: []byte("model"), Rounds: []string{"r1"}})
	store := raft.NewInmemSnapshotStore()
	snap, err := n.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink, err := store.Create(raft.SnapshotVersionMax, n.index, 1, raft.Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	metas, err := store.List()
	if err != nil || len(metas) != 1 {
		t.Fatalf("List() = %v, %v", metas, err)
	}
	_, rc, err := store.Open(metas[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := g.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if a, b := mustSnapshot(t, n.f), mustSnapshot(t, g); !bytes.Equal(a, b) {
		t.Fatalf("restored state differs:\n%s\n%s", a, b)
	}
	// Same subsequent behaviour on both.
	for _, f := range []*FSM{n.f, g} {
		m := &node{t: t, f: f, index: n.index}
		m.reject(&Contribute{Round: "r1", Site: "c", Hash: hashOf("c"), Size: 1}, ErrLateContribution)
		m.must(startRound("r2", abc, 0.5))
		m.reject(startRound("r3", abc, 0.5), ErrBudgetExhausted)
		m.reject(&Contribute{Round: "r2", Site: "a", Hash: hashOf("a1"), Size: 1}, ErrReplayedContribution)
		if m.f.Covers("r3") || !m.f.Covers("r2") {
			t.Errorf("Covers after restore: r2 %v r3 %v", m.f.Covers("r2"), m.f.Covers("r3"))
		}
	}
	if a, b := mustSnapshot(t, n.f), mustSnapshot(t, g); !bytes.Equal(a, b) {
		t.Fatal("original and restored FSM diverged")
	}
}

type failingSink struct {
	raft.SnapshotSink
	cancelled bool
}

func (s *failingSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }
func (s *failingSink) Cancel() error             { s.cancelled = true; return nil }

func TestPersistCancelsOnError(t *testing.T) {
	snap, err := collecting(t).f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &failingSink{}
	if err := snap.Persist(sink); err == nil || !sink.cancelled {
		t.Fatalf("Persist on a failing sink = %v, cancelled %v; want an error and Cancel", err, sink.cancelled)
	}
}

type spyCloser struct {
	io.Reader
	closed bool
}

func (s *spyCloser) Close() error { s.closed = true; return nil }

func TestRestoreRejects(t *testing.T) {
	n := collecting(t)
	good := string(mustSnapshot(t, n.f))
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"empty", "", ErrBadSnapshot},
		{"garbage", "\x00\x01", ErrBadSnapshot},
		{"trailing", good + "{}", ErrBadSnapshot},
		{"format", strings.Replace(good, `"strata-fsm"`, `"other"`, 1), ErrBadSnapshot},
		{"version", strings.Replace(good, `"v":1`, `"v":2`, 1), ErrBadSnapshot},
		{"no state", `{"format":"strata-fsm","v":1,"composition":"basic"}`, ErrBadSnapshot},
		{"unknown field", strings.Replace(good, `"applied_index"`, `"bogus":1,"applied_index"`, 1), ErrBadSnapshot},
		{"mismatched key", strings.Replace(good, `"rounds":{"r1":{"id":"r1"`, `"rounds":{"r1":{"id":"r2"`, 1), ErrBadSnapshot},
		{"null entry", strings.Replace(good, `"sites":{"a":{`, `"sites":{"z":null,"a":{`, 1), ErrBadSnapshot},
		{"composition", strings.Replace(good, `"composition":"basic","state"`, `"composition":"zcdp","state"`, 1), ErrCompositionMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := collecting(t)
			before := g.f.State()
			rc := &spyCloser{Reader: strings.NewReader(tc.in)}
			if err := g.f.Restore(rc); !errors.Is(err, tc.want) {
				t.Fatalf("Restore = %v, want %v", err, tc.want)
			}
			if !rc.closed {
				t.Error("Restore did not close the reader")
			}
			after := g.f.State()
			if before.AppliedIndex != after.AppliedIndex {
				t.Fatal("failed Restore changed the applied index")
			}
			assertUnchanged(t, before, after)
		})
	}
}

// doubling charges twice the basic composition: a stand-in for another accountant.
type doubling struct{}

func (doubling) Name() string { return "doubling" }
func (doubling) Spent(costs []Cost, delta float64) Cost {
	s := BasicComposition{}.Spent(costs, delta)
	return Cost{Epsilon: 2 * s.Epsilon, Delta: 2 * s.Delta}
}

func TestComposition(t *testing.T) {
	n := federation(t, abc, 2, Cost{Epsilon: 1}, WithComposition(doubling{}))
	if got := n.f.Composition(); got != "doubling" {
		t.Fatalf("Composition() = %q", got)
	}
	n.must(startRound("r1", abc, 0.25))
	b, _ := n.f.Budget("fed", "orders")
	if b.Spent.Epsilon != 0.5 || b.Composition != "doubling" {
		t.Fatalf("ledger = %+v, want spent ε 0.5 under doubling", b)
	}
	n.must(startRound("r2", abc, 0.25))
	n.reject(startRound("r3", abc, 0.01), ErrBudgetExhausted)
	// A snapshot from this FSM does not restore into a basic FSM.
	if err := New().RestoreBytes(mustSnapshot(t, n.f)); !errors.Is(err, ErrCompositionMismatch) {
		t.Fatalf("restore across compositions = %v, want ErrCompositionMismatch", err)
	}
	// A ledger recorded under another rule is never charged.
	forged := strings.Replace(string(mustSnapshot(t, n.f)), `"composition":"doubling","state"`, `"composition":"basic","state"`, 1)
	g := New()
	if err := g.RestoreBytes([]byte(forged)); err != nil {
		t.Fatal(err)
	}
	m := &node{t: t, f: g, index: n.index}
	m.reject(&ChargeBudget{ID: "q", Federation: "fed", Dataset: "orders", Site: "a", Purpose: "count", Cost: Cost{Epsilon: 0.01}}, ErrCompositionMismatch)
}

// TestZCDPComposition: under zCDP, rounds calibrated to split shares of
// the budget's ρ (as the federated jobs charge them: each with the total's
// δ) compose to at most the total ε, where basic composition would charge
// their δ k times and refuse; the next round beyond the total is refused;
// a pure-DP charge (δ = 0) costs ε²/2.
func TestZCDPComposition(t *testing.T) {
	total := Cost{Epsilon: 1, Delta: 1e-6}
	n := federation(t, abc, 2, total, WithComposition(ZCDPComposition{}))
	rho := budget.LedgerRho(total.Epsilon, total.Delta)
	const k = 11
	for i := range k {
		eps := budget.LedgerEpsilon(rho/k, total.Delta)
		n.must(&StartRound{ID: fmt.Sprint("r", i), Kind: "sum:x", Federation: "fed", Dataset: "orders", KeyEpoch: 1,
			Participants: abc, Cost: Cost{Epsilon: eps, Delta: total.Delta}})
	}
	b, _ := n.f.Budget("fed", "orders")
	if b.Composition != "zcdp" || b.Spent.Epsilon > total.Epsilon*(1+1e-9) || b.Spent.Epsilon < total.Epsilon*0.999 || b.Spent.Delta != total.Delta {
		t.Fatalf("after %d split rounds: spent %+v of %+v", k, b.Spent, b.Total)
	}
	n.reject(&StartRound{ID: "over", Kind: "sum:x", Federation: "fed", Dataset: "orders", KeyEpoch: 1,
		Participants: abc, Cost: Cost{Epsilon: 0.01, Delta: total.Delta}}, ErrBudgetExhausted)
	if got, want := ChargeRho(Cost{Epsilon: 0.5}), 0.125; got != want {
		t.Errorf("pure ε = 0.5 charge: ρ %v, want %v", got, want)
	}
	if got := (ZCDPComposition{}).Spent(nil, 1e-6); got != (Cost{}) {
		t.Errorf("nothing charged: spent %+v", got)
	}
	// A pure ε-DP ledger (δ = 0): pure charges add up.
	pure := []Cost{{Epsilon: 0.25}, {Epsilon: 0.5}}
	if got := (ZCDPComposition{}).Spent(pure, 0); got != (Cost{Epsilon: 0.75}) {
		t.Errorf("pure ledger: spent %+v, want ε 0.75", got)
	}
	// The same rounds under basic composition: the eleventh δ overflows.
	m := federation(t, abc, 2, total)
	for i := range k {
		eps := budget.LedgerEpsilon(rho/k, total.Delta)
		c := &StartRound{ID: fmt.Sprint("r", i), Kind: "sum:x", Federation: "fed", Dataset: "orders", KeyEpoch: 1,
			Participants: abc, Cost: Cost{Epsilon: eps, Delta: total.Delta}}
		if i == 0 {
			m.must(c)
		} else {
			m.reject(c, ErrBudgetExhausted)
		}
	}
}

func TestBudgetFitsDespiteRounding(t *testing.T) {
	n := federation(t, abc, 2, Cost{Epsilon: 1})
	for i := range 10 {
		n.must(&ChargeBudget{ID: fmt.Sprint("q", i), Federation: "fed", Dataset: "orders", Site: "a", Purpose: "count", Cost: Cost{Epsilon: 0.1}})
	}
	n.reject(&ChargeBudget{ID: "q10", Federation: "fed", Dataset: "orders", Site: "a", Purpose: "count", Cost: Cost{Epsilon: 1e-6}}, ErrBudgetExhausted)
	b, _ := n.f.Budget("fed", "orders")
	if len(b.Charges) != 10 || b.Remaining().Epsilon > 1e-9 {
		t.Fatalf("ledger = %+v, want 10 charges and nothing left", b)
	}
}

func TestQueries(t *testing.T) {
	n := done(t)
	f := n.f
	if err := f.Authorize("a"); err != nil {
		t.Errorf("Authorize(a) = %v", err)
	}
	if err := f.Authorize("zz"); !errors.Is(err, ErrUnknownSite) {
		t.Errorf("Authorize(zz) = %v, want ErrUnknownSite", err)
	}
	n.must(&RemoveSite{Site: "c", Reason: "gone"})
	if err := f.Authorize("c"); !errors.Is(err, ErrSiteNotAllowed) || f.IsAllowed("c") {
		t.Errorf("Authorize(removed c) = %v, IsAllowed %v", err, f.IsAllowed("c"))
	}
	if s, ok := f.Site("c"); !ok || s.Status != StatusRemoved || s.Reason != "gone" || s.Live {
		t.Errorf("Site(c) = %+v, %v", s, ok)
	}
	if got := len(f.Sites()); got != 3 {
		t.Errorf("len(Sites()) = %d, want 3", got)
	}
	k, ok := f.ActiveKey()
	if !ok || k.Epoch != 1 || k.PublicKeyHash != hashOf("cpk") {
		t.Errorf("ActiveKey() = %+v, %v", k, ok)
	}
	if _, ok := f.KeySetup(2); ok {
		t.Error("KeySetup(2) found")
	}
	if ks := f.KeySetups(); len(ks) != 1 {
		t.Errorf("KeySetups() = %v", ks)
	}
	res, ok := f.Result("r1")
	if !ok || res.Charged.Epsilon != 0.25 || strings.Join(res.Decryptors, ",") != "b,a" || strings.Join(res.Contributors, ",") != "a,b" {
		t.Errorf("Result(r1) = %+v, %v", res, ok)
	}
	if _, ok := f.Result("r2"); ok {
		t.Error("Result(r2) found")
	}
	if _, ok := f.LatestModel(); ok {
		t.Error("LatestModel() found before any commit")
	}
	n.must(&CommitModel{Version: 1, ContentHash: hashOf("m1"), Model: []byte("m1"), Rounds: []string{"r1"}},
		&CommitModel{Version: 2, ContentHash: hashOf("m2"), Model: []byte("m2")})
	if m, ok := f.LatestModel(); !ok || m.Version != 2 || m.BudgetSpent.Epsilon != 0 {
		t.Errorf("LatestModel() = %+v, %v", m, ok)
	}
	if m, ok := f.Model(1); !ok || string(m.Model) != "m1" || m.BudgetSpent.Epsilon != 0.25 {
		t.Errorf("Model(1) = %+v, %v", m, ok)
	}
	if _, ok := f.Model(3); ok {
		t.Error("Model(3) found")
	}
	if bs := f.Budgets(); len(bs) != 1 || bs[0].Dataset != "orders" {
		t.Errorf("Budgets() = %+v", bs)
	}
	if _, ok := f.Budget("fed", "nope"); ok {
		t.Error("Budget(fed, nope) found")
	}
	if err := f.ShareAllowed("nope", "a"); !errors.Is(err, ErrUnknownRound) {
		t.Errorf("ShareAllowed(nope) = %v", err)
	}
	// Returned values are copies.
	r, _ := f.Round("r1")
	r.Participants[0] = "mallory"
	r.Contributions[0].Site = "mallory"
	m, _ := f.Model(1)
	m.Model[0] = 'X'
	st := f.State()
	st.Sites["a"].Live = false
	if r2, _ := f.Round("r1"); r2.Participants[0] != "a" || r2.Contributions[0].Site != "a" {
		t.Error("Round returned shared slices")
	}
	if m2, _ := f.Model(1); string(m2.Model) != "m1" {
		t.Error("Model returned shared bytes")
	}
	if s, _ := f.Site("a"); !s.Live {
		t.Error("State returned shared sites")
	}
	if got := f.Settings().HEParams; got != "bgv-logn13" {
		t.Errorf("Settings().HEParams = %q", got)
	}
}

func TestShareAllowedNeedsLedgerCover(t *testing.T) {
	n := decrypting(t)
	if err := n.f.ShareAllowed("r1", "a"); err != nil {
		t.Fatalf("ShareAllowed(r1, a) = %v", err)
	}
	// A ledger whose record of the charge is missing (forged state): refused.
	snap := strings.Replace(string(mustSnapshot(t, n.f)), `"id":"r1","kind":"round"`, `"id":"rX","kind":"round"`, 1)
	g := New()
	if err := g.RestoreBytes([]byte(snap)); err != nil {
		t.Fatal(err)
	}
	if err := g.ShareAllowed("r1", "a"); !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("ShareAllowed without charge = %v, want ErrBudgetExhausted", err)
	}
}

func TestApplyOddEntries(t *testing.T) {
	f := New()
	if err := ResponseError(f.Apply(nil)); !errors.Is(err, ErrBadCommand) {
		t.Errorf("Apply(nil) = %v", err)
	}
	res := f.Apply(&raft.Log{Index: 7, Type: raft.LogNoop})
	if err := ResponseError(res); err != nil {
		t.Errorf("Apply(noop) = %v", err)
	}
	if got := f.AppliedIndex(); got != 7 {
		t.Errorf("AppliedIndex() = %d, want 7", got)
	}
	if err := ResponseError("nope"); err == nil {
		t.Error("ResponseError(string) = nil")
	}
	if err := ResponseError((*ApplyResult)(nil)); err == nil {
		t.Error("ResponseError(nil pointer) = nil")
	}
	if err := ResponseError(&ApplyResult{Err: ErrUnknownRound}); !errors.Is(err, ErrUnknownRound) {
		t.Errorf("ResponseError(pointer) = %v", err)
	}
}

// TestConcurrentQueries runs queries against Apply; run with -race.
func TestConcurrentQueries(t *testing.T) {
	log := randomLog(42, 300)
	f := New()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, r := range f.Rounds() {
					f.Covers(r.ID)
					_ = f.ShareAllowed(r.ID, "a")
				}
				f.IsAllowed("a")
				f.Budgets()
				f.State()
				if _, err := f.Snapshot(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	applyLog(t, f, log, 1)
	close(stop)
	wg.Wait()
	g := New()
	applyLog(t, g, log, 1)
	if !bytes.Equal(mustSnapshot(t, f), mustSnapshot(t, g)) {
		t.Fatal("concurrent queries changed the outcome")
	}
}

// FuzzApply applies fuzzed entries after a valid set-up: Apply never panics,
// and a rejected entry leaves the state unchanged.
func FuzzApply(f *testing.F) {
	for _, c := range sampleCommands() {
		f.Add(mustEncode(c))
	}
	f.Add(mustEncode(&Contribute{Round: "r1", Site: "b", Hash: hashOf("b1"), Size: 10}))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := collecting(t)
		before := n.f.State()
		res := n.applyRaw(b)
		if res.Err != nil {
			assertUnchanged(t, before, n.f.State())
		}
	})
}

func BenchmarkApplyContribute(b *testing.B) {
	sites := make([]string, 20)
	for i := range sites {
		sites[i] = fmt.Sprint("s", i)
	}
	n := federation(b, sites, 10, Cost{Epsilon: 1e9})
	var entries [][]byte
	for r := range b.N/len(sites) + 1 {
		id := fmt.Sprint("r", r)
		entries = append(entries, mustEncode(startRound(id, sites, 0.001)))
		for _, s := range sites {
			entries = append(entries, mustEncode(&Contribute{Round: id, Site: s, Hash: hashOf(id + s), Size: 262144}))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if res := n.applyRaw(entries[i]); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

func TestSuggestDecryptors(t *testing.T) {
	n := federation(t, []string{"a", "b", "c", "d"}, 2, Cost{Epsilon: 1})
	n.must(startRound("r1", []string{"d", "c", "b", "a"}, 0.1))
	if got, err := n.f.SuggestDecryptors("r1"); err != nil || strings.Join(got, ",") != "d,c" {
		t.Errorf("SuggestDecryptors before contributions = %v, %v; want [d c]", got, err)
	}
	n.must(&Contribute{Round: "r1", Site: "a", Hash: hashOf("a"), Size: 1},
		&Contribute{Round: "r1", Site: "c", Hash: hashOf("c"), Size: 1},
		&SiteLiveness{Site: "c", Live: false})
	got, err := n.f.SuggestDecryptors("r1")
	if err != nil || strings.Join(got, ",") != "a,d" {
		t.Fatalf("SuggestDecryptors = %v, %v; want [a d]", got, err)
	}
	// The suggestion is accepted by CloseRound.
	n.must(&CloseRound{Round: "r1", Decryptors: got, AggregateHash: hashOf("agg")})
	if _, err := n.f.SuggestDecryptors("r1"); !errors.Is(err, ErrBadTransition) {
		t.Errorf("SuggestDecryptors(decrypting) = %v, want ErrBadTransition", err)
	}
	if _, err := n.f.SuggestDecryptors("nope"); !errors.Is(err, ErrUnknownRound) {
		t.Errorf("SuggestDecryptors(nope) = %v, want ErrUnknownRound", err)
	}
	n.must(startRound("r2", []string{"a", "b", "d"}, 0.1), &SiteLiveness{Site: "b", Live: false})
	n.must(&SiteLiveness{Site: "b", Live: true}) // r2 survived with a, d live
	n.must(&SiteLiveness{Site: "d", Live: false}, &SiteLiveness{Site: "b", Live: false})
	if r, _ := n.f.Round("r2"); r.State != RoundFailed {
		t.Fatalf("r2 is %s, want failed", r.State)
	}
	if _, err := n.f.SuggestDecryptors("r2"); !errors.Is(err, ErrBadTransition) {
		t.Errorf("SuggestDecryptors(failed) = %v", err)
	}
}
