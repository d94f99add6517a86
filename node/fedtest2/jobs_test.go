package fedtest2

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/fedjobs"
)

// randomSites returns n sites of about users users each with random,
// heavy-tailed RFM values (recency ≤ tenure, 1+ orders, log-normal spend
// with a few refunds).
func randomSites(t *testing.T, r *rand.Rand, n, users int) []*segmodel.SiteData {
	t.Helper()
	var out []*segmodel.SiteData
	for s := range n {
		m := users/2 + r.IntN(users)
		var c segmodel.Columns
		for range m {
			tenure := r.Int64N(1500)
			c.TenureDays = append(c.TenureDays, tenure)
			c.RecencyDays = append(c.RecencyDays, r.Int64N(tenure+1))
			c.Frequency = append(c.Frequency, 1+int64(r.ExpFloat64()*3))
			cents := int64(math.Exp(7 + 2*r.NormFloat64()))
			if r.IntN(50) == 0 {
				cents = -cents
			}
			c.MonetaryCents = append(c.MonetaryCents, cents)
		}
		d, err := segmodel.NewSiteData([]string{"store", "marketplace", "mini-program"}[s%3], c)
		must(t, err)
		out = append(out, d)
	}
	return out
}

// TestJobsOverSecureSum runs the thresholds, means and k-means (K = 2)
// jobs (DP off) over the real threshold-encrypted secure sum — three
// daemons, QUIC, raft, a 2-of-3 lattigo key — with each site's
// fedjobs.Provider installed, and checks the results equal the same jobs
// over jobs' exact in-memory summer on the same three SiteData: cuts and
// histograms equal, means and centroids bit-equal. A plain operator-set
// statistic still sums through the daemon's in-memory provider beside them.
func TestJobsOverSecureSum(t *testing.T) {
	r := seedRand(t)
	users := 300
	if !testing.Short() {
		users = 3000
	}
	sites := randomSites(t, r, 3, users)
	c := newCluster(t, 3, true)
	keysInit(t, c, 2)
	for i, nd := range c.nodes {
		nd.d.SetProvider(&fedjobs.Provider{Data: sites[i], Inner: nd.d.MemProvider()})
	}
	l := c.waitLeader()
	sum := &fedjobs.Summer{Runner: l.d}
	mem := &jobs.MemSummer{Sites: sites}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t0 := time.Now()
	got, err := jobs.RunThresholds(ctx, sum, jobs.Privacy{})
	if err != nil {
		t.Fatalf("federated thresholds: %v", err)
	}
	tThresholds := time.Since(t0)
	want, err := jobs.RunThresholds(ctx, mem, jobs.Privacy{})
	must(t, err)
	for _, p := range []struct {
		name      string
		got, want any
	}{
		{"recency cuts", got.Recency, want.Recency},
		{"frequency cuts", got.Frequency, want.Frequency},
		{"monetary cuts", got.Monetary, want.Monetary},
		{"recency histogram", got.HistR, want.HistR},
		{"frequency histogram", got.HistF, want.HistF},
		{"monetary histogram", got.HistM, want.HistM},
		{"users", got.Users, want.Users},
	} {
		if !reflect.DeepEqual(p.got, p.want) {
			t.Errorf("thresholds: %s = %v, in memory %v", p.name, p.got, p.want)
		}
	}
	total := int64(sites[0].Len() + sites[1].Len() + sites[2].Len())
	if got.Users != total {
		t.Errorf("thresholds counted %d users, the sites hold %d", got.Users, total)
	}

	t0 = time.Now()
	gm, err := jobs.RunMeans(ctx, sum, jobs.Privacy{}, got, 0)
	if err != nil {
		t.Fatalf("federated means: %v", err)
	}
	tMeans := time.Since(t0)
	wm, err := jobs.RunMeans(ctx, mem, jobs.Privacy{}, want, 0)
	must(t, err)
	if gm.MeanR != wm.MeanR || gm.MeanF != wm.MeanF || gm.MeanM != wm.MeanM || gm.Users != wm.Users {
		t.Errorf("means = %+v, in memory %+v", gm, wm)
	}

	// Federated k-means (DP off) from the same seed, K = 5: each Lloyd
	// step's params (mean, std, K centroids, codec) go into the round's
	// Kind in the log.
	t0 = time.Now()
	gk, err := jobs.RunKMeans(ctx, sum, jobs.Privacy{}, jobs.KMeansOptions{K: 5})
	if err != nil {
		t.Fatalf("federated k-means: %v", err)
	}
	tKMeans := time.Since(t0)
	wk, err := jobs.RunKMeans(ctx, mem, jobs.Privacy{}, jobs.KMeansOptions{K: 5})
	must(t, err)
	if !reflect.DeepEqual(gk.Centroids, wk.Centroids) || !reflect.DeepEqual(gk.Mean, wk.Mean) || !reflect.DeepEqual(gk.Std, wk.Std) || gk.Iterations != wk.Iterations {
		t.Errorf("k-means: centroids %v (mean %v, std %v, %d iterations), in memory %v (mean %v, std %v, %d iterations)",
			gk.Centroids, gk.Mean, gk.Std, gk.Iterations, wk.Centroids, wk.Mean, wk.Std, wk.Iterations)
	}

	rounds := sum.Rounds()
	if want := len(mem.Log()); len(rounds) != want {
		t.Fatalf("%d rounds, want %d (as many as the in-memory summer answered)", len(rounds), want)
	}
	for _, res := range rounds {
		if len(res.Contributors) != 3 || res.Noise.Mechanism != "none" || res.Dataset != fedjobs.DefaultDataset {
			t.Errorf("round %s (%s): contributors %v, noise %+v, dataset %q", res.RoundID, res.Statistic, res.Contributors, res.Noise, res.Dataset)
		}
	}
	t.Logf("%d users: thresholds round (%d values) %v, means round (%d values) %v, k-means %d rounds %v", total, len(rounds[0].Values),
		tThresholds.Round(time.Millisecond), len(rounds[1].Values), tMeans.Round(time.Millisecond), len(rounds)-2, tKMeans.Round(time.Millisecond))

	// The in-memory provider still serves operator-set statistics.
	vs := setStats(t, c, r, "revenue", 10, -1000, 1000)
	res, err := l.d.SecureSum(ctx, securesum.Spec{Statistic: "revenue", Lo: -1000, Hi: 1000})
	must(t, err)
	if w := sumOf(vs, res.Contributors, 10); len(res.Contributors) != 3 || !slices.Equal(res.Values, w) {
		t.Errorf("plain statistic: %v from %v, want %v", res.Values, res.Contributors, w)
	}
}

