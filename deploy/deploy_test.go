//go:build unix

// Package deploy holds no Go code, only tests of the deployment material:
// deploy/local/up.sh and down.sh start and stop a real local federation, and
// every sample YAML file under deploy/ loads with the loader that will read
// it, so samples cannot go stale.
package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/config"
	"github.com/strata-fed/strata/node/fedtest"
	"github.com/strata-fed/strata/node/ingest"
)

// TestMain lets up.sh run this test binary as strata (STRATA_BIN).
func TestMain(m *testing.M) {
	fedtest.MaybeExec()
	os.Exit(m.Run())
}

// nodeEntry is one element of DIR/nodes.json as up.sh writes it.
type nodeEntry struct {
	Site   string `json:"site"`
	PID    int    `json:"pid"`
	Admin  string `json:"admin"`
	Addr   string `json:"addr"`
	Config string `json:"config"`
	Log    string `json:"log"`
}

// TestLocalUpDown runs `deploy/local/up.sh 3 DIR` with this test binary as
// STRATA_BIN on free ports, checks DIR/nodes.json, the generated configs
// and GET /v1/status of every node, then `down.sh DIR`.
func TestLocalUpDown(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("deploy/local/up.sh needs %s: %v", tool, err)
		}
	}
	bin, env, err := fedtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	base, err := fedtest.FreeBasePort(3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env = append(env, "STRATA_BIN="+bin, "STRATA_BASE_PORT="+strconv.Itoa(base), "STRATA_UP_TIMEOUT=60")

	up := script(t, env, "local/up.sh", "3", dir)
	// up.sh leaves the nodes running in its process group: kill the group
	// whatever happens.
	t.Cleanup(func() {
		if up.Process == nil {
			return
		}
		if err := syscall.Kill(-up.Process.Pid, syscall.SIGKILL); err == nil {
			t.Logf("killed processes left in up.sh's process group %d", up.Process.Pid)
		}
	})
	out, err := run(up)
	t.Logf("up.sh:\n%s", out)
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("up.sh 3 %s: %v", dir, err)
	}

	nodes := readNodes(t, filepath.Join(dir, "nodes.json"))
	if len(nodes) != 3 {
		t.Fatalf("nodes.json has %d nodes, want 3", len(nodes))
	}
	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	bootstraps := 0
	for i, n := range nodes {
		wantSite := fmt.Sprintf("site-%d", i+1)
		if n.Site != wantSite {
			t.Errorf("nodes[%d].site = %q, want %q", i, n.Site, wantSite)
		}
		if !alive(n.PID) {
			t.Errorf("%s: pid %d is not running", n.Site, n.PID)
		}
		if want := fmt.Sprintf("http://127.0.0.1:%d", base+101+i); n.Admin != want {
			t.Errorf("%s: admin = %q, want %q", n.Site, n.Admin, want)
		}
		cfg, err := config.LoadFile(n.Config)
		if err != nil {
			t.Errorf("%s: generated config: %v", n.Site, err)
			continue
		}
		u, err := url.Parse(n.Admin)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Site != n.Site || cfg.Listen != n.Addr || cfg.Admin != u.Host {
			t.Errorf("%s: config site %q listen %q admin %q, nodes.json says %q %q %q",
				n.Site, cfg.Site, cfg.Listen, cfg.Admin, n.Site, n.Addr, u.Host)
		}
		if len(cfg.Federation.Sites) != 3 {
			t.Errorf("%s: federation.sites = %v, want the 3 sites", n.Site, cfg.Federation.Sites)
		}
		if cfg.Federation.Bootstrap {
			bootstraps++
		}
	}
	if bootstraps != 1 {
		t.Errorf("%d generated configs bootstrap, want exactly 1", bootstraps)
	}

	var leader string
	for _, n := range nodes {
		st, err := status(client, n.Admin)
		if err != nil {
			t.Errorf("%s: %v", n.Site, err)
			continue
		}
		if st.Site != n.Site {
			t.Errorf("%s: status site = %q", n.Site, st.Site)
		}
		if st.Leader == "" || (leader != "" && st.Leader != leader) {
			t.Errorf("%s: leader = %q, others say %q", n.Site, st.Leader, leader)
		}
		leader = st.Leader
		if len(st.Members) != 3 {
			t.Errorf("%s: %d members, want 3: %+v", n.Site, len(st.Members), st.Members)
		}
		if st.CommitIndex == 0 {
			t.Errorf("%s: commit_index = 0", n.Site)
		}
	}
	if t.Failed() {
		dumpLogs(t, dir)
	}

	offsets := map[string]int64{}
	for _, n := range nodes {
		if fi, err := os.Stat(n.Log); err == nil {
			offsets[n.Site] = fi.Size()
		}
	}
	down := script(t, nil, "local/down.sh", dir)
	out, err = run(down)
	t.Logf("down.sh:\n%s", out)
	if err != nil {
		t.Fatalf("down.sh %s: %v", dir, err)
	}
	if !strings.Contains(out, "stopped 3 nodes") {
		t.Errorf("down.sh output %q does not report 3 stopped nodes", out)
	}
	for _, n := range nodes {
		if alive(n.PID) {
			t.Errorf("%s: pid %d still running after down.sh", n.Site, n.PID)
		}
		b, _ := os.ReadFile(n.Log)
		if int64(len(b)) < offsets[n.Site] || !regexp.MustCompile(`msg=stopped\b`).Match(b[offsets[n.Site]:]) {
			t.Errorf("%s: no graceful %q line in its log after down.sh", n.Site, "stopped")
		}
		if _, err := status(client, n.Admin); err == nil {
			t.Errorf("%s: admin API still answers after down.sh", n.Site)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nodes.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nodes.json still present after down.sh (err %v)", err)
	}
	if t.Failed() {
		dumpLogs(t, dir)
	}
}

