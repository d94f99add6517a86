package securesum

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/he"
)

// reasonLeaderChanged starts the reason of set-ups and rounds ended
// because the leader changed.
const reasonLeaderChanged = "leader changed"

// DefaultParams is the HE parameter set used when neither the request nor
// the federation settings name one.
const DefaultParams = "PN13QP120"

func secretName(e uint64) string { return fmt.Sprintf("epoch-%d.secret", e) }
func shareName(e uint64) string  { return fmt.Sprintf("epoch-%d.share", e) }
func pkName(e uint64) string     { return fmt.Sprintf("epoch-%d.pk", e) }

// partyState is this site's progress in a pending key set-up.
type partyState struct {
	setup    *he.Setup
	party    *he.Party
	finished bool
}

// keyAggState is the leader's progress in a key set-up it runs.
type keyAggState struct {
	setup     *he.Setup
	agg       *he.PublicKeyAggregator
	ready     map[string]bool
	began     time.Time
	completed bool
}

func (n *Node) setupOf(ks fsm.KeySetup) (*he.Setup, error) {
	pp, err := n.paramsFor(ks.HEParams)
	if err != nil {
		return nil, fmt.Errorf("epoch %d: %w", ks.Epoch, err)
	}
	seed, err := hex.DecodeString(ks.Seed)
	if err != nil {
		return nil, fmt.Errorf("epoch %d: seed: %w", ks.Epoch, err)
	}
	return he.NewSetup(pp, ks.Participants, ks.Threshold, seed)
}

// stepKeys does this site's part of every key set-up in the log, and loads
// the key material of the active epoch (after a restart).
func (n *Node) stepKeys(ctx context.Context, f *fsm.FSM) {
	for _, ks := range f.KeySetups() {
		if !slices.Contains(ks.Participants, n.self) {
			continue
		}
		var err error
		switch ks.Status {
		case fsm.KeyPending:
			err = n.stepParty(f, ks)
		case fsm.KeyActive:
			err = n.loadKeys(ks)
		default:
			n.mu.Lock()
			delete(n.parties, ks.Epoch)
			if ks.Status == fsm.KeyFailed {
				delete(n.keys, ks.Epoch)
			}
			n.mu.Unlock()
		}
		if err != nil {
			n.log.Warn("key set-up step", "epoch", ks.Epoch, "error", err)
		}
	}
}

func (n *Node) stepParty(f *fsm.FSM, ks fsm.KeySetup) error {
	e := ks.Epoch
	n.mu.Lock()
	ps := n.parties[e]
	n.mu.Unlock()
	if ps == nil {
		setup, err := n.setupOf(ks)
		if err != nil {
			return err
		}
		// Persist the secret BEFORE anything derived from it leaves the
		// site, so a restart re-sends byte-identical shares.
		var party *he.Party
		if b, err := n.cfg.Keys.Get(secretName(e)); err == nil {
			if party, err = he.RestoreParty(setup, n.self, b); err != nil {
				return err
			}
		} else if !isNotExist(err) {
			return err
		} else {
			if party, err = he.NewParty(setup, n.self); err != nil {
				return err
			}
			b, err := party.MarshalSecret()
			if err != nil {
				return err
			}
			if err := n.cfg.Keys.Put(secretName(e), b); err != nil {
				return err
			}
		}
		pkShare, err := party.PublicKeyShare()
		if err != nil {
			return err
		}
		shares, err := party.ThresholdShares()
		if err != nil {
			return err
		}
		ps = &partyState{setup: setup, party: party}
		n.mu.Lock()
		n.parties[e] = ps
		n.mu.Unlock()
		pending := func() bool { k, ok := f.KeySetup(e); return ok && k.Status == fsm.KeyPending }
		n.sendLeader(kindPKShare, e, pkShare, sha256.Sum256(pkShare), pending)
		for site, b := range shares {
			if site != n.self {
				n.sendAsync(site, kindThresholdShare, e, b, pending)
			}
		}
	}
	if ps.finished {
		return nil
	}
	for from, b := range n.take(e, kindThresholdShare) {
		if !slices.Contains(ps.party.Missing(), from) {
			continue
		}
		if err := ps.party.ReceiveThresholdShare(from, b.body); err != nil {
			n.log.Warn("threshold share", "epoch", e, "from", from, "error", err)
		}
	}
	if m := ps.party.Missing(); len(m) > 0 {
		n.log.Debug("waiting for threshold shares", "epoch", e, "missing", m)
		return nil
	}
	share, err := ps.party.Finish()
	if err != nil {
		return err
	}
	b, err := share.MarshalBinary()
	if err != nil {
		return err
	}
	if err := n.cfg.Keys.Put(shareName(e), b); err != nil {
		return err
	}
	ps.finished = true
	n.mu.Lock()
	n.keys[e] = &epochKeys{setup: ps.setup, share: share}
	n.mu.Unlock()
	n.sendLeader(kindReady, e, []byte{}, sha256.Sum256(nil), func() bool {
		k, ok := f.KeySetup(e)
		return ok && k.Status == fsm.KeyPending
	})
	return nil
}

