package jobs

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/analytics/kmeans"
	"github.com/strata-fed/strata/node/analytics/score"
	"github.com/strata-fed/strata/node/analytics/segment"
)

func TestCodecExactRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := exactCodec(36, 1<<24, 1)
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	rec := make([]int64, c.Width())
	want := 0.0
	for range 10000 {
		v := (rng.Float64()*2 - 1) * math.Ldexp(1, rng.IntN(24))
		c.add(rec, 0, v)
		c.add(rec, 1, 1)
		want += v
	}
	got, clamped := c.decode(rec)
	if clamped != 0 || math.Abs(got[0]-want) > 10000*math.Ldexp(1, -37)+1e-9*math.Abs(want) || got[1] != 10000 {
		t.Errorf("decode = %v (clamped %d), want %v, 10000", got, clamped, want)
	}
	for _, v := range rec[:c.Width()-1] {
		if v > 10000<<limbBits || v < -10000<<limbBits {
			t.Errorf("limb sum %d beyond %d users × 2^21", v, 10000)
		}
	}
	c.add(rec, 0, math.NaN())
	c.add(rec, 1, 2)
	if _, clamped := c.decode(rec); clamped != 2 {
		t.Errorf("clamped = %d, want 2", clamped)
	}
}

func TestCodecBalanced(t *testing.T) {
	c := balancedCodec(10, 1000)
	rec := make([]int64, c.Width())
	c.add(rec, 0, 5)
	c.add(rec, 0, 50) // clamped to 10
	c.add(rec, 1, -250)
	got, _ := c.decode(rec)
	if math.Abs(got[0]-15) > 1e-3 || math.Abs(got[1]+250) > 1e-1 {
		t.Errorf("decode = %v, want [15 -250]", got)
	}
	if rec[0] > 2*c.UserBound() {
		t.Errorf("coordinate %d beyond 2 users' bound", rec[0])
	}
}

func TestBinsIndex(t *testing.T) {
	for _, b := range []Bins{RecencyBins, FrequencyBins, MonetaryBins} {
		e := b.Edges
		for i := 1; i < len(e); i++ {
			if e[i] <= e[i-1] {
				t.Fatalf("edges not ascending at %d", i)
			}
		}
		for _, v := range []int64{-5, e[0], e[1], e[len(e)/2] - 1, e[len(e)/2], e[len(e)-1] - 1, e[len(e)-1], math.MaxInt64} {
			i := b.Index(v)
			cv := max(e[0], min(v, e[len(e)-1]-1))
			if i < 0 || i >= b.Len() || cv < e[i] || cv >= e[i+1] {
				t.Errorf("Index(%d) = %d: bin [%d, %d)", v, i, e[i], e[i+1])
			}
		}
	}
	if n := RecencyBins.Len() + FrequencyBins.Len() + MonetaryBins.Len(); n > 8192 {
		t.Errorf("%d bins do not fit one 8,192-slot ciphertext", n)
	}
}

func TestMonotone(t *testing.T) {
	got := monotone([]int64{3, -5, 4, 2, -1, 1})
	// cumulative 3,-2,2,4,3,4 → running max 3,3,3,4,4,4
	if want := []int64{3, 0, 0, 1, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("monotone = %v, want %v", got, want)
	}
	if got := monotone([]int64{1, 0, 2}); !slices.Equal(got, []int64{1, 0, 2}) {
		t.Errorf("monotone of counts = %v", got)
	}
}