// script prepares bash PATH ARGS... in its own process group, killed as a
// group when its context (2 minutes) ends.
func script(t *testing.T, env []string, path string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "bash", append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func run(cmd *exec.Cmd) (string, error) {
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readNodes(t *testing.T, path string) []nodeEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []nodeEntry
	if err := json.Unmarshal(b, &nodes); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return nodes
}

func status(c *http.Client, base string) (admin.Status, error) {
	var st admin.Status
	resp, err := c.Get(base + "/v1/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /v1/status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// alive reports whether pid is a live process (not a zombie: the nodes are
// orphans once up.sh exits, and their reaper may be slow).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func dumpLogs(t *testing.T, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		t.Logf("---- %s ----\n%s", l, b)
	}
}

// TestSampleConfigs loads every YAML file under deploy/: node configs
// (a top-level "site" key) with node/config, source files with
// node/ingest. A file that is neither fails the test.
func TestSampleConfigs(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(p); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no sample YAML files under deploy/: the examples are gone")
	}
	nodeConfigs := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var top map[string]any
		if err := yaml.Unmarshal(b, &top); err != nil {
			t.Errorf("%s: not YAML: %v", f, err)
			continue
		}
		if _, ok := top["site"]; ok {
			nodeConfigs++
			if _, err := config.LoadFile(f); err != nil {
				t.Errorf("node config %s: %v", f, err)
				continue
			}
			t.Logf("%s: node config OK", f)
			continue
		}
		if _, err := ingest.LoadSource(f); err != nil {
			t.Errorf("source file %s: %v", f, err)
			continue
		}
		t.Logf("%s: source file OK", f)
	}
	if nodeConfigs == 0 {
		t.Log("no node configs under deploy/ yet; TestLocalUpDown loads the ones up.sh generates")
	}
}

// TestDemo runs deploy/local/demo.sh — the main job, `strata demo`, with
// this test binary as strata — at a small size, and checks that it ran the
// whole pipeline: the report with its segment × channel table, the HTML
// report and every site's audiences written, the timing table, exit 0.
// (node/demo's tests check the outputs in detail.)
func TestDemo(t *testing.T) {
	bin, env, err := fedtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env = append(env, "STRATA_BIN="+bin)
	demo := script(t, env, "local/demo.sh", "--users", "3000", "--dir", dir)
	out, err := run(demo)
	t.Logf("demo.sh:\n%s", out)
	if err != nil {
		t.Fatalf("demo.sh: %v", err)
	}
	for _, want := range []string{
		"committed to the log", "champions", "brand-store", "marketplace", "mini-program",
		"HTML report: " + dir, "job: k-means", "labelling and export", "total",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	htmls, err := filepath.Glob(filepath.Join(dir, "*", "data", "out", "model-v1", "report.html"))
	if err != nil || len(htmls) != 3 {
		t.Errorf("report.html of model v1 at %d sites (%v), want 3", len(htmls), err)
	}
}

// TestSecureSumDemo runs deploy/local/securesum-demo.sh as a newcomer
// would, and checks each step it promises.
func TestSecureSumDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo starts three node processes and runs four HE rounds")
	}
	bin, env, err := fedtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	base, err := fedtest.FreeBasePort(3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env = append(env, "STRATA_BIN="+bin, "STRATA_BASE_PORT="+strconv.Itoa(base), "STRATA_UP_TIMEOUT=60")
	demo := script(t, env, "local/securesum-demo.sh", dir)
	t.Cleanup(func() {
		if demo.Process != nil {
			_ = syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
		}
	})
	out, err := run(demo)
	t.Logf("securesum-demo.sh:\n%s", out)
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("securesum-demo.sh: %v", err)
	}
	for _, want := range []string{
		"federation of 3 nodes formed",
		"key epoch 1 active: 2-of-3",
		"noise: mechanism=skellam",
		"new leader site-",
		"round 2: revenue over 2 sites",
		"budget_exhausted",
		"stopped 3 nodes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nodes.json")); err == nil {
		t.Errorf("nodes.json still present: the demo did not stop its nodes")
	}
}
