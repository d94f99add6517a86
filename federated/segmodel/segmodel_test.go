package segmodel

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/analytics/kmeans"
	"github.com/strata-fed/strata/node/analytics/lifecycle"
	"github.com/strata-fed/strata/node/analytics/score"
	"github.com/strata-fed/strata/node/analytics/segment"
)

func testModel() *Model {
	return &Model{
		Format:  FormatVersion,
		Cuts:    CutPoints{Recency: []int64{30, 90, 180, 365}, Frequency: []int64{2, 3, 5, 10}, Monetary: []int64{5000, 10000, 20000, 50000}},
		RuleSet: RuleSetRef{Preset: "rfm11"},
		Stats:   Stats{MeanR: 120.5, MeanF: 3.2, MeanM: 15000, MedianR: 90, MedianF: 2, MedianM: 9000},
		Clusters: Clusters{
			Mean: []float64{4, 1, 5}, Std: []float64{1.5, 0.5, 1.2},
			Centroids:  [][]float64{{0, 0, 0}, {1, 1, 1}, {-1, 0.5, 2}},
			Iterations: 12,
		},
		CLV: &CLV{
			BGNBD:        BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426, LogLik: -9582.4},
			GammaGamma:   GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44, LogLik: -4000},
			TimeUnitDays: 7, Horizon: 52,
		},
		AsOf:    []SiteNote{{Site: "a", Note: "2026-11-01"}},
		Users:   1000,
		Privacy: Privacy{DP: true, Epsilon: 1, Delta: 1e-6, Rho: 0.0174, Jobs: []JobCost{{Job: "thresholds", Rounds: 1, Rho: 0.005}}},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := testModel()
	b1, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b2, err := testModel().Encode()
	if err != nil || !bytes.Equal(b1, b2) {
		t.Fatalf("encoding not deterministic: %v", err)
	}
	d, err := Decode(b1)
	if err != nil {
		t.Fatal(err)
	}
	b3, err := d.Encode()
	if err != nil || !bytes.Equal(b1, b3) || Hash(b1) != Hash(b3) {
		t.Fatalf("decode/encode changed the bytes: %v", err)
	}
	if len(Hash(b1)) != 64 {
		t.Errorf("hash %q is not hex SHA-256", Hash(b1))
	}
	if !slices.Equal(d.Segments(), m.Segments()) || len(d.Segments()) != 11 {
		t.Errorf("segments %v", d.Segments())
	}
	c := d.Clone()
	c.Clusters.Centroids[0][0] = 99
	if d.Clusters.Centroids[0][0] == 99 {
		t.Error("Clone shares centroids")
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := testModel().Encode()
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(*Model)) []byte {
		m := testModel()
		f(m)
		b, _ := jsonMarshal(m)
		return b
	}
	cases := map[string][]byte{
		"empty":          nil,
		"garbage":        []byte("{not json"),
		"trailing":       append(append([]byte(nil), good...), []byte(" {}")...),
		"non-canonical":  append([]byte(" "), good...),
		"unknown field":  bytes.Replace(good, []byte(`{"format":1,`), []byte(`{"format":1,"extra":2,`), 1),
		"format":         mutate(func(m *Model) { m.Format = 2 }),
		"cut count":      mutate(func(m *Model) { m.Cuts.Recency = m.Cuts.Recency[:3] }),
		"cut order":      mutate(func(m *Model) { m.Cuts.Monetary = []int64{5, 4, 3, 2} }),
		"preset":         mutate(func(m *Model) { m.RuleSet.Preset = "nope" }),
		"both rule sets": mutate(func(m *Model) { m.RuleSet.YAML = "default: x" }),
		"reference":      mutate(func(m *Model) { m.RuleSet.Reference = "mode" }),
		"yaml":           mutate(func(m *Model) { m.RuleSet = RuleSetRef{YAML: "rules: 3"} }),
		"std":            mutate(func(m *Model) { m.Clusters.Std = []float64{1, -1, 1} }),
		"centroid dim":   mutate(func(m *Model) { m.Clusters.Centroids[1] = []float64{1} }),
		"no centroids":   mutate(func(m *Model) { m.Clusters.Centroids = nil }),
		"clv params":     mutate(func(m *Model) { m.CLV.BGNBD.A = 0 }),
		"lifecycle":      mutate(func(m *Model) { m.Lifecycle.NewDays = -1 }),
		"privacy":        mutate(func(m *Model) { m.Privacy.Delta = 2 }),
		"users":          mutate(func(m *Model) { m.Users = -1 }),
		"as-of":          mutate(func(m *Model) { m.AsOf = []SiteNote{{}} }),
		"huge":           make([]byte, MaxSize+1),
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Decode = %v, want ErrInvalid", name, err)
		}
	}
	m := testModel()
	m.Stats.MeanR = math.NaN()
	if _, err := m.Encode(); !errors.Is(err, ErrInvalid) {
		t.Errorf("NaN stats: Encode = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	good, err := testModel().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	m := testModel()
	m.CLV = nil
	m.RuleSet = RuleSetRef{YAML: "default: other\nrules:\n  - label: vip\n    when:\n      - {field: r_score, op: \">=\", value: 4}\n"}
	b, err := m.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"format":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded model does not re-encode to its bytes: %v", err)
		}
	})
}

