package fedtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/protocol/pki"
)

// Options configures Start. Zero values mean the documented defaults.
type Options struct {
	// ExtraSites are listed in every node's federation.sites without being
	// started: sites a later node (AddNode) may connect as.
	ExtraSites []string
	// LogLevel is the nodes' log level. Defaults to "info".
	LogLevel string
	// StartTimeout bounds forming the federation (all nodes up, one leader,
	// every node a member). Defaults to 60 s.
	StartTimeout time.Duration
	// StopTimeout bounds a SIGTERM shutdown in Stop and StopAll before the
	// process is killed and an error reported. Defaults to 15 s.
	StopTimeout time.Duration
}

// Cluster is a federation of node processes started by Start.
type Cluster struct {
	// Dir is the cluster's directory (under t.TempDir()).
	Dir string
	// CA is the federation CA (with its key, to issue more certificates);
	// CAPath is its certificate file, the nodes' tls.ca.
	CA     *pki.CA
	CAPath string
	// Sites is every node's federation.sites: the members and ExtraSites.
	Sites []string

	t     testing.TB
	opts  Options
	http  *http.Client
	nodes []*Node

	mu    sync.Mutex
	extra []*Node
}

// Start creates a federation CA, certificates and configs for n nodes
// (site-1 ... site-n) and starts them as separate processes: site-1 founds
// the federation, the others join through it. It returns when every node
// is up, they agree on a leader and every node is a member. Processes are
// killed in t.Cleanup. Start calls t.Fatal on failure.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("fedtest.Start: n = %d, want at least 1", n)
	}
	if _, _, err := Binary(); err != nil {
		t.Fatal(err)
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 15 * time.Second
	}
	c := &Cluster{
		Dir:  t.TempDir(),
		t:    t,
		opts: opts,
		http: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // loopback only: never a proxy from the environment
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		}},
	}
	t.Cleanup(c.cleanup)
	if err := c.setup(n); err != nil {
		t.Fatalf("fedtest.Start(%d): %v", n, err)
	}
	if err := c.form(); err != nil {
		t.Fatalf("fedtest.Start(%d): %v", n, err)
	}
	return c
}

func (c *Cluster) setup(n int) error {
	ca, err := pki.NewCA(pki.CAOptions{Name: "fedtest"})
	if err != nil {
		return err
	}
	c.CA = ca
	c.CAPath = filepath.Join(c.Dir, "ca.pem")
	if err := ca.Save(c.CAPath, "", false); err != nil {
		return err
	}
	for i := range n {
		c.Sites = append(c.Sites, "site-"+strconv.Itoa(i+1))
	}
	c.Sites = append(c.Sites, c.opts.ExtraSites...)
	for i := range n {
		nd, err := c.newNode(c.Sites[i], nil, c.Sites)
		if err != nil {
			return err
		}
		nd.Index = i
		nd.spec.bootstrap = i == 0
		c.nodes = append(c.nodes, nd)
	}
	return nil
}

// nodeSpec is what a node's config is written from.
type nodeSpec struct {
	bootstrap bool
	sites     []string
	join      []string
	certPath  string
	keyPath   string
}

// newNode creates a node's directory, certificate and ports; cert nil
// means a certificate from the federation CA.
func (c *Cluster) newNode(site string, cert *pki.NodeCert, sites []string) (*Node, error) {
	dir := filepath.Join(c.Dir, site)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg, log, data, certPath, keyPath := nodeFiles(dir)
	if cert == nil {
		var err error
		if cert, err = c.CA.Issue(site, pki.NodeOptions{}); err != nil {
			return nil, err
		}
	}
	if err := cert.Save(certPath, keyPath, false); err != nil {
		return nil, err
	}
	nd := &Node{Index: -1, Site: site, Dir: dir, ConfigPath: cfg, LogPath: log, DataDir: data, c: c,
		spec: nodeSpec{sites: sites, certPath: certPath, keyPath: keyPath}}
	if err := nd.allocPorts(); err != nil {
		return nil, err
	}
	return nd, nil
}

