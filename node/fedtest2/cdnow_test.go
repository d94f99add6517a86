package fedtest2

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/engine"
	"github.com/strata-fed/strata/node/fedjobs"
	"github.com/strata-fed/strata/node/ingest"
)

// cdnowSource is the shipped CDNOW 1/10 sample source (same-day purchases
// merged, calibration to 1997-09-30; the data in ../shared/data).
const cdnowSource = "../../deploy/examples/cdnow_sample.yaml"

// cdnowSplit reads the CDNOW sample once, hands each row to the engine
// accumulator of its user's site (users assigned to one of n sites at
// random, seeded) and to one for the whole file, and analyses each as the
// engine does for the whole file (as-of the last purchase + 1 day, weeks).
// It returns the per-site results and the whole file's.
func cdnowSplit(t *testing.T, n int, seed uint64) ([]*engine.Result, *engine.Result) {
	t.Helper()
	src, err := ingest.LoadSource(cdnowSource)
	if err != nil {
		t.Fatalf("%v (the shared data sets must be present in ../shared/data)", err)
	}
	cal, err := ingest.ParseTime(src, src.Analysis.CalibrationEnd)
	must(t, err)
	rng := rand.New(rand.NewPCG(seed, 0xcd))
	site := map[string]int{}
	accs := make([]*engine.Accumulator, n)
	for i := range accs {
		accs[i] = engine.NewAccumulator(cal.Unix(), true)
		defer accs[i].Finish()
	}
	whole := engine.NewAccumulator(cal.Unix(), true)
	defer whole.Finish()
	var last int64
	ctx := context.Background()
	_, err = src.Read(ctx, func(r *ingest.Row) error {
		j, ok := site[string(r.User)]
		if !ok {
			j = rng.IntN(n)
			site[string(r.User)] = j
		}
		last = max(last, r.Unix)
		if err := whole.Add(r); err != nil {
			return err
		}
		return accs[j].Add(r)
	}, nil)
	must(t, err)
	// One as-of for every site: the whole file's.
	cfg := engine.Config{AsOf: time.Unix(last+86400, 0), CalibrationEnd: cal}
	var sites []*engine.Result
	for _, a := range accs {
		res, err := engine.Analyze(ctx, a, cfg)
		must(t, err)
		sites = append(sites, res)
	}
	all, err := engine.Analyze(ctx, whole, cfg)
	must(t, err)
	return sites, all
}

