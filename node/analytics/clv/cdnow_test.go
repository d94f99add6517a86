package clv

import (
	"bufio"
	"compress/gzip"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cdnowCustomer is one CDNOW sample customer after same-day merging.
type cdnowCustomer struct {
	times  []float64 // weeks since 1970-01-01, ascending, one per day
	values []float64 // dollars per day
}

// Calibration end of the standard CDNOW set-up: 1997-09-30 inclusive.
var cdnowCalEnd = weeks(time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC))

func weeks(d time.Time) float64 { return float64(d.Unix()/86400) / 7 }

// loadCDNOW reads testdata/cdnow_sample.txt.gz (columns: master id, sample
// id 1..2357, YYYYMMDD, CDs, dollars) and merges same-day rows, summing
// dollars. It returns customers indexed by sample id − 1.
func loadCDNOW(t testing.TB) []cdnowCustomer {
	t.Helper()
	f, err := os.Open("testdata/cdnow_sample.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ id, day int }
	spend := map[key]float64{}
	rows := 0
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 5 {
			t.Fatalf("line %d: %d fields", rows+1, len(fs))
		}
		id, err1 := strconv.Atoi(fs[1])
		d, err2 := time.Parse("20060102", fs[2])
		v, err3 := strconv.ParseFloat(fs[4], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("line %d: %v %v %v", rows+1, err1, err2, err3)
		}
		spend[key{id, int(d.Unix() / 86400)}] += v
		rows++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if rows != 6919 || len(spend) != 6696 {
		t.Fatalf("read %d rows, %d customer-days; want 6919, 6696", rows, len(spend))
	}
	keys := make([]key, 0, len(spend))
	for k := range spend {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].id != keys[j].id {
			return keys[i].id < keys[j].id
		}
		return keys[i].day < keys[j].day
	})
	cs := make([]cdnowCustomer, 2357)
	for _, k := range keys {
		if k.id < 1 || k.id > len(cs) {
			t.Fatalf("sample id %d out of range", k.id)
		}
		c := &cs[k.id-1]
		c.times = append(c.times, float64(k.day)/7)
		c.values = append(c.values, spend[k])
	}
	return cs
}

// cdnowSummaries returns the calibration summaries and mean repeat values.
func cdnowSummaries(t testing.TB) ([]Summary, []float64) {
	t.Helper()
	cs := loadCDNOW(t)
	s := make([]Summary, len(cs))
	mbar := make([]float64, len(cs))
	for i, c := range cs {
		if len(c.times) == 0 {
			t.Fatalf("customer %d has no transactions", i+1)
		}
		s[i] = SummaryFromTimes(c.times, cdnowCalEnd)
		mbar[i] = MeanRepeatValue(c.times, c.values, cdnowCalEnd)
	}
	return s, mbar
}

