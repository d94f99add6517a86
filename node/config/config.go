// Package config loads and validates a Strata node's configuration file.
//
// The file is strict YAML: unknown keys are errors, so a typo never silently
// falls back to a default. Every field has a documented default (see
// Default), relative paths are resolved against the directory of the file,
// and Validate reports every problem with the field's YAML path. The same
// loader backs `strata serve` and `strata check-config`.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/strata-fed/strata/node/ingest"
	"github.com/strata-fed/strata/protocol/pki"
)

// Config is a node's whole configuration.
type Config struct {
	// Site is this node's site id. It must equal the site id in the node's
	// certificate. Required.
	Site string `yaml:"site"`
	// DataDir holds the raft log, snapshots and key shares. Defaults to
	// "data" beside the config file.
	DataDir string `yaml:"data_dir"`
	// Listen is the UDP address the QUIC transport binds. Defaults to
	// 127.0.0.1:7400.
	Listen string `yaml:"listen"`
	// Advertise is the address other nodes dial to reach this one; raft uses
	// it as this node's address. Defaults to Listen.
	Advertise string `yaml:"advertise"`
	// Admin is the TCP address of the HTTP admin API and /metrics. Defaults
	// to 127.0.0.1:7480; "off" disables the API. The API has no
	// authentication of its own — it can change federation settings and
	// membership — so it must bind a loopback address unless
	// AdminAllowRemote is set.
	Admin string `yaml:"admin"`
	// AdminAllowRemote allows a non-loopback Admin address, for operators
	// who put the API behind their own authenticating proxy or firewall.
	// Defaults to false.
	AdminAllowRemote bool `yaml:"admin_allow_remote"`

	TLS        TLS        `yaml:"tls"`
	Raft       Raft       `yaml:"raft"`
	Federation Federation `yaml:"federation"`
	Log        Log        `yaml:"log"`
	// Data is this site's own transaction file for the federated
	// segmentation. nil (no data: section, the default) = the node holds no
	// data: it takes part in key set-up, rounds of operator-set statistics
	// and consensus, but contributes nothing to segmentation jobs.
	Data *Data `yaml:"data"`
}

// Data names the transaction file the node analyses at start-up (see
// node/daemon): its users' RFM values feed the federated segmentation jobs,
// and every committed segment model labels them into OutDir. The file and
// everything computed from it stay on this node.
type Data struct {
	// File is the transaction log. In the standard schema
	// (user_id,order_id,ts,amount[,channel,inviter_id]; CSV, TSV or JSON
	// Lines, plain or gzip) it needs no Source. Required unless Source is
	// set; when both are set, File replaces the source's path.
	File string `yaml:"file"`
	// Source is an optional source YAML (node/ingest, as for `strata
	// analyze --source`) describing a non-standard file: columns, time
	// format, cancellations, filters. Its analysis.asof hint is used when
	// AsOf is empty.
	Source string `yaml:"source"`
	// Channel names the sales channel this site contributes (its column in
	// the segment × channel report). Defaults to the site id.
	Channel string `yaml:"channel"`
	// AsOf is the as-of date or date-time (ISO-8601; naive times in the
	// source's time zone, UTC without a source). Recency and tenure are
	// counted to it. Empty (the default) = the source's analysis.asof,
	// else the last purchase + 1 day. Sites of one federation should agree
	// on it.
	AsOf string `yaml:"as_of"`
	// Out is where each committed model's labels, audiences and report are
	// written (one model-v<N> directory per version). Defaults to
	// <data_dir>/out.
	Out string `yaml:"out"`
}

// TLS names the certificate files of the federation's mutual TLS.
type TLS struct {
	// CA is the federation CA certificate (PEM). Required.
	CA string `yaml:"ca"`
	// Cert and Key are this node's certificate and private key (PEM),
	// issued by the CA for Site. Required.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// KeyLogFile, if set, receives the TLS session secrets in SSLKEYLOGFILE
	// format so the traffic can be decrypted with Wireshark or tshark.
	// FOR DEBUGGING ONLY: anyone holding this file can read every byte this
	// node exchanges. Empty (the default) disables it; the SSLKEYLOGFILE
	// environment variable, when set, is used if this field is empty.
	KeyLogFile string `yaml:"key_log_file"`
}