// ntileMismatch counts users whose NTile score differs from the threshold
// score, and the bound score.QuantileCuts documents: Σ_j |size of "score ≤
// j" by cuts − P_j| (every mismatched user is on different sides of at least
// one boundary).
func ntileMismatch(vals []int64, cuts score.Cuts, desc bool) (mismatch, bound int) {
	nt := score.NTile(vals, desc, segmodel.Buckets)
	for i, v := range vals {
		if cuts.Score(v) != nt[i] {
			mismatch++
		}
	}
	n := len(vals)
	for j := 1; j < segmodel.Buckets; j++ {
		p := j*(n/segmodel.Buckets) + min(j, n%segmodel.Buckets)
		// Both "score ≤ j" sets are prefixes of the same order (key
		// ascending, or descending for desc; ties by index), so they differ
		// by exactly the difference of their sizes.
		size := 0
		for _, v := range vals {
			if !desc && v < cuts.Points[j-1] || desc && v >= cuts.Points[segmodel.Buckets-1-j] {
				size++
			}
		}
		bound += abs(size - p)
	}
	return mismatch, bound
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func TestThresholdsDPOffEqualPooled(t *testing.T) {
	for _, tc := range []struct {
		name string
		cols segmodel.Columns
	}{
		{"synthetic", synthColumns(30000, 1)},
		{"cdnow", cdnowColumns(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sites := splitColumns(t, tc.cols, 3, 5, nil)
			p := pooled(t, sites)
			th, err := RunThresholds(context.Background(), &MemSummer{Sites: sites}, Privacy{})
			if err != nil {
				t.Fatal(err)
			}
			c := p.Columns()
			for _, d := range []struct {
				name string
				b    Bins
				vals []int64
				hist []int64
				cuts score.Cuts
			}{
				{"recency", RecencyBins, c.RecencyDays, th.HistR, th.Recency},
				{"frequency", FrequencyBins, c.Frequency, th.HistF, th.Frequency},
				{"monetary", MonetaryBins, c.MonetaryCents, th.HistM, th.Monetary},
			} {
				ph := d.b.Histogram(d.vals)
				if !slices.Equal(ph, d.hist) {
					t.Fatalf("%s: federated histogram differs from the pooled one", d.name)
				}
				want, err := score.QuantileCuts(d.b.Edges, ph, segmodel.Buckets)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(d.cuts.Points, want) {
					t.Errorf("%s cuts = %v, pooled %v", d.name, d.cuts.Points, want)
				}
				// Against one bin per distinct value, when every value is in
				// the exact region.
				if exact := slices.Max(d.vals) < d.b.Edges[0]+int64(exactLen(d.b)); exact {
					e, h := distinctHist(d.vals)
					dc, err := score.QuantileCuts(e, h, segmodel.Buckets)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(dc, d.cuts.Points) {
						t.Errorf("%s cuts = %v, exact pooled quantile cuts %v", d.name, d.cuts.Points, dc)
					}
				}
				mis, bound := ntileMismatch(d.vals, d.cuts, d.name == "recency")
				t.Logf("%s: cuts %v; %d of %d users scored differently from pooled NTile (tie bound %d)", d.name, d.cuts.Points, mis, len(d.vals), bound)
				if mis > bound {
					t.Errorf("%s: %d NTile mismatches beyond the tie bound %d", d.name, mis, bound)
				}
			}
			if th.Users != int64(p.Len()) {
				t.Errorf("users = %d, want %d", th.Users, p.Len())
			}
		})
	}
}

func exactLen(b Bins) int {
	n := 0
	for n < b.Len() && b.Exact(n) {
		n++
	}
	return n
}

func distinctHist(vals []int64) (edges, counts []int64) {
	s := slices.Clone(vals)
	slices.Sort(s)
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			edges = append(edges, v)
			counts = append(counts, 0)
		}
		counts[len(counts)-1]++
	}
	return append(edges, s[len(s)-1]+1), counts
}

