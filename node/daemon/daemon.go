package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/config"
	"github.com/strata-fed/strata/protocol/pki"
	"github.com/strata-fed/strata/protocol/raftquic"
	"github.com/strata-fed/strata/protocol/transport"
)

// applyTimeout bounds one raft Apply issued by this node.
const applyTimeout = 10 * time.Second

// Daemon is a running node. Create it with New, run it with Run.
type Daemon struct {
	cfg *config.Config
	log *slog.Logger

	fsm     *fsm.FSM
	tr      *transport.Transport
	raft    *raft.Raft
	wal     *raftwal.WAL
	keyLog  io.Closer
	reg     *prometheus.Registry
	metrics *metrics

	adminLn net.Listener
	sum     *sumService // secure-sum runner (rounds.go)
	seg     *segService // site data and model watcher (segmentation.go)
	// needsJoin is set when this node has no raft state and must be
	// admitted by the federation's leader.
	needsJoin bool

	// settingsMu serializes SetSetting, which reads the settings and
	// writes them back with one field changed.
	settingsMu sync.Mutex
	// modelMu serializes CommitModel, which reads the latest version and
	// commits the next.
	modelMu sync.Mutex

	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool

	opts options // Go-level options given to New
}

// New starts a node from a validated configuration: it loads certificates,
// opens the raft log under the data directory, binds the QUIC and admin
// sockets and starts raft. Call Run to serve, or Close to stop. opts are
// Go-level hooks (see Option), not settable from the configuration file.
func New(cfg *config.Config, log *slog.Logger, opts ...Option) (*Daemon, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{cfg: cfg, log: log.With("site", cfg.Site), fsm: fsm.New(fsm.WithComposition(fsm.ZCDPComposition{})), reg: prometheus.NewRegistry()}
	for _, o := range opts {
		o(&d.opts)
	}
	if err := d.start(); err != nil {
		_ = d.Close()
		return nil, err
	}
	d.log.Info("node started", "quic", d.tr.Addr().String(), "advertise", d.tr.AdvertiseAddr(),
		"admin", d.AdminAddr(), "data_dir", cfg.DataDir)
	return d, nil
}

func (d *Daemon) start() error {
	cfg := d.cfg

	for _, dir := range []string{"wal", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(cfg.DataDir, "raft", dir), 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	tlsConf, err := d.tlsConfig()
	if err != nil {
		return err
	}
	d.tr, err = transport.Listen(context.Background(), transport.Config{
		SiteID:        cfg.Site,
		TLS:           tlsConf,
		ListenAddr:    cfg.Listen,
		AdvertiseAddr: cfg.Advertise,
		Authorize:     d.authorize,
		Logger:        d.log.With("component", "transport"),
		SendTap:       d.opts.sendTap,
	})
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	if err := d.startRounds(); err != nil {
		return err
	}
	if err := d.startSegmentation(); err != nil {
		return err
	}
	if err := d.startRaft(); err != nil {
		return err
	}
	d.metrics = newMetrics(d, d.reg)
	if cfg.Admin != config.AdminOff {
		d.adminLn, err = net.Listen("tcp", cfg.Admin)
		if err != nil {
			return fmt.Errorf("admin api: %w", err)
		}
	}
	return nil
}

func (d *Daemon) tlsConfig() (*tls.Config, error) {
	roots, err := pki.LoadPool(d.cfg.TLS.CA)
	if err != nil {
		return nil, fmt.Errorf("tls.ca: %w", err)
	}
	nc, err := pki.LoadNodeCert(d.cfg.TLS.Cert, d.cfg.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("tls.cert: %w", err)
	}
	site, err := nc.SiteID()
	if err != nil {
		return nil, fmt.Errorf("tls.cert %s: %w", d.cfg.TLS.Cert, err)
	}
	if site != d.cfg.Site {
		return nil, fmt.Errorf("tls.cert %s is for site %q, but this node is site %q", d.cfg.TLS.Cert, site, d.cfg.Site)
	}
	cert, err := nc.TLSCertificate()
	if err != nil {
		return nil, fmt.Errorf("tls.cert: %w", err)
	}
	opts := pki.TLSOptions{Roots: roots, Certificate: cert}
	if w, path, err := openKeyLog(d.cfg.TLS.KeyLogFile); err != nil {
		return nil, err
	} else if w != nil {
		d.keyLog = w
		opts.KeyLogWriter = w
		d.log.Warn("TLS KEY LOGGING IS ON: every session secret of this node is written to a file; "+
			"anyone with it can decrypt this node's traffic. For debugging only.", "file", path)
	}
	return pki.MutualTLSConfig(opts)
}

// openKeyLog opens the SSLKEYLOGFILE-format key log named by the config or,
// if that is empty, by the SSLKEYLOGFILE environment variable.
func openKeyLog(path string) (*os.File, string, error) {
	if path == "" {
		path = os.Getenv("SSLKEYLOGFILE")
	}
	if path == "" {
		return nil, "", nil
	}
	f, err := pki.OpenKeyLog(path)
	if err != nil {
		return nil, "", fmt.Errorf("tls.key_log_file: %w", err)
	}
	return f, path, nil
}

func (d *Daemon) startRaft() error {
	cfg := d.cfg
	hlog := hclog.New(&hclog.LoggerOptions{
		Name:       "raft",
		Level:      hclog.LevelFromString(hclogLevel(cfg.Log.Level)),
		Output:     os.Stderr,
		JSONFormat: cfg.Log.Format == "json",
	})
	var err error
	d.wal, err = raftwal.Open(filepath.Join(cfg.DataDir, "raft", "wal"))
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.DataDir, "raft", "snapshots"), 2, hlog)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Site)
	rc.HeartbeatTimeout = cfg.Raft.HeartbeatTimeout
	rc.ElectionTimeout = cfg.Raft.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.Raft.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.Raft.CommitTimeout
	rc.SnapshotThreshold = cfg.Raft.SnapshotThreshold
	rc.SnapshotInterval = cfg.Raft.SnapshotInterval
	rc.Logger = hlog
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("raft config: %w", err)
	}
	trans := raftquic.NewNetworkTransport(d.tr, raftquic.Options{Logger: hlog.Named("transport")})

	started := false
	defer func() {
		if !started {
			_ = trans.Close() // stops its accept loop; raft owns it once started
		}
	}()
	existing, err := raft.HasExistingState(d.wal, d.wal, snaps)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	if !existing && cfg.Federation.Bootstrap {
		conf := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: rc.LocalID, Address: raft.ServerAddress(d.tr.AdvertiseAddr()),
		}}}
		if err := raft.BootstrapCluster(rc, d.wal, d.wal, snaps, trans, conf); err != nil {
			return fmt.Errorf("bootstrap federation: %w", err)
		}
		d.log.Info("bootstrapped a new federation")
	}
	d.raft, err = raft.NewRaft(rc, d.raftFSM(), d.wal, d.wal, snaps, trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	started = true
	d.needsJoin = !existing && !cfg.Federation.Bootstrap
	return nil
}