// loadKeys makes sure this site holds its key share and the verified
// collective public key of an active epoch: from memory, the KeyStore, or
// the leader's key.public-key blob (checked against the log's hash).
func (n *Node) loadKeys(ks fsm.KeySetup) error {
	e := ks.Epoch
	n.mu.Lock()
	k := n.keys[e]
	n.mu.Unlock()
	if k != nil && k.share != nil && k.pk != nil {
		return nil
	}
	if k == nil {
		setup, err := n.setupOf(ks)
		if err != nil {
			return err
		}
		k = &epochKeys{setup: setup}
	} else {
		cp := *k // published values are immutable: fill in a copy
		k = &cp
	}
	if k.share == nil {
		b, err := n.cfg.Keys.Get(shareName(e))
		if err != nil {
			return fmt.Errorf("epoch %d: key share: %w", e, err)
		}
		if k.share, err = he.UnmarshalKeyShare(k.setup, n.self, b); err != nil {
			return fmt.Errorf("epoch %d: key share: %w", e, err)
		}
	}
	if k.pk == nil {
		b, err := n.cfg.Keys.Get(pkName(e))
		fromStore := err == nil
		if !fromStore {
			for _, got := range n.take(e, kindPublicKey) {
				if hexSum(got.sum) == ks.PublicKeyHash {
					b = got.body
					break
				}
			}
		}
		if b != nil {
			if hashHex(b) != ks.PublicKeyHash {
				return fmt.Errorf("epoch %d: stored public key does not match the log's hash", e)
			}
			pk, err := he.UnmarshalPublicKey(k.setup, b)
			if err != nil {
				return fmt.Errorf("epoch %d: public key: %w", e, err)
			}
			if !fromStore {
				if err := n.cfg.Keys.Put(pkName(e), b); err != nil {
					return err
				}
			}
			k.pk = pk
		}
	}
	n.mu.Lock()
	n.keys[e] = k
	n.mu.Unlock()
	return nil
}

// activeKeys returns the active epoch and this site's material for it.
func (n *Node) activeKeys(f *fsm.FSM) (fsm.KeySetup, *epochKeys, bool) {
	ks, ok := f.ActiveKey()
	if !ok {
		return ks, nil, false
	}
	return ks, n.epochKeys(ks.Epoch), true
}

func (n *Node) epochKeys(e uint64) *epochKeys {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := n.keys[e]
	if k == nil || k.share == nil || k.pk == nil {
		return nil
	}
	return k
}

// leadKeys runs the aggregator's part of pending key set-ups. A pending
// set-up this leader did not start (the leader changed) is failed: its
// public-key shares went to the old leader.
func (n *Node) leadKeys(ctx context.Context, f *fsm.FSM) {
	for _, ks := range f.KeySetups() {
		if ks.Status != fsm.KeyPending {
			continue
		}
		e := ks.Epoch
		n.mu.Lock()
		a := n.aggs[e]
		n.mu.Unlock()
		if a == nil {
			n.propose(ctx, &fsm.FailKeySetup{Epoch: e, Reason: reasonLeaderChanged + " during key set-up"})
			continue
		}
		if a.completed {
			continue
		}
		if time.Since(a.began) > n.cfg.KeySetupTimeout {
			var notReady []string
			for _, p := range ks.Participants {
				if !a.ready[p] {
					notReady = append(notReady, p)
				}
			}
			n.propose(ctx, &fsm.FailKeySetup{Epoch: e, Reason: fmt.Sprintf("timed out: no public-key share from %v, not ready: %v", a.agg.Missing(), notReady)})
			continue
		}
		for from, b := range n.take(e, kindPKShare) {
			if err := a.agg.Add(from, b.body); err != nil {
				n.log.Warn("public-key share", "epoch", e, "from", from, "error", err)
			}
		}
		for from := range n.take(e, kindReady) {
			if slices.Contains(ks.Participants, from) {
				a.ready[from] = true
			}
		}
		if len(a.agg.Missing()) > 0 || len(a.ready) < len(ks.Participants) {
			continue
		}
		pk, err := a.agg.PublicKey()
		if err != nil {
			n.propose(ctx, &fsm.FailKeySetup{Epoch: e, Reason: "public key: " + err.Error()})
			continue
		}
		b, err := pk.MarshalBinary()
		if err != nil {
			continue
		}
		if err := n.propose(ctx, &fsm.CompleteKeySetup{Epoch: e, PublicKeyHash: hashHex(b)}); err != nil {
			continue
		}
		a.completed = true
		for _, site := range ks.Participants {
			n.sendAsync(site, kindPublicKey, e, b, func() bool {
				k, ok := f.KeySetup(e)
				return ok && k.Status == fsm.KeyActive && n.cfg.Log.IsLeader()
			})
		}
	}
}

