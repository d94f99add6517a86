package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/report"
)

// memFederation is an admin backend whose secure sums are jobs.MemSummer
// sums (exact, DP off) over in-process sites: enough of a federation for
// the coordinator behind `strata segment`.
type memFederation struct {
	sites []*segmodel.SiteData
	mem   *jobs.MemSummer

	// partial makes site b miss every round.
	partial bool

	mu      sync.Mutex
	rounds  int
	models  []admin.ModelInfo
	charged float64
}

func newMemFederation(t *testing.T) *memFederation {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var sites []*segmodel.SiteData
	for _, ch := range []string{"store", "app"} {
		var c segmodel.Columns
		for range 400 {
			tenure := r.Int64N(700)
			c.TenureDays = append(c.TenureDays, tenure)
			c.RecencyDays = append(c.RecencyDays, r.Int64N(tenure+1))
			c.Frequency = append(c.Frequency, 1+r.Int64N(8))
			c.MonetaryCents = append(c.MonetaryCents, 100+r.Int64N(50000))
		}
		d, err := segmodel.NewSiteData(ch, c)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, d)
	}
	return &memFederation{sites: sites, mem: &jobs.MemSummer{Sites: sites}}
}

func (f *memFederation) Status() admin.Status                             { return admin.Status{Site: "a", State: "Leader"} }
func (f *memFederation) InviteSite(context.Context, string) error         { return nil }
func (f *memFederation) RemoveMember(context.Context, string) error       { return nil }
func (f *memFederation) SetSetting(context.Context, string, string) error { return nil }
func (f *memFederation) StartKeySetup(context.Context, int, string) (securesum.KeyInfo, error) {
	return securesum.KeyInfo{}, nil
}
func (f *memFederation) Keys() []securesum.KeyInfo {
	return []securesum.KeyInfo{{Epoch: 1, Status: "active", Participants: []string{"a", "b"}, Threshold: 2, HEParams: "TestPN11QP120"}}
}
func (f *memFederation) SetStatistic(string, string, []int64) error { return nil }
func (f *memFederation) Statistics() []string                       { return nil }
func (f *memFederation) RoundResult(string) (securesum.Result, bool) {
	return securesum.Result{}, false
}
func (f *memFederation) SetBudget(context.Context, string, float64, float64) (fsm.Budget, error) {
	return fsm.Budget{}, nil
}
func (f *memFederation) Budgets() []fsm.Budget     { return nil }
func (f *memFederation) SumStats() securesum.Stats { return securesum.Stats{} }

