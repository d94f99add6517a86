package fedtest2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/config"
	"github.com/strata-fed/strata/node/daemon"
	"github.com/strata-fed/strata/protocol/pki"
)

// probeSite is a site id every node's config allows to connect (it never
// joins): tests use it to talk to nodes directly over QUIC.
const probeSite = "probe"

type testNode struct {
	site    string
	dir     string
	cfgPath string
	d       *daemon.Daemon
	stop    func()
	dead    bool
	admin   string          // fixed admin API address
	opts    []daemon.Option // Go-level daemon options, used by start
}

type cluster struct {
	t     testing.TB
	dir   string
	nodes []*testNode
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func freeUDP(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// newCluster starts n in-process daemons (site-0 bootstraps, the others
// join), then sets the federation to the insecure fast HE parameters and,
// if dpOff, disables DP (test-only switch, through the log).
func newCluster(t testing.TB, n int, dpOff bool) *cluster {
	return newClusterParams(t, n, dpOff, "TestPN11QP120")
}

// newClusterParams is newCluster with a named HE parameter set.
func newClusterParams(t testing.TB, n int, dpOff bool, params string) *cluster {
	t.Helper()
	c := writeConfigs(t, n)
	c.start(c.nodes[0])
	c.waitLeader()
	for _, nd := range c.nodes[1:] {
		c.start(nd)
	}
	c.waitJoined(n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := c.leader()
	must(t, l.d.SetSetting(ctx, "he_params", params))
	if dpOff {
		must(t, l.d.SetSetting(ctx, "dp_disabled", "true"))
	}
	return c
}

// writeConfigs creates the CA, certificates (the n sites and the probe)
// and node configurations with fixed loopback ports, so a node restarted
// from its data directory keeps its raft address. Every node allows DP-off
// rounds (federation.allow_dp_off), which the tests switch on.
func writeConfigs(t testing.TB, n int) *cluster { return writeConfigsOpts(t, n, true) }

// writeConfigsOpts is writeConfigs with each node's federation.allow_dp_off.
func writeConfigsOpts(t testing.TB, n int, allowDPOff bool) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir()}
	ca, err := pki.NewCA(pki.CAOptions{Name: "fedtest2"})
	must(t, err)
	caPath := filepath.Join(c.dir, "ca.pem")
	must(t, ca.Save(caPath, filepath.Join(c.dir, "ca.key"), false))
	var sites, addrs []string
	for i := range n {
		sites = append(sites, fmt.Sprintf("site-%d", i))
		addrs = append(addrs, freeUDP(t))
	}
	probe, err := ca.Issue(probeSite, pki.NodeOptions{})
	must(t, err)
	must(t, probe.Save(filepath.Join(c.dir, "probe.pem"), filepath.Join(c.dir, "probe.key"), false))
	for i, site := range sites {
		dir := filepath.Join(c.dir, site)
		must(t, os.MkdirAll(dir, 0o700))
		nc, err := ca.Issue(site, pki.NodeOptions{})
		must(t, err)
		must(t, nc.Save(filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key"), false))
		adminAddr := freeTCP(t)
		cfg := fmt.Sprintf(`site: %s
data_dir: %s
listen: %s
admin: %s
tls: {ca: %s, cert: %s, key: %s}
federation:
  bootstrap: %v
  sites: [%s, %s]
  join: [%s]
  allow_dp_off: %v
raft: {heartbeat_timeout: 1s, election_timeout: 1s, leader_lease_timeout: 500ms}
log: {level: warn}
`, site, filepath.Join(dir, "data"), addrs[i], adminAddr, caPath, filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key"),
			i == 0, strings.Join(sites, ", "), probeSite, addrs[0], allowDPOff)
		p := filepath.Join(dir, "node.yaml")
		must(t, os.WriteFile(p, []byte(cfg), 0o600))
		c.nodes = append(c.nodes, &testNode{site: site, dir: dir, cfgPath: p, admin: adminAddr})
	}
	return c
}

func freeTCP(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs a node's daemon in a goroutine; stop cancels it and waits.
func (c *cluster) start(nd *testNode) {
	t := c.t
	t.Helper()
	cfg, err := config.LoadFile(nd.cfgPath)
	must(t, err)
	log := slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("site", nd.site)
	d, err := daemon.New(cfg, log, nd.opts...)
	if err != nil {
		t.Fatalf("start %s: %v", nd.site, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	stopped := false
	nd.d = d
	nd.dead = false
	nd.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(nd.stop)
}

func (c *cluster) leader() *testNode {
	for _, nd := range c.nodes {
		if nd.d != nil && nd.alive() && nd.d.Status().State == "Leader" {
			return nd
		}
	}
	return nil
}

func (nd *testNode) alive() bool { return nd.stop != nil && !nd.dead }

func (c *cluster) waitLeader() *testNode {
	c.t.Helper()
	var l *testNode
	waitUntil(c.t, 30*time.Second, "a leader", func() bool { l = c.leader(); return l != nil })
	return l
}

func (c *cluster) waitJoined(n int) {
	c.t.Helper()
	waitUntil(c.t, 60*time.Second, fmt.Sprintf("%d joined sites", n), func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		joined := 0
		for _, s := range l.d.FederationState().Sites() {
			if s.Status == fsm.StatusJoined && s.Live {
				joined++
			}
		}
		return joined == n
	})
}

// kill stops a node (its data directory stays).
func (c *cluster) kill(nd *testNode) {
	nd.stop()
	nd.dead = true
}

// client talks to every live node's admin API.
func (c *cluster) client() *admin.Client {
	var addrs []string
	for _, nd := range c.nodes {
		if nd.alive() {
			addrs = append(addrs, "http://"+nd.admin)
		}
	}
	return &admin.Client{Addrs: addrs}
}

// nodeClient talks to one node (for its local statistics).
func nodeClient(nd *testNode) *admin.Client {
	return &admin.Client{Addrs: []string{"http://" + nd.admin}}
}

func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDPOffNeedsLeaderConsent: a leader whose config does not set
// federation.allow_dp_off refuses to turn DP off for the federation, in Go
// and over the admin API (400), and the setting stays off.
func TestDPOffNeedsLeaderConsent(t *testing.T) {
	c := writeConfigsOpts(t, 1, false)
	c.start(c.nodes[0])
	l := c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := l.d.SetSetting(ctx, "dp_disabled", "true")
	if !errors.Is(err, admin.ErrBadRequest) || !strings.Contains(err.Error(), "allow_dp_off") {
		t.Fatalf("SetSetting(dp_disabled, true) = %v, want a bad request naming allow_dp_off", err)
	}
	if err := putJSON(ctx, l, "/v1/settings/dp_disabled", map[string]string{"value": "true"}); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("PUT /v1/settings/dp_disabled true = %v, want HTTP 400", err)
	}
	if l.d.FederationState().Settings().DPDisabled {
		t.Fatal("DP was disabled by a leader without consent")
	}
	// Turning it (explicitly) on, and other settings, still work.
	must(t, l.d.SetSetting(ctx, "dp_disabled", "false"))
	must(t, l.d.SetSetting(ctx, "min_cell_count", "7"))
}