func (n *Node) allocPorts() error {
	u, err := FreeUDPPort()
	if err != nil {
		return err
	}
	a, err := FreeTCPPort()
	if err != nil {
		return err
	}
	n.QUICAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(u))
	n.AdminAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(a))
	return nil
}

// writeConfig writes the node's YAML config from its spec and addresses.
func (n *Node) writeConfig() error {
	var b strings.Builder
	fmt.Fprintf(&b, "site: %s\n", n.Site)
	fmt.Fprintf(&b, "data_dir: %q\n", n.DataDir)
	fmt.Fprintf(&b, "listen: %q\n", n.QUICAddr)
	fmt.Fprintf(&b, "admin: %q\n", n.AdminAddr)
	fmt.Fprintf(&b, "tls:\n  ca: %q\n  cert: %q\n  key: %q\n", n.c.CAPath, n.spec.certPath, n.spec.keyPath)
	b.WriteString("federation:\n")
	if n.spec.bootstrap {
		b.WriteString("  bootstrap: true\n")
	} else {
		fmt.Fprintf(&b, "  join: [%s]\n", quoteList(n.spec.join))
	}
	fmt.Fprintf(&b, "  sites: [%s]\n", quoteList(n.spec.sites))
	// The fabric tests switch dp_disabled through the leader, which needs
	// this node's consent (a test federation only).
	b.WriteString("  allow_dp_off: true\n")
	fmt.Fprintf(&b, "log:\n  level: %s\n", n.c.opts.LogLevel)
	return os.WriteFile(n.ConfigPath, []byte(b.String()), 0o600)
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// startFresh starts a node that has never run, moving it to fresh ports if
// it loses a port race.
func (n *Node) startFresh(timeout time.Duration) error {
	for attempt := 1; ; attempt++ {
		if err := n.writeConfig(); err != nil {
			return err
		}
		p, err := n.spawn()
		if err != nil {
			return err
		}
		err = n.waitReady(p, timeout)
		if err == nil {
			return nil
		}
		_ = n.Kill()
		if !errors.Is(err, errPortInUse) || attempt == 5 {
			return err
		}
		n.c.t.Logf("fedtest: %s lost a port race (quic %s, admin %s); retrying on fresh ports", n.Site, n.QUICAddr, n.AdminAddr)
		if err := os.RemoveAll(n.DataDir); err != nil {
			return err
		}
		if err := n.allocPorts(); err != nil {
			return err
		}
	}
}

// form starts the founding node, then the others, and waits for the
// federation to include them all.
func (c *Cluster) form() error {
	deadline := time.Now().Add(c.opts.StartTimeout)
	if err := c.nodes[0].startFresh(c.opts.StartTimeout); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i, nd := range c.nodes[1:] {
		nd.spec.join = []string{c.nodes[0].QUICAddr}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i+1] = nd.startFresh(time.Until(deadline))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.WaitMembers(len(c.nodes), time.Until(deadline))
}

// Node returns node i (0-based: node i is site-<i+1>).
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Nodes returns the cluster's nodes (not those added with AddNode).
func (c *Cluster) Nodes() []*Node { return slices.Clone(c.nodes) }

// Running returns the cluster's nodes whose process is alive.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// NodeBySite returns the cluster node of a site, or nil.
func (c *Cluster) NodeBySite(site string) *Node {
	for _, n := range c.nodes {
		if n.Site == site {
			return n
		}
	}
	return nil
}

// poll calls check every 25 ms until it returns nil or timeout passes; the
// error then wraps check's last error.
func poll(what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not reached within %v: %w", what, timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// statuses fetches the status of every running cluster node.
func (c *Cluster) statuses() ([]*Node, []admin.Status, error) {
	nodes := c.Running()
	if len(nodes) == 0 {
		return nil, nil, errors.New("no node is running")
	}
	sts := make([]admin.Status, len(nodes))
	for i, n := range nodes {
		st, err := n.Status()
		if err != nil {
			return nil, nil, err
		}
		sts[i] = st
	}
	return nodes, sts, nil
}

// WaitLeader waits until every running node names the same leader and that
// node reports itself Leader, and returns it.
func (c *Cluster) WaitLeader(timeout time.Duration) (*Node, error) {
	var leader *Node
	err := poll("a leader all running nodes agree on", timeout, func() error {
		nodes, sts, err := c.statuses()
		if err != nil {
			return err
		}
		l := sts[0].Leader
		for i, st := range sts {
			if st.Leader == "" || st.Leader != l {
				return fmt.Errorf("%s names leader %q, %s names %q", nodes[0].Site, l, nodes[i].Site, st.Leader)
			}
		}
		for i, n := range nodes {
			if n.Site == l {
				if sts[i].State != "Leader" {
					return fmt.Errorf("%s is named leader but is %s", l, sts[i].State)
				}
				leader = n
				return nil
			}
		}
		return fmt.Errorf("leader %q is not a running cluster node", l)
	})
	return leader, err
}

// WaitMembers waits until a leader is agreed and every running node lists
// exactly n raft members.
func (c *Cluster) WaitMembers(n int, timeout time.Duration) error {
	start := time.Now()
	if _, err := c.WaitLeader(timeout); err != nil {
		return err
	}
	return poll(fmt.Sprintf("%d members on every running node", n), timeout-time.Since(start), func() error {
		nodes, sts, err := c.statuses()
		if err != nil {
			return err
		}
		for i, st := range sts {
			if len(st.Members) != n || st.Leader == "" {
				return fmt.Errorf("%s: %d members, leader %q", nodes[i].Site, len(st.Members), st.Leader)
			}
		}
		return nil
	})
}

// WaitConverged waits until every running node names a leader, has
// applied everything it committed, and all report the same applied index
// and fsm_digest; moreover the applied index must reach the leader's last
// log index as first seen in its term, so that the leader's own entry of
// the term (and with it everything before) is committed: right after an
// election or a restart, commit index 0 everywhere is no convergence. It
// returns the status of the first running node. Call it after writes have
// been acknowledged.
func (c *Cluster) WaitConverged(timeout time.Duration) (admin.Status, error) {
	var out admin.Status
	type leaderTerm struct {
		site string
		term uint64
	}
	var seen leaderTerm
	var floor uint64
	err := poll("converged state on every running node", timeout, func() error {
		nodes, sts, err := c.statuses()
		if err != nil {
			return err
		}
		for _, st := range sts {
			if st.State == "Leader" && (leaderTerm{st.Site, st.Term}) != seen {
				seen, floor = leaderTerm{st.Site, st.Term}, st.LastLogIndex
			}
		}
		if seen.site == "" {
			return errors.New("no running node is the leader")
		}
		ref := sts[0]
		for i, st := range sts {
			switch {
			case st.Leader == "":
				return fmt.Errorf("%s knows no leader", nodes[i].Site)
			case st.FSMDigest == "":
				return fmt.Errorf("%s reports no fsm_digest", nodes[i].Site)
			case st.AppliedIndex != st.CommitIndex:
				return fmt.Errorf("%s applied %d of %d committed", nodes[i].Site, st.AppliedIndex, st.CommitIndex)
			case st.AppliedIndex < floor:
				return fmt.Errorf("%s applied %d, leader %s had %d in its log in term %d", nodes[i].Site,
					st.AppliedIndex, seen.site, floor, seen.term)
			case st.AppliedIndex != ref.AppliedIndex || st.FSMDigest != ref.FSMDigest:
				return fmt.Errorf("%s at %d digest %.12s, %s at %d digest %.12s", nodes[0].Site, ref.AppliedIndex,
					ref.FSMDigest, nodes[i].Site, st.AppliedIndex, st.FSMDigest)
			}
		}
		out = ref
		return nil
	})
	return out, err
}

// SetSetting sets a setting through the current leader, following
// leadership changes, for up to 20 s.
func (c *Cluster) SetSetting(key, value string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := c.WaitLeader(time.Until(deadline))
		if err != nil {
			return fmt.Errorf("set %s=%s: %w", key, value, err)
		}
		err = l.SetSetting(key, value)
		var ae *APIError
		if err == nil || (errors.As(err, &ae) && !IsNotLeader(err)) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Kill SIGKILLs node i and waits for it to die. Its data directory stays.
func (c *Cluster) Kill(i int) error { return c.nodes[i].Kill() }

// Stop sends SIGTERM to node i and waits for it to exit (see
// Options.StopTimeout).
func (c *Cluster) Stop(i int) (StopResult, error) { return c.nodes[i].stop(c.opts.StopTimeout) }

// StopAll sends SIGTERM to every running cluster node at once and waits for
// them all; results are indexed like Nodes (zero for nodes not running).
func (c *Cluster) StopAll() ([]StopResult, error) {
	res := make([]StopResult, len(c.nodes))
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		if !n.Running() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = n.stop(c.opts.StopTimeout)
		}()
	}
	wg.Wait()
	return res, errors.Join(errs...)
}

// Restart starts node i again with the same config, ports and data
// directory, and waits until its admin API answers (not until it caught
// up: use WaitConverged). If its port is briefly taken, it retries for up
// to 10 s.
func (c *Cluster) Restart(i int) error {
	n := c.nodes[i]
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := n.spawn()
		if err != nil {
			return err
		}
		err = n.waitReady(p, c.opts.StartTimeout)
		if err == nil {
			return nil
		}
		_ = n.Kill()
		if !errors.Is(err, errPortInUse) || time.Now().After(deadline) {
			return fmt.Errorf("restart: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// NodeSpec describes a node started outside the federation's own set by
// AddNode: a late joiner or an intruder.
type NodeSpec struct {
	// Site is the node's site id. Required.
	Site string
	// Cert is the node's certificate and key. Nil means one issued by the
	// federation CA. The node always trusts the federation CA (its tls.ca),
	// so with a certificate from another CA it completes its side of the
	// handshake and the federation's nodes are the ones to refuse it.
	Cert *pki.NodeCert
	// Sites is the node's federation.sites. Defaults to the cluster's
	// Sites plus Site.
	Sites []string
	// Join is the node's federation.join. Defaults to the QUIC addresses
	// of the running cluster nodes.
	Join []string
}

// AddNode starts a node that joins through the running cluster nodes, and
// waits until its admin API answers (not until it is admitted). It is
// killed in t.Cleanup with the others.
func (c *Cluster) AddNode(spec NodeSpec) (*Node, error) {
	sites := spec.Sites
	if sites == nil {
		sites = append(slices.Clone(c.Sites), spec.Site)
		slices.Sort(sites)
		sites = slices.Compact(sites)
	}
	n, err := c.newNode(spec.Site, spec.Cert, sites)
	if err != nil {
		return nil, fmt.Errorf("add node %s: %w", spec.Site, err)
	}
	n.spec.join = spec.Join
	if n.spec.join == nil {
		for _, m := range c.Running() {
			n.spec.join = append(n.spec.join, m.QUICAddr)
		}
	}
	c.mu.Lock()
	c.extra = append(c.extra, n)
	c.mu.Unlock()
	if err := n.startFresh(c.opts.StartTimeout); err != nil {
		return nil, fmt.Errorf("add node %s: %w", spec.Site, err)
	}
	return n, nil
}

// cleanup kills every process, checks the logs for panics and for data
// races reported by the race detector, and dumps the logs if the test
// failed.
func (c *Cluster) cleanup() {
	c.mu.Lock()
	all := append(slices.Clone(c.nodes), c.extra...)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Kill(); err != nil {
				c.t.Error(err)
			}
		}()
	}
	wg.Wait()
	c.http.CloseIdleConnections()
	for _, n := range all {
		log := n.Log()
		if strings.Contains(log, "WARNING: DATA RACE") {
			c.t.Errorf("%s: the race detector reported a data race (see its log %s)", n.Site, n.LogPath)
		}
		if i := strings.Index(log, "\npanic: "); i >= 0 {
			line, _, _ := strings.Cut(log[i+1:], "\n")
			c.t.Errorf("%s: a node process panicked: %s", n.Site, line)
		}
	}
	if c.t.Failed() {
		for _, n := range all {
			c.t.Logf("---- log of %s (%s) ----\n%s", n.Site, n.LogPath, n.logTail(48<<10))
		}
	}
}