func TestMeansMediansDPOff(t *testing.T) {
	sites := splitColumns(t, synthColumns(20001, 3), 3, 9, nil)
	p := pooled(t, sites)
	s := &MemSummer{Sites: sites}
	th, err := RunThresholds(context.Background(), s, Privacy{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := RunMeans(context.Background(), s, Privacy{}, th, 50)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Columns()
	recs := make([]segment.Record, p.Len())
	for i := range recs {
		recs[i] = segment.Record{RecencyDays: c.RecencyDays[i], Frequency: c.Frequency[i], MonetaryCents: c.MonetaryCents[i]}
	}
	want := segment.ComputeStats(recs)
	if m.MeanR != want.MeanR || m.MeanF != want.MeanF || m.MeanM != want.MeanM || m.Users != float64(p.Len()) {
		t.Errorf("means %v %v %v (n %v), pooled %v %v %v (n %d)", m.MeanR, m.MeanF, m.MeanM, m.Users, want.MeanR, want.MeanF, want.MeanM, p.Len())
	}
	mr, mf, mm := th.Medians()
	if mr != want.MedianR || mf != want.MedianF {
		t.Errorf("medians R %v F %v, pooled %v %v", mr, mf, want.MedianR, want.MedianF)
	}
	if relDiff(mm, want.MedianM) > 0.005 {
		t.Errorf("median M %v, pooled %v: beyond the 0.5%% bin width", mm, want.MedianM)
	}
}

func TestKMeansDPOffMatchesFitFrom(t *testing.T) {
	cols := synthColumns(12000, 21)
	for split := range uint64(3) {
		sites := splitColumns(t, cols, 3, 100+split, nil)
		p := pooled(t, sites)
		pts := append([]float64(nil), p.Features()...)
		mean, std := kmeans.Standardize(pts, 3)
		res, err := RunKMeans(context.Background(), &MemSummer{Sites: sites}, Privacy{}, KMeansOptions{K: 6, Seed: split})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if relDiff(res.Mean[i], mean[i]) > 1e-9 || relDiff(res.Std[i], std[i]) > 1e-9 {
				t.Errorf("split %d: standardisation %v/%v, pooled %v/%v", split, res.Mean, res.Std, mean, std)
			}
		}
		model, _, err := kmeans.FitFrom(pts, 3, res.Init, kmeans.Options{})
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for j := range model.Centroids {
			for d := range 3 {
				worst = math.Max(worst, math.Abs(model.Centroids[j][d]-res.Centroids[j][d]))
			}
		}
		t.Logf("split %d: %d federated rounds, FitFrom %d iterations, max centroid difference %.3g", split, res.Iterations, model.Iterations, worst)
		if worst > 1e-6 || res.Iterations != model.Iterations {
			t.Errorf("split %d: centroids differ by %g (iterations %d vs %d)", split, worst, res.Iterations, model.Iterations)
		}
		if res.Cost.Rounds != 2+res.Iterations {
			t.Errorf("rounds = %d, want %d", res.Cost.Rounds, 2+res.Iterations)
		}
	}
}

func TestCLVCDNOWSplit(t *testing.T) {
	cols := cdnowColumns(t)
	sites := splitColumns(t, cols, 3, 42, nil)
	s := &MemSummer{Sites: sites}
	res, err := RunCLV(context.Background(), s, Privacy{}, CLVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bg, gg := res.BGNBD, res.GammaGamma
	t.Logf("federated BG/NBD r=%.6f α=%.6f a=%.6f b=%.6f LL=%.4f; Gamma-Gamma p=%.4f q=%.4f γ=%.4f; %d rounds",
		bg.R, bg.Alpha, bg.A, bg.B, bg.LogLik, gg.P, gg.Q, gg.Gamma, res.Cost.Rounds)
	round := func(v float64, d int) float64 { p := math.Pow(10, float64(d)); return math.Round(v*p) / p }
	for _, c := range []struct {
		name      string
		got, want float64
		digits    int
	}{
		{"r", bg.R, 0.243, 3}, {"alpha", bg.Alpha, 4.414, 3}, {"a", bg.A, 0.793, 3}, {"b", bg.B, 2.426, 3},
		{"LL", bg.LogLik, -9582.4, 1}, {"p", gg.P, 6.25, 2}, {"q", gg.Q, 3.74, 2}, {"gamma", gg.Gamma, 15.44, 2},
	} {
		if got := round(c.got, c.digits); got != c.want {
			t.Errorf("%s = %v rounds to %v, want %v", c.name, c.got, got, c.want)
		}
	}
	// Same as the pooled fit.
	p := pooled(t, sites).Columns()
	pbg, err := clv.FitBGNBD(p.CLV)
	if err != nil {
		t.Fatal(err)
	}
	var x, m []float64
	for i := range p.CLV {
		if p.CLV[i].X > 0 && p.MeanValue[i] > 0 {
			x, m = append(x, p.CLV[i].X), append(m, p.MeanValue[i])
		}
	}
	pgg, err := clv.FitGammaGamma(x, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]float64{{bg.R, pbg.R}, {bg.Alpha, pbg.Alpha}, {bg.A, pbg.A}, {bg.B, pbg.B}, {bg.LogLik, pbg.LogLik}, {gg.P, pgg.P}, {gg.Q, pgg.Q}, {gg.Gamma, pgg.Gamma}} {
		if relDiff(c[0], c[1]) > 1e-6 {
			t.Errorf("federated %v, pooled %v: relative difference %g", c[0], c[1], relDiff(c[0], c[1]))
		}
	}
	if res.Users != 2357 || res.GGUsers != 946 {
		t.Errorf("users %v / %v, want 2357 / 946", res.Users, res.GGUsers)
	}
}

func TestCLVGridBounded(t *testing.T) {
	cols := cdnowColumns(t)
	sites := splitColumns(t, cols, 3, 43, nil)
	for _, dp := range []bool{false, true} {
		s := &MemSummer{Sites: sites, DP: dp}
		p := Privacy{}
		if dp {
			p = Privacy{Epsilon: 1, Delta: 1e-6}
		}
		res, err := RunCLV(context.Background(), s, p, CLVOptions{Grid: true})
		if err != nil {
			// With DP the CDNOW sample (2,357 users) is small for a grid;
			// the fit must still end, with a result or an error.
			if dp && (errors.Is(err, ErrFit) || errors.Is(err, ErrNoData)) {
				t.Logf("dp=%v: %v", dp, err)
				continue
			}
			t.Fatal(err)
		}
		bg, gg := res.BGNBD, res.GammaGamma
		t.Logf("grid dp=%v: BG/NBD r=%.3f α=%.3f a=%.3f b=%.3f; Gamma-Gamma p=%.2f q=%.2f γ=%.2f; users %.0f", dp, bg.R, bg.Alpha, bg.A, bg.B, gg.P, gg.Q, gg.Gamma, res.Users)
		if res.Cost.Rounds != 1 || len(s.Log()) != 1 {
			t.Errorf("grid method used %d rounds, want 1", res.Cost.Rounds)
		}
		if !dp && (relDiff(bg.R, 0.243) > 0.3 || relDiff(bg.Alpha, 4.414) > 0.3 || relDiff(gg.P, 6.25) > 0.3) {
			t.Errorf("binned fit far from the exact one: %+v %+v", bg, gg)
		}
	}
}

func TestPrivacySplitComposes(t *testing.T) {
	p := Privacy{Epsilon: 1, Delta: 1e-6}
	total := p.Rho()
	sum := 0.0
	for _, f := range []float64{DefaultSplit.Thresholds, DefaultSplit.Means, DefaultSplit.KMeans, DefaultSplit.CLV, DefaultSplit.Channels} {
		sum += p.Fraction(f).Rho()
	}
	if sum > total*(1+1e-9) || sum < total*0.999 {
		t.Errorf("split ρ %v, total %v", sum, total)
	}
	if err := (Split{Thresholds: 0.9, Means: 0.2}).validate(); !errors.Is(err, ErrPrivacy) {
		t.Errorf("split over 1: %v", err)
	}
}

func TestLocalRejectsBadParams(t *testing.T) {
	d, err := segmodel.NewSiteData("a", synthColumns(10, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Local("nope", nil, d); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown statistic: %v", err)
	}
	for _, st := range Statistics() {
		for _, b := range []string{"", "{", "[]", `{"x":1}`, `{"codec":{"exact":true,"frac":99,"bounds":[1]}}`, `{"v":2}`, `{"p":[0,1,1,1],"codec":{"exact":true,"frac":1,"bounds":[1,1,1,1,1]}}`} {
			if _, err := Local(st, []byte(b), d); !errors.Is(err, ErrParams) {
				t.Errorf("Local(%s, %q) = %v, want ErrParams", st, b, err)
			}
		}
	}
}

func FuzzLocal(f *testing.F) {
	d, err := segmodel.NewSiteData("a", synthColumns(20, 1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(0, []byte(`{"v":1}`))
	f.Add(1, []byte(`{"codec":{"exact":true,"frac":0,"bounds":[1,1,1,1]}}`))
	f.Add(4, []byte(`{"mean":[0,0,0],"std":[1,1,1],"centroids":[[0,0,0]],"codec":{"exact":false,"frac":0,"scale":16,"bounds":[8,8,8,1]}}`))
	f.Add(6, []byte(`{"p":[1,1,1,1],"codec":{"exact":true,"frac":36,"bounds":[16,16,16,16,16]}}`))
	f.Add(8, []byte(`{"v":1,"time_unit_days":7}`))
	stats := Statistics()
	f.Fuzz(func(t *testing.T, i int, params []byte) {
		st := stats[(i%len(stats)+len(stats))%len(stats)]
		_, _ = Local(st, params, d)
	})
}
