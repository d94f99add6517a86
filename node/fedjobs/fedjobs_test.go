package fedjobs

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-fed/strata/federated/he"
	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/clv"
)

// randomColumns returns n random users with CLV calibration summaries.
func randomColumns(r *rand.Rand, n int) segmodel.Columns {
	var c segmodel.Columns
	for range n {
		appendUser(r, &c)
	}
	return c
}

// appendUser appends one user whose purchases follow a BG/NBD process
// (Poisson purchases at a gamma-distributed rate, dropping out after each
// with probability p) over 10..80 weeks, with log-normal spends.
func appendUser(r *rand.Rand, c *segmodel.Columns) {
	T := 10 + 70*r.Float64()
	lambda := 0.05 + r.ExpFloat64()*0.3
	x, tx := 0, 0.0
	for t := r.ExpFloat64() / lambda; t <= T; t += r.ExpFloat64() / lambda {
		x, tx = x+1, t
		if r.Float64() < 0.15 {
			break
		}
	}
	tenure := int64(T * 7)
	rec := tenure - int64(tx*7)
	prev := int64(-1)
	if x > 0 {
		prev = tenure
	}
	c.TenureDays = append(c.TenureDays, tenure)
	c.RecencyDays = append(c.RecencyDays, rec)
	c.Frequency = append(c.Frequency, int64(x+1))
	c.PrevDays = append(c.PrevDays, prev)
	c.MonetaryCents = append(c.MonetaryCents, int64(math.Exp(7+r.NormFloat64())))
	s := clv.Summary{X: float64(x), T: T}
	mv := 0.0
	if x > 0 {
		s.Tx = tx
		mv = math.Exp(3 + 0.5*r.NormFloat64())
	}
	c.CLV = append(c.CLV, s)
	c.MeanValue = append(c.MeanValue, mv)
	c.InCLV = append(c.InCLV, true)
}