func synthSite(t testing.TB, n int, seed uint64) *SiteData {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	c := Columns{
		RecencyDays: make([]int64, n), Frequency: make([]int64, n), MonetaryCents: make([]int64, n), TenureDays: make([]int64, n),
		PrevDays: make([]int64, n), CLV: make([]clv.Summary, n), MeanValue: make([]float64, n), InCLV: make([]bool, n),
	}
	for i := range n {
		ten := int64(rng.IntN(900))
		f := int64(1 + rng.IntN(12))
		r := ten
		prev := int64(-1)
		if f > 1 {
			r = int64(rng.IntN(int(ten) + 1))
			prev = r + int64(rng.IntN(int(ten-r)+1))
		}
		m := int64(rng.ExpFloat64() * 3000 * float64(f))
		c.RecencyDays[i], c.Frequency[i], c.MonetaryCents[i], c.TenureDays[i], c.PrevDays[i] = r, f, m, ten, prev
		c.CLV[i] = clv.Summary{X: float64(f - 1), T: float64(ten) / 7}
		if f > 1 {
			c.CLV[i].Tx = float64(ten-r) / 7
			c.MeanValue[i] = float64(m) / 100 / float64(f)
		}
		c.InCLV[i] = i%10 != 0
	}
	d, err := NewSiteData("store", c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLabelMatchesDirect recomputes every label from the analytics packages.
func TestLabelMatchesDirect(t *testing.T) {
	d := synthSite(t, 8000, 3)
	for _, disc := range []float64{0, 0.01} {
		m := testModel()
		m.CLV.Discount = disc
		m.RuleSet = RuleSetRef{Preset: "rfm8", Reference: "median"}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		labels, err := Label(m, d)
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := segment.Preset("rfm8")
		rs = rs.WithReference(segment.Median)
		c := d.Columns()
		pts := append([]float64(nil), d.Features()...)
		if err := kmeans.StandardizeWith(pts, 3, m.Clusters.Mean, m.Clusters.Std); err != nil {
			t.Fatal(err)
		}
		cl, err := kmeans.Assign(pts, 3, m.Clusters.Centroids)
		if err != nil {
			t.Fatal(err)
		}
		bg, gg := m.CLV.BGNBD.Model(), m.CLV.GammaGamma.Model()
		for i, u := range labels {
			rec := segment.Record{RecencyDays: c.RecencyDays[i], Frequency: c.Frequency[i], MonetaryCents: c.MonetaryCents[i], TenureDays: c.TenureDays[i]}
			rec.R = score.Cuts{Points: m.Cuts.Recency, LowerIsBetter: true}.Score(rec.RecencyDays)
			rec.F = score.Cuts{Points: m.Cuts.Frequency}.Score(rec.Frequency)
			rec.M = score.Cuts{Points: m.Cuts.Monetary}.Score(rec.MonetaryCents)
			st := lifecycle.Params{}.Stage(lifecycle.History{FirstDays: c.TenureDays[i], LastDays: c.RecencyDays[i], PrevDays: c.PrevDays[i], Orders: c.Frequency[i]})
			if u.R != rec.R || u.F != rec.F || u.M != rec.M || int(u.Segment) != rs.Classify(rec, m.Stats.Segment()) || u.Stage != st || int(u.Cluster) != cl[i] {
				t.Fatalf("user %d: label %+v, want scores %d%d%d segment %d stage %s cluster %d", i, u, rec.R, rec.F, rec.M, rs.Classify(rec, m.Stats.Segment()), st, cl[i])
			}
			if !c.InCLV[i] {
				if !math.IsNaN(u.PAlive) || !math.IsNaN(u.CLV) {
					t.Fatalf("user %d without calibration history has predictions %+v", i, u)
				}
				continue
			}
			s := c.CLV[i]
			e := bg.ExpectedPurchases(52, s)
			mv := c.MeanValue[i]
			if s.X == 0 {
				mv = 0
			}
			want := gg.ExpectedValue(s.X, mv) * e
			if disc > 0 {
				step := 52.0 / 12
				want = clv.CLVSchedule(bg, gg, s, mv, 52, step, math.Pow(1+disc, step)-1)
			}
			if u.PAlive != bg.PAlive(s) || u.ExpectedPurchases != e || math.Abs(u.CLV-want) > 1e-9*math.Abs(want) {
				t.Fatalf("user %d: predictions %v %v %v, want %v %v %v", i, u.PAlive, u.ExpectedPurchases, u.CLV, bg.PAlive(s), e, want)
			}
		}
	}
}

func TestLabelNeedsValidatedModel(t *testing.T) {
	if _, err := Label(testModel(), synthSite(t, 10, 1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Label(unvalidated) = %v", err)
	}
}

func TestAudiences(t *testing.T) {
	m := testModel()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	d := synthSite(t, 5000, 4)
	labels, err := Label(m, d)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, d.Len())
	for i := range ids {
		ids[i] = "u" + strconv.Itoa(i)
	}
	aud, err := Audiences(m, labels, ids)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for j, a := range aud {
		if a.Segment != m.Segments()[j] {
			t.Errorf("audience %d is %q, want %q", j, a.Segment, m.Segments()[j])
		}
		for _, id := range a.IDs {
			i, _ := strconv.Atoi(id[1:])
			if int(labels[i].Segment) != j {
				t.Fatalf("%s in %s, labelled %d", id, a.Segment, labels[i].Segment)
			}
		}
		total += len(a.IDs)
	}
	if total != d.Len() {
		t.Errorf("%d ids in audiences, want %d", total, d.Len())
	}
	if _, err := Audiences(m, labels, ids[1:]); !errors.Is(err, ErrSiteData) {
		t.Errorf("mismatched ids: %v", err)
	}
}

func TestNewSiteDataRejects(t *testing.T) {
	ok := Columns{RecencyDays: []int64{1}, Frequency: []int64{1}, MonetaryCents: []int64{100}, TenureDays: []int64{5}}
	if _, err := NewSiteData("a", ok); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Columns{
		"lengths":        {RecencyDays: []int64{1}, Frequency: []int64{1, 2}, MonetaryCents: []int64{1}, TenureDays: []int64{1}},
		"tenure<recency": {RecencyDays: []int64{9}, Frequency: []int64{1}, MonetaryCents: []int64{1}, TenureDays: []int64{5}},
		"prev":           {RecencyDays: []int64{3}, Frequency: []int64{2}, MonetaryCents: []int64{1}, TenureDays: []int64{5}, PrevDays: []int64{2}},
		"clv tx>T":       {RecencyDays: []int64{1}, Frequency: []int64{2}, MonetaryCents: []int64{1}, TenureDays: []int64{5}, CLV: []clv.Summary{{X: 1, Tx: 2, T: 1}}},
		"mean value":     {RecencyDays: []int64{1}, Frequency: []int64{2}, MonetaryCents: []int64{1}, TenureDays: []int64{5}, MeanValue: []float64{math.Inf(1)}},
	} {
		if _, err := NewSiteData("a", c); !errors.Is(err, ErrSiteData) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func BenchmarkLabel(b *testing.B) {
	d := synthSite(b, 1_000_000, 9)
	m := testModel()
	if err := m.Validate(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Label(m, d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(d.Len()), "ns/user")
}
