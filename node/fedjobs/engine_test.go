package fedjobs

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/analytics/lifecycle"
	"github.com/strata-fed/strata/node/engine"
	"github.com/strata-fed/strata/node/ingest"
)

// engineFixture is testdata/engine_site.csv: repeat buyers, a purchase on
// the calibration end, purchases after it, a user who first bought after
// it, a refund that makes the mean repeat value negative, two orders at one
// time, one order with lines at two times, and an order of two lines.
const engineFixture = "engine_site.csv"

var (
	fixtureAsOf   = time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)
	fixtureCalEnd = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	// Short thresholds, so the fixture's users fall in every stage.
	fixtureStages = lifecycle.Params{NewDays: 25, ActiveDays: 30, AtRiskDays: 60, DormantDays: 90, ReactivationGapDays: 25}
)

// wantColumns computes a site's columns straight from the fixture rows, in
// ascending numeric user id, independently of the engine: distinct orders,
// distinct purchase times, spend per time; times in weeks.
func wantColumns(t *testing.T, unit time.Duration) ([]string, segmodel.Columns) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", engineFixture))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	type user struct {
		orders   map[string]bool // all orders
		calOrder map[string]bool // orders with a line at or before the calibration end
		spend    map[int64]int64 // cents per purchase time (Unix seconds)
	}
	users := map[int]*user{}
	for _, r := range rows[1:] {
		id, err1 := strconv.Atoi(r[0])
		ts, err2 := time.Parse(time.RFC3339, r[2])
		amt, err3 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		u := users[id]
		if u == nil {
			u = &user{orders: map[string]bool{}, calOrder: map[string]bool{}, spend: map[int64]int64{}}
			users[id] = u
		}
		u.orders[r[1]] = true
		if !ts.After(fixtureCalEnd) {
			u.calOrder[r[1]] = true
		}
		u.spend[ts.Unix()] += int64(math.Round(amt * 100))
	}
	var ids []int
	for id := range users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	days := func(from, to int64) int64 { return int64(math.Floor(float64(to-from) / 86400)) }
	asof, cal := fixtureAsOf.Unix(), fixtureCalEnd.Unix()
	var c segmodel.Columns
	var names []string
	for _, id := range ids {
		u := users[id]
		names = append(names, strconv.Itoa(id))
		var times []int64
		var total int64
		for ts, cents := range u.spend {
			times = append(times, ts)
			total += cents
		}
		slices.Sort(times)
		first, last := times[0], times[len(times)-1]
		c.RecencyDays = append(c.RecencyDays, days(last, asof))
		c.TenureDays = append(c.TenureDays, days(first, asof))
		c.Frequency = append(c.Frequency, int64(len(u.orders)))
		c.MonetaryCents = append(c.MonetaryCents, total)
		prev := int64(-1)
		if len(u.orders) >= 2 && len(times) >= 2 {
			prev = days(times[len(times)-2], asof)
		}
		c.PrevDays = append(c.PrevDays, prev)

		var s clv.Summary
		mv := 0.0
		in := first <= cal
		if in {
			x := len(u.calOrder) - 1
			var calLast, calCents int64
			for _, ts := range times {
				if ts <= cal {
					calLast = ts
					calCents += u.spend[ts]
				}
			}
			s = clv.Summary{X: float64(x), T: float64(cal-first) / unit.Seconds()}
			if x > 0 {
				s.Tx = float64(calLast-first) / unit.Seconds()
				mv = max(0, float64(calCents-u.spend[first])/100/float64(x))
			}
		}
		c.CLV = append(c.CLV, s)
		c.MeanValue = append(c.MeanValue, mv)
		c.InCLV = append(c.InCLV, in)
	}
	return names, c
}