// Raft holds consensus timing. Zero values take the LAN-tuned defaults.
type Raft struct {
	// HeartbeatTimeout defaults to 300ms.
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	// ElectionTimeout defaults to 300ms.
	ElectionTimeout time.Duration `yaml:"election_timeout"`
	// LeaderLeaseTimeout defaults to 150ms; must not exceed HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration `yaml:"leader_lease_timeout"`
	// CommitTimeout defaults to 20ms.
	CommitTimeout time.Duration `yaml:"commit_timeout"`
	// SnapshotThreshold is the number of log entries between snapshots.
	// Defaults to 8192.
	SnapshotThreshold uint64 `yaml:"snapshot_threshold"`
	// SnapshotInterval is how often raft checks whether to snapshot.
	// Defaults to 30s.
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
}

// Federation says how this node joins the federation.
type Federation struct {
	// Bootstrap makes this node found a new federation if its data
	// directory holds no raft state yet. Exactly one node of a federation
	// bootstraps. Defaults to false.
	Bootstrap bool `yaml:"bootstrap"`
	// Sites lists the site ids allowed to connect before the federation's
	// own registry (kept in the raft log) is known to this node. A peer
	// whose certificate names a site in neither list is refused. Required:
	// at least this node's own site.
	Sites []string `yaml:"sites"`
	// Join lists addresses of existing members to ask for admission; the
	// first that answers, or the leader it points to, admits this node.
	// Ignored when this node already holds raft state or bootstraps.
	Join []string `yaml:"join"`
	// NonVoter asks to join as a non-voting member. Sites beyond the
	// fifth voter always join as non-voters. Defaults to false.
	NonVoter bool `yaml:"non_voter"`
	// AllowDPOff is this node's own consent to secure sums with
	// differential privacy disabled (the federation's test-only
	// dp_disabled setting, which releases exact sums). Defaults to false:
	// the node then neither contributes to nor decrypts a DP-off round,
	// and as leader refuses to set dp_disabled to true, so one admin call
	// on the leader cannot turn noise off for every site. Set it only on
	// test and demo federations.
	AllowDPOff bool `yaml:"allow_dp_off"`
}

// Log configures structured logging.
type Log struct {
	// Level is debug, info, warn or error. Defaults to info.
	Level string `yaml:"level"`
	// Format is text or json. Defaults to text.
	Format string `yaml:"format"`
}

// Defaults for the zero values of Config.
const (
	DefaultListen             = "127.0.0.1:7400"
	DefaultAdmin              = "127.0.0.1:7480"
	DefaultDataDir            = "data"
	DefaultHeartbeatTimeout   = 300 * time.Millisecond
	DefaultElectionTimeout    = 300 * time.Millisecond
	DefaultLeaderLeaseTimeout = 150 * time.Millisecond
	DefaultCommitTimeout      = 20 * time.Millisecond
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 30 * time.Second
	// DefaultDataOut is data.out's default, relative to data_dir.
	DefaultDataOut = "out"
	// AdminOff disables the admin API when given as Admin.
	AdminOff = "off"
)

// Errors returned by Load and Validate; match them with errors.Is.
var (
	// ErrInvalid wraps every validation failure.
	ErrInvalid = errors.New("invalid configuration")
	// ErrParse wraps YAML syntax errors and unknown keys.
	ErrParse = errors.New("cannot parse configuration")
)