func hclogLevel(l string) string {
	// raft is chatty at info; keep it one step quieter than ours.
	switch l {
	case "debug":
		return "debug"
	case "info":
		return "warn"
	default:
		return l
	}
}

// AdminAddr is the admin API's bound address, or "" if it is off.
func (d *Daemon) AdminAddr() string {
	if d.adminLn == nil {
		return ""
	}
	return d.adminLn.Addr().String()
}

// Run serves until ctx is cancelled, then shuts the node down. It returns
// nil after a clean shutdown.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)
	goFunc := func(f func(context.Context) error) {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errc <- err
			}
		}()
	}
	goFunc(d.serveControl)
	goFunc(d.watchLeadership)
	goFunc(d.runRounds)
	goFunc(d.runSegmentation)
	if d.needsJoin {
		goFunc(d.joinLoop)
	}
	var srv *http.Server
	if d.adminLn != nil {
		srv = &http.Server{
			Handler:           admin.Handler(d, d.reg, d.log.With("component", "admin")),
			ReadHeaderTimeout: 5 * time.Second,
		}
		goFunc(func(context.Context) error {
			if err := srv.Serve(d.adminLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("admin api: %w", err)
			}
			return nil
		})
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		d.log.Error("node failed", "error", runErr)
	}
	d.log.Info("shutting down")
	if srv != nil {
		shutdownCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(shutdownCtx)
		c()
	}
	cancel()
	closeErr := d.Close()
	d.wg.Wait()
	d.log.Info("stopped")
	return errors.Join(runErr, closeErr)
}

// Close stops raft, the transport and the log store. It is safe to call
// more than once; Run calls it.
func (d *Daemon) Close() error {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	var shutdown raft.Future
	if d.raft != nil {
		shutdown = d.raft.Shutdown() // stops raft's loops; Error waits for them
	}
	// Close the transport before waiting for raft: an RPC in flight to a
	// dead peer would otherwise hold raft's shutdown for its full timeout.
	if d.tr != nil {
		if err := d.tr.Close(); err != nil {
			errs = append(errs, fmt.Errorf("transport close: %w", err))
		}
	}
	if shutdown != nil {
		if err := shutdown.Error(); err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
	}
	if d.wal != nil {
		if err := d.wal.Close(); err != nil {
			errs = append(errs, fmt.Errorf("raft log close: %w", err))
		}
	}
	if d.adminLn != nil {
		_ = d.adminLn.Close()
	}
	if d.keyLog != nil {
		_ = d.keyLog.Close()
	}
	return errors.Join(errs...)
}

// authorize is the transport's membership check (see the package doc).
func (d *Daemon) authorize(site string) error {
	if _, known := d.fsm.Site(site); known {
		return d.fsm.Authorize(site)
	}
	for _, s := range d.cfg.Federation.Sites {
		if s == site {
			return nil
		}
	}
	return fmt.Errorf("site %q is not a member of this federation", site)
}

// apply proposes a command through raft and returns its outcome.
func (d *Daemon) apply(cmd fsm.Command) error {
	b, err := fsm.Encode(cmd)
	if err != nil {
		return err
	}
	start := time.Now()
	f := d.raft.Apply(b, applyTimeout)
	if err := f.Error(); err != nil {
		if lostLeadership(err) {
			return fmt.Errorf("%s: %w", cmd.CommandType(), admin.ErrNotLeader)
		}
		return fmt.Errorf("%s: %w", cmd.CommandType(), err)
	}
	if d.metrics != nil {
		d.metrics.applySeconds.Observe(time.Since(start).Seconds())
	}
	return fsm.ResponseError(f.Response())
}

// lostLeadership reports whether a raft call failed because this node is
// not, or stopped being, the leader: the caller should retry on the leader.
func lostLeadership(err error) bool {
	return errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost)
}

// Digest is a hash of the replicated state machine.
func (d *Daemon) Digest() string {
	b, err := d.fsm.SnapshotBytes()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