func runFixture(t *testing.T, cfg engine.Config) *engine.Result {
	t.Helper()
	cfg.AsOf, cfg.CalibrationEnd, cfg.Lifecycle = fixtureAsOf, fixtureCalEnd, fixtureStages
	src := ingest.DefaultSource(filepath.Join("testdata", engineFixture))
	res, _, err := engine.Run(context.Background(), src, cfg, engine.RunOptions{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sameFloats(got, want []float64, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
			return false
		}
	}
	return true
}

// TestSiteDataFromEngine checks every column against the independent
// computation, in the weeks of the default engine config and in days, for
// the full and the RFM-only analysis (what a daemon runs); and that the
// lifecycle stages a model with the engine's thresholds labels equal the
// engine's own, and its P(alive) reads the calibration summaries.
func TestSiteDataFromEngine(t *testing.T) {
	week := 7 * 24 * time.Hour
	full := runFixture(t, engine.Config{})
	for _, tc := range []struct {
		name string
		res  *engine.Result
		unit time.Duration
	}{
		{"full analysis, weeks", full, week},
		{"rfm only, weeks", runFixture(t, engine.Config{Only: engine.OnlyRFM}), week},
		{"full analysis, days", runFixture(t, engine.Config{TimeUnit: 24 * time.Hour}), 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := SiteDataFromEngine(tc.res, "store")
			if err != nil {
				t.Fatal(err)
			}
			ids, want := wantColumns(t, tc.unit)
			c := d.Columns()
			var gotIDs []string
			for i := range tc.res.Users() {
				gotIDs = append(gotIDs, tc.res.UserID(i))
			}
			if d.Channel != "store" || !slices.Equal(gotIDs, ids) {
				t.Fatalf("channel %q, users %v; want store, %v", d.Channel, gotIDs, ids)
			}
			for _, col := range []struct {
				name      string
				got, want []int64
			}{
				{"recency", c.RecencyDays, want.RecencyDays}, {"frequency", c.Frequency, want.Frequency},
				{"monetary", c.MonetaryCents, want.MonetaryCents}, {"tenure", c.TenureDays, want.TenureDays},
				{"prev", c.PrevDays, want.PrevDays},
			} {
				if !slices.Equal(col.got, col.want) {
					t.Errorf("%s = %v, want %v", col.name, col.got, col.want)
				}
			}
			var gx, gtx, gT, wx, wtx, wT []float64
			for i := range c.CLV {
				gx, gtx, gT = append(gx, c.CLV[i].X), append(gtx, c.CLV[i].Tx), append(gT, c.CLV[i].T)
				wx, wtx, wT = append(wx, want.CLV[i].X), append(wtx, want.CLV[i].Tx), append(wT, want.CLV[i].T)
			}
			if !slices.Equal(gx, wx) || !sameFloats(gtx, wtx, 1e-12) || !sameFloats(gT, wT, 1e-12) {
				t.Errorf("clv summaries = %+v, want %+v", c.CLV, want.CLV)
			}
			if !sameFloats(c.MeanValue, want.MeanValue, 1e-12) || !slices.Equal(c.InCLV, want.InCLV) {
				t.Errorf("mean values %v, in clv %v; want %v, %v", c.MeanValue, c.InCLV, want.MeanValue, want.InCLV)
			}
		})
	}

	// The RFM-only analysis a daemon runs gives the same data as the full one.
	d, err := SiteDataFromEngine(full, "store")
	if err != nil {
		t.Fatal(err)
	}
	rfm, err := SiteDataFromEngine(runFixture(t, engine.Config{Only: engine.OnlyRFM}), "store")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Columns(), rfm.Columns()) {
		t.Errorf("rfm-only site data %+v, full %+v", *rfm.Columns(), *d.Columns())
	}

	// A model with the engine's lifecycle thresholds labels the engine's
	// stages; P(alive) comes from the calibration summaries.
	bg := segmodel.BGNBD{R: 0.5, Alpha: 4, A: 0.8, B: 2.5}
	m := &segmodel.Model{
		Format:  segmodel.FormatVersion,
		Cuts:    segmodel.CutPoints{Recency: []int64{10, 20, 30, 40}, Frequency: []int64{2, 3, 4, 5}, Monetary: []int64{1000, 2000, 3000, 4000}},
		RuleSet: segmodel.RuleSetRef{Preset: "rfm11"},
		Lifecycle: segmodel.Lifecycle{NewDays: fixtureStages.NewDays, ActiveDays: fixtureStages.ActiveDays, AtRiskDays: fixtureStages.AtRiskDays,
			DormantDays: fixtureStages.DormantDays, ReactivationGapDays: fixtureStages.ReactivationGapDays},
		Clusters: segmodel.Clusters{Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}, Centroids: [][]float64{{0, 0, 0}}},
		CLV:      &segmodel.CLV{BGNBD: bg, GammaGamma: segmodel.GammaGamma{P: 6, Q: 4, Gamma: 15}, TimeUnitDays: 7, Horizon: 52},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	labels, err := segmodel.Label(m, d)
	if err != nil {
		t.Fatal(err)
	}
	_, want := wantColumns(t, week)
	stages := map[lifecycle.Stage]bool{}
	for i, l := range labels {
		stages[l.Stage] = true
		if l.Stage != full.Stage[i] || l.Stage == lifecycle.Unknown {
			t.Errorf("user %s: model stage %q, engine stage %q", full.UserID(i), l.Stage, full.Stage[i])
		}
		pa := bg.Model().PAlive(want.CLV[i])
		if !want.InCLV[i] {
			pa = math.NaN()
		}
		if !(math.Abs(l.PAlive-pa) < 1e-12) && !(math.IsNaN(pa) && math.IsNaN(l.PAlive)) {
			t.Errorf("user %s: P(alive) %v, want %v", full.UserID(i), l.PAlive, pa)
		}
	}
	if len(stages) < 5 {
		t.Errorf("the fixture covers stages %v only", stages)
	}

	if _, err := SiteDataFromEngine(nil, "x"); !errors.Is(err, ErrEngine) {
		t.Errorf("nil result: %v, want ErrEngine", err)
	}
}
