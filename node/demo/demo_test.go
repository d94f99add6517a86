package demo

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-fed/strata/node/analytics/segment"
	"github.com/strata-fed/strata/node/report"
	"github.com/strata-fed/strata/node/synth"
)

// testUsers keeps the end-to-end runs small: three sites of 1,100 to
// 1,400 users.
const testUsers = 2000

// testHEParams is the insecure, fast HE parameter set of the DP-off
// comparison, whose k-means is also capped (to convergence it takes ~30
// rounds; the exactness holds after any number).
const testHEParams = "TestPN11QP120"

// TestRunEndToEnd runs the demo as `strata demo` does (synthetic data, DP
// on at ε = 1, SSLKEYLOGFILE set) and checks what it promises: the report
// printed with every segment and channel, every site's audiences holding
// exactly that site's own user ids, a self-contained HTML report per site,
// the budget spent within the run's ε and the ledger's total, the TLS key
// log written, and no goroutine left behind.
func TestRunEndToEnd(t *testing.T) {
	before := runtime.NumGoroutine()
	keyLog := filepath.Join(t.TempDir(), "keys.log")
	t.Setenv("SSLKEYLOGFILE", keyLog)
	var out, progress strings.Builder
	opt := Options{Dir: t.TempDir(), Users: testUsers, Seed: 3, Out: &out, Progress: &progress, Timeout: 2 * time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, opt)
	t.Logf("progress:\n%s\noutput:\n%s", progress.String(), out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	printed := out.String()

	rs, err := segment.Preset(DefaultRuleSet)
	if err != nil {
		t.Fatal(err)
	}
	segs := rs.Segments()
	if len(res.Report.Segments) != len(segs) {
		t.Fatalf("report has %d segments, want %d (%v)", len(res.Report.Segments), len(segs), segs)
	}
	for i, s := range res.Report.Segments {
		if s.Name != segs[i] || len(s.Cells) != len(synth.Sites) {
			t.Errorf("report segment %d = %q with %d cells, want %q with %d", i, s.Name, len(s.Cells), segs[i], len(synth.Sites))
		}
		if !strings.Contains(printed, "\n"+s.Name+" ") {
			t.Errorf("printed report lacks a row for segment %q", s.Name)
		}
	}
	for i, c := range res.Report.Channels {
		if c.Name != synth.Sites[i] {
			t.Errorf("report channel %d = %q, want %q", i, c.Name, synth.Sites[i])
		}
		if !strings.Contains(printed, c.Name) {
			t.Errorf("printed report lacks channel %q", c.Name)
		}
	}
	for _, want := range []string{"HTML report: " + res.HTML, "job: k-means", "job: clv", "mean CLV", "labelling and export", "SSLKEYLOGFILE=" + keyLog} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// Budget: the model's zCDP cost within the run's ε, the ledger's
	// charges within its total.
	if p := res.Jobs.Model.Privacy; !p.DP || p.Epsilon > opt.withDefaultsT(t).Epsilon*(1+1e-9) || p.Epsilon <= 0 {
		t.Errorf("model privacy %+v, want DP with 0 < ε ≤ %v", p, DefaultEpsilon)
	}
	b := res.Report.Budget
	if b.NoiseOff || b.Epsilon != DefaultBudgetEpsilon || b.SpentEpsilon <= 0 || b.SpentEpsilon > b.Epsilon || b.SpentDelta > b.Delta ||
		math.Abs(b.SpentEpsilon+b.RemainingEpsilon-b.Epsilon) > 1e-9 || len(b.Charges) == 0 {
		t.Errorf("budget %+v: want DP on, 0 < spent ≤ total = %v, spent + left = total", b, DefaultBudgetEpsilon)
	}

	// Every site's outputs: audiences hold exactly its own users, each
	// once; the HTML report is there and self-contained.
	if len(res.Outputs) != len(res.Sites) {
		t.Fatalf("%d site outputs for %d sites", len(res.Outputs), len(res.Sites))
	}
	for i, o := range res.Outputs {
		s := res.Sites[i]
		if o.Site != s.ID {
			t.Errorf("output %d is site %q, want %q", i, o.Site, s.ID)
		}
		own := userIDs(t, s.Data)
		if o.Users != len(own) {
			t.Errorf("site %s: %d users labelled, its file has %d", s.ID, o.Users, len(own))
		}
		seen := map[string]string{}
		if len(o.Audiences) != len(segs) {
			t.Errorf("site %s: %d audiences, want one per segment (%d)", s.ID, len(o.Audiences), len(segs))
		}
		for _, a := range o.Audiences {
			ids := readColumn(t, filepath.Join(o.OutDir, a.File), "user_id")
			if len(ids) != a.Users {
				t.Errorf("site %s: %s has %d ids, activation says %d", s.ID, a.File, len(ids), a.Users)
			}
			for _, id := range ids {
				if !own[id] {
					t.Fatalf("site %s: audience %s holds %q, not a user of this site", s.ID, a.File, id)
				}
				if prev, dup := seen[id]; dup {
					t.Fatalf("site %s: user %q is in audiences %s and %s", s.ID, id, prev, a.Segment)
				}
				seen[id] = a.Segment
			}
		}
		if len(seen) != len(own) {
			t.Errorf("site %s: audiences cover %d users of %d", s.ID, len(seen), len(own))
		}
		html, err := os.ReadFile(filepath.Join(o.OutDir, report.HTMLFile))
		if err != nil {
			t.Errorf("site %s: %v", s.ID, err)
			continue
		}
		for _, bad := range []string{"http://", "https://", "<script", "src=", "href=", "url(", "@import", "<link", "<iframe"} {
			if strings.Contains(string(html), bad) {
				t.Errorf("site %s: report.html contains %q: not self-contained", s.ID, bad)
			}
		}
		for _, name := range segs {
			if !strings.Contains(string(html), name) {
				t.Errorf("site %s: report.html lacks segment %q", s.ID, name)
			}
		}
	}

	if st, err := os.Stat(keyLog); err != nil || st.Size() == 0 {
		t.Errorf("SSLKEYLOGFILE %s not written: %v", keyLog, err)
	}
	waitGoroutines(t, before)
}

// withDefaultsT is withDefaults for tests.
func (o Options) withDefaultsT(t *testing.T) Options {
	t.Helper()
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestFederatedDPOffEqualsCentralized runs the federation with DP off on
// three --data files and the centralized plaintext baseline on the same
// files: the committed model (cut points, reference statistics, k-means
// centroids) and the segment × channel counts must agree, and every site's
// audiences must have the same sizes.
func TestFederatedDPOffEqualsCentralized(t *testing.T) {
	dataDir := t.TempDir()
	paths, _, err := synth.WriteSites(synth.Config{Users: testUsers, Seed: 5}, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out strings.Builder
	defer func() { t.Logf("output:\n%s", out.String()) }()
	opt := Options{Data: paths, AsOf: "2025-01-01", DPOff: true, Seed: 2, Timeout: 2 * time.Minute, heParams: testHEParams, kmeansMaxIter: 8, Out: &out}
	opt.Dir = t.TempDir()
	fed, err := Run(ctx, opt)
	if err != nil {
		t.Fatalf("federated: %v", err)
	}
	opt.Dir = t.TempDir()
	cen, err := RunCentralized(ctx, opt)
	if err != nil {
		t.Fatalf("centralized: %v", err)
	}
	fm, cm := fed.Jobs.Model, cen.Jobs.Model
	if fm.Privacy.DP || fed.Report.Budget.SpentEpsilon != 0 || !fed.Report.Budget.NoiseOff {
		t.Errorf("DP-off run: model privacy %+v, report budget %+v", fm.Privacy, fed.Report.Budget)
	}
	if !reflect.DeepEqual(fm.Cuts, cm.Cuts) || fm.Stats != cm.Stats || fm.Users != cm.Users {
		t.Errorf("federated cuts %+v stats %+v users %d; centralized %+v %+v %d", fm.Cuts, fm.Stats, fm.Users, cm.Cuts, cm.Stats, cm.Users)
	}
	if len(fm.Clusters.Centroids) != len(cm.Clusters.Centroids) {
		t.Fatalf("%d federated centroids, %d centralized", len(fm.Clusters.Centroids), len(cm.Clusters.Centroids))
	}
	for j := range fm.Clusters.Centroids {
		for d := range fm.Clusters.Centroids[j] {
			if diff := math.Abs(fm.Clusters.Centroids[j][d] - cm.Clusters.Centroids[j][d]); diff > 1e-6 {
				t.Errorf("centroid %d[%d]: federated %v, centralized %v", j, d, fm.Clusters.Centroids[j][d], cm.Clusters.Centroids[j][d])
			}
		}
	}
	if fm.CLV == nil || cm.CLV == nil {
		t.Fatalf("CLV part: federated %v, centralized %v", fm.CLV, cm.CLV)
	}
	for _, p := range [][2]float64{
		{fm.CLV.BGNBD.R, cm.CLV.BGNBD.R}, {fm.CLV.BGNBD.Alpha, cm.CLV.BGNBD.Alpha}, {fm.CLV.BGNBD.A, cm.CLV.BGNBD.A}, {fm.CLV.BGNBD.B, cm.CLV.BGNBD.B},
		{fm.CLV.GammaGamma.P, cm.CLV.GammaGamma.P}, {fm.CLV.GammaGamma.Q, cm.CLV.GammaGamma.Q}, {fm.CLV.GammaGamma.Gamma, cm.CLV.GammaGamma.Gamma},
	} {
		if math.Abs(p[0]-p[1]) > 1e-6*math.Abs(p[1]) {
			t.Errorf("CLV parameters: federated %+v, centralized %+v", *fm.CLV, *cm.CLV)
			break
		}
	}
	if !reflect.DeepEqual(fed.Jobs.Channels.Cells, cen.Jobs.Channels.Cells) {
		t.Errorf("segment × channel cells differ:\nfederated   %+v\ncentralized %+v", fed.Jobs.Channels.Cells, cen.Jobs.Channels.Cells)
	}
	for i := range fed.Outputs {
		f, c := fed.Outputs[i], cen.Outputs[i]
		if f.Users != c.Users || len(f.Audiences) != len(c.Audiences) {
			t.Fatalf("site %s: federated %d users, %d audiences; centralized %d, %d", f.Site, f.Users, len(f.Audiences), c.Users, len(c.Audiences))
		}
		for j := range f.Audiences {
			if f.Audiences[j].Segment != c.Audiences[j].Segment || f.Audiences[j].Users != c.Audiences[j].Users {
				t.Errorf("site %s audience %d: federated %+v, centralized %+v", f.Site, j, f.Audiences[j], c.Audiences[j])
			}
		}
	}
	if fed.Sites[0].ID != synth.Sites[0] {
		t.Errorf("--data site ids %v, want the files' names %v", fed.Sites, synth.Sites)
	}
}

// TestSiteDataFails: a --data file whose first rows parse but a later row
// is malformed passes the up-front check; its node's analysis then fails,
// and Run stops with an error naming the file and line, promptly, leaving
// no goroutine behind.
func TestSiteDataFails(t *testing.T) {
	before := runtime.NumGoroutine()
	paths, _, err := synth.WriteSites(synth.Config{Users: 1000, Seed: 4}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(paths[1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("u999999,o1,not-a-time,1.00,marketplace,\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now()
	_, err = Run(ctx, Options{Data: paths, Dir: t.TempDir(), heParams: testHEParams, Timeout: 30 * time.Second})
	if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), filepath.Base(paths[1])) || !strings.Contains(err.Error(), "marketplace") {
		t.Fatalf("Run with a malformed row in %s = %v, want ErrData naming the site and file", paths[1], err)
	}
	if d := time.Since(t0); d > 20*time.Second {
		t.Errorf("Run took %v to report the failed site", d)
	}
	waitGoroutines(t, before)
}

// TestRunCancelled: cancelling the context mid-run (here when the
// federation has formed, as Ctrl-C would) stops Run promptly with the
// context's error and leaves no goroutine behind.
func TestRunCancelled(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progress := cancelOn{match: "federation formed", cancel: cancel}
	t0 := time.Now()
	_, err := Run(ctx, Options{Dir: t.TempDir(), Users: testUsers, heParams: testHEParams, Progress: &progress})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run cancelled after the federation formed = %v, want context.Canceled", err)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("cancelled Run took %v to return", d)
	}
	waitGoroutines(t, before)
}

// TestRunTimeout: a federation that cannot reach a step within
// Options.Timeout (here 1 ms to form) fails with ErrTimeout naming the
// step, and leaves no goroutine behind.
func TestRunTimeout(t *testing.T) {
	before := runtime.NumGoroutine()
	_, err := Run(context.Background(), Options{Dir: t.TempDir(), Users: 100, Timeout: time.Millisecond})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "leader") {
		t.Fatalf("Run with a 1 ms timeout = %v, want ErrTimeout naming the leader wait", err)
	}
	waitGoroutines(t, before)
}

// cancelOn is a progress writer that cancels when a line contains match.
type cancelOn struct {
	match  string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.match) {
		c.cancel()
	}
	return len(p), nil
}

// TestDataValidation: --data is checked before anything starts.
func TestDataValidation(t *testing.T) {
	dir := t.TempDir()
	good, _, err := synth.WriteSites(synth.Config{Users: 50, Seed: 1}, dir)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join("testdata", "not-a-log.csv")
	empty := filepath.Join("testdata", "header-only.csv")
	for _, tc := range []struct {
		name  string
		files []string
		want  error
	}{
		{"two files", good[:2], ErrOptions},
		{"four files", append(slices.Clone(good), good[0]), ErrOptions},
		{"missing", []string{good[0], good[1], filepath.Join(dir, "nope.csv")}, ErrData},
		{"directory", []string{good[0], good[1], dir}, ErrData},
		{"repeated", []string{good[0], good[1], good[0]}, ErrData},
		{"wrong schema", []string{good[0], good[1], bad}, ErrData},
		{"no rows", []string{good[0], good[1], empty}, ErrData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := filepath.Join(t.TempDir(), "run")
			_, err := Run(context.Background(), Options{Data: tc.files, Dir: run})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Run(--data %v) = %v, want %v", tc.files, err, tc.want)
			}
			if _, serr := os.Stat(run); serr == nil {
				t.Errorf("the run directory was created despite the bad --data")
			}
		})
	}
	sites, err := dataSites(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sites {
		if s.ID != synth.Sites[i] || s.Channel != synth.Sites[i] || !filepath.IsAbs(s.Data) {
			t.Errorf("site %d = %+v, want id and channel %q and an absolute path", i, s, synth.Sites[i])
		}
	}
	// Names that are not site ids fall back to site-1..3.
	odd := filepath.Join(t.TempDir(), "My Shop.csv")
	if err := os.Link(good[0], odd); err != nil {
		t.Fatal(err)
	}
	sites, err = dataSites(context.Background(), []string{odd, good[1], good[2]})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sites {
		if want := "site-" + string(rune('1'+i)); s.ID != want || s.Channel != want {
			t.Errorf("site %d = %+v, want id and channel %q", i, s, want)
		}
	}
}

// TestOptions: inconsistent options are refused before anything starts.
func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{Users: -1},
		{Epsilon: 5},                    // above the default budget
		{Delta: 2},                      // not a probability
		{RuleSet: "nope"},               // unknown preset
		{K: 9},                          // k-means params must fit the log
		{Epsilon: 1, BudgetDelta: 1e-9}, // δ above the budget
	} {
		if _, err := o.withDefaults(); !errors.Is(err, ErrOptions) {
			t.Errorf("withDefaults(%+v) = %v, want ErrOptions", o, err)
		}
	}
	if _, err := (Options{DPOff: true, Epsilon: 5}).withDefaults(); err != nil {
		t.Errorf("DP off ignores the budget check: %v", err)
	}
}

// userIDs returns the distinct user ids of a standard-schema file.
func userIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, id := range readColumn(t, path, "user_id") {
		ids[id] = true
	}
	return ids
}

// readColumn returns one column of a CSV file with a header.
func readColumn(t *testing.T, path, column string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	head, err := r.Read()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	col := slices.Index(head, column)
	if col < 0 {
		t.Fatalf("%s: no %s column in %v", path, column, head)
	}
	var out []string
	for {
		rec, err := r.Read()
		if err != nil {
			break
		}
		out = append(out, rec[col])
	}
	return out
}

// waitGoroutines waits until the goroutine count is back to at most n
// (plus a small allowance for the runtime and test framework).
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after the run, %d before:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
