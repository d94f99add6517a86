package fedtest2

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/engine"
	"github.com/strata-fed/strata/node/fedjobs"
	"github.com/strata-fed/strata/node/ingest"
	"github.com/strata-fed/strata/node/report"
	"github.com/strata-fed/strata/node/synth"
)

// segAsOf is the as-of date every site analyses its synthetic file at (the
// synthetic period is 2023-01-01 .. 2024-12-31).
const segAsOf = "2025-01-01"

// newDataCluster starts three daemons whose configs have a data: section,
// one synthetic channel file each (data.channel = the synth site name),
// with the fast HE parameters and a 2-of-3 key.
func newDataCluster(t *testing.T, users int) (*cluster, []string) {
	t.Helper()
	paths, _, err := synth.WriteSites(synth.Config{Users: users, Seed: 5}, filepath.Join(t.TempDir(), "synth"))
	must(t, err)
	c := writeConfigs(t, 3)
	for i, nd := range c.nodes {
		f, err := os.OpenFile(nd.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
		must(t, err)
		_, err = fmt.Fprintf(f, "data:\n  file: %s\n  channel: %s\n  as_of: %s\n", paths[i], synth.Sites[i], segAsOf)
		must(t, errors.Join(err, f.Close()))
	}
	c.start(c.nodes[0])
	c.waitLeader()
	for _, nd := range c.nodes[1:] {
		c.start(nd)
	}
	c.waitJoined(3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(t, c.leader().d.SetSetting(ctx, "he_params", "TestPN11QP120"))
	keysInit(t, c, 2)
	return c, paths
}

func (c *cluster) adminAddrs() []string {
	var out []string
	for _, nd := range c.nodes {
		out = append(out, "http://"+nd.admin)
	}
	return out
}

// TestSegmentationEndToEnd runs the whole pipeline on three in-process
// daemons with data files: each analyses its file at start, the
// coordinator (fedjobs.Segment, as `strata segment` runs it) computes and
// commits the model through the admin API, with DP on (ε = 1, version 1)
// and then with DP off (the federation's dp_disabled setting, version 2).
// It checks that every site labelled exactly its own users as
// segmodel.Label does on its own data, with audiences partitioning them;
// that every node serves the same report, whose budget is the ledger's and,
// with DP off, whose segment × channel counts are the sites' exact label
// counts; that a malformed model is refused with 400 and changes nothing;
// and that a restarted node neither redoes nor loses its outputs.
func TestSegmentationEndToEnd(t *testing.T) {
	users := 3000
	if testing.Short() {
		users = 1500
	}
	c, paths := newDataCluster(t, users)
	cl := &admin.Client{Addrs: c.adminAddrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// A budget of exactly the run's (ε, δ) = (1, 10⁻⁶): the daemons' ledger
	// composes in zCDP, as the jobs split the run, so its ~11 rounds fit.
	_, err := cl.SetBudget(ctx, fedjobs.DefaultDataset, 1, 1e-6)
	must(t, err)
	acts, err := fedjobs.WaitDataReady(ctx, cl.Addrs, nil)
	must(t, err)
	for i, a := range acts {
		if a.Data != admin.DataReady || a.Channel != synth.Sites[i] || a.Users == 0 {
			t.Fatalf("site %d activation %+v", i, a)
		}
	}

	// A malformed model is refused before anything reaches the log.
	checkBadCommit(t, ctx, c, 0)

	// DP on: version 1.
	var progress []fedjobs.RoundProgress
	t0 := time.Now()
	res, err := fedjobs.Segment(ctx, cl, fedjobs.SegmentOptions{
		Jobs:     jobs.Options{Privacy: jobs.Privacy{Epsilon: 1, Delta: 1e-6}, Channels: synth.Sites[:], KMeans: jobs.KMeansOptions{K: 4, Seed: 1}},
		Progress: func(p fedjobs.RoundProgress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatalf("segment with DP: %v", err)
	}
	dpTime := time.Since(t0)
	if res.Version != 1 || len(res.Rounds) != len(progress) || len(res.Rounds) == 0 {
		t.Fatalf("DP run: version %d, %d rounds, %d progress reports", res.Version, len(res.Rounds), len(progress))
	}
	t.Logf("DP run (ε=1): %d rounds in %v, phases %+v", len(res.Rounds), dpTime.Round(time.Millisecond), res.Phases)
	checkOutputs(t, c, paths, 1)
	rep1 := checkReports(t, ctx, c, 1)
	if rep1.Budget.NoiseOff || rep1.Budget.SpentEpsilon > 1+1e-9 || rep1.Budget.SpentEpsilon < 0.5 || len(rep1.Channels) != 3 {
		t.Errorf("DP report: budget %+v, channels %+v", rep1.Budget, rep1.Channels)
	}

	// DP off: version 2.
	must(t, c.leader().d.SetSetting(ctx, "dp_disabled", "true"))
	t0 = time.Now()
	res, err = fedjobs.Segment(ctx, cl, fedjobs.SegmentOptions{
		// The grid CLV fit: one round (the exact fit's ~120 likelihood
		// rounds take 10 s here and are covered in federated/jobs).
		Jobs: jobs.Options{Channels: synth.Sites[:], KMeans: jobs.KMeansOptions{K: 4, Seed: 1, MaxIter: 30}, CLV: jobs.CLVOptions{Grid: true}},
	})
	if err != nil {
		t.Fatalf("segment with DP off: %v", err)
	}
	t.Logf("DP-off run: %d rounds in %v, phases %+v", len(res.Rounds), time.Since(t0).Round(time.Millisecond), res.Phases)
	if res.Version != 2 {
		t.Fatalf("DP-off run committed version %d, want 2", res.Version)
	}
	labels := checkOutputs(t, c, paths, 2)
	rep2 := checkReports(t, ctx, c, 2)
	if !rep2.Budget.NoiseOff || rep2.Budget.SpentEpsilon != rep1.Budget.SpentEpsilon {
		t.Errorf("DP-off report: budget %+v, want noise off and the same spending as after the DP run (%v)", rep2.Budget, rep1.Budget.SpentEpsilon)
	}
	// With DP off the released table is exact: each channel's counts are
	// its site's own label counts.
	for ci, ch := range rep2.Channels {
		if ch.Name != synth.Sites[ci] {
			t.Fatalf("report channel %d is %q", ci, ch.Name)
		}
		for _, s := range rep2.Segments {
			if got, want := s.Cells[ci].Users, labels[ci][s.Name]; got != int64(want) {
				t.Errorf("DP-off report: %s × %s = %d users, the site labelled %d", s.Name, ch.Name, got, want)
			}
		}
	}
	checkBadCommit(t, ctx, c, 2)

	// Restart one site: its outputs are neither redone nor lost (a deleted
	// version is written again).
	nd := c.nodes[2]
	out := filepath.Join(nd.dir, "data", "out")
	before, err := os.ReadFile(filepath.Join(out, "model-v2", "activation.json"))
	must(t, err)
	must(t, os.RemoveAll(filepath.Join(out, "model-v1")))
	nd.stop()
	c.start(nd)
	waitUntil(t, time.Minute, "the restarted site to label model v1 again", func() bool {
		_, err := os.Stat(filepath.Join(out, "model-v1", "labels.csv"))
		return err == nil && nd.d.Activation().ModelVersion == 2
	})
	after, err := os.ReadFile(filepath.Join(out, "model-v2", "activation.json"))
	must(t, err)
	if !bytes.Equal(before, after) {
		t.Errorf("restart rewrote model-v2: activation.json %s, was %s", after, before)
	}
	if a := nd.d.Activation(); a.Labelled != len(readColumn(t, filepath.Join(out, "model-v2", "labels.csv"), 0))-1 || len(a.Segments) == 0 {
		t.Errorf("restarted activation %+v", a)
	}
}

// checkBadCommit posts malformed models and checks the 400 answers and that
// the latest version stays `version`.
func checkBadCommit(t *testing.T, ctx context.Context, c *cluster, version uint64) {
	t.Helper()
	l := c.leader()
	for name, body := range map[string]string{
		"not a model": `{"model": "` + b64("hello") + `", "rounds": []}`,
		"not base64":  `{"model": "!!!", "rounds": []}`,
		"no model":    `{"rounds": []}`,
		"unknown key": `{"model": "` + b64("{}") + `", "version": 9}`,
	} {
		code, msg := post(t, ctx, "http://"+l.admin+"/v1/models", body)
		if code != http.StatusBadRequest || !strings.Contains(msg, "model") && !strings.Contains(msg, "request body") {
			t.Errorf("POST /v1/models (%s) = %d %s, want 400 with a message about the model", name, code, msg)
		}
	}
	if _, err := segmodel.Decode([]byte("hello")); err == nil {
		t.Fatal("segmodel.Decode accepts garbage")
	}
	info, err := (&admin.Client{Addrs: []string{"http://" + l.admin}}).LatestModel(ctx)
	var ae *admin.APIError
	switch {
	case version == 0 && !(errors.As(err, &ae) && ae.Status == http.StatusNotFound):
		t.Errorf("latest model before any commit: %+v, %v; want 404", info, err)
	case version > 0 && (err != nil || info.Version != version):
		t.Errorf("latest model after malformed commits: v%d, %v; want v%d", info.Version, err, version)
	}
}

func b64(s string) string {
	b, _ := json.Marshal([]byte(s))
	return strings.Trim(string(b), `"`)
}

func post(t *testing.T, ctx context.Context, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	must(t, err)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkOutputs waits until every site wrote model-v<version> and checks it
// against the site's own file: labels.csv lists exactly the file's users,
// labelled as segmodel.Label labels the site's data (rebuilt here from the
// file by the engine), and the audiences partition them by segment. It
// returns each site's users per segment.
func checkOutputs(t *testing.T, c *cluster, paths []string, version uint64) []map[string]int {
	t.Helper()
	var counts []map[string]int
	for i, nd := range c.nodes {
		waitUntil(t, time.Minute, fmt.Sprintf("%s to write model v%d", nd.site, version), func() bool {
			return nd.d.Activation().ModelVersion >= version
		})
		dir := filepath.Join(nd.dir, "data", "out", fmt.Sprintf("model-v%d", version))
		mv, ok := nd.d.FederationState().Model(version)
		if !ok {
			t.Fatalf("%s has no model v%d", nd.site, version)
		}
		m, err := segmodel.Decode(mv.Model)
		must(t, err)
		data, ids := engineSiteData(t, paths[i], synth.Sites[i])
		want, err := segmodel.Label(m, data)
		must(t, err)

		rows := readCSV(t, filepath.Join(dir, "labels.csv"))
		if got := strings.Join(rows[0], ","); got != "user_id,segment,lifecycle_stage,cluster,p_alive,expected_purchases,clv" {
			t.Fatalf("%s labels.csv header %q", nd.site, got)
		}
		rows = rows[1:]
		if len(rows) != len(ids) {
			t.Fatalf("%s labels.csv has %d users, its file %d", nd.site, len(rows), len(ids))
		}
		segs := m.Segments()
		count := map[string]int{}
		predicted := 0
		for j, r := range rows {
			u := want[j]
			wantRow := []string{ids[j], segs[u.Segment], string(u.Stage), strconv.Itoa(int(u.Cluster)), fmtF(u.PAlive, 6), fmtF(u.ExpectedPurchases, 6), fmtF(u.CLV, 2)}
			if !slices.Equal(r, wantRow) {
				t.Fatalf("%s labels.csv row %d = %v, segmodel.Label gives %v", nd.site, j+1, r, wantRow)
			}
			count[segs[u.Segment]]++
			if r[4] != "" && r[6] != "" {
				predicted++
			}
		}
		// With DP off the CLV fit is that of the pooled (binned) data and
		// predicts every user; with DP on, on a few thousand users, the
		// noised fit may give parameters whose predictions overflow.
		if m.CLV == nil || !m.Privacy.DP && predicted != len(rows) {
			t.Errorf("%s: model v%d has CLV %v; %d of %d users have P(alive) and CLV", nd.site, version, m.CLV != nil, predicted, len(rows))
		}
		if i == 0 {
			t.Logf("model v%d (DP %v): CLV %+v; %s: %d of %d users with predictions", version, m.Privacy.DP, *m.CLV, nd.site, predicted, len(rows))
		}
		// Audiences: one file per segment, ids exactly the segment's users,
		// all of them together exactly the site's users.
		if a := nd.d.Activation(); a.ModelVersion == version {
			for _, sz := range a.Segments {
				if sz.Users != count[sz.Segment] {
					t.Errorf("%s activation: %s has %d users, labels.csv %d", nd.site, sz.Segment, sz.Users, count[sz.Segment])
				}
			}
		}
		seen := map[string]bool{}
		for _, s := range segs {
			col := readColumn(t, filepath.Join(dir, "audiences", s+".csv"), 0)
			if col[0] != "user_id" {
				t.Fatalf("%s audience %s header %q", nd.site, s, col[0])
			}
			for _, id := range col[1:] {
				j, ok := slices.BinarySearchFunc(ids, id, cmpIDs)
				if !ok || ids[j] != id || segs[want[j].Segment] != s || seen[id] {
					t.Fatalf("%s audience %s holds %q (known %v, already seen %v)", nd.site, s, id, ok, seen[id])
				}
				seen[id] = true
			}
			if len(col)-1 != count[s] {
				t.Errorf("%s audience %s has %d ids, %d users are labelled %s", nd.site, s, len(col)-1, count[s], s)
			}
		}
		if len(seen) != len(ids) {
			t.Errorf("%s audiences hold %d of its %d users", nd.site, len(seen), len(ids))
		}
		for _, f := range []string{"report.json", "report.html"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: %v", nd.site, err)
			}
		}
		counts = append(counts, count)
	}
	return counts
}

// engineSiteData analyses a site's file as a site does (RFM columns at the
// shared as-of) and returns its SiteData with the user ids in the same
// order, checked against the distinct user ids of the file itself.
func engineSiteData(t *testing.T, path, channel string) (*segmodel.SiteData, []string) {
	t.Helper()
	asOf, err := time.Parse(time.DateOnly, segAsOf)
	must(t, err)
	res, _, err := engine.Run(context.Background(), ingest.DefaultSource(path), engine.Config{Only: engine.OnlyRFM, AsOf: asOf},
		engine.RunOptions{OutDir: t.TempDir()})
	must(t, err)
	d, err := fedjobs.SiteDataFromEngine(res, channel)
	must(t, err)
	ids := make([]string, res.Users())
	for i := range ids {
		ids[i] = res.UserID(i)
	}
	fileIDs := readColumn(t, path, 0)[1:]
	slices.Sort(fileIDs)
	fileIDs = slices.Compact(fileIDs)
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if !slices.Equal(sorted, fileIDs) {
		t.Fatalf("%s: the engine's %d users are not the file's %d distinct user ids", path, len(ids), len(fileIDs))
	}
	if !slices.IsSortedFunc(ids, cmpIDs) {
		t.Fatalf("%s: engine user order is not the id order", path)
	}
	return d, ids
}

// cmpIDs orders user ids as the engine does for non-numeric ids (bytewise).
func cmpIDs(a, b string) int { return strings.Compare(a, b) }

func fmtF(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	must(t, err)
	return rows
}

func readColumn(t *testing.T, path string, col int) []string {
	t.Helper()
	var out []string
	for _, r := range readCSV(t, path) {
		out = append(out, r[col])
	}
	return out
}

// checkReports waits until every node applied the same log, then checks
// that GET /report.json answers byte-identical reports of model `version`
// on every node, with the ledger's budget, and that GET /report serves HTML.
func checkReports(t *testing.T, ctx context.Context, c *cluster, version uint64) *report.Report {
	t.Helper()
	waitUntil(t, 30*time.Second, "every node to apply the same log", func() bool {
		d := c.nodes[0].d.Digest()
		for _, nd := range c.nodes[1:] {
			if nd.d.Digest() != d {
				return false
			}
		}
		return true
	})
	var first []byte
	var rep report.Report
	for _, nd := range c.nodes {
		code, body := get(t, ctx, "http://"+nd.admin+"/report.json")
		if code != http.StatusOK {
			t.Fatalf("%s GET /report.json = %d %s", nd.site, code, body)
		}
		if first == nil {
			first = []byte(body)
			must(t, json.Unmarshal(first, &rep))
		} else if body != string(first) {
			t.Errorf("%s serves a different report:\n%s\nwant\n%s", nd.site, body, first)
		}
		if code, html := get(t, ctx, "http://"+nd.admin+"/report"); code != http.StatusOK || !strings.Contains(html, "<html") {
			t.Errorf("%s GET /report = %d", nd.site, code)
		}
	}
	if rep.Model.Version != version || len(rep.Members) != 3 || len(rep.Segments) == 0 {
		t.Errorf("report: model v%d, %d members, %d segments", rep.Model.Version, len(rep.Members), len(rep.Segments))
	}
	b, ok := c.nodes[0].d.FederationState().Budget("default", fedjobs.DefaultDataset)
	if !ok {
		t.Fatal("no ledger")
	}
	if rep.Budget.SpentEpsilon != b.Spent.Epsilon || rep.Budget.Epsilon != b.Total.Epsilon || len(rep.Budget.Charges) != len(b.Charges) ||
		rep.Budget.RemainingEpsilon != b.Remaining().Epsilon {
		t.Errorf("report budget %+v, ledger spent %+v of %+v with %d charges", rep.Budget, b.Spent, b.Total, len(b.Charges))
	}
	return &rep
}

func get(t *testing.T, ctx context.Context, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	must(t, err)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