// Load parses a configuration from YAML bytes. Relative paths are resolved
// against baseDir. The result has defaults filled in and is validated.
func Load(data []byte, baseDir string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file is empty", ErrParse)
		}
		return nil, fmt.Errorf("%w: %v", ErrParse, err)
	}
	c.setDefaults()
	c.resolvePaths(baseDir)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadFile reads and parses the configuration file at path.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config path: %w", err)
	}
	c, err := Load(data, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Advertise == "" {
		c.Advertise = c.Listen
	}
	if c.Admin == "" {
		c.Admin = DefaultAdmin
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	r := &c.Raft
	if r.HeartbeatTimeout == 0 {
		r.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if r.ElectionTimeout == 0 {
		r.ElectionTimeout = DefaultElectionTimeout
	}
	if r.LeaderLeaseTimeout == 0 {
		r.LeaderLeaseTimeout = DefaultLeaderLeaseTimeout
	}
	if r.CommitTimeout == 0 {
		r.CommitTimeout = DefaultCommitTimeout
	}
	if r.SnapshotThreshold == 0 {
		r.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if r.SnapshotInterval == 0 {
		r.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if d := c.Data; d != nil {
		if d.Channel == "" {
			d.Channel = c.Site
		}
	}
}

func (c *Config) resolvePaths(base string) {
	paths := []*string{&c.DataDir, &c.TLS.CA, &c.TLS.Cert, &c.TLS.Key, &c.TLS.KeyLogFile}
	if d := c.Data; d != nil {
		paths = append(paths, &d.File, &d.Source, &d.Out)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	// The output directory defaults to <data_dir>/out, after data_dir is
	// itself resolved.
	if d := c.Data; d != nil && d.Out == "" && c.DataDir != "" {
		d.Out = filepath.Join(c.DataDir, DefaultDataOut)
	}
}

// Validate checks a configuration whose defaults are filled in. It reports
// all problems at once, each prefixed with its YAML field path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Site == "" {
		bad("site", "is required")
	} else if err := pki.ValidateSiteID(c.Site); err != nil {
		bad("site", "%v", err)
	}
	if err := checkHostPort(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if err := checkHostPort(c.Advertise); err != nil {
		bad("advertise", "%v", err)
	}
	if c.Admin != AdminOff {
		if err := checkHostPort(c.Admin); err != nil {
			bad("admin", "%v", err)
		} else if !c.AdminAllowRemote && !isLoopback(c.Admin) {
			bad("admin", "%q is not a loopback address; the admin API has no authentication: bind 127.0.0.1, or set admin_allow_remote: true behind your own access control", c.Admin)
		}
	}
	if host, _, err := net.SplitHostPort(c.Advertise); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			bad("advertise", "%q is not dialable: give the address peers should dial", c.Advertise)
		}
	}
	if c.TLS.CA == "" {
		bad("tls.ca", "is required")
	}
	if c.TLS.Cert == "" {
		bad("tls.cert", "is required")
	}
	if c.TLS.Key == "" {
		bad("tls.key", "is required")
	}
	r := c.Raft
	if r.HeartbeatTimeout < 5*time.Millisecond {
		bad("raft.heartbeat_timeout", "%v is below 5ms", r.HeartbeatTimeout)
	}
	if r.ElectionTimeout < r.HeartbeatTimeout {
		bad("raft.election_timeout", "%v is below raft.heartbeat_timeout %v", r.ElectionTimeout, r.HeartbeatTimeout)
	}
	if r.LeaderLeaseTimeout > r.HeartbeatTimeout {
		bad("raft.leader_lease_timeout", "%v exceeds raft.heartbeat_timeout %v", r.LeaderLeaseTimeout, r.HeartbeatTimeout)
	}
	if r.CommitTimeout <= 0 {
		bad("raft.commit_timeout", "must be positive")
	}
	seen := map[string]bool{}
	for i, s := range c.Federation.Sites {
		if err := pki.ValidateSiteID(s); err != nil {
			bad(fmt.Sprintf("federation.sites[%d]", i), "%v", err)
		}
		if seen[s] {
			bad(fmt.Sprintf("federation.sites[%d]", i), "%q is listed twice", s)
		}
		seen[s] = true
	}
	if c.Site != "" && !seen[c.Site] {
		bad("federation.sites", "must include this node's own site %q", c.Site)
	}
	for i, a := range c.Federation.Join {
		if err := checkHostPort(a); err != nil {
			bad(fmt.Sprintf("federation.join[%d]", i), "%v", err)
		}
	}
	if !c.Federation.Bootstrap && len(c.Federation.Join) == 0 {
		bad("federation", "set bootstrap: true on the founding node, or join: [addresses] on the others")
	}
	if d := c.Data; d != nil {
		validateData(d, bad)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// validateData checks the data: section (defaults filled in, paths
// resolved). It checks syntax only: the files are opened when the node
// starts, and a malformed row stops the node with its file and line.
func validateData(d *Data, bad func(field, format string, args ...any)) {
	if d.File == "" && d.Source == "" {
		bad("data", "give file: (a standard-schema transaction file) or source: (a source YAML naming its file)")
	}
	if d.Channel != "" && !validChannel(d.Channel) {
		bad("data.channel", "%q: want 1..64 bytes of [A-Za-z0-9._-]", d.Channel)
	}
	if d.AsOf != "" {
		if _, err := ingest.ParseTime(nil, d.AsOf); err != nil {
			bad("data.as_of", "%v", err)
		}
	}
}

// validChannel reports whether s is a channel name: 1..64 bytes of
// [A-Za-z0-9._-] (it names a column of the public report).
func validChannel(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isLoopback reports whether addr's host is a loopback IP or "localhost".
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", addr, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host: give an address to bind (127.0.0.1 for loopback)", addr)
	}
	if port == "" {
		return fmt.Errorf("%q has no port", addr)
	}
	return nil
}
