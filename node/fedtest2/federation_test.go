package fedtest2

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/protocol/pki"
	"github.com/strata-fed/strata/protocol/transport"
	"github.com/strata-fed/strata/protocol/wire"
)

func apiCode(err error) string {
	var ae *admin.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func sharesProduced(c *cluster) map[string]int64 {
	out := map[string]int64{}
	for _, nd := range c.nodes {
		if nd.alive() {
			out[nd.site] = nd.d.SumStats().SharesProduced
		}
	}
	return out
}

func roundsOf(nd *testNode, statistic string) []fsm.Round {
	var out []fsm.Round
	for _, r := range nd.d.FederationState().Rounds() {
		if strings.HasPrefix(r.Kind, "sum:"+statistic+" ") {
			out = append(out, r)
		}
	}
	return out
}

// probeTransport is a QUIC endpoint with a certificate the federation's
// nodes accept (site "probe", never joined): it talks to nodes directly.
func probeTransport(t testing.TB, c *cluster) *transport.Transport {
	t.Helper()
	roots, err := pki.LoadPool(filepath.Join(c.dir, "ca.pem"))
	must(t, err)
	nc, err := pki.LoadNodeCert(filepath.Join(c.dir, "probe.pem"), filepath.Join(c.dir, "probe.key"))
	must(t, err)
	cert, err := nc.TLSCertificate()
	must(t, err)
	tlsConf, err := pki.MutualTLSConfig(pki.TLSOptions{Roots: roots, Certificate: cert})
	must(t, err)
	tr, err := transport.Listen(context.Background(), transport.Config{SiteID: probeSite, TLS: tlsConf,
		ListenAddr: "127.0.0.1:0", Authorize: func(string) error { return nil }})
	must(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// TestSecureSumFederation runs N = 5 daemons with DP off and a random
// t ∈ {2, 3}: exact sums; a round beyond the budget refused before any
// share exists; a round whose live sites fall below t fails with a clear
// reason (no hang); the leader killed mid-round, the sum redone with no
// contribution counted twice or lost; and nodes refusing, even when asked
// directly over QUIC, to decrypt for a round the ledger does not cover.
func TestSecureSumFederation(t *testing.T) {
	r := seedRand(t)
	c := newCluster(t, 5, true)
	th := 2 + r.IntN(2)
	keysInit(t, c, th)
	exactSums(t, c, r, th, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := c.client()

	// --- Budget: a round beyond the budget is refused before any share exists.
	if _, err := cl.SetBudget(ctx, "spend", 1, 0); err != nil {
		t.Fatal(err)
	}
	vs := setStats(t, c, r, "spend", 64, 0, 100)
	res, err := cl.SecureSum(ctx, securesum.Spec{Statistic: "spend", Lo: 0, Hi: 100, Epsilon: 0.75}, time.Minute)
	must(t, err)
	if want := sumOf(vs, res.Contributors, 64); !slices.Equal(res.Values, want) || res.BudgetLeft == nil || res.BudgetLeft.Epsilon != 0.25 {
		t.Fatalf("charged round: values ok=%v, budget left %+v; want exact and ε 0.25 left", slices.Equal(res.Values, want), res.BudgetLeft)
	}
	lead := c.leader()
	before, shares := len(lead.d.FederationState().Rounds()), sharesProduced(c)
	_, err = cl.SecureSum(ctx, securesum.Spec{Statistic: "spend", Lo: 0, Hi: 100, Epsilon: 0.5}, time.Minute)
	if apiCode(err) != "budget_exhausted" {
		t.Fatalf("round beyond the budget: err = %v, want budget_exhausted", err)
	}
	if after := len(lead.d.FederationState().Rounds()); after != before {
		t.Errorf("a refused round exists: %d rounds, want %d", after, before)
	}
	if got := sharesProduced(c); !maps(got, shares) {
		t.Errorf("decryption shares after the refusal: %v, before %v", got, shares)
	}
	if b, _ := lead.d.FederationState().Budget("default", "spend"); b.Spent.Epsilon != 0.75 {
		t.Errorf("spent %+v after the refusal, want ε 0.75", b.Spent)
	}

	// --- Live sites below t: the round fails with a clear outcome.
	lead = c.leader()
	var followers []*testNode
	for _, nd := range c.nodes {
		if nd != lead && nd.alive() {
			followers = append(followers, nd)
		}
	}
	participants := []string{lead.site}
	for _, nd := range followers[:th-1] {
		participants = append(participants, nd.site)
	}
	must(t, nodeClient(lead).SetStatistic(ctx, "leaderonly", "", []int64{1, 2, 3}))
	errc := make(chan error, 1)
	go func() {
		_, err := cl.SecureSum(ctx, securesum.Spec{Statistic: "leaderonly", Lo: 0, Hi: 10, Participants: participants}, time.Minute)
		errc <- err
	}()
	waitUntil(t, 20*time.Second, "the leaderonly round to start", func() bool { return len(roundsOf(lead, "leaderonly")) > 0 })
	victim := followers[0]
	c.kill(victim)
	start := time.Now()
	select {
	case err := <-errc:
		if apiCode(err) != "round_failed" || !strings.Contains(err.Error(), "too few live sites") {
			t.Fatalf("round below t: err = %v, want round_failed, too few live sites", err)
		}
		t.Logf("round below t ended in %v: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(30 * time.Second):
		t.Fatal("round below t: no outcome after 30s")
	}

	// --- Leader killed mid-round: the sum is redone cleanly.
	lead = c.leader()
	var late *testNode // a follower whose statistic arrives late, to hold the round open
	for _, nd := range c.nodes {
		if nd != lead && nd.alive() {
			late = nd
		}
	}
	ordersLen := 100
	orders := map[string][]int64{}
	for _, nd := range c.nodes {
		if nd.alive() && nd != late {
			v := randomVector(r, ordersLen, -50, 50)
			must(t, nodeClient(nd).SetStatistic(ctx, "orders", "spend", v))
			orders[nd.site] = v
		}
	}
	type out struct {
		res securesum.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		// Charged to "spend" (ε 0.25 left): the aborted round is refunded.
		res, err := cl.SecureSum(ctx, securesum.Spec{Statistic: "orders", Lo: -50, Hi: 50, Epsilon: 0.125, Dataset: "spend"}, time.Minute)
		done <- out{res, err}
	}()
	waitUntil(t, 20*time.Second, "a contribution to the first orders round", func() bool {
		rs := roundsOf(lead, "orders")
		return len(rs) > 0 && len(rs[0].Contributions) > 0
	})
	first := roundsOf(lead, "orders")[0]
	c.kill(lead)
	v := randomVector(r, ordersLen, -50, 50)
	must(t, nodeClient(late).SetStatistic(ctx, "orders", "spend", v))
	orders[late.site] = v
	var o out
	select {
	case o = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("no result 90s after the leader was killed")
	}
	must(t, o.err)
	if o.res.RoundID == first.ID {
		t.Fatalf("round %s completed under a dead leader", first.ID)
	}
	var live []string
	for _, nd := range c.nodes {
		if nd.alive() {
			live = append(live, nd.site)
		}
	}
	contributors := slices.Sorted(slices.Values(o.res.Contributors))
	if !slices.Equal(contributors, live) {
		t.Errorf("redone round %s: contributors %v, want every live site %v once", o.res.RoundID, contributors, live)
	}
	if want := sumOf(orders, o.res.Contributors, ordersLen); !slices.Equal(o.res.Values, want) {
		t.Errorf("redone round %s: not the exact sum of its contributors", o.res.RoundID)
	}
	newLead := c.leader()
	fr, _ := newLead.d.FederationState().Round(first.ID)
	if fr.State != fsm.RoundAborted || !strings.Contains(fr.Reason, "leader changed") {
		t.Errorf("first round %s: %s (%s), want aborted: leader changed", first.ID, fr.State, fr.Reason)
	}
	if _, ok := newLead.d.FederationState().Result(first.ID); ok {
		t.Errorf("the aborted round %s has a result", first.ID)
	}
	done1 := 0
	for _, rr := range roundsOf(newLead, "orders") {
		if rr.State == fsm.RoundDone {
			done1++
		}
	}
	if done1 != 1 {
		t.Errorf("%d done orders rounds, want 1", done1)
	}
	if b, _ := newLead.d.FederationState().Budget("default", "spend"); b.Spent.Epsilon != 0.875 {
		t.Errorf("spent %+v after the redo, want ε 0.875 (the aborted round refunded)", b.Spent)
	}
	t.Logf("leader %s killed during round %s; redone as round %s over %v", lead.site, first.ID, o.res.RoundID, contributors)

	// --- A node refuses its share for a round the ledger does not cover
	// (the aborted round was refunded), even when asked directly.
	if newLead.d.FederationState().Covers(first.ID) {
		t.Fatalf("aborted round %s still covered", first.ID)
	}
	shares = sharesProduced(c)
	agg := make([]byte, 4096)
	_, _ = rand.Read(agg)
	num := uint64(0)
	fmt.Sscan(first.ID, &num)
	tr := probeTransport(t, c)
	for _, nd := range c.nodes {
		if !nd.alive() {
			continue
		}
		if b, err := nd.d.SumNode().DecryptionShare(first.ID, agg); !errors.Is(err, securesum.ErrRefused) || b != nil {
			t.Errorf("%s: DecryptionShare(%s) = %d bytes, %v; want refusal", nd.site, first.ID, len(b), err)
		}
		refused := nd.d.SumStats().SharesRefused
		s, _ := nd.d.FederationState().Site(nd.site)
		conn, _, err := tr.Open(ctx, s.Address, wire.KindBulk)
		must(t, err)
		h := wire.NewBlobHeader(num, "round.aggregate", agg)
		must(t, wire.WriteBlob(conn, &h, strings.NewReader(string(agg))))
		var ack wire.BlobHeader
		err = wire.ReadMessage(conn, &ack)
		conn.Close()
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.CodeUnauthorized {
			t.Errorf("%s answered an aggregate for uncovered round %s with %v, want an unauthorized error", nd.site, first.ID, err)
		}
		if got := nd.d.SumStats().SharesRefused; got <= refused {
			t.Errorf("%s: refusals %d → %d", nd.site, refused, got)
		}
	}
	time.Sleep(300 * time.Millisecond) // give a (wrong) share time to appear
	if got := sharesProduced(c); !maps(got, shares) {
		t.Errorf("shares produced after direct requests: %v, before %v", got, shares)
	}

	// --- DP on (switched through the log): a noised release, charged.
	// (The variance is tested statistically in TestDPVarianceEndToEnd.)
	must(t, newLead.d.SetSetting(ctx, "dp_disabled", "false"))
	cl = c.client()
	if _, err := cl.SetBudget(ctx, "dp", 10, 1e-3); err != nil {
		t.Fatal(err)
	}
	const dpLen = 1600
	dv := setStats(t, c, r, "dp", dpLen, -10, 10)
	res, err = cl.SecureSum(ctx, securesum.Spec{Statistic: "dp", Lo: -10, Hi: 10, Epsilon: 1, Delta: 1e-6}, time.Minute)
	must(t, err)
	wantLeft := 10 - zcdpSpent(1e-3, fsm.Cost{Epsilon: 1, Delta: 1e-6})
	if res.Noise.Mechanism != "skellam" || res.Noise.Sensitivity != 400 || res.BudgetLeft == nil || math.Abs(res.BudgetLeft.Epsilon-wantLeft) > 1e-9 {
		t.Fatalf("DP round: noise %+v, budget left %+v; want skellam, Δ₂ = √1600·10, ε %v left (zCDP)", res.Noise, res.BudgetLeft, wantLeft)
	}
	exact := sumOf(dv, res.Contributors, dpLen)
	var ss float64
	for i := range exact {
		d := float64(res.Values[i] - exact[i])
		ss += d * d
	}
	// Residual variance k·σ²/t for k contributions: with 1600 samples the
	// sample variance has a relative sd of √(2/1599) = 3.5%, so ±25% is
	// 7 sd (false failure < 10⁻¹¹).
	want := float64(len(res.Contributors)) * res.Noise.Sigma * res.Noise.Sigma / float64(th)
	if got := ss / dpLen; got < 0.75*want || got > 1.25*want {
		t.Errorf("DP round: residual variance %.1f, calibrated %.1f", got, want)
	}
}

func maps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// zcdpSpent is the ε the daemons' ledger (zCDP composition, converted at
// the ledger's δ) records for costs.
func zcdpSpent(ledgerDelta float64, costs ...fsm.Cost) float64 {
	return fsm.ZCDPComposition{}.Spent(costs, ledgerDelta).Epsilon
}
