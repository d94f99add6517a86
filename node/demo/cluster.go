package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/config"
	"github.com/strata-fed/strata/node/daemon"
	"github.com/strata-fed/strata/protocol/pki"
)

// node is one in-process daemon of the demo federation.
type node struct {
	site    Site
	dir     string // <root>/<site>
	cfgPath string
	logPath string
	quic    string // QUIC address (fixed before start: raft needs it)

	d       *daemon.Daemon
	logFile *os.File

	mu     sync.Mutex
	exited bool  // Run has returned
	runErr error // Run's result
}

// ended reports whether the node's Run has returned, and its error.
func (n *node) ended() (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exited, n.runErr
}

// cluster is the demo federation: three daemons in this process, each
// with its own data directory, certificate, config and log file.
type cluster struct {
	root    string
	nodes   []*node
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped bool
}

// setupOptions are what the node configs need beyond the sites.
type setupOptions struct {
	allowDPOff bool
	asOf       string // data.as_of of every site ("" = each site's default)
}

// writeFederation creates the CA, one certificate per site and the node
// configs under root:
//
//	root/ca.pem, ca-key.pem
//	root/<site>/node.pem, node-key.pem, node.yaml, node.log, data/
//
// QUIC ports are picked free on loopback now (raft uses them as the nodes'
// addresses); admin ports are bound by the daemons themselves (port 0).
func writeFederation(root string, sites []Site, opt setupOptions) (*cluster, error) {
	ca, err := pki.NewCA(pki.CAOptions{Name: "strata-demo"})
	if err != nil {
		return nil, fmt.Errorf("federation CA: %w", err)
	}
	caPath := filepath.Join(root, "ca.pem")
	if err := ca.Save(caPath, filepath.Join(root, "ca-key.pem"), true); err != nil {
		return nil, fmt.Errorf("federation CA: %w", err)
	}
	c := &cluster{root: root}
	var ids []string
	for _, s := range sites {
		ids = append(ids, s.ID)
	}
	for _, s := range sites {
		addr, err := freeUDP()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(root, s.ID)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("site %s: %w", s.ID, err)
		}
		nc, err := ca.Issue(s.ID, pki.NodeOptions{})
		if err != nil {
			return nil, fmt.Errorf("site %s certificate: %w", s.ID, err)
		}
		if err := nc.Save(filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem"), true); err != nil {
			return nil, fmt.Errorf("site %s certificate: %w", s.ID, err)
		}
		c.nodes = append(c.nodes, &node{site: s, dir: dir, cfgPath: filepath.Join(dir, "node.yaml"),
			logPath: filepath.Join(dir, "node.log"), quic: addr})
	}
	for i, n := range c.nodes {
		if err := os.WriteFile(n.cfgPath, []byte(nodeConfig(n, caPath, ids, c.nodes[0].quic, i == 0, opt)), 0o600); err != nil {
			return nil, fmt.Errorf("site %s config: %w", n.site.ID, err)
		}
	}
	return c, nil
}