func roundTo(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func TestCDNOWSummaries(t *testing.T) {
	s, _ := cdnowSummaries(t)
	var sumX float64
	repeaters, maxX := 0, 0.0
	for _, c := range s {
		sumX += c.X
		if c.X >= 1 {
			repeaters++
		}
		maxX = math.Max(maxX, c.X)
	}
	if sumX != 2457 || repeaters != 946 || maxX != 29 {
		t.Errorf("Σx = %v, customers with x ≥ 1 = %d, max x = %v; want 2457, 946, 29", sumX, repeaters, maxX)
	}
	// Customer 1 first bought on 1997-01-01: T = 272/7.
	if got, want := s[0].T, 272.0/7; math.Abs(got-want) > 1e-12 {
		t.Errorf("customer 1: T = %v, want %v", got, want)
	}
}

// TestCDNOWFitPublished is the key test: the fit on exactly computed CDNOW
// summaries reproduces Fader, Hardie & Lee (2005) to the published digits.
func TestCDNOWFitPublished(t *testing.T) {
	s, mbar := cdnowSummaries(t)
	bg, err := FitBGNBD(s)
	if err != nil {
		t.Fatalf("FitBGNBD: %v", err)
	}
	t.Logf("BG/NBD: r=%.8f alpha=%.8f a=%.8f b=%.8f LL=%.6f (%d iterations)", bg.R, bg.Alpha, bg.A, bg.B, bg.LogLik, bg.Iterations)
	for _, c := range []struct {
		name      string
		got, want float64
		digits    int
	}{
		{"r", bg.R, 0.243, 3},
		{"alpha", bg.Alpha, 4.414, 3},
		{"a", bg.A, 0.793, 3},
		{"b", bg.B, 2.426, 3},
		{"LL", bg.LogLik, -9582.4, 1},
	} {
		if got := roundTo(c.got, c.digits); got != c.want {
			t.Errorf("BG/NBD %s = %.6f rounds to %v, want %v", c.name, c.got, got, c.want)
		}
	}
	if bg.N != len(s) {
		t.Errorf("BG/NBD N = %d, want %d", bg.N, len(s))
	}
	// The optimum's gradient vanishes.
	_, g := BGNBDLogLik(bg.Params(), s)
	for i, gi := range g {
		if math.Abs(gi*bg.Params()[i]) > 1e-4 {
			t.Errorf("gradient %d at optimum = %g", i, gi)
		}
	}

	x := make([]float64, len(s))
	for i := range s {
		x[i] = s[i].X
	}
	gg, err := FitGammaGamma(x, mbar)
	if err != nil {
		t.Fatalf("FitGammaGamma: %v", err)
	}
	t.Logf("Gamma-Gamma: p=%.8f q=%.8f gamma=%.8f LL=%.6f N=%d (%d iterations)", gg.P, gg.Q, gg.Gamma, gg.LogLik, gg.N, gg.Iterations)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p", gg.P, 6.25}, {"q", gg.Q, 3.74}, {"gamma", gg.Gamma, 15.44},
	} {
		if got := roundTo(c.got, 2); got != c.want {
			t.Errorf("Gamma-Gamma %s = %.6f rounds to %v, want %v", c.name, c.got, got, c.want)
		}
	}
	if gg.N != 946 {
		t.Errorf("Gamma-Gamma N = %d, want 946", gg.N)
	}
}

