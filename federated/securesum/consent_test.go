package securesum

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// fastCollect closes rounds soon after the live sites that will contribute
// have done so (a refusing site never does).
func fastCollect(site string, allowDPOff bool) func(*Config) {
	return func(c *Config) {
		c.CollectTimeout = time.Second
		if c.Site == site {
			c.AllowDPOff = allowDPOff
		}
	}
}

// TestDPOffNeedsLocalConsent: with DP disabled in the log, a node whose own
// AllowDPOff is not set neither contributes (no ciphertext sent) nor
// decrypts, and as leader refuses to start the round.
func TestDPOffNeedsLocalConsent(t *testing.T) {
	c := newMemClusterParams(t, 3, 2, true, "TestPN11QP120", fastCollect("s2", false))
	want := make([]int64, 3)
	for s, p := range c.stats {
		v := []int64{1, 2, 3}
		must(t, p.Set("x", "", v))
		if s != "s2" {
			for i, x := range v {
				want[i] += x
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sent := c.nodes["s2"].Stats().BytesSent // key set-up
	res, err := c.nodes["s0"].SecureSum(ctx, Spec{Statistic: "x", Lo: 0, Hi: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Contributors, []string{"s0", "s1"}) && !slices.Equal(res.Contributors, []string{"s1", "s0"}) {
		t.Fatalf("contributors %v, want s0 and s1 only", res.Contributors)
	}
	if !slices.Equal(res.Values, want) || slices.Contains(res.Decryptors, "s2") {
		t.Fatalf("result %v decrypted by %v, want %v without s2", res.Values, res.Decryptors, want)
	}
	st := c.nodes["s2"].Stats()
	if st.Contributions != 0 || st.SharesProduced != 0 || st.BytesSent != sent {
		t.Fatalf("s2 without consent: %+v, want no ciphertext, no share, nothing sent", st)
	}
	// Asked directly, it refuses a share of the round too.
	if b, err := c.nodes["s2"].DecryptionShare(res.RoundID, []byte("agg")); !errors.Is(err, ErrRefused) || b != nil {
		t.Fatalf("s2 DecryptionShare = %d bytes, %v; want refusal", len(b), err)
	}
	// As leader, it does not start a DP-off round.
	c.mu.Lock()
	c.leader = "s2"
	c.mu.Unlock()
	_, err = c.nodes["s2"].SecureSum(ctx, Spec{Statistic: "x", Lo: 0, Hi: 10})
	c.mu.Lock()
	c.leader = "s0"
	c.mu.Unlock()
	if !errors.Is(err, ErrDPOff) {
		t.Fatalf("SecureSum on a leader without consent = %v, want ErrDPOff", err)
	}
	if got := len(c.f.Rounds()); got != 1 {
		t.Fatalf("%d rounds in the log, want 1", got)
	}
}

// TestDatasetBinding: a site contributes only to rounds charged to the
// dataset its statistic is bound to, so a budget opened under a fresh
// dataset label cannot re-spend the same data.
func TestDatasetBinding(t *testing.T) {
	c := newMemClusterParams(t, 3, 2, true, "TestPN11QP120", fastCollect("", false))
	for s, p := range c.stats {
		ds := "orders"
		if s == "s2" {
			ds = "visits"
		}
		must(t, p.Set("x", ds, []int64{5, 6}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.nodes["s0"].SecureSum(ctx, Spec{Statistic: "x", Lo: 0, Hi: 10, Dataset: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Contributors) != 2 || slices.Contains(res.Contributors, "s2") || !slices.Equal(res.Values, []int64{10, 12}) {
		t.Fatalf("round on orders: contributors %v, values %v; want s0, s1 and [10 12]", res.Contributors, res.Values)
	}
	if got := c.nodes["s2"].Stats().Contributions; got != 0 {
		t.Fatalf("s2 (bound to visits) contributed %d times to a round on orders", got)
	}
	// The default binding is the statistic's own name: a round charged to
	// a fresh label gets no contribution from these sites.
	for _, p := range c.stats {
		must(t, p.Set("y", "", []int64{1}))
	}
	ctx2, cancel2 := context.WithTimeout(ctx, 4*time.Second)
	defer cancel2()
	if _, err := c.nodes["s0"].SecureSum(ctx2, Spec{Statistic: "y", Lo: 0, Hi: 10, Dataset: "fresh"}); err == nil {
		t.Fatal("a round under a fresh dataset label completed")
	}
	for s, n := range c.nodes {
		if got := n.Stats().Contributions; got != 1 && s != "s2" {
			t.Errorf("%s: %d contributions, want only the one to orders", s, got)
		}
	}
}

// userProvider computes a statistic from the round's params, bounds each
// user's part itself and declares that per-user sensitivity.
type userProvider struct {
	dataset string
	l1, l2  float64
	base    []int64
}

func (p *userProvider) Statistic(_ context.Context, name string, params []byte) ([]int64, error) {
	var q struct {
		Scale int64 `json:"scale"`
	}
	if name != "hist" {
		return nil, fmt.Errorf("statistic %q: %w", name, ErrUnknownStatistic)
	}
	if err := json.Unmarshal(params, &q); err != nil {
		return nil, fmt.Errorf("params: %v: %w", err, ErrBadSpec)
	}
	out := slices.Clone(p.base)
	for i := range out {
		out[i] *= q.Scale
	}
	return out, nil
}

func (p *userProvider) Binding(_ context.Context, name string, _ []byte) (Binding, error) {
	if name != "hist" {
		return Binding{}, fmt.Errorf("statistic %q: %w", name, ErrUnknownStatistic)
	}
	return Binding{Dataset: p.dataset, L1: p.l1, L2: p.l2}, nil
}

// TestExplicitSensitivity: params reach every site's provider through the
// log; with explicit per-user sensitivities the noise is calibrated to them,
// each site's vector is clamped to ±MaxAbs (not to the per-user [Lo, Hi]),
// and a site whose provider guarantees a larger sensitivity than the round
// claims does not contribute.
func TestExplicitSensitivity(t *testing.T) {
	l1, l2 := 2.0, math.Sqrt2
	base := map[string][]int64{"s0": {100, 0, 7, 3000}, "s1": {50, 1, 9, 10}, "s2": {1, 1, 1, 1}}
	c := newMemClusterParams(t, 3, 2, false, "TestPN11QP120", func(cfg *Config) {
		cfg.CollectTimeout = time.Second
		p := &userProvider{dataset: "users", l1: l1, l2: l2, base: base[cfg.Site]}
		if cfg.Site == "s2" {
			p.l1, p.l2 = 4, 2 // bounds users less tightly than the round claims
		}
		cfg.Stats = p
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.nodes["s0"].SetBudget(ctx, "users", 10, 1e-3); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Statistic: "hist", Length: 4, Params: json.RawMessage(`{ "scale": 3 }`), Lo: 0, Hi: 1, L1: l1, L2: l2, MaxAbs: 1000,
		Epsilon: 1, Delta: 1e-6, Dataset: "users"}
	// Malformed requests are refused before any round exists.
	for name, mod := range map[string]func(*Spec){
		"L1 without max_abs": func(s *Spec) { s.MaxAbs = 0 },
		"L2 above L1":        func(s *Spec) { s.L2 = 3 },
		"params not JSON":    func(s *Spec) { s.Params = json.RawMessage(`{scale`) },
		"params over limit":  func(s *Spec) { s.Params = json.RawMessage(`"` + strings.Repeat("a", MaxParams) + `"`) },
	} {
		bad := spec
		mod(&bad)
		if _, err := c.nodes["s0"].SecureSum(ctx, bad); !errors.Is(err, ErrBadSpec) {
			t.Errorf("%s: SecureSum = %v, want ErrBadSpec", name, err)
		}
	}
	if n := len(c.f.Rounds()); n != 0 {
		t.Fatalf("%d rounds exist after refused requests", n)
	}
	res, err := c.nodes["s0"].SecureSum(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.Contributors, "s2") || len(res.Contributors) != 2 {
		t.Fatalf("contributors %v: want s0 and s1 (s2's provider guarantees less than the round claims)", res.Contributors)
	}
	r, _ := c.f.Round(res.RoundID)
	rs, err := parseKind(r.Kind)
	if err != nil || string(rs.Params) != `{"scale":3}` || rs.MaxAbs != 1000 || rs.L1 != l1 || rs.L2 != l2 {
		t.Fatalf("logged spec %+v, %v: want compact params, max_abs 1000, explicit L1, L2", rs, err)
	}
	mu, err := calibrate(1, 1e-6, l1, l2)
	must(t, err)
	if math.Abs(res.Noise.Sigma-math.Sqrt(mu)) > 1e-9*math.Sqrt(mu) || res.Noise.Sensitivity != l2 {
		t.Fatalf("noise %+v, want σ=%v calibrated to L2=%v", res.Noise, math.Sqrt(mu), l2)
	}
	// Exact: each site's scaled vector clamped to ±1000 (not to [0, 1]).
	exact := []int64{300 + 150, 0 + 3, 21 + 27, 1000 + 30}
	// Two contributions carry variance 2·μ/t = μ per coordinate; 8σ is a
	// false failure of about 10⁻¹⁵.
	for i, v := range res.Values {
		if math.Abs(float64(v-exact[i])) > 8*math.Sqrt(mu) {
			t.Errorf("value %d = %d, want %d ± 8σ (σ=%.3g)", i, v, exact[i], math.Sqrt(mu))
		}
	}
}
