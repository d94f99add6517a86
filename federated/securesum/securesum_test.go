package securesum

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
)

func TestKindRoundTrip(t *testing.T) {
	l1, l2 := sensitivity(16, -3, 5)
	mu, err := calibrate(1, 1e-6, l1, l2)
	if err != nil {
		t.Fatal(err)
	}
	in := roundSpec{Statistic: "revenue", V: 1, N: 16, Lo: -3, Hi: 5, Mech: mechSkellam, Mu: mu, L1: l1, L2: l2}
	k, err := in.kind()
	if err != nil {
		t.Fatal(err)
	}
	out, err := parseKind(k)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("parseKind(%q) = %+v, %v; want %+v", k, out, err, in)
	}
	// Explicit sensitivities and params round-trip; params are compacted.
	in2 := in
	in2.MaxAbs, in2.L1, in2.L2, in2.Params = 1000, 7, 3, []byte(`{"centroids":[[1.5,2],[3,-4e-7]],"k":2}`)
	k2, err := in2.kind()
	if err != nil {
		t.Fatal(err)
	}
	spaced := strings.Replace(k2, `"k":2`, `"k" : 2`, 1)
	for _, kk := range []string{k2, spaced} {
		if out, err := parseKind(kk); err != nil || !reflect.DeepEqual(out, in2) {
			t.Fatalf("parseKind(%q) = %+v, %v; want %+v", kk, out, err, in2)
		}
	}
	// A kind written before params and max_abs existed still parses.
	old := `sum:revenue {"v":1,"n":16,"lo":-3,"hi":5,"mech":"skellam","mu":1234.5,"l1":80,"l2":20}`
	if out, err := parseKind(old); err != nil || out.MaxAbs != 0 || out.Params != nil || out.N != 16 {
		t.Fatalf("parseKind(old kind) = %+v, %v", out, err)
	}
	for _, bad := range []string{"revenue", "sum:revenue", `sum:re venue {"v":1}`, `sum:x {"v":2,"n":1,"mech":"none"}`,
		`sum:x {"v":1,"n":1,"lo":2,"hi":1,"mech":"none"}`, `sum:x {"v":1,"n":1,"mech":"laplace"}`, `sum:x {"v":1,"n":1,"mech":"skellam"}`,
		`sum:x {"v":1,"n":1,"max_abs":-1,"mech":"none"}`, `sum:x {"v":1,"n":1,"params":{"a":},"mech":"none"}`,
		`sum:x {"v":1,"n":1,"max_abs":5,"mech":"skellam","mu":10,"l1":1,"l2":2}`, `sum:x {"v":1,"n":1,"max_abs":5,"mech":"skellam","mu":10}`} {
		if _, err := parseKind(bad); !errors.Is(err, ErrBadSpec) {
			t.Errorf("parseKind(%q) = %v, want ErrBadSpec", bad, err)
		}
	}
	// The calibrated variance costs at most ε under the ledger's conversion.
	if mu2, _ := calibrate(2, 1e-6, l1, l2); !(mu2 < mu) {
		t.Errorf("calibrate: more ε must need less noise: μ(1)=%v μ(2)=%v", mu, mu2)
	}
}

func randomVector(r *rand.Rand, n int, lo, hi int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = lo + r.Int64N(hi-lo+1)
	}
	return v
}