func (f *memFederation) SecureSum(ctx context.Context, s securesum.Spec) (securesum.Result, error) {
	v, err := f.mem.Sum(ctx, jobs.Query{Statistic: s.Statistic, Params: s.Params, Length: s.Length, Lo: s.Lo, Hi: s.Hi})
	if err != nil {
		return securesum.Result{}, fmt.Errorf("%w: %w", admin.ErrBadRequest, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rounds++
	f.charged += s.Epsilon
	contributors := []string{"a", "b"}
	if f.partial {
		contributors = contributors[:1]
	}
	return securesum.Result{RoundID: strconv.Itoa(f.rounds), Statistic: s.Statistic, State: "done", Values: v,
		Noise: fsm.NoiseParams{Mechanism: "none"}, Contributors: contributors, Charged: fsm.Cost{Epsilon: s.Epsilon}}, nil
}

func (f *memFederation) CommitModel(_ context.Context, model []byte, rounds []string) (admin.ModelInfo, error) {
	if _, err := segmodel.Decode(model); err != nil {
		return admin.ModelInfo{}, fmt.Errorf("%w: %w", admin.ErrBadRequest, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	info := admin.ModelInfo{Version: uint64(len(f.models)) + 1, ContentHash: segmodel.Hash(model), Model: model, Rounds: rounds}
	f.models = append(f.models, info)
	return info, nil
}

func (f *memFederation) LatestModel() (admin.ModelInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.models) == 0 {
		return admin.ModelInfo{}, false
	}
	return f.models[len(f.models)-1], true
}

func (f *memFederation) Activation() admin.Activation {
	return admin.Activation{Site: "a", Data: admin.DataReady, Channel: "store", Users: 400}
}

// Report is a fixed table under the latest version.
func (f *memFederation) Report(context.Context) (*report.Report, error) {
	info, ok := f.LatestModel()
	if !ok {
		return nil, report.ErrNoReport
	}
	return &report.Report{
		Federation: "default/segmentation", Model: report.Model{Version: info.Version, RuleSet: "rfm11"},
		Channels: []report.Channel{{Name: "store", Users: 7}, {Name: "app", Users: 5}},
		Segments: []report.Segment{{Name: "champions", Cells: []report.Cell{{Users: 4}, {Users: 3}}}, {Name: "lost", Cells: []report.Cell{{Users: 3}, {Users: 2}}}},
		Budget:   report.Budget{Epsilon: 9, SpentEpsilon: 3, RemainingEpsilon: 6, Composition: "basic"},
	}, nil
}

// TestSegmentCommand runs `strata segment` against two admin APIs of an
// in-memory federation: it waits for the data, runs every job, commits the
// model with every round, prints the summary and progress, writes the
// report with --out.
func TestSegmentCommand(t *testing.T) {
	f := newMemFederation(t)
	a := httptest.NewServer(admin.Handler(f, nil, nil))
	defer a.Close()
	var out, errOut bytes.Buffer
	dir := t.TempDir()
	code := run(context.Background(), []string{"segment", "--admin", a.URL, "--dp-off", "--channels", "store,app", "--k", "3",
		"--clv", "off", "--max-iter", "20", "--out", dir}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("strata segment: exit %d, stderr %s", code, errOut.String())
	}
	info, ok := f.LatestModel()
	if !ok || info.Version != 1 || len(info.Rounds) != f.rounds || f.rounds < 5 {
		t.Fatalf("committed %+v after %d rounds", info, f.rounds)
	}
	m, err := segmodel.Decode(info.Model)
	if err != nil || len(m.Clusters.Centroids) != 3 || m.CLV != nil || m.Privacy.DP {
		t.Fatalf("committed model %+v, %v", m, err)
	}
	for _, want := range []string{"model v1 committed", "thresholds", "k-means", "champions", "store", "all", "budget default/segmentation: spent ε=3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	n := 0
	for _, l := range strings.Split(errOut.String(), "\n") {
		if strings.HasPrefix(l, "round ") {
			n++
		}
	}
	if n != f.rounds {
		t.Errorf("%d progress lines for %d rounds:\n%s", n, f.rounds, errOut.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil || r.Model.Version != 1 || len(r.Phases) == 0 || r.DurationSeconds <= 0 {
		t.Errorf("report.json: %+v, %v", r, err)
	}
	// Channels default to the sites' own (GET /v1/activation).
	out.Reset()
	errOut.Reset()
	code = run(context.Background(), []string{"segment", "--admin", a.URL, "--dp-off", "--clv", "off", "--max-iter", "20", "--json"}, &out, &errOut)
	if code == exitOK || !strings.Contains(errOut.String(), "seg.channel") {
		// The in-memory sites are "store" and "app"; only "store" is named by
		// the activation, so the app site cannot place its users.
		t.Errorf("segment with the activation's channels: exit %d, stderr %s", code, errOut.String())
	}
}

// TestSegmentIncomplete: a round a key holder did not contribute to stops
// the run before anything is committed.
func TestSegmentIncomplete(t *testing.T) {
	f := newMemFederation(t)
	f.partial = true
	a := httptest.NewServer(admin.Handler(f, nil, nil))
	defer a.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"segment", "--admin", a.URL, "--dp-off", "--channels", "store,app", "--clv", "off"}, &out, &errOut)
	if code != exitFailure || !strings.Contains(errOut.String(), "[b] did not contribute") || f.rounds != 1 {
		t.Errorf("exit %d after %d rounds, stderr %s; want a failure naming site b after the first round", code, f.rounds, errOut.String())
	}
	if _, ok := f.LatestModel(); ok {
		t.Error("a model was committed")
	}
	// Restricted to the sites that contribute, the run completes.
	code = run(context.Background(), []string{"segment", "--admin", a.URL, "--dp-off", "--channels", "store,app", "--clv", "off",
		"--max-iter", "10", "--participants", "a"}, &out, &errOut)
	if code != exitOK {
		t.Errorf("--participants a: exit %d, stderr %s", code, errOut.String())
	}
}

func TestSegmentFlags(t *testing.T) {
	for _, args := range [][]string{
		{"segment"},
		{"segment", "--epsilon", "1", "--dp-off"},
		{"segment", "--epsilon", "-1"},
		{"segment", "--epsilon", "1", "--delta", "2"},
		{"segment", "--dp-off", "--k", "9"},
		{"segment", "--dp-off", "--rule-set", "no-such-preset"},
		{"segment", "--epsilon", "1", "--clv", "exact"},
		{"segment", "--dp-off", "--clv", "maybe"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != exitUsage {
			t.Errorf("strata %v: exit %d (%s), want %d", args, code, errOut.String(), exitUsage)
		}
	}
	// A rule-set file is read and checked.
	dir := t.TempDir()
	bad := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(bad, []byte("rules: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"segment", "--dp-off", "--rule-set", bad}, &out, &errOut); code != exitFailure || !strings.Contains(errOut.String(), "rules.yaml") {
		t.Errorf("bad rule-set file: exit %d, stderr %s", code, errOut.String())
	}
}