// nodeConfig is a node's YAML configuration (node/config). Paths are
// absolute so the file can also be used with `strata serve --config`.
func nodeConfig(n *node, caPath string, sites []string, join string, bootstrap bool, opt setupOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by strata demo: site %s of a three-site demo federation on loopback.
site: %s
data_dir: %s
listen: %s
admin: 127.0.0.1:0          # any free port; the demo prints it
tls:
  ca: %s
  cert: %s
  key: %s
federation:
  bootstrap: %v
  sites: [%s]
`, n.site.ID, n.site.ID, filepath.Join(n.dir, "data"), n.quic, caPath,
		filepath.Join(n.dir, "node.pem"), filepath.Join(n.dir, "node-key.pem"),
		bootstrap, strings.Join(sites, ", "))
	if !bootstrap {
		fmt.Fprintf(&b, "  join: [%s]\n", join)
	}
	if opt.allowDPOff {
		b.WriteString("  allow_dp_off: true         # test-only: this site consents to exact, un-noised releases\n")
	}
	// Raft timeouts above the LAN defaults: the three nodes share this
	// process's CPUs with three local analyses at start-up, and a leader
	// starved of CPU for its lease would step down and abort rounds.
	fmt.Fprintf(&b, `raft: {heartbeat_timeout: 1s, election_timeout: 1s, leader_lease_timeout: 1s}
log: {level: error}         # raft's own log (stderr); the node's log is node.log
data:
  file: %s
  channel: %s
`, n.site.Data, n.site.Channel)
	if opt.asOf != "" {
		fmt.Fprintf(&b, "  as_of: %s\n", opt.asOf)
	}
	return b.String()
}

// freeUDP returns a loopback UDP address that was free a moment ago.
func freeUDP() (string, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().String(), nil
}

// start creates and runs every node's daemon in this process, each
// logging to its node.log. The daemons run until stop.
func (c *cluster) start(ctx context.Context, level slog.Level) error {
	ctx, c.cancel = context.WithCancel(ctx)
	for _, n := range c.nodes {
		if err := c.startNode(ctx, n, level); err != nil {
			c.stop()
			return err
		}
	}
	return nil
}

func (c *cluster) startNode(ctx context.Context, n *node, level slog.Level) error {
	cfg, err := config.LoadFile(n.cfgPath)
	if err != nil {
		return fmt.Errorf("site %s: %w", n.site.ID, err)
	}
	f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("site %s log: %w", n.site.ID, err)
	}
	log := slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: level}))
	d, err := daemon.New(cfg, log)
	if err != nil {
		f.Close()
		return fmt.Errorf("start site %s: %w", n.site.ID, err)
	}
	n.d, n.logFile = d, f
	c.wg.Go(func() {
		err := d.Run(ctx)
		n.mu.Lock()
		n.exited, n.runErr = true, err
		n.mu.Unlock()
	})
	return nil
}

// stop cancels every daemon and waits until all of them have returned from
// Run (every goroutine they own has exited). It returns their errors; a
// second call does nothing.
func (c *cluster) stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	var errs []error
	for _, n := range c.nodes {
		if n.d == nil {
			continue
		}
		if _, err := n.ended(); err != nil {
			errs = append(errs, fmt.Errorf("site %s: %w", n.site.ID, err))
		}
		n.logFile.Close()
	}
	return errors.Join(errs...)
}

// adminURLs are the nodes' admin API base URLs.
func (c *cluster) adminURLs() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, "http://"+n.d.AdminAddr())
	}
	return out
}

// client talks to every node's admin API.
func (c *cluster) client() *admin.Client { return &admin.Client{Addrs: c.adminURLs()} }

// waitFormed waits until one node leads and every site has joined and is
// live in the leader's registry.
func (c *cluster) waitFormed(ctx context.Context) error {
	return c.poll(ctx, "a leader and all sites joined", func() (bool, error) {
		for _, n := range c.nodes {
			if n.d.Status().State != "Leader" {
				continue
			}
			joined := 0
			for _, s := range n.d.FederationState().Sites() {
				if s.Status == fsm.StatusJoined && s.Live {
					joined++
				}
			}
			return joined == len(c.nodes), nil
		}
		return false, nil
	})
}

// waitKeys waits until every node holds its share of the newest key.
func (c *cluster) waitKeys(ctx context.Context) error {
	return c.poll(ctx, "every node to hold its key share", func() (bool, error) {
		for _, n := range c.nodes {
			ks := n.d.Keys()
			if len(ks) == 0 || !ks[len(ks)-1].Holding {
				return false, nil
			}
		}
		return true, nil
	})
}

// alive fails when a node has stopped (its Run returned) before the
// cluster was stopped: a node that failed, e.g. on a malformed data file
// (the error then wraps ErrData).
func (c *cluster) alive() error {
	for _, n := range c.nodes {
		if exited, err := n.ended(); exited {
			if err == nil {
				err = errors.New("stopped")
			}
			if n.d.Activation().Data == admin.DataFailed {
				return fmt.Errorf("site %s: %w: %w", n.site.ID, err, ErrData)
			}
			return fmt.Errorf("site %s: %w", n.site.ID, err)
		}
	}
	return nil
}

// poll calls cond every 50 ms until it is true, it fails, a node stops,
// or ctx ends; the error names what was awaited and, when ctx's deadline
// passed, wraps ErrTimeout.
func (c *cluster) poll(ctx context.Context, what string, cond func() (bool, error)) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if err := c.alive(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("waiting for %s: %w: %w", what, ctx.Err(), ErrTimeout)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// leader returns the node that leads now, or nil.
func (c *cluster) leader() *node {
	for _, n := range c.nodes {
		if n.d.Status().State == "Leader" {
			return n
		}
	}
	return nil
}

// setSetting sets a federation-wide setting through the leader (retried
// across a leader change).
func (c *cluster) setSetting(ctx context.Context, key, value string) error {
	var last error
	return c.poll(ctx, "the leader to set "+key, func() (bool, error) {
		l := c.leader()
		if l == nil {
			return false, nil
		}
		last = l.d.SetSetting(ctx, key, value)
		if errors.Is(last, admin.ErrNotLeader) {
			return false, nil
		}
		return true, last
	})
}

// waitData waits until every site has analysed its data and returns their
// activation status; a site whose analysis failed is an error naming it.
// Progress lines report the rows read every few seconds.
func (c *cluster) waitData(ctx context.Context, progress func(string, ...any)) ([]admin.Activation, error) {
	acts := make([]admin.Activation, len(c.nodes))
	last := time.Now()
	err := c.poll(ctx, "every site to analyse its data", func() (bool, error) {
		ready := 0
		for i, n := range c.nodes {
			acts[i] = n.d.Activation()
			switch acts[i].Data {
			case admin.DataReady:
				ready++
			case admin.DataFailed:
				return false, fmt.Errorf("site %s: %s: %w", n.site.ID, acts[i].Error, ErrData)
			}
		}
		if ready < len(c.nodes) && time.Since(last) > 3*time.Second {
			last = time.Now()
			var parts []string
			for _, a := range acts {
				if a.Data == admin.DataReady {
					parts = append(parts, fmt.Sprintf("%s ready (%d users)", a.Site, a.Users))
				} else {
					parts = append(parts, fmt.Sprintf("%s %d rows read", a.Site, a.RowsRead))
				}
			}
			progress("local analysis: %s", strings.Join(parts, ", "))
		}
		return ready == len(c.nodes), nil
	})
	return acts, err
}

// waitActivation waits until every site has written its outputs for the
// model version (or a later one).
func (c *cluster) waitActivation(ctx context.Context, version uint64) ([]admin.Activation, error) {
	acts := make([]admin.Activation, len(c.nodes))
	err := c.poll(ctx, fmt.Sprintf("every site to write its outputs for model v%d", version), func() (bool, error) {
		done := 0
		for i, n := range c.nodes {
			acts[i] = n.d.Activation()
			if acts[i].LabelError != "" {
				return false, fmt.Errorf("site %s: %s: %w", n.site.ID, acts[i].LabelError, ErrOutput)
			}
			if acts[i].ModelVersion >= version {
				done++
			}
		}
		return done == len(c.nodes), nil
	})
	return acts, err
}