// loadLifetimesSummary reads lifetimes' rounded CDNOW summary (ID, x, t_x, T, zbar).
func loadLifetimesSummary(t *testing.T) ([]Summary, []float64) {
	t.Helper()
	f, err := os.Open("testdata/cdnow_customers_summary_with_transactions.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var s []Summary
	var z []float64
	sc := bufio.NewScanner(zr)
	for line := 1; sc.Scan(); line++ {
		if line == 1 {
			continue
		}
		fs := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(fs) != 5 {
			t.Fatalf("line %d: %d fields", line, len(fs))
		}
		var v [5]float64
		for i, f := range fs {
			if v[i], err = strconv.ParseFloat(f, 64); err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
		}
		if int(v[0]) != len(s)+1 {
			t.Fatalf("line %d: ID %v out of order", line, v[0])
		}
		s = append(s, Summary{X: v[1], Tx: v[2], T: v[3]})
		z = append(z, v[4])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return s, z
}

// TestCDNOWLifetimesSummary checks our summaries against lifetimes' rounded
// file and that fits on the rounded inputs agree with ours to ~3 digits.
func TestCDNOWLifetimesSummary(t *testing.T) {
	exact, mbar := cdnowSummaries(t)
	rounded, zbar := loadLifetimesSummary(t)
	if len(rounded) != len(exact) {
		t.Fatalf("lifetimes file has %d customers, want %d", len(rounded), len(exact))
	}
	for i := range exact {
		e, r := exact[i], rounded[i]
		if e.X != r.X || math.Abs(e.Tx-r.Tx) > 0.005 || math.Abs(e.T-r.T) > 0.005 || math.Abs(mbar[i]-zbar[i]) > 0.0051 {
			t.Fatalf("customer %d: ours %+v zbar %.4f, lifetimes %+v zbar %.2f", i+1, e, mbar[i], r, zbar[i])
		}
	}
	bgE, err := FitBGNBD(exact)
	if err != nil {
		t.Fatal(err)
	}
	bgR, err := FitBGNBD(rounded)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BG/NBD on lifetimes' rounded summary: r=%.6f alpha=%.6f a=%.6f b=%.6f LL=%.4f", bgR.R, bgR.Alpha, bgR.A, bgR.B, bgR.LogLik)
	for i, pe := range bgE.Params() {
		if pr := bgR.Params()[i]; math.Abs(pr-pe) > 2e-3*pe {
			t.Errorf("BG/NBD param %d: rounded-input fit %.6f, exact %.6f", i, pr, pe)
		}
	}
	x := make([]float64, len(rounded))
	for i := range rounded {
		x[i] = rounded[i].X
	}
	ggE, err := FitGammaGamma(x, mbar)
	if err != nil {
		t.Fatal(err)
	}
	ggR, err := FitGammaGamma(x, zbar)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Gamma-Gamma on lifetimes' rounded zbar: p=%.6f q=%.6f gamma=%.6f", ggR.P, ggR.Q, ggR.Gamma)
	for i, pe := range ggE.Params() {
		if pr := ggR.Params()[i]; math.Abs(pr-pe) > 2e-3*pe {
			t.Errorf("Gamma-Gamma param %d: rounded-input fit %.6f, exact %.6f", i, pr, pe)
		}
	}
}

// TestCDNOWPublishedPredictions checks predictions against Hardie's BG/NBD
// spreadsheet figures as used in lifetimes' tests: at the published
// parameters E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226, and at the fitted
// parameters E[X(t)] at six times to the spreadsheet's 4 decimals (±5e-4).
func TestCDNOWPublishedPredictions(t *testing.T) {
	pub := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	if got := pub.ExpectedPurchases(39, Summary{X: 2, Tx: 30.43, T: 38.86}); roundTo(got, 3) != 1.226 {
		t.Errorf("ExpectedPurchases(39, {2, 30.43, 38.86}) = %.6f, want 1.226", got)
	}
	s, _ := cdnowSummaries(t)
	bg, err := FitBGNBD(s)
	if err != nil {
		t.Fatal(err)
	}
	times := []float64{0.1429, 1, 3, 31.8571, 32, 78}
	want := []float64{0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576}
	for i, tt := range times {
		if got := bg.ExpectedPurchasesNew(tt); math.Abs(got-want[i]) > 5e-4 {
			t.Errorf("ExpectedPurchasesNew(%v) = %.5f, want %.4f", tt, got, want[i])
		}
	}
	// Consistency of the conditional and unconditional expectations: summed
	// over the cohort, E[Y(39) | history] and E[X(T+39)] − E[X(T)] estimate
	// the same holdout total (the law of total expectation under the model).
	var cond, uncond float64
	for _, c := range s {
		cond += bg.ExpectedPurchases(39, c)
		uncond += bg.ExpectedPurchasesNew(c.T+39) - bg.ExpectedPurchasesNew(c.T)
	}
	t.Logf("holdout (39 weeks): conditional %.2f, unconditional %.2f, observed 1882", cond, uncond)
	if math.Abs(cond-uncond) > 0.02*uncond {
		t.Errorf("holdout total: conditional %.2f, unconditional %.2f; want within 2%%", cond, uncond)
	}
}

// TestCDNOWFitStartInvariance fits CDNOW from several start points and checks
// they all reach the same optimum.
func TestCDNOWFitStartInvariance(t *testing.T) {
	s, mbar := cdnowSummaries(t)
	obj := func(p [4]float64) (float64, [4]float64, error) {
		ll, g := BGNBDLogLik(p, s)
		return ll, g, nil
	}
	ref, err := FitBGNBD(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range [][4]float64{{0.1, 0.1, 0.1, 0.1}, {1, 1, 1, 1}, {5, 100, 3, 20}, {0.01, 30, 10, 0.5}} {
		m, err := FitBGNBDObjective(float64(len(s)), start, obj)
		if err != nil {
			t.Errorf("start %v: %v", start, err)
			continue
		}
		for i, v := range m.Params() {
			if math.Abs(v-ref.Params()[i]) > 1e-5*ref.Params()[i] {
				t.Errorf("start %v: param %d = %.8f, want %.8f", start, i, v, ref.Params()[i])
			}
		}
	}
	x := make([]float64, len(s))
	for i := range s {
		x[i] = s[i].X
	}
	gref, err := FitGammaGamma(x, mbar)
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range [][3]float64{{0.1, 0.1, 0.1}, {1, 1, 1}, {20, 10, 200}} {
		m, err := FitGammaGammaObjective(float64(gref.N), start, func(p [3]float64) (float64, [3]float64, error) {
			ll, g := GammaGammaLogLik(p, x, mbar)
			return ll, g, nil
		})
		if err != nil {
			t.Errorf("start %v: %v", start, err)
			continue
		}
		for i, v := range m.Params() {
			if math.Abs(v-gref.Params()[i]) > 1e-5*gref.Params()[i] {
				t.Errorf("start %v: param %d = %.8f, want %.8f", start, i, v, gref.Params()[i])
			}
		}
	}
}
