package daemon

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/config"
	"github.com/strata-fed/strata/node/ingest"
	"github.com/strata-fed/strata/node/report"
)

// testModel is a small valid model (rfm8: eight segments).
func testModel(t *testing.T) *segmodel.Model {
	t.Helper()
	m := &segmodel.Model{
		Format:  segmodel.FormatVersion,
		Cuts:    segmodel.CutPoints{Recency: []int64{30, 90, 180, 365}, Frequency: []int64{2, 3, 4, 6}, Monetary: []int64{2000, 5000, 10000, 20000}},
		RuleSet: segmodel.RuleSetRef{Preset: "rfm8"},
		Stats:   segmodel.Stats{MeanR: 120, MeanF: 2.5, MeanM: 9000, MedianR: 90, MedianF: 2, MedianM: 6000},
		Clusters: segmodel.Clusters{
			Mean: []float64{4, 1, 4}, Std: []float64{1.2, 0.5, 1},
			Centroids: [][]float64{{-1, 1, 1}, {0, 0, 0}, {1, -0.5, -1}},
		},
		CLV: &segmodel.CLV{
			BGNBD:        segmodel.BGNBD{R: 0.25, Alpha: 4.4, A: 0.8, B: 2.4, LogLik: -100},
			GammaGamma:   segmodel.GammaGamma{P: 6.2, Q: 3.7, Gamma: 15.4, LogLik: -50},
			TimeUnitDays: 7, Horizon: 52,
		},
		Users:   4,
		Privacy: segmodel.Privacy{DP: true, Epsilon: 1, Delta: 1e-6, Rho: 0.02},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeCSV(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const siteCSV = `user_id,order_id,ts,amount
u1,o1,2024-01-05T10:00:00Z,10.00
u2,o2,2024-03-01T10:00:00Z,250.50
u1,o3,2024-06-01T12:00:00Z,40.00
u3,o4,2024-06-20T09:00:00Z,5.25
u2,o5,2024-06-25T09:00:00Z,100.00
`

// TestAnalyseFile: the site's users in id order, their RFM columns, and a
// malformed row named by file and line.
func TestAnalyseFile(t *testing.T) {
	dir := t.TempDir()
	src := ingest.DefaultSource(writeCSV(t, dir, "site.csv", siteCSV))
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	a, err := analyseFile(context.Background(), src, asOf, time.Time{}, "store", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := a.data.Columns()
	if !slices.Equal(a.ids, []string{"u1", "u2", "u3"}) || a.data.Channel != "store" || a.rows.Accepted != 5 {
		t.Fatalf("ids %v, channel %q, rows %+v", a.ids, a.data.Channel, a.rows)
	}
	if !slices.Equal(c.Frequency, []int64{2, 2, 1}) || !slices.Equal(c.MonetaryCents, []int64{5000, 35050, 525}) ||
		!slices.Equal(c.RecencyDays, []int64{29, 5, 10}) || !slices.Equal(c.TenureDays, []int64{177, 121, 10}) {
		t.Errorf("columns F %v M %v R %v T %v", c.Frequency, c.MonetaryCents, c.RecencyDays, c.TenureDays)
	}
	bad := writeCSV(t, dir, "bad.csv", strings.Replace(siteCSV, "2024-03-01T10:00:00Z", "March", 1))
	_, err = analyseFile(context.Background(), ingest.DefaultSource(bad), asOf, time.Time{}, "store", nil)
	if !errors.Is(err, ingest.ErrMalformed) || !strings.Contains(err.Error(), bad+":3:") {
		t.Errorf("malformed file: %v, want ErrMalformed naming %s:3", err, bad)
	}
	empty := writeCSV(t, dir, "empty.csv", "user_id,order_id,ts,amount\n")
	if _, err := analyseFile(context.Background(), ingest.DefaultSource(empty), asOf, time.Time{}, "store", nil); err == nil {
		t.Error("a file without rows was analysed")
	}
}

func TestOpenSource(t *testing.T) {
	dir := t.TempDir()
	file := writeCSV(t, dir, "site.csv", siteCSV)
	if _, err := openSource(&config.Data{File: filepath.Join(dir, "nope.csv")}); err == nil || !strings.Contains(err.Error(), "data.file") {
		t.Errorf("missing file: %v, want an error naming data.file", err)
	}
	srcYAML := writeCSV(t, dir, "src.yaml", "path: other.csv\ncolumns: {user: user_id, order: order_id, timestamp: ts, amount: amount}\n")
	src, err := openSource(&config.Data{File: file, Source: srcYAML})
	if err != nil || src.Path != file {
		t.Errorf("source with file: %+v, %v; want the file to replace the source's path", src, err)
	}
	if _, err := openSource(&config.Data{Source: srcYAML}); err == nil || !strings.Contains(err.Error(), "other.csv") {
		t.Errorf("source naming a missing file: %v", err)
	}
	badYAML := writeCSV(t, dir, "bad.yaml", "path: site.csv\ncolumnz: {}\n")
	if _, err := openSource(&config.Data{Source: badYAML}); !errors.Is(err, ingest.ErrSource) || !strings.Contains(err.Error(), "data.source") {
		t.Errorf("bad source YAML: %v", err)
	}
}

// TestWriteOutputs writes a version's outputs and reads them back.
func TestWriteOutputs(t *testing.T) {
	dir := t.TempDir()
	a, err := analyseFile(context.Background(), ingest.DefaultSource(writeCSV(t, dir, "site.csv", siteCSV)),
		time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), time.Time{}, "store", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := testModel(t)
	labels, err := segmodel.Label(m, a.data)
	if err != nil {
		t.Fatal(err)
	}
	aud, err := segmodel.Audiences(m, labels, a.ids)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	rep := &report.Report{Federation: "f", Model: report.Model{Version: 1}}
	o := outputs{Version: 1, ContentHash: "h", Model: m, Labels: labels, IDs: a.ids, Audiences: aud, Report: rep}
	act, err := writeOutputs(out, "model-v1", o)
	if err != nil {
		t.Fatal(err)
	}
	v1 := filepath.Join(out, "model-v1")
	b, err := os.ReadFile(filepath.Join(v1, LabelsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 || lines[0] != labelsCSVHeader {
		t.Fatalf("labels.csv:\n%s", b)
	}
	segs := m.Segments()
	for i, l := range lines[1:] {
		f := strings.Split(l, ",")
		if f[0] != a.ids[i] || f[1] != segs[labels[i].Segment] || f[2] != string(labels[i].Stage) {
			t.Errorf("labels.csv row %q, want user %s in %s", l, a.ids[i], segs[labels[i].Segment])
		}
	}
	total := 0
	for _, s := range act.Segments {
		b, err := os.ReadFile(filepath.Join(v1, s.File))
		if err != nil {
			t.Fatal(err)
		}
		ids := strings.Split(strings.TrimSpace(string(b)), "\n")
		if ids[0] != "user_id" || len(ids)-1 != s.Users {
			t.Errorf("%s: %q for %d users", s.File, b, s.Users)
		}
		total += s.Users
	}
	if total != 3 || len(act.Segments) != len(segs) {
		t.Errorf("audiences hold %d users over %d files", total, len(act.Segments))
	}
	back, err := readActivationFile(v1)
	if err != nil || back.Version != 1 || back.Users != 3 || !slices.Equal(back.Segments, act.Segments) {
		t.Errorf("activation.json read back as %+v, %v", back, err)
	}
	for _, f := range []string{report.JSONFile, report.HTMLFile} {
		if _, err := os.Stat(filepath.Join(v1, f)); err != nil {
			t.Error(err)
		}
	}
	// An existing version is never overwritten; a failed write leaves no
	// directory behind.
	if _, err := writeOutputs(out, "model-v1", o); err == nil {
		t.Error("writeOutputs over an existing version succeeded")
	}
	o.IDs = o.IDs[1:]
	if _, err := writeOutputs(out, "model-v2", o); err == nil {
		t.Error("writeOutputs with mismatched ids succeeded")
	}
	bad := o
	bad.IDs = a.ids
	bad.Report = &report.Report{Channels: []report.Channel{{Name: ""}}} // invalid: Save fails
	if _, err := writeOutputs(out, "model-v2", bad); err == nil {
		t.Error("writeOutputs with an invalid report succeeded")
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 || entries[0].Name() != "model-v1" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("output directory holds %v after failed writes, want only model-v1", names)
	}
}

func TestAudienceFiles(t *testing.T) {
	auds := []segmodel.Audience[string]{{Segment: "champions"}, {Segment: "at risk/high"}, {Segment: ".."}, {Segment: "Champions"},
		{Segment: ""}, {Segment: "at_risk_high"}, {Segment: strings.Repeat("x", 300)}}
	got := audienceFiles(auds)
	want := []string{"champions.csv", "at_risk_high.csv", "_..csv", "Champions-2.csv", "segment.csv", "at_risk_high-2.csv", strings.Repeat("x", 100) + ".csv"}
	if !slices.Equal(got, want) {
		t.Errorf("audienceFiles = %q, want %q", got, want)
	}
}

func TestRoundStatistic(t *testing.T) {
	for _, tc := range []struct {
		kind, stat, params string
		ok                 bool
	}{
		{`sum:seg.channel {"v":1,"n":9,"params":{"channels":["a"]},"mech":"none"}`, "seg.channel", `{"channels":["a"]}`, true},
		{`sum:revenue {"v":1,"n":3,"mech":"none"}`, "revenue", "", true},
		{`sum:x`, "x", "", true},
		{`keys:1`, "", "", false},
	} {
		stat, params, ok := roundStatistic(tc.kind)
		if stat != tc.stat || string(params) != tc.params || ok != tc.ok {
			t.Errorf("roundStatistic(%q) = %q, %q, %v", tc.kind, stat, params, ok)
		}
	}
}

// TestBuildReport: released values are post-processed only (rounded,
// floored at 0), shares and mean CLV come from them, the budget is the
// ledger's.
func TestBuildReport(t *testing.T) {
	m := testModel(t)
	segs := m.Segments()
	ch := &jobs.Channels{Segments: segs, Channels: []string{"store", "app"}}
	for c := range ch.Channels {
		for s := range segs {
			cell := jobs.Cell{Segment: segs[s], Channel: ch.Channels[c], Users: float64(10 * (s + 1)), RevenueCents: float64(1000 * (s + 1)), CLVCents: float64(500 * (s + 1))}
			if c == 1 && s == 0 {
				cell = jobs.Cell{Segment: segs[s], Channel: "app", Users: -2.4, RevenueCents: -300, CLVCents: 12}
			}
			ch.Cells = append(ch.Cells, cell)
		}
	}
	b := &fsm.Budget{Federation: "default", Dataset: "segmentation", Composition: "basic",
		Total: fsm.Cost{Epsilon: 5, Delta: 1e-4}, Spent: fsm.Cost{Epsilon: 2.5, Delta: 2e-6},
		Charges: []fsm.Charge{{ID: "1", Kind: "round", Cost: fsm.Cost{Epsilon: 1, Delta: 1e-6}}, {ID: "2", Kind: "round", Cost: fsm.Cost{Epsilon: 1.5, Delta: 1e-6}, Refunded: true}}}
	in := reportInput{
		Version: fsm.ModelVersion{Version: 3, Time: 1_700_000_000_000}, Model: m, Channels: ch, Budget: b,
		Purposes:   map[string]string{"1": "rfm.hist", "2": "seg.channel"},
		Sites:      []fsm.Site{{ID: "a", Role: fsm.RoleVoter, Status: fsm.StatusJoined}, {ID: "gone", Status: fsm.StatusRemoved}},
		Federation: "default/segmentation",
	}
	r, err := buildReport(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Model.Version != 3 || r.Model.RuleSet != "rfm8" || !r.GeneratedAt.Equal(time.UnixMilli(1_700_000_000_000)) || len(r.Members) != 1 {
		t.Errorf("report head %+v %v %+v", r.Model, r.GeneratedAt, r.Members)
	}
	if r.Model.Thresholds.Monetary[0] != 20 || r.Model.BGNBD.R != 0.25 || len(r.Model.Clusters) != 3 {
		t.Errorf("model %+v", r.Model)
	}
	if c := r.Model.Clusters[1]; math.Abs(c.RecencyDays-math.Expm1(4)) > 1e-9 || math.Abs(c.Monetary-math.Expm1(4)) > 1e-9 {
		t.Errorf("centroid 1 in original units %+v, want expm1 of the mean", c)
	}
	n := len(segs)
	wantUsers := int64(10 * n * (n + 1) / 2)
	if len(r.Channels) != 2 || r.Channels[0].Users != wantUsers || r.Channels[1].Users != wantUsers-10 {
		t.Errorf("channels %+v, want %d users and 10 fewer (a negative noised count floored at 0)", r.Channels, wantUsers)
	}
	// A DP model: mean CLV is withheld below MinMeanUsers released users.
	cell := r.Segments[1].Cells[0]
	if cell.Users != 20 || math.Abs(cell.RevenueShare-2000/float64(100*wantUsers)) > 1e-12 || cell.MeanCLV != 0 ||
		r.MinMeanUsers != MinMeanUsers || r.ShowsMean(cell) {
		t.Errorf("segment 1 × store = %+v (min mean users %d)", cell, r.MinMeanUsers)
	}
	// Without DP every mean is shown.
	in.Model = m.Clone()
	in.Model.Privacy.DP = false
	ro, err := buildReport(in)
	if err != nil {
		t.Fatal(err)
	}
	if c := ro.Segments[1].Cells[0]; c.MeanCLV != 10.0/20 || !ro.ShowsMean(c) {
		t.Errorf("DP off: segment 1 × store = %+v", c)
	}
	if c := r.Segments[0].Cells[1]; c.Users != 0 || c.RevenueShare != 0 || c.MeanCLV != 0 {
		t.Errorf("negative released cell = %+v, want zeros", c)
	}
	bu := r.Budget
	if bu.Epsilon != 5 || bu.SpentEpsilon != 2.5 || bu.RemainingEpsilon != 2.5 || len(bu.Charges) != 2 || bu.Charges[1].Purpose != "seg.channel" ||
		!bu.Charges[1].Refunded || bu.NoiseOff {
		t.Errorf("budget %+v", bu)
	}
	if len(r.Overlap.Sets) != 0 {
		t.Errorf("overlap %+v, want none", r.Overlap)
	}
	// Without a table: segments without cells, still valid.
	in.Channels, in.Budget = nil, nil
	r, err = buildReport(in)
	if err != nil || len(r.Channels) != 0 || len(r.Segments) != n || len(r.Segments[0].Cells) != 0 {
		t.Errorf("report without a table: %+v, %v", r, err)
	}
}

// TestNotReadyProvider: jobs statistics are refused until the data is
// ready; other statistics reach the in-memory provider.
func TestNotReadyProvider(t *testing.T) {
	mem := securesum.NewMemProvider()
	if err := mem.Set("revenue", "", []int64{1}); err != nil {
		t.Fatal(err)
	}
	s := &segService{act: admin.Activation{Data: admin.DataAnalysing, File: "f.csv", RowsRead: 12}}
	p := &notReadyProvider{s: s, inner: mem}
	ctx := context.Background()
	_, err := p.Statistic(ctx, "rfm.hist", nil)
	if !errors.Is(err, ErrDataNotReady) || !strings.Contains(err.Error(), "f.csv is still being analysed (12 rows read)") {
		t.Errorf("Statistic(rfm.hist) = %v", err)
	}
	s.act.Data, s.act.Error = admin.DataFailed, "f.csv:3: ts: bad"
	if _, err := p.Binding(ctx, "seg.channel", nil); !errors.Is(err, ErrDataNotReady) || !strings.Contains(err.Error(), "f.csv:3") {
		t.Errorf("Binding(seg.channel) after a failure = %v", err)
	}
	if v, err := p.Statistic(ctx, "revenue", nil); err != nil || !slices.Equal(v, []int64{1}) {
		t.Errorf("Statistic(revenue) = %v, %v", v, err)
	}
}