// propose applies cmd and logs a rejection.
func (n *Node) propose(ctx context.Context, cmd fsm.Command) error {
	err := n.cfg.Log.Apply(ctx, cmd)
	if err != nil {
		n.log.Warn("proposal rejected", "command", cmd.CommandType(), "error", err)
	}
	return err
}

// KeyInfo describes a key epoch.
type KeyInfo struct {
	Epoch         uint64   `json:"epoch"`
	Status        string   `json:"status"`
	Participants  []string `json:"participants"`
	Threshold     int      `json:"threshold"`
	HEParams      string   `json:"he_params"`
	PublicKeyHash string   `json:"public_key_hash,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	// Holding reports whether this node holds its key share and the
	// verified public key of the epoch.
	Holding bool `json:"holding"`
}

// Keys lists the key epochs in the log with this node's view of them.
func (n *Node) Keys() []KeyInfo {
	out := []KeyInfo{}
	for _, ks := range n.cfg.Log.FSM().KeySetups() {
		out = append(out, KeyInfo{Epoch: ks.Epoch, Status: string(ks.Status), Participants: ks.Participants,
			Threshold: ks.Threshold, HEParams: ks.HEParams, PublicKeyHash: ks.PublicKeyHash, Reason: ks.Reason,
			Holding: n.epochKeys(ks.Epoch) != nil})
	}
	return out
}

// StartKeySetup runs a dealerless t-of-N key set-up among all joined, live sites
// (leader only) and waits until it is active in the log (or failed). params
// "" takes the federation setting, then DefaultParams; threshold 0 takes the
// federation setting.
func (n *Node) StartKeySetup(ctx context.Context, threshold int, params string) (KeyInfo, error) {
	if !n.cfg.Log.IsLeader() {
		return KeyInfo{}, n.notLeader()
	}
	if err := n.cfg.Log.Barrier(ctx); err != nil {
		return KeyInfo{}, err
	}
	f := n.cfg.Log.FSM()
	set := f.Settings()
	if params == "" {
		params = set.HEParams
	}
	if params == "" {
		params = DefaultParams
	}
	if threshold == 0 {
		threshold = set.Threshold
	}
	var participants []string
	for _, s := range f.Sites() {
		if s.Status == fsm.StatusJoined && s.Live {
			participants = append(participants, s.ID)
		}
	}
	slices.Sort(participants)
	if threshold < 1 || threshold > len(participants) {
		return KeyInfo{}, fmt.Errorf("threshold %d for %d joined sites: %w", threshold, len(participants), ErrBadSpec)
	}
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return KeyInfo{}, fmt.Errorf("key set-up seed: %w", err)
	}
	e := uint64(len(f.KeySetups())) + 1
	cmd := &fsm.BeginKeySetup{Epoch: e, Participants: participants, Threshold: threshold, HEParams: params, Seed: hex.EncodeToString(seed)}
	setup, err := n.setupOf(fsm.KeySetup{Epoch: e, Participants: participants, Threshold: threshold, HEParams: params, Seed: cmd.Seed})
	if err != nil {
		return KeyInfo{}, fmt.Errorf("%w: %w", ErrBadSpec, err)
	}
	agg, err := he.NewPublicKeyAggregator(setup)
	if err != nil {
		return KeyInfo{}, err
	}
	n.mu.Lock()
	n.aggs[e] = &keyAggState{setup: setup, agg: agg, ready: map[string]bool{}, began: time.Now()}
	n.mu.Unlock()
	if err := n.cfg.Log.Apply(ctx, cmd); err != nil {
		n.mu.Lock()
		delete(n.aggs, e)
		n.mu.Unlock()
		return KeyInfo{}, fmt.Errorf("begin key set-up: %w", err)
	}
	n.Notify()
	var out KeyInfo
	err = waitFor(ctx, func() (bool, error) {
		ks, _ := f.KeySetup(e)
		switch ks.Status {
		case fsm.KeyActive:
			if n.epochKeys(e) == nil {
				return false, nil // the leader's own copy of the public key is on its way
			}
			for _, k := range n.Keys() {
				if k.Epoch == e {
					out = k
				}
			}
			return true, nil
		case fsm.KeyFailed:
			if strings.HasPrefix(ks.Reason, reasonLeaderChanged) {
				return true, fmt.Errorf("epoch %d: %s: %w: %w", e, ks.Reason, ErrKeySetup, ErrLeaderChanged)
			}
			return true, fmt.Errorf("epoch %d: %s: %w", e, ks.Reason, ErrKeySetup)
		}
		return false, nil
	})
	return out, err
}

func (n *Node) notLeader() error {
	if l := n.cfg.Log.Leader(); l != "" {
		return fmt.Errorf("the leader is %s: %w", l, ErrNotLeader)
	}
	return fmt.Errorf("no leader is known yet: %w", ErrNotLeader)
}

// waitFor polls cond every 10ms until it reports done or ctx ends.
func waitFor(ctx context.Context, cond func() (bool, error)) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if done, err := cond(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