// TestCLVCDNOWOverSecureSum is the federated CLV fit end to end on real
// data: the CDNOW 1/10 sample split at random by user across 3 sites, each
// analysed by the local engine and turned into its SiteData by
// fedjobs.SiteDataFromEngine, served by fedjobs.Provider on 3 in-process
// daemons (QUIC, raft, a 2-of-3 lattigo key, DP off); jobs.RunCLV over
// fedjobs.Summer (one secure-sum round per likelihood evaluation) must
// reproduce the published BG/NBD (r 0.243, α 4.414, a 0.793, b 2.426, LL
// −9582.4) and Gamma-Gamma (p 6.25, q 3.74, γ 15.44) estimates, and equal
// the local engine's fit on the whole file to 1e-6 relative. Before the
// rounds, each site's data is checked against the whole-file analysis:
// same calibration summaries per user, and the engine's lifecycle stages
// from the SiteData's histories.
//
// The exact fit takes about 170 rounds. With -short it runs the start round
// and the first 10 BG/NBD evaluations over the daemons and checks them
// against the same queries over jobs' in-memory summer on the same data.
func TestCLVCDNOWOverSecureSum(t *testing.T) {
	results, whole := cdnowSplit(t, 3, 1)
	wholeIdx := map[string]int{}
	for i := range whole.Users() {
		wholeIdx[whole.UserID(i)] = i
	}
	var sites []*segmodel.SiteData
	users := 0
	for j, res := range results {
		d, err := fedjobs.SiteDataFromEngine(res, []string{"store", "marketplace", "mini-program"}[j])
		must(t, err)
		c := d.Columns()
		for i := range d.Len() {
			k, ok := wholeIdx[res.UserID(i)]
			s, mv, in := whole.Calibration(k, 0)
			if !ok || c.CLV[i] != s || c.MeanValue[i] != max(mv, 0) || c.InCLV[i] != in {
				t.Fatalf("site %d user %s: summary %+v, mean value %v, in clv %v; whole file %+v, %v, %v",
					j, res.UserID(i), c.CLV[i], c.MeanValue[i], c.InCLV[i], s, mv, in)
			}
			if st := res.Config.Lifecycle.Stage(d.History(i)); st != res.Stage[i] {
				t.Fatalf("site %d user %s: stage from site data %q, engine %q", j, res.UserID(i), st, res.Stage[i])
			}
		}
		users += d.Len()
		sites = append(sites, d)
	}
	if users != 2357 {
		t.Fatalf("%d users over the sites, want 2357", users)
	}
	t.Logf("site users %d, %d, %d", sites[0].Len(), sites[1].Len(), sites[2].Len())

	t0 := time.Now()
	c := newCluster(t, 3, true)
	keysInit(t, c, 2)
	for i, nd := range c.nodes {
		nd.d.SetProvider(&fedjobs.Provider{Data: sites[i], Inner: nd.d.MemProvider()})
	}
	l := c.waitLeader()
	tSetup := time.Since(t0)
	sum := &fedjobs.Summer{Runner: l.d}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if testing.Short() {
		cdnowProbe(t, ctx, sum, sites)
		return
	}
	t0 = time.Now()
	res, err := jobs.RunCLV(ctx, sum, jobs.Privacy{}, jobs.CLVOptions{})
	if err != nil {
		t.Fatalf("federated CLV: %v", err)
	}
	tFit := time.Since(t0)
	bg, gg := res.BGNBD, res.GammaGamma
	rounds := sum.Rounds()
	t.Logf("federated BG/NBD r=%.6f α=%.6f a=%.6f b=%.6f LL=%.4f; Gamma-Gamma p=%.4f q=%.4f γ=%.4f",
		bg.R, bg.Alpha, bg.A, bg.B, bg.LogLik, gg.P, gg.Q, gg.Gamma)
	perStat := map[string]int{}
	for _, r := range rounds {
		perStat[r.Statistic]++
	}
	t.Logf("cluster and key set-up %v; fit %d rounds %v in %v (%v per round)", tSetup.Round(time.Millisecond),
		len(rounds), perStat, tFit.Round(time.Millisecond), (tFit / time.Duration(max(1, len(rounds)))).Round(time.Microsecond))

	round := func(v float64, d int) float64 { p := math.Pow(10, float64(d)); return math.Round(v*p) / p }
	wbg, wgg := whole.BGNBD, whole.GammaGamma
	if whole.CLVError != "" {
		t.Fatalf("whole-file engine fit: %s", whole.CLVError)
	}
	worst := 0.0
	for _, p := range []struct {
		name            string
		got, want, pool float64
		digits          int
	}{
		{"r", bg.R, 0.243, wbg.R, 3}, {"alpha", bg.Alpha, 4.414, wbg.Alpha, 3}, {"a", bg.A, 0.793, wbg.A, 3}, {"b", bg.B, 2.426, wbg.B, 3},
		{"LL", bg.LogLik, -9582.4, wbg.LogLik, 1}, {"p", gg.P, 6.25, wgg.P, 2}, {"q", gg.Q, 3.74, wgg.Q, 2}, {"gamma", gg.Gamma, 15.44, wgg.Gamma, 2},
	} {
		if got := round(p.got, p.digits); got != p.want {
			t.Errorf("%s = %v rounds to %v, published %v", p.name, p.got, got, p.want)
		}
		d := math.Abs(p.got-p.pool) / math.Abs(p.pool)
		worst = max(worst, d)
		if d > 1e-6 {
			t.Errorf("%s = %v, whole-file engine %v: relative difference %.3g", p.name, p.got, p.pool, d)
		}
	}
	t.Logf("largest relative difference from the whole-file engine fit: %.2g", worst)
	if res.Users != 2357 || res.GGUsers != 946 || res.Method != "exact" {
		t.Errorf("users %v / %v, method %q; want 2357 / 946, exact", res.Users, res.GGUsers, res.Method)
	}
	if len(rounds) != res.Cost.Rounds {
		t.Errorf("%d rounds ran, the fit counts %d", len(rounds), res.Cost.Rounds)
	}
	for _, r := range rounds {
		if len(r.Contributors) != 3 || r.Noise.Mechanism != "none" || r.Dataset != fedjobs.DefaultDataset {
			t.Fatalf("round %s (%s): contributors %v, noise %+v, dataset %q", r.RoundID, r.Statistic, r.Contributors, r.Noise, r.Dataset)
		}
	}
}

// cdnowProbe is the -short part of TestCLVCDNOWOverSecureSum: the fit
// capped at 10 BG/NBD evaluations (it stops with jobs.ErrFit), over the
// daemons and over jobs' in-memory summer; every released vector equal.
func cdnowProbe(t *testing.T, ctx context.Context, sum *fedjobs.Summer, sites []*segmodel.SiteData) {
	t.Helper()
	const evals = 10
	mem := &sumLog{Summer: &jobs.MemSummer{Sites: sites}}
	for _, s := range []jobs.Summer{sum, mem} {
		if _, err := jobs.RunCLV(ctx, s, jobs.Privacy{}, jobs.CLVOptions{MaxEvals: evals}); !errors.Is(err, jobs.ErrFit) {
			t.Fatalf("capped fit: %v, want jobs.ErrFit", err)
		}
	}
	rounds := sum.Rounds()
	if len(rounds) != 1+evals || len(mem.sums) != len(rounds) {
		t.Fatalf("%d rounds over the daemons, %d in memory; want %d", len(rounds), len(mem.sums), 1+evals)
	}
	for i, r := range rounds {
		if len(r.Contributors) != 3 || r.Noise.Mechanism != "none" || !slices.Equal(r.Values, mem.sums[i]) {
			t.Fatalf("round %d (%s): contributors %v, noise %+v, values %v; in memory %v", i, r.Statistic, r.Contributors, r.Noise, r.Values, mem.sums[i])
		}
	}
}

// sumLog keeps every sum its summer returned.
type sumLog struct {
	jobs.Summer
	sums [][]int64
}

func (s *sumLog) Sum(ctx context.Context, q jobs.Query) ([]int64, error) {
	v, err := s.Summer.Sum(ctx, q)
	if err == nil {
		s.sums = append(s.sums, slices.Clone(v))
	}
	return v, err
}