// TestExactSum: DP off, every site contributes, the result is the exact sum.
func TestExactSum(t *testing.T) {
	c := newMemCluster(t, 4, 3, true)
	r := rand.New(rand.NewPCG(1, 2))
	want := make([]int64, 50)
	for s, p := range c.stats {
		v := randomVector(r, len(want), -1000, 1000)
		v[0] = 5000 // clamped to hi
		must(t, p.Set("revenue", "", v))
		for i, x := range v {
			want[i] += min(max(x, -1000), 1000)
		}
		_ = s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.nodes["s0"].SecureSum(ctx, Spec{Statistic: "revenue", Lo: -1000, Hi: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Values, want) {
		t.Fatalf("SecureSum = %v, want %v", res.Values, want)
	}
	if len(res.Contributors) != 4 || len(res.Decryptors) != 3 || res.Noise.Mechanism != "none" {
		t.Fatalf("result %+v: want 4 contributors, 3 decryptors, no noise", res)
	}
	if rec, ok := c.f.Result(res.RoundID); !ok || rec.ReleasedHash != hashHex(encodeValues(want)) {
		t.Fatalf("logged result %+v does not hash the released values", rec)
	}
}

// TestShareRefused: a node refuses its decryption share, even when asked
// directly, for a round the log does not allow; nothing is produced.
func TestShareRefused(t *testing.T) {
	c := newMemCluster(t, 3, 2, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range c.stats {
		must(t, p.Set("x", "", []int64{1, 2, 3}))
	}
	lead := memLog{c: c, site: "s0"}
	must(t, lead.Apply(ctx, &fsm.SetBudget{Federation: "default", Dataset: "x", Total: fsm.Cost{Epsilon: 1}}))
	// A round nobody runs: aborted before decryption, its charge refunded.
	ks, _ := c.f.ActiveKey()
	must(t, lead.Apply(ctx, &fsm.StartRound{ID: "900", Kind: `sum:x {"v":1,"n":3,"lo":0,"hi":9,"mech":"none"}`,
		Federation: "default", Dataset: "x", KeyEpoch: ks.Epoch, Participants: ks.Participants, Cost: fsm.Cost{Epsilon: 1}}))
	must(t, waitFor(ctx, func() (bool, error) { r, _ := c.f.Round("900"); return r.State.Terminal(), nil }))
	if c.f.Covers("900") {
		t.Fatal("an aborted round is still covered by the ledger")
	}
	agg := []byte("any aggregate")
	for site, n := range c.nodes {
		for _, id := range []string{"900", "901"} {
			b, err := n.DecryptionShare(id, agg)
			if !errors.Is(err, ErrRefused) || b != nil {
				t.Errorf("%s: DecryptionShare(%s) = %d bytes, %v; want refusal", site, id, len(b), err)
			}
		}
		if got := n.Stats().SharesProduced; got != 0 {
			t.Errorf("%s produced %d shares", site, got)
		}
	}
	// Over the network: s1 answers s0's aggregate for an uncovered round
	// with a refusal.
	err := c.nodes["s0"].send(ctx, "s1", kindAggregate, 900, agg, sha256.Sum256(agg))
	if err == nil {
		t.Fatal("s1 accepted an aggregate of an aborted round")
	}
	if got := c.nodes["s1"].Stats().SharesRefused; got < 3 {
		t.Errorf("s1 refused %d times, want ≥ 3", got)
	}
}

// TestVariance checks, at a stated false-failure rate, that the empirical
// variance of the released noise matches the calibration: N·μ/t with every
// site live, and exactly μ (the target) with N−t sites dropped.
//
// Each coordinate of each round is an independent sample of the total
// noise (released − exact clamped sum). For K samples of a distribution
// with variance v and excess kurtosis κ (Skellam: κ = 1/v, negligible), the
// sample variance has relative standard deviation √(2/(K−1) + κ/K). We
// accept within 6 of these: a false failure has probability about 2·10⁻⁹
// per check (normal approximation of the sample variance).
func TestVariance(t *testing.T) {
	const (
		n, th   = 5, 3
		length  = 1000
		rounds  = 10
		lo, hi  = -2, 2
		eps     = 4.0
		delta   = 1e-6
		dataset = "visits"
	)
	c := newMemCluster(t, n, th, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := c.nodes["s0"].SetBudget(ctx, dataset, 100, 1e-3); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	l1, l2 := sensitivity(length, lo, hi)
	mu, err := calibrate(eps, delta, l1, l2)
	must(t, err)
	run := func(live []string) (variance float64, k int) {
		var sumsq float64
		for range rounds {
			exact := make([]int64, length)
			for _, s := range live {
				v := randomVector(r, length, 3*lo, 3*hi)
				must(t, c.stats[s].Set(dataset, "", v))
				for i, x := range v {
					exact[i] += min(max(x, lo), hi)
				}
			}
			res, err := c.nodes["s0"].SecureSum(ctx, Spec{Statistic: dataset, Lo: lo, Hi: hi, Epsilon: eps, Delta: delta})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Contributors) != len(live) {
				t.Fatalf("round %s: contributors %v, want %v", res.RoundID, res.Contributors, live)
			}
			if res.Noise.Mechanism != "skellam" || math.Abs(res.Noise.Sigma-math.Sqrt(mu)) > 1e-9*math.Sqrt(mu) {
				t.Fatalf("noise %+v, want skellam σ=%v", res.Noise, math.Sqrt(mu))
			}
			for i, v := range res.Values {
				d := float64(v - exact[i]) // noise has mean 0 exactly
				sumsq += d * d
				k++
			}
		}
		return sumsq / float64(k), k
	}
	check := func(name string, got float64, k int, want float64) {
		t.Helper()
		rel := math.Sqrt(2/float64(k-1) + 1/(want*float64(k)))
		t.Logf("%s: empirical variance %.1f, calibrated %.1f (ratio %.3f, tolerance ±%.3f)", name, got, want, got/want, 6*rel)
		if math.Abs(got/want-1) > 6*rel {
			t.Errorf("%s: empirical variance %.1f, want %.1f ± %.1f%%", name, got, want, 600*rel)
		}
	}
	all := []string{"s0", "s1", "s2", "s3", "s4"}
	v, k := run(all)
	check("all 5 sites", v, k, float64(n)*mu/th)
	// Drop N−t sites: the leader's probes mark them down; rounds then run
	// with the t live sites, whose shares alone must carry variance μ.
	c.kill("s3")
	c.kill("s4")
	must(t, waitFor(ctx, func() (bool, error) {
		a, _ := c.f.Site("s3")
		b, _ := c.f.Site("s4")
		return !a.Live && !b.Live, nil
	}))
	v, k = run(all[:th])
	check(fmt.Sprintf("%d sites dropped", n-th), v, k, mu)
	if v < mu*(1-6*math.Sqrt(2/float64(k-1))) {
		t.Errorf("with N−t sites dropped the variance %.1f is below the target %.1f", v, mu)
	}
}

// FuzzParseKind: the round kind comes from the log; parsing never panics,
// and whatever parses re-encodes to a kind that parses to the same spec.
func FuzzParseKind(f *testing.F) {
	f.Add(`sum:revenue {"v":1,"n":16,"lo":-3,"hi":5,"mech":"skellam","mu":1234.5,"l1":80,"l2":20}`)
	f.Add(`sum:x {"v":1,"n":1,"lo":0,"hi":0,"mech":"none"}`)
	f.Add(`sum:x {"v":1,"n":-1}`)
	f.Add(`sum:x {"v":1,"n":4,"lo":0,"hi":1,"max_abs":100,"params":{"c":[1, 2.5]},"mech":"skellam","mu":9,"l1":3,"l2":1.7}`)
	f.Fuzz(func(t *testing.T, kind string) {
		s, err := parseKind(kind)
		if err != nil {
			return
		}
		k, err := s.kind()
		if err != nil {
			t.Fatalf("kind() of parsed %+v: %v", s, err)
		}
		s2, err := parseKind(k)
		if err != nil || !reflect.DeepEqual(s2, s) {
			t.Fatalf("re-parse of %q = %+v, %v; want %+v", k, s2, err, s)
		}
	})
}

// TestProductionParams runs a key set-up and an exact 3-of-5 sum of 9,000
// values (two ciphertexts) with the production parameter set PN13QP120.
func TestProductionParams(t *testing.T) {
	c := newMemClusterParams(t, 5, 3, true, DefaultParams, nil)
	r := rand.New(rand.NewPCG(9, 9))
	want := make([]int64, 9000)
	for _, p := range c.stats {
		v := randomVector(r, len(want), -1<<40, 1<<40)
		must(t, p.Set("x", "", v))
		for i, x := range v {
			want[i] += x
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := c.nodes["s0"].SecureSum(ctx, Spec{Statistic: "x", Lo: -1 << 40, Hi: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Values, want) {
		t.Fatal("PN13QP120 sum differs from the exact sum")
	}
}