// TestJobsOverSecureSumDP runs the thresholds job with DP on (ε = 1) over
// the real secure sum: every site accepts the round's explicit per-user
// sensitivities against its provider's declared bound and contributes, the
// ledger of the provider's dataset pays ε, and every released histogram
// count is within 8 standard deviations of the noise of the exact one.
func TestJobsOverSecureSumDP(t *testing.T) {
	r := seedRand(t)
	sites := randomSites(t, r, 3, 300)
	c := newCluster(t, 3, false)
	keysInit(t, c, 2)
	for i, nd := range c.nodes {
		nd.d.SetProvider(&fedjobs.Provider{Data: sites[i], Inner: nd.d.MemProvider()})
	}
	l := c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := l.d.SetBudget(ctx, fedjobs.DefaultDataset, 2, 1e-5)
	must(t, err)
	sum := &fedjobs.Summer{Runner: l.d}
	rec := &recordingSummer{Summer: &jobs.MemSummer{Sites: sites}}
	if _, err := jobs.RunThresholds(ctx, sum, jobs.Privacy{Epsilon: 1, Delta: 1e-6}); err != nil {
		t.Fatalf("federated thresholds with DP: %v", err)
	}
	if _, err := jobs.RunThresholds(ctx, rec, jobs.Privacy{Epsilon: 1, Delta: 1e-6}); err != nil {
		t.Fatal(err)
	}
	res := sum.Rounds()[0]
	if len(res.Contributors) != 3 || res.Noise.Mechanism != "skellam" || res.Charged.Epsilon != 1 || res.BudgetLeft == nil ||
		math.Abs(res.BudgetLeft.Epsilon-(2-zcdpSpent(1e-5, fsm.Cost{Epsilon: 1, Delta: 1e-6}))) > 1e-9 {
		t.Fatalf("round %s: contributors %v, noise %+v, charged %+v, left %+v", res.RoundID, res.Contributors, res.Noise, res.Charged, res.BudgetLeft)
	}
	// Three of a 2-of-3 key's shares of variance μ/2 each.
	bound := 8 * math.Sqrt(1.5) * res.Noise.Sigma
	exact := rec.last
	worst := 0.0
	for i, v := range res.Values {
		worst = max(worst, math.Abs(float64(v-exact[i])))
	}
	if worst > bound || worst == 0 {
		t.Errorf("largest noise %v over %d counts, want in (0, %v]", worst, len(exact), bound)
	}
	t.Logf("σ = %.2f, largest noise %v over %d counts", res.Noise.Sigma, worst, len(exact))
}

// recordingSummer keeps the last exact sum its summer returned.
type recordingSummer struct {
	jobs.Summer
	last []int64
}

func (s *recordingSummer) Sum(ctx context.Context, q jobs.Query) ([]int64, error) {
	v, err := s.Summer.Sum(ctx, q)
	s.last = slices.Clone(v)
	return v, err
}
