package securesum

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/he"
	"github.com/strata-fed/strata/protocol/wire"
)

// Blob kinds exchanged between sites (wire.BlobHeader.Kind). RoundID is the
// key epoch for key.* blobs and the (decimal) round id for round.* blobs.
const (
	kindPKShare        = "key.pk-share"        // participant → leader
	kindThresholdShare = "key.threshold-share" // participant → participant, private
	kindReady          = "key.ready"           // participant → leader
	kindPublicKey      = "key.public-key"      // leader → participants
	kindCiphertext     = "round.ciphertext"    // participant → leader
	kindAggregate      = "round.aggregate"     // leader → decryptors: the aggregate's he.Mask
	kindShare          = "round.share"         // decryptor → leader
	kindPing           = "ping"                // leader → sites (liveness)
	kindAck            = "ack"                 // reply to every accepted blob
)

// Config configures a Node. Zero durations take the documented defaults.
type Config struct {
	// Site is this node's site id. Required.
	Site string
	// Federation names the budget ledgers' federation. Defaults to "default".
	Federation string
	// Log, Network, Keys and Stats are required.
	Log     Log
	Network Network
	Keys    KeyStore
	Stats   Provider
	// AllowDPOff is this site's own consent to rounds with DP disabled in
	// the log (the test-only fsm.Settings.DPDisabled). False (the default):
	// the site neither contributes to nor decrypts such a round, and as
	// leader does not start one (ErrDPOff), so no single admin call on the
	// leader can release a site's vector without noise.
	AllowDPOff bool
	// Logger defaults to discarding.
	Logger *slog.Logger
	// RoundTimeout is the round's deadline in the log (logical time driven
	// by the leader's Tick commands). Defaults to 60s.
	RoundTimeout time.Duration
	// CollectTimeout is how long the leader waits for every live
	// participant before closing with at least the round's minimum
	// contributions. Defaults to 10s.
	CollectTimeout time.Duration
	// KeySetupTimeout bounds a key set-up; the leader fails it after.
	// Defaults to 60s.
	KeySetupTimeout time.Duration
	// TickInterval is how often the leader proposes Tick. Defaults to 500ms.
	TickInterval time.Duration
	// PingInterval is how often the leader probes every joined site; a
	// site failing PingFailures probes in a row is marked down in the log,
	// and up again on the next answer. Defaults to 1s and 2.
	PingInterval time.Duration
	PingFailures int
	// SendTimeout bounds one blob transfer. Defaults to 30s.
	SendTimeout time.Duration
}

func (c *Config) setDefaults() error {
	if c.Site == "" || c.Log == nil || c.Network == nil || c.Keys == nil || c.Stats == nil {
		return errors.New("securesum: Config.Site, Log, Network, Keys and Stats are required")
	}
	if c.Federation == "" {
		c.Federation = "default"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RoundTimeout, 60*time.Second)
	def(&c.CollectTimeout, 10*time.Second)
	def(&c.KeySetupTimeout, 60*time.Second)
	def(&c.TickInterval, 500*time.Millisecond)
	def(&c.PingInterval, time.Second)
	def(&c.SendTimeout, 30*time.Second)
	if c.PingFailures <= 0 {
		c.PingFailures = 2
	}
	return nil
}

// Stats are counters of one node's work.
type Stats struct {
	// BytesSent counts blob bodies this node sent to other sites.
	BytesSent int64 `json:"bytes_sent"`
	// Contributions counts ciphertexts this node sent.
	Contributions int64 `json:"contributions"`
	// SharesProduced counts decryption shares this node produced.
	SharesProduced int64 `json:"shares_produced"`
	// SharesRefused counts decryption-share requests this node refused.
	SharesRefused int64 `json:"shares_refused"`
}

type msgKey struct {
	id   uint64
	kind string
}

// blob is a received body with its verified SHA-256.
type blob struct {
	body []byte
	sum  [32]byte
}