func siteData(t *testing.T, channel string, c segmodel.Columns) *segmodel.SiteData {
	t.Helper()
	d, err := segmodel.NewSiteData(channel, c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func cloneColumns(c *segmodel.Columns) segmodel.Columns {
	return segmodel.Columns{
		RecencyDays: slices.Clone(c.RecencyDays), Frequency: slices.Clone(c.Frequency),
		MonetaryCents: slices.Clone(c.MonetaryCents), TenureDays: slices.Clone(c.TenureDays),
		PrevDays: slices.Clone(c.PrevDays), CLV: slices.Clone(c.CLV),
		MeanValue: slices.Clone(c.MeanValue), InCLV: slices.Clone(c.InCLV),
	}
}

// recorder is a jobs.Summer that records the queries it forwards.
type recorder struct {
	jobs.Summer
	queries []jobs.Query
}

func (r *recorder) Sum(ctx context.Context, q jobs.Query) ([]int64, error) {
	r.queries = append(r.queries, q)
	return r.Summer.Sum(ctx, q)
}

// TestSensitivityCoversJobs: the provider knows exactly jobs' statistics.
func TestSensitivityCoversJobs(t *testing.T) {
	var names []string
	for n := range sensitivities {
		names = append(names, n)
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(jobs.Statistics()))
	if !slices.Equal(names, want) {
		t.Fatalf("sensitivities cover %v, jobs has %v", names, want)
	}
}

// TestBindingBoundsUsers runs the whole pipeline (DP on and off, with the
// channel report) over an in-memory summer, and for every query the jobs
// issued checks that (1) a DP query's sensitivities cover the Binding the
// provider declares, so sites contribute, and (2) adding one random user to
// a site moves the site's vector by at most the declared L1 and L2.
func TestBindingBoundsUsers(t *testing.T) {
	// A fixed seed keeps the run reproducible (the exact CLV fit on such
	// small random data is covered over many seeds by jobs'
	// TestCLVExactManySeeds).
	r := rand.New(rand.NewPCG(5848326503802447872, 1))
	chans := []string{"store", "marketplace", "mini-program"}
	var sites []*segmodel.SiteData
	for _, ch := range chans {
		sites = append(sites, siteData(t, ch, randomColumns(r, 300)))
	}
	ctx := context.Background()
	all := map[string]bool{}
	for _, p := range []jobs.Privacy{{}, {Epsilon: 1e4, Delta: 1e-6}} {
		rec := &recorder{Summer: &jobs.MemSummer{Sites: sites, DP: !p.Off()}}
		opt := jobs.Options{Privacy: p, Channels: chans}
		opt.KMeans.K = 3
		if _, err := jobs.Run(ctx, rec, opt); err != nil {
			t.Fatalf("run (ε=%v): %v", p.Epsilon, err)
		}
		seen := map[string]bool{}
		for _, q := range rec.queries {
			seen[q.Statistic] = true
			prov := &Provider{Data: sites[0]}
			b, err := prov.Binding(ctx, q.Statistic, q.Params)
			if err != nil {
				t.Fatalf("binding %s: %v", q.Statistic, err)
			}
			if b.Dataset != DefaultDataset {
				t.Errorf("%s bound to %q", q.Statistic, b.Dataset)
			}
			if l1, l2 := q.Sensitivity(); !p.Off() && (l1 < b.L1 || l2 < b.L2) {
				t.Errorf("%s: query sensitivity (%v, %v) below the provider's (%v, %v): sites would refuse", q.Statistic, l1, l2, b.L1, b.L2)
			}
			base, err := prov.Statistic(ctx, q.Statistic, q.Params)
			if err != nil {
				t.Fatalf("statistic %s: %v", q.Statistic, err)
			}
			for range 5 {
				c := cloneColumns(sites[0].Columns())
				appendUser(r, &c)
				v, err := jobs.Local(q.Statistic, q.Params, siteData(t, chans[0], c))
				if err != nil {
					t.Fatalf("statistic %s: %v", q.Statistic, err)
				}
				var l1, l2 float64
				for i := range v {
					d := math.Abs(float64(v[i] - base[i]))
					l1 += d
					l2 += d * d
				}
				if l1 > b.L1 || math.Sqrt(l2) > b.L2*(1+1e-12) {
					t.Fatalf("%s: one user moved the vector by L1 %v, L2 %v, beyond the declared (%v, %v)", q.Statistic, l1, math.Sqrt(l2), b.L1, b.L2)
				}
			}
		}
		t.Logf("ε=%v: %d queries over %d statistics", p.Epsilon, len(rec.queries), len(seen))
		for n := range seen {
			all[n] = true
		}
	}
	if len(all) != len(jobs.Statistics()) {
		t.Errorf("the runs issued %d of the %d statistics: %v", len(all), len(jobs.Statistics()), all)
	}
}

// TestProviderFallback: other statistics go to the inner provider; errors
// carry securesum's sentinels.
func TestProviderFallback(t *testing.T) {
	ctx := context.Background()
	d := siteData(t, "store", randomColumns(rand.New(rand.NewPCG(1, 2)), 20))
	mem := securesum.NewMemProvider()
	if err := mem.Set("revenue", "sales", []int64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	p := &Provider{Data: d, Dataset: "crm", Inner: mem}
	v, err := p.Statistic(ctx, "revenue", nil)
	if err != nil || !slices.Equal(v, []int64{1, 2, 3}) {
		t.Fatalf("fallback statistic = %v, %v", v, err)
	}
	if b, err := p.Binding(ctx, "revenue", nil); err != nil || b != (securesum.Binding{Dataset: "sales"}) {
		t.Fatalf("fallback binding = %+v, %v", b, err)
	}
	if b, err := p.Binding(ctx, "rfm.hist", []byte(`{"v":1}`)); err != nil || b.Dataset != "crm" || b.L1 != 3 || b.L2 != math.Sqrt(3) {
		t.Fatalf("rfm.hist binding = %+v, %v", b, err)
	}
	if _, err := p.Statistic(ctx, "rfm.hist", []byte(`{"v":2}`)); !errors.Is(err, securesum.ErrBadSpec) {
		t.Errorf("bad params: %v, want ErrBadSpec", err)
	}
	if _, err := p.Binding(ctx, "rfm.sums", []byte(`{}`)); !errors.Is(err, securesum.ErrBadSpec) {
		t.Errorf("codec statistic without codec: %v, want ErrBadSpec", err)
	}
	if _, err := p.Statistic(ctx, "nope", nil); !errors.Is(err, securesum.ErrUnknownStatistic) {
		t.Errorf("unknown statistic: %v, want ErrUnknownStatistic", err)
	}
	bare := &Provider{Data: d}
	if _, err := bare.Binding(ctx, "revenue", nil); !errors.Is(err, securesum.ErrUnknownStatistic) {
		t.Errorf("no inner provider: %v, want ErrUnknownStatistic", err)
	}
	if _, err := (&Provider{}).Statistic(ctx, "rfm.hist", []byte(`{"v":1}`)); !errors.Is(err, ErrConfig) {
		t.Errorf("no data: %v, want ErrConfig", err)
	}
}

// fakeRunner answers with a canned result and records the spec.
type fakeRunner struct {
	spec securesum.Spec
	res  securesum.Result
	keys []securesum.KeyInfo
}

func (f *fakeRunner) SecureSum(_ context.Context, s securesum.Spec) (securesum.Result, error) {
	f.spec = s
	return f.res, nil
}

func (f *fakeRunner) Keys() []securesum.KeyInfo { return f.keys }

func TestSummerSpec(t *testing.T) {
	ctx := context.Background()
	key := securesum.KeyInfo{Epoch: 1, Status: "active", Participants: []string{"a", "b", "c"}, Threshold: 2, HEParams: he.TestPN11QP120.Name}
	f := &fakeRunner{res: securesum.Result{Values: []int64{4, 5}, Noise: securesum.Result{}.Noise}, keys: []securesum.KeyInfo{key}}
	f.res.Noise.Mechanism = "none"
	s := &Summer{Runner: f}
	q := jobs.Query{Statistic: "rfm.hist", Params: []byte(`{"v":1}`), Length: 2, Lo: 0, Hi: 1}
	v, err := s.Sum(ctx, q)
	if err != nil || !slices.Equal(v, []int64{4, 5}) {
		t.Fatalf("Sum = %v, %v", v, err)
	}
	p, err := he.NewParameters(he.TestPN11QP120)
	if err != nil {
		t.Fatal(err)
	}
	sp := f.spec
	if sp.Statistic != "rfm.hist" || string(sp.Params) != `{"v":1}` || sp.Length != 2 || sp.Lo != 0 || sp.Hi != 1 ||
		sp.L1 != 2 || sp.L2 != math.Sqrt2 || sp.Dataset != DefaultDataset || sp.Epsilon != 0 {
		t.Errorf("spec %+v", sp)
	}
	if want := p.MaxAbsInput(3) - 1; sp.MaxAbs != want {
		t.Errorf("DP-off MaxAbs %d, want %d", sp.MaxAbs, want)
	}

	// DP on: the noise tail is left out of the bound, and passes the check.
	q.Epsilon, q.Delta = 1, 1e-6
	spec, err := s.Spec(q)
	if err != nil {
		t.Fatal(err)
	}
	_, mu, _ := jobs.Calibrate(q)
	if tail := 64 * math.Sqrt(mu/2); float64(spec.MaxAbs)+tail > float64(p.MaxAbsInput(3)) || spec.MaxAbs < p.MaxAbsInput(3)-int64(tail)-2 {
		t.Errorf("DP MaxAbs %d with tail %v against %d", spec.MaxAbs, tail, p.MaxAbsInput(3))
	}

	// Releases that do not match the query are errors.
	q.Epsilon, q.Delta = 0, 0
	f.res.Noise.Mechanism = "skellam"
	if _, err := s.Sum(ctx, q); !errors.Is(err, ErrRelease) {
		t.Errorf("noised DP-off release: %v, want ErrRelease", err)
	}
	f.res.Noise.Mechanism = "none"
	q.Length = 3
	if _, err := s.Sum(ctx, q); !errors.Is(err, ErrRelease) {
		t.Errorf("short release: %v, want ErrRelease", err)
	}
	if _, err := (&Summer{}).Sum(ctx, q); !errors.Is(err, ErrConfig) {
		t.Errorf("no runner: %v, want ErrConfig", err)
	}
	f.keys = nil
	if _, err := (&Summer{Runner: f}).Sum(ctx, q); !errors.Is(err, ErrConfig) {
		t.Errorf("no active key: %v, want ErrConfig", err)
	}
	if _, err := (&Summer{Runner: ClientRunner{}}).Spec(q); !errors.Is(err, ErrConfig) {
		t.Errorf("client runner without MaxAbs: %v, want ErrConfig", err)
	}
	if sp, err := (&Summer{Runner: ClientRunner{}, MaxAbs: 1000, Dataset: "crm"}).Spec(q); err != nil || sp.MaxAbs != 1000 || sp.Dataset != "crm" {
		t.Errorf("explicit MaxAbs: %+v, %v", sp, err)
	}
}

func newBenchData(n int) (*segmodel.SiteData, error) {
	return segmodel.NewSiteData("store", randomColumns(rand.New(rand.NewPCG(3, 4)), n))
}
