package fedtest2

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/config"
	"github.com/strata-fed/strata/node/daemon"
)

// daemonEnv makes the test binary run one daemon (the config file it names)
// instead of the tests: TestRestartKeepsBudget stops and restarts nodes as
// real processes, so nothing survives a restart but the data directory.
// (raft-wal v0.4.0 also could not reopen a data directory in the process
// that closed it: its Close left the bolt metadata file locked.)
const daemonEnv = "FEDTEST2_DAEMON_CONFIG"

func TestMain(m *testing.M) {
	if path := os.Getenv(daemonEnv); path != "" {
		os.Exit(runDaemon(path))
	}
	os.Exit(m.Run())
}

func runDaemon(path string) int {
	cfg, err := config.LoadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	d, err := daemon.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startProc runs nd as a child process of the test binary.
func (c *cluster) startProc(nd *testNode) {
	t := c.t
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(nd.dir, "daemon.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	must(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), daemonEnv+"="+nd.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	stopped := false
	nd.dead = false
	nd.stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(func() {
		nd.stop()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(nd.dir, "daemon.log"))
			t.Logf("%s log (tail):\n%s", nd.site, tail(b, 3000))
		}
	})
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func getJSON(ctx context.Context, nd *testNode, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+nd.admin+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func putJSON(ctx context.Context, nd *testNode, path string, in any) error {
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+nd.admin+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: HTTP %d", path, resp.StatusCode)
	}
	return nil
}

// procLeader returns the node whose status says it leads with every site a
// raft member.
func (c *cluster) procLeader(ctx context.Context, members int) *testNode {
	for _, nd := range c.nodes {
		var st admin.Status
		if nd.alive() && getJSON(ctx, nd, "/v1/status", &st) == nil && st.State == "Leader" && len(st.Members) == members {
			return nd
		}
	}
	return nil
}

// TestRestartKeepsBudget: N = 3 daemon processes, DP off, t = 2. After
// every node stops and restarts from its data directory, the spent budget
// is unchanged on every node, rounds beyond it are still refused, and the
// key shares reloaded from disk still decrypt exact sums.
func TestRestartKeepsBudget(t *testing.T) {
	r := seedRand(t)
	c := writeConfigs(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c.startProc(c.nodes[0])
	waitUntil(t, 30*time.Second, "a leader", func() bool { return c.procLeader(ctx, 1) != nil })
	for _, nd := range c.nodes[1:] {
		c.startProc(nd)
	}
	var lead *testNode
	waitUntil(t, 60*time.Second, "3 members", func() bool { lead = c.procLeader(ctx, 3); return lead != nil })
	for k, v := range map[string]string{"he_params": "TestPN11QP120", "dp_disabled": "true"} {
		must(t, putJSON(ctx, lead, "/v1/settings/"+k, map[string]string{"value": v}))
	}
	// Joined is recorded right after raft admits a site: retry the key
	// set-up until it spans all three.
	waitUntil(t, 30*time.Second, "a 2-of-3 key", func() bool {
		k, err := c.client().StartKeySetup(ctx, 2, "")
		return err == nil && len(k.Participants) == 3
	})
	exactSums(t, c, r, 2, 1)

	if _, err := c.client().SetBudget(ctx, "ledger", 1, 0); err != nil {
		t.Fatal(err)
	}
	spec := func(eps float64) securesum.Spec {
		return securesum.Spec{Statistic: "ledger", Lo: -10, Hi: 10, Epsilon: eps}
	}
	setStats(t, c, r, "ledger", 10, -10, 10)
	for range 2 {
		_, err := c.client().SecureSum(ctx, spec(0.25), time.Minute)
		must(t, err)
	}
	if _, err := c.client().SecureSum(ctx, spec(0.75), time.Minute); apiCode(err) != "budget_exhausted" {
		t.Fatalf("before restart: err = %v, want budget_exhausted", err)
	}

	for _, nd := range c.nodes {
		nd.stop()
		nd.dead = true
	}
	for _, nd := range c.nodes {
		c.startProc(nd)
	}
	waitUntil(t, 60*time.Second, "a leader after the restart", func() bool { return c.procLeader(ctx, 3) != nil })
	for _, nd := range c.nodes {
		waitUntil(t, 30*time.Second, nd.site+" to replay its ledger and reload its key", func() bool {
			var bs []fsm.Budget
			var ks []securesum.KeyInfo
			if getJSON(ctx, nd, "/v1/budgets", &bs) != nil || getJSON(ctx, nd, "/v1/keys", &ks) != nil {
				return false
			}
			return len(bs) == 1 && bs[0].Spent.Epsilon == 0.5 && len(ks) > 0 && ks[len(ks)-1].Holding
		})
	}
	vs := setStats(t, c, r, "ledger", 10, -10, 10) // statistics live in memory only
	if _, err := c.client().SecureSum(ctx, spec(0.75), time.Minute); apiCode(err) != "budget_exhausted" {
		t.Fatalf("after restart: err = %v, want budget_exhausted", err)
	}
	res, err := c.client().SecureSum(ctx, spec(0.5), time.Minute)
	must(t, err)
	if want := sumOf(vs, res.Contributors, 10); !slices.Equal(res.Values, want) || len(res.Contributors) != 3 {
		t.Fatalf("after restart: sum over %v = %v, want %v", res.Contributors, res.Values, want)
	}
	if res.BudgetLeft == nil || res.BudgetLeft.Epsilon != 0 {
		t.Errorf("budget left %+v, want ε 0", res.BudgetLeft)
	}
	if _, err := c.client().SecureSum(ctx, spec(0.01), time.Minute); apiCode(err) != "budget_exhausted" {
		t.Fatalf("exhausted budget: err = %v, want budget_exhausted", err)
	}
}