// Node runs the secure-sum protocol for one site: key set-up, contributions
// and decryption shares as a participant, and, while it is the raft leader,
// the aggregator's part. Create it with New and run it with Run; the client
// API (SecureSum, StartKeySetup) works on the leader.
type Node struct {
	cfg  Config
	self string
	log  *slog.Logger
	wake chan struct{}

	bytesSent, contributions, sharesProduced, sharesRefused atomic.Int64

	// mu guards the fields below; never held across I/O or crypto.
	mu      sync.Mutex
	inbox   map[msgKey]map[string]blob
	params  map[string]*he.Parameters
	keys    map[uint64]*epochKeys // this site's key material by epoch
	parties map[uint64]*partyState
	aggs    map[uint64]*keyAggState // leader: key set-ups it runs
	led     map[string]*leadRound   // leader: rounds it runs
	started map[string]bool         // participant: contribution started
	shared  map[string]bool         // decryptor: share sent
	specs   map[string]roundSpec    // parsed kinds of unfinished rounds
	results map[string]roundResult  // leader: results of its rounds
	down    map[string]int          // leader: consecutive ping failures
	runCtx  context.Context
	wg      sync.WaitGroup

	tlMu      sync.Mutex
	timelines map[string][]Step // round id → this node's steps (timeline.go)
}

// epochKeys is this site's material for an active (or completing) epoch.
type epochKeys struct {
	setup *he.Setup
	share *he.KeyShare
	pk    *he.PublicKey
}

// New validates cfg and returns a node; call Run.
func New(cfg Config) (*Node, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Node{
		cfg: cfg, self: cfg.Site, log: cfg.Logger.With("component", "securesum"),
		wake:    make(chan struct{}, 1),
		inbox:   map[msgKey]map[string]blob{},
		params:  map[string]*he.Parameters{},
		keys:    map[uint64]*epochKeys{},
		parties: map[uint64]*partyState{},
		aggs:    map[uint64]*keyAggState{},
		led:     map[string]*leadRound{},
		started: map[string]bool{},
		shared:  map[string]bool{},
		specs:   map[string]roundSpec{},
		results: map[string]roundResult{},
		down:    map[string]int{},
	}, nil
}

// Notify wakes the node's loop; the daemon calls it after each applied log
// entry. It never blocks.
func (n *Node) Notify() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{BytesSent: n.bytesSent.Load(), Contributions: n.contributions.Load(),
		SharesProduced: n.sharesProduced.Load(), SharesRefused: n.sharesRefused.Load()}
}

// Run serves until ctx is done; every goroutine it starts has exited when
// it returns.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	n.mu.Lock()
	n.runCtx = ctx
	n.mu.Unlock()
	defer func() {
		cancel()
		n.wg.Wait()
	}()
	n.goFunc(func() { n.acceptLoop(ctx) })
	n.goFunc(func() { n.leaderLoop(ctx) })
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.wake:
		case <-t.C:
		}
		n.step(ctx)
	}
}

