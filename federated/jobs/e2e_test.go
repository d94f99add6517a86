package jobs

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-fed/strata/dp/budget"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/analytics/kmeans"
	"github.com/strata-fed/strata/node/analytics/score"
	"github.com/strata-fed/strata/node/analytics/segment"
)

var channels3 = []string{"store", "marketplace", "miniprogram"}

func sameLabel(a, b segmodel.UserLabel) bool {
	eq := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	return a.R == b.R && a.F == b.F && a.M == b.M && a.Segment == b.Segment && a.Stage == b.Stage &&
		a.Cluster == b.Cluster && eq(a.PAlive, b.PAlive) && eq(a.ExpectedPurchases, b.ExpectedPurchases) && eq(a.CLV, b.CLV)
}

// TestEndToEndDPOff runs every job over three sites through the exact
// in-memory summer and checks the model against the pooled computation.
func TestEndToEndDPOff(t *testing.T) {
	ctx := context.Background()
	sites := splitColumns(t, synthColumns(9000, 77), 3, 78, channels3)
	p := pooled(t, sites)
	s := &MemSummer{Sites: sites}
	res, err := Run(ctx, s, Options{RuleSet: segmodel.RuleSetRef{Preset: "rfm8"}, Channels: channels3, KMeans: KMeansOptions{K: 8, Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model
	c := p.Columns()

	// Thresholds: those of the pooled histograms.
	for _, d := range []struct {
		b    Bins
		vals []int64
		got  []int64
	}{{RecencyBins, c.RecencyDays, m.Cuts.Recency}, {FrequencyBins, c.Frequency, m.Cuts.Frequency}, {MonetaryBins, c.MonetaryCents, m.Cuts.Monetary}} {
		want, err := score.QuantileCuts(d.b.Edges, d.b.Histogram(d.vals), segmodel.Buckets)
		if err != nil || !slices.Equal(want, d.got) {
			t.Errorf("cuts %v, pooled %v (%v)", d.got, want, err)
		}
	}

	// k-means: centralised FitFrom on the pooled standardised points from
	// the same initial centroids.
	pts := append([]float64(nil), p.Features()...)
	kmeans.Standardize(pts, 3)
	km, _, err := kmeans.FitFrom(pts, 3, res.KMeans.Init, kmeans.Options{})
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for j := range km.Centroids {
		for d := range 3 {
			worst = math.Max(worst, math.Abs(km.Centroids[j][d]-m.Clusters.Centroids[j][d]))
		}
	}
	t.Logf("k-means: %d rounds, max centroid difference to FitFrom %.3g", res.KMeans.Iterations, worst)
	if worst > 1e-6 {
		t.Errorf("k-means centroids differ from FitFrom by %g", worst)
	}

	// CLV: the pooled fits.
	pbg, err := clv.FitBGNBD(c.CLV)
	if err != nil {
		t.Fatal(err)
	}
	var x, mv []float64
	for i := range c.CLV {
		if c.CLV[i].X > 0 && c.MeanValue[i] > 0 {
			x, mv = append(x, c.CLV[i].X), append(mv, c.MeanValue[i])
		}
	}
	pgg, err := clv.FitGammaGamma(x, mv)
	if err != nil {
		t.Fatal(err)
	}
	cm := m.CLV
	worstRel := 0.0
	for _, v := range [][2]float64{{cm.BGNBD.R, pbg.R}, {cm.BGNBD.Alpha, pbg.Alpha}, {cm.BGNBD.A, pbg.A}, {cm.BGNBD.B, pbg.B}, {cm.GammaGamma.P, pgg.P}, {cm.GammaGamma.Q, pgg.Q}, {cm.GammaGamma.Gamma, pgg.Gamma}} {
		worstRel = math.Max(worstRel, relDiff(v[0], v[1]))
	}
	t.Logf("clv: federated BG/NBD %+v, Gamma-Gamma %+v", cm.BGNBD, cm.GammaGamma)
	t.Logf("clv: max relative difference to the pooled fits %.3g (%d rounds)", worstRel, res.CLV.Cost.Rounds)
	if worstRel > 1e-6 {
		t.Errorf("clv parameters differ from the pooled fit by %g relative", worstRel)
	}

	// Model round trip.
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := segmodel.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("model: %d bytes, hash %s", len(enc), segmodel.Hash(enc)[:16])

	// Labels: per site = pooled.
	want, err := segmodel.Label(dec, p)
	if err != nil {
		t.Fatal(err)
	}
	var got []segmodel.UserLabel
	counts := make([][]int64, len(sites))
	revenue := make([][]int64, len(sites))
	for si, d := range sites {
		l, err := segmodel.Label(dec, d)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l...)
		counts[si] = make([]int64, len(m.Segments()))
		revenue[si] = make([]int64, len(m.Segments()))
		for i, u := range l {
			counts[si][u.Segment]++
			revenue[si][u.Segment] += d.Columns().MonetaryCents[i]
		}
	}
	for i := range want {
		if !sameLabel(got[i], want[i]) {
			t.Fatalf("user %d: site label %+v, pooled %+v", i, got[i], want[i])
		}
	}

	// Segment × channel counts are exact.
	ch := res.Channels
	for ci := range channels3 {
		for sg := range ch.Segments {
			cell := ch.Cell(ci, sg)
			if cell.Users != float64(counts[ci][sg]) || cell.RevenueCents != float64(revenue[ci][sg]) {
				t.Errorf("%s × %s: %v users, %v cents; want %d, %d", cell.Channel, cell.Segment, cell.Users, cell.RevenueCents, counts[ci][sg], revenue[ci][sg])
			}
		}
	}
	if m.Privacy.DP || m.Privacy.Rho != 0 {
		t.Errorf("DP off model records privacy %+v", m.Privacy)
	}
}

// segmentSizes counts users per segment of m's rule set over all sites,
// scoring with m's cuts and comparing with m's stats (what Label does for
// the segment, without the clusters and CLV predictions).
func segmentSizes(t *testing.T, m *segmodel.Model, sites []*segmodel.SiteData) []int {
	t.Helper()
	rs, err := segment.Preset(m.RuleSet.Preset)
	if err != nil {
		t.Fatal(err)
	}
	if m.RuleSet.Reference != "" {
		rs = rs.WithReference(segment.Reference(m.RuleSet.Reference))
	}
	rc := score.Cuts{Points: m.Cuts.Recency, LowerIsBetter: true}
	fc, mc := score.Cuts{Points: m.Cuts.Frequency}, score.Cuts{Points: m.Cuts.Monetary}
	st := m.Stats.Segment()
	out := make([]int, len(rs.Segments()))
	for _, d := range sites {
		c := d.Columns()
		for i := range d.Len() {
			r := segment.Record{RecencyDays: c.RecencyDays[i], Frequency: c.Frequency[i], MonetaryCents: c.MonetaryCents[i], TenureDays: c.TenureDays[i]}
			r.R, r.F, r.M = rc.Score(r.RecencyDays), fc.Score(r.Frequency), mc.Score(r.MonetaryCents)
			out[rs.Classify(r, st)]++
		}
	}
	return out
}

func withRuleSet(t *testing.T, m *segmodel.Model, rs segmodel.RuleSetRef) *segmodel.Model {
	t.Helper()
	c := m.Clone()
	c.RuleSet = rs
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEndToEndDPOn runs the pipeline at a total ε = 1 (δ = 1e-6) on 3 ×
// 100,000 synthetic users and checks that segment sizes of segments with
// more than 1,000 users are within 5% of the truth (the DP-off model on the
// same data), for three rule sets relabelled from the same released
// statistics, and that the released segment counts are too.
func TestEndToEndDPOn(t *testing.T) {
	ctx := context.Background()
	sites := splitColumns(t, synthColumns(300000, 5), 3, 6, channels3)
	// Truth: the DP-off thresholds and means on the same data.
	exact := &MemSummer{Sites: sites}
	th, err := RunThresholds(ctx, exact, Privacy{})
	if err != nil {
		t.Fatal(err)
	}
	means, err := RunMeans(ctx, exact, Privacy{}, th, 1)
	if err != nil {
		t.Fatal(err)
	}
	truthModel := func(dp *segmodel.Model) *segmodel.Model {
		m := dp.Clone()
		m.Cuts = segmodel.CutPoints{Recency: th.Recency.Points, Frequency: th.Frequency.Points, Monetary: th.Monetary.Points}
		mr, mf, mm := th.Medians()
		m.Stats = segmodel.Stats{MeanR: means.MeanR, MeanF: means.MeanF, MeanM: means.MeanM, MedianR: mr, MedianF: mf, MedianM: mm}
		return m
	}
	ruleSets := []segmodel.RuleSetRef{{Preset: "rfm11"}, {Preset: "rfm8"}, {Preset: "rfm8", Reference: "median"}, {Preset: "value-tiers"}}
	var truth [][]int
	runs := 3
	if testing.Short() {
		runs = 1
	}
	if v := os.Getenv("STRATA_DP_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STRATA_DP_RUNS=%q: want a positive integer", v)
		}
		runs = n
	}
	priv := Privacy{Epsilon: 1, Delta: 1e-6}
	// Per (rule set, segment): the truth and the errors of every run.
	type row struct {
		ruleSet, segment  string
		truth             int
		sizeErr, countErr []float64 // % per run
	}
	var rows []*row
	rowOf := make(map[string]*row)
	worst := make(map[string]float64)
	for run := range runs {
		s := &MemSummer{Sites: sites, DP: true}
		t1 := time.Now()
		res, err := Run(ctx, s, Options{Privacy: priv, Channels: channels3})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: DP run %v, k-means %d rounds, means %.4g %.4g %.6g (truth %.4g %.4g %.6g), clv %s %+v %+v", run, time.Since(t1), res.KMeans.Iterations,
			res.Means.MeanR, res.Means.MeanF, res.Means.MeanM, means.MeanR, means.MeanF, means.MeanM, res.CLV.Method, res.CLV.BGNBD, res.CLV.GammaGamma)
		// Budget: what the summer charged composes within ε = 1.
		rho := 0.0
		for _, r := range s.Log() {
			rho += r.Rho
		}
		if eps := budget.LedgerEpsilon(rho, priv.Delta); eps > priv.Epsilon+1e-9 || rho > priv.Rho()*(1+1e-9) {
			t.Errorf("run %d: spent ρ %v (ε %v), budget ρ %v", run, rho, eps, priv.Rho())
		}
		if truth == nil {
			for _, rs := range ruleSets {
				truth = append(truth, segmentSizes(t, withRuleSet(t, truthModel(res.Model), rs), sites))
			}
		}
		dpCounts := res.Channels.SegmentUsers()
		for i, rs := range ruleSets {
			name := rs.Preset
			if rs.Reference != "" {
				name += "/" + rs.Reference
			}
			m := withRuleSet(t, res.Model, rs)
			sizes := segmentSizes(t, m, sites)
			for sg, seg := range m.Segments() {
				tr := truth[i][sg]
				if tr <= 1000 {
					continue
				}
				e := float64(sizes[sg]-tr) / float64(tr) * 100
				worst[name] = math.Max(worst[name], math.Abs(e))
				// rfm8 against means is reported, not asserted: on these data
				// mean F is 3.05, so "F high" is F ≥ 4 and a mean error of
				// 0.05 (1.6%) moves every F = 3 user (see the report).
				if math.Abs(e) > 5 && name != "rfm8" {
					t.Errorf("run %d %s %s: size %d, truth %d (%.2f%%)", run, name, seg, sizes[sg], tr, e)
				}
				rw := rowOf[name+"/"+seg]
				if rw == nil {
					rw = &row{ruleSet: name, segment: seg, truth: tr}
					rowOf[name+"/"+seg] = rw
					rows = append(rows, rw)
				}
				rw.sizeErr = append(rw.sizeErr, e)
				if i == 0 {
					ce := (dpCounts[sg] - float64(sizes[sg])) / float64(sizes[sg]) * 100
					rw.countErr = append(rw.countErr, ce)
					if math.Abs(ce) > 5 {
						t.Errorf("run %d %s: released count %.0f, labelled %d", run, seg, dpCounts[sg], sizes[sg])
					}
				}
			}
		}
		if run == 0 {
			t.Logf("spent ρ %.5f of %.5f (ε %.4f)", rho, priv.Rho(), budget.LedgerEpsilon(rho, priv.Delta))
		}
	}
	meanMax := func(v []float64) (string, string) {
		if len(v) == 0 {
			return "", ""
		}
		var sum, mx float64
		for _, x := range v {
			sum += math.Abs(x)
			mx = math.Max(mx, math.Abs(x))
		}
		return fmt.Sprintf("%.2f", sum/float64(len(v))), fmt.Sprintf("%.2f", mx)
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n| rule set | segment | users (truth) | size error %%: mean | max | released count error %%: mean | max |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, rw := range rows {
		sm, sx := meanMax(rw.sizeErr)
		cm, cx := meanMax(rw.countErr)
		fmt.Fprintf(&table, "| %s | %s | %d | %s | %s | %s | %s |\n", rw.ruleSet, rw.segment, rw.truth, sm, sx, cm, cx)
	}
	t.Logf("segment sizes at ε = 1, DP model vs DP-off model, |error| over %d runs:%s", runs, table.String())
	t.Logf("worst |error| %% over %d runs: %v", runs, worst)
}