func (n *Node) goFunc(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// step does whatever the committed log now asks of this site.
func (n *Node) step(ctx context.Context) {
	f := n.cfg.Log.FSM()
	n.stepKeys(ctx, f)
	n.stepRounds(ctx, f)
	if n.cfg.Log.IsLeader() {
		n.leadKeys(ctx, f)
		n.leadRounds(ctx, f)
	}
	n.gc(f)
}

// paramsFor returns the (cached) parameters of a named set.
func (n *Node) paramsFor(name string) (*he.Parameters, error) {
	n.mu.Lock()
	p := n.params[name]
	n.mu.Unlock()
	if p != nil {
		return p, nil
	}
	set, err := he.LookupParamSet(name)
	if err != nil {
		return nil, err
	}
	p, err = he.NewParameters(set)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.params[name] = p
	n.mu.Unlock()
	return p, nil
}

// --- messaging ---

func (n *Node) take(id uint64, kind string) map[string]blob {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := msgKey{id, kind}
	m := n.inbox[k]
	delete(n.inbox, k)
	return m
}

func (n *Node) deliver(id uint64, kind, from string, b blob) {
	n.mu.Lock()
	k := msgKey{id, kind}
	if n.inbox[k] == nil {
		n.inbox[k] = map[string]blob{}
	}
	n.inbox[k][from] = b
	n.mu.Unlock()
	n.Notify()
}

// send delivers one blob (body and its SHA-256) to site and waits for its
// acknowledgement.
func (n *Node) send(ctx context.Context, site, kind string, id uint64, body []byte, sum [32]byte) error {
	if site == n.self {
		n.deliver(id, kind, n.self, blob{body, sum})
		return nil
	}
	s, ok := n.cfg.Log.FSM().Site(site)
	if !ok || s.Address == "" {
		return fmt.Errorf("send %s to %s: no address in the registry", kind, site)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.SendTimeout)
	defer cancel()
	conn, peer, err := n.cfg.Network.Open(ctx, s.Address)
	if err != nil {
		return fmt.Errorf("send %s to %s: %w", kind, site, err)
	}
	defer conn.Close()
	if peer != site {
		return fmt.Errorf("send %s to %s: %s answered at %s", kind, site, peer, s.Address)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	h := wire.BlobHeader{RoundID: id, Kind: kind, SHA256: sum, Length: uint64(len(body))}
	start := time.Now()
	if err := wire.WriteBlob(conn, &h, bytesReader(body)); err != nil {
		return fmt.Errorf("send %s to %s: %w", kind, site, err)
	}
	var ack wire.BlobHeader
	if err := wire.ReadMessage(conn, &ack); err != nil {
		return fmt.Errorf("send %s to %s: %w", kind, site, err)
	}
	if ack.Kind != kindAck || ack.SHA256 != h.SHA256 {
		return fmt.Errorf("send %s to %s: bad acknowledgement", kind, site)
	}
	n.bytesSent.Add(int64(len(body)))
	if roundKind(kind) {
		n.record(strconv.FormatUint(id, 10), Step{Name: StepSend, Detail: kind, Peer: site, Start: start, Wall: time.Since(start), Bytes: int64(len(body))})
	}
	return nil
}

// roundKind reports whether blobs of kind belong to a round (RoundID is
// the round's id), as opposed to a key set-up or a ping.
func roundKind(kind string) bool {
	return kind == kindCiphertext || kind == kindAggregate || kind == kindShare
}

// sendAsync sends in the background, retrying every 300ms while want()
// holds and the node runs.
func (n *Node) sendAsync(site, kind string, id uint64, body []byte, want func() bool) {
	n.sendAsyncSum(site, kind, id, body, sha256.Sum256(body), want)
}

// sendAsyncSum is sendAsync for a body whose SHA-256 is known.
func (n *Node) sendAsyncSum(site, kind string, id uint64, body []byte, sum [32]byte, want func() bool) {
	n.mu.Lock()
	ctx := n.runCtx
	n.mu.Unlock()
	if ctx == nil {
		return
	}
	n.goFunc(func() {
		for attempt := 1; ; attempt++ {
			err := n.send(ctx, site, kind, id, body, sum)
			if err == nil {
				return
			}
			if attempt%10 == 1 {
				n.log.Debug("send failed, retrying", "to", site, "kind", kind, "id", id, "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
			if !want() {
				return
			}
		}
	})
}

// maxBlob bounds a received blob: a 2^22-value ciphertext at LogN 13 is
// 512 ciphertexts of 262 KB.
const maxBlob = 1 << 28

func (n *Node) acceptLoop(ctx context.Context) {
	for {
		conn, peer, err := n.cfg.Network.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.log.Debug("accept", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		n.goFunc(func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(n.cfg.SendTimeout))
			n.receive(conn, peer)
		})
	}
}

// receive reads one blob, files it and acknowledges it (or answers with a
// wire.Error).
func (n *Node) receive(conn io.ReadWriter, peer string) {
	h, body, err := wire.ReadBlobHeader(conn, maxBlob)
	if err != nil {
		n.log.Debug("bad blob", "peer", peer, "error", err)
		return
	}
	b := make([]byte, h.Length)
	step, err := measure(Step{Name: StepReceive, Detail: h.Kind, Peer: peer, Bytes: int64(h.Length)}, func() error {
		_, err := io.ReadFull(body, b) // verifies the SHA-256 at the end
		return err
	})
	if err != nil {
		n.log.Warn("blob body", "peer", peer, "kind", h.Kind, "error", err)
		_ = wire.WriteFrame(conn, &wire.Error{Code: wire.CodeBadRequest, Text: err.Error()})
		return
	}
	if err := n.admit(h, peer, b); err != nil {
		n.log.Warn("refused blob", "peer", peer, "kind", h.Kind, "id", h.RoundID, "error", err)
		code := wire.CodeBadRequest
		if errors.Is(err, ErrRefused) {
			code = wire.CodeUnauthorized
		}
		_ = wire.WriteFrame(conn, &wire.Error{Code: code, Text: err.Error()})
		return
	}
	if id := strconv.FormatUint(h.RoundID, 10); roundKind(h.Kind) {
		if _, ok := n.cfg.Log.FSM().Round(id); ok {
			n.record(id, step)
		}
	}
	_ = wire.WriteFrame(conn, &wire.BlobHeader{RoundID: h.RoundID, Kind: kindAck, SHA256: h.SHA256})
}

// admit checks a received blob's kind and files it for the loop.
func (n *Node) admit(h *wire.BlobHeader, peer string, b []byte) error {
	switch h.Kind {
	case kindPing:
		return nil
	case kindPKShare, kindThresholdShare, kindReady, kindPublicKey, kindCiphertext, kindShare:
	case kindAggregate:
		// A decryptor refuses early an aggregate for a round that can
		// never be decrypted by it; for a round still collecting, the
		// CloseRound may not have been applied here yet: file it, the
		// loop checks ShareAllowed before producing anything.
		id := strconv.FormatUint(h.RoundID, 10)
		r, ok := n.cfg.Log.FSM().Round(id)
		switch {
		case !ok:
			n.sharesRefused.Add(1)
			return fmt.Errorf("aggregate for unknown round %s: %w", id, ErrRefused)
		case r.State.Terminal():
			n.sharesRefused.Add(1)
			return fmt.Errorf("aggregate for round %s, which is %s: %w", id, r.State, ErrRefused)
		case r.State == fsm.RoundDecrypting:
			if err := n.cfg.Log.FSM().ShareAllowed(id, n.self); err != nil {
				n.sharesRefused.Add(1)
				return fmt.Errorf("%w: %w", ErrRefused, err)
			}
		}
	default:
		return fmt.Errorf("unknown blob kind %q", h.Kind)
	}
	n.deliver(h.RoundID, h.Kind, peer, blob{b, h.SHA256})
	return nil
}

// hashHex is the lowercase hex sha256 of b, as the log stores hashes.
func hashHex(b []byte) string { return hexSum(sha256.Sum256(b)) }

func hexSum(s [32]byte) string { return hex.EncodeToString(s[:]) }

// keepResults bounds how many results too large for the log the leader
// keeps in memory for GET /v1/rounds/{id}.
const keepResults = 16

// gc drops inbox entries and bookkeeping of finished rounds and epochs.
func (n *Node) gc(f *fsm.FSM) {
	n.mu.Lock()
	defer n.mu.Unlock()
	terminal := func(id string) bool { r, ok := f.Round(id); return ok && r.State.Terminal() }
	for id := range n.started {
		if terminal(id) {
			delete(n.started, id)
		}
	}
	for id := range n.shared {
		if terminal(id) {
			delete(n.shared, id)
		}
	}
	for id := range n.specs {
		if _, ok := f.Round(id); !ok || terminal(id) {
			delete(n.specs, id)
		}
	}
	var big []uint64
	for id := range n.results {
		if rec, ok := f.Result(id); ok && len(rec.Released) > 0 {
			delete(n.results, id)
		} else if v, ok := roundNum(id); ok {
			big = append(big, v)
		}
	}
	if len(big) > keepResults {
		slices.Sort(big)
		for _, v := range big[:len(big)-keepResults] {
			delete(n.results, strconv.FormatUint(v, 10))
		}
	}
	for k := range n.inbox {
		switch k.kind {
		case kindCiphertext, kindAggregate, kindShare:
			r, ok := f.Round(strconv.FormatUint(k.id, 10))
			if ok && r.State.Terminal() {
				delete(n.inbox, k)
			}
		default:
			ks, ok := f.KeySetup(k.id)
			if ok && (ks.Status == fsm.KeyFailed || ks.Status == fsm.KeyRetired) {
				delete(n.inbox, k)
			}
		}
	}
}
