package securesum

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/strata-fed/strata/dp/noise"
	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/he"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// roundNum parses a round id; secure-sum rounds have decimal ids so they fit
// wire.BlobHeader.RoundID.
func roundNum(id string) (uint64, bool) {
	v, err := strconv.ParseUint(id, 10, 64)
	return v, err == nil && strconv.FormatUint(v, 10) == id
}

// --- participant and decryptor ---

// stepRounds does this site's part of every unfinished round in the log:
// contribute once while it collects, and, as a fixed decryptor, produce one
// decryption share of the logged aggregate.
func (n *Node) stepRounds(ctx context.Context, f *fsm.FSM) {
	for _, r := range f.Rounds() {
		if r.State.Terminal() || !slices.Contains(r.Participants, n.self) {
			continue
		}
		num, ok := roundNum(r.ID)
		if !ok {
			continue
		}
		spec, err := n.specOf(r)
		if err != nil {
			continue
		}
		switch r.State {
		case fsm.RoundOpen, fsm.RoundCollecting:
			n.mu.Lock()
			started := n.started[r.ID]
			n.started[r.ID] = true
			n.mu.Unlock()
			if !started && !r.Contributed(n.self) {
				n.goFunc(func() {
					if err := n.contribute(ctx, r, num, spec); err != nil {
						n.log.Warn("no contribution", "round", r.ID, "error", err)
					}
				})
			}
		case fsm.RoundDecrypting:
			if !slices.Contains(r.Decryptors, n.self) {
				continue
			}
			n.mu.Lock()
			done := n.shared[r.ID]
			var mask *blob
			for _, b := range n.inbox[msgKey{num, kindAggregate}] {
				if hexSum(b.sum) == r.AggregateHash {
					mask = &b
				}
			}
			n.mu.Unlock()
			if done || mask == nil {
				continue
			}
			var share []byte
			var sum [32]byte
			err := n.timed(r.ID, Step{Name: StepShare}, func() error {
				var err error
				if share, err = n.decryptionShare(r.ID, mask.body, &mask.sum); err == nil {
					sum = sha256.Sum256(share)
				}
				return err
			})
			if err != nil {
				n.log.Warn("decryption share", "round", r.ID, "error", err)
				if errors.Is(err, ErrRefused) {
					n.mu.Lock()
					n.shared[r.ID] = true // final: do not ask again
					n.mu.Unlock()
				}
				continue // otherwise (no key yet, ...) retry on the next step
			}
			n.mu.Lock()
			n.shared[r.ID] = true
			n.mu.Unlock()
			id := r.ID
			n.sendLeader(kindShare, num, share, sum, func() bool {
				r, _ := f.Round(id)
				return r.State == fsm.RoundDecrypting
			})
		}
	}
}

// specOf returns the parsed spec of an unfinished round (cached: stepRounds
// runs after every applied log entry).
func (n *Node) specOf(r fsm.Round) (roundSpec, error) {
	n.mu.Lock()
	s, ok := n.specs[r.ID]
	n.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := parseKind(r.Kind)
	if err != nil {
		return s, err
	}
	n.mu.Lock()
	n.specs[r.ID] = s
	n.mu.Unlock()
	return s, nil
}

// contribute clamps, noises, encrypts and sends this site's vector, after
// checking the committed round: its noise (verify), that it is charged to
// the dataset the statistic is bound to, and, with explicit sensitivities,
// that they cover the per-user bound the Provider guarantees.
func (n *Node) contribute(ctx context.Context, r fsm.Round, num uint64, spec roundSpec) error {
	if err := spec.verify(r, n.cfg.AllowDPOff); err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	bind, err := n.cfg.Stats.Binding(ctx, spec.Statistic, spec.Params)
	if err != nil {
		return fmt.Errorf("round %s: %w: %w", r.ID, ErrRefused, err)
	}
	if bind.Dataset != r.Dataset {
		return fmt.Errorf("round %s: %w: %w: statistic %s is computed from dataset %q, the round is charged to %q",
			r.ID, ErrRefused, ErrDatasetMismatch, spec.Statistic, bind.Dataset, r.Dataset)
	}
	if spec.MaxAbs > 0 && !r.DPDisabled && !(bind.L1 > 0 && bind.L2 > 0 && spec.L1 >= bind.L1 && spec.L2 >= bind.L2) {
		return fmt.Errorf("round %s: %w: explicit sensitivities (%g, %g) do not cover the per-user bound (%g, %g) the provider guarantees for %s: %w",
			r.ID, ErrRefused, spec.L1, spec.L2, bind.L1, bind.L2, spec.Statistic, ErrBadSpec)
	}
	var keys *epochKeys
	err = waitFor(ctx, func() (bool, error) { // the public key may still be on its way
		keys = n.epochKeys(r.KeyEpoch)
		cur, _ := n.cfg.Log.FSM().Round(r.ID)
		return keys != nil || cur.State.Terminal(), nil
	})
	if err != nil || keys == nil {
		return fmt.Errorf("round %s: %w", r.ID, ErrNoKey)
	}
	var b []byte
	var sum [32]byte // he.Digest(b), the blob's SHA-256
	err = n.timed(r.ID, Step{Name: StepEncrypt}, func() error {
		values, err := n.cfg.Stats.Statistic(ctx, spec.Statistic, spec.Params)
		if err != nil {
			return err
		}
		if len(values) != spec.N {
			return fmt.Errorf("statistic %s has %d values, the round wants %d: %w", spec.Statistic, len(values), spec.N, ErrBadSpec)
		}
		// Contribution bounding first, then this site's share of the noise.
		spec.clamp(values)
		if spec.Mech == mechSkellam {
			s, err := noise.NewShare(noise.ShareParams{N: len(r.Participants), T: r.Threshold, Variance: spec.Mu})
			if err != nil {
				return err
			}
			s.AddTo(values)
		}
		enc, err := he.NewEncryptor(keys.pk)
		if err != nil {
			return err
		}
		b, sum, err = enc.EncryptMarshal(values)
		return err
	})
	if err != nil {
		return err
	}
	f := n.cfg.Log.FSM()
	id := r.ID
	if err := n.sendLeaderSync(ctx, kindCiphertext, num, b, sum, func() bool {
		r, _ := f.Round(id)
		return (r.State == fsm.RoundOpen || r.State == fsm.RoundCollecting) && !r.Contributed(n.self)
	}); err != nil {
		return err
	}
	n.contributions.Add(1)
	return nil
}

// sendLeaderSync sends body (whose SHA-256 is sum) to whoever leads at
// each attempt, retrying while want() holds.
func (n *Node) sendLeaderSync(ctx context.Context, kind string, id uint64, body []byte, sum [32]byte, want func() bool) error {
	for {
		if !want() {
			return fmt.Errorf("%s for %d: no longer wanted", kind, id)
		}
		leader := n.cfg.Log.Leader()
		var err error
		if leader == "" {
			err = fmt.Errorf("no leader")
		} else if err = n.send(ctx, leader, kind, id, body, sum); err == nil {
			return nil
		}
		n.log.Debug("send to leader failed, retrying", "kind", kind, "id", id, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// sendLeader is sendLeaderSync in the background.
func (n *Node) sendLeader(kind string, id uint64, body []byte, sum [32]byte, want func() bool) {
	n.mu.Lock()
	ctx := n.runCtx
	n.mu.Unlock()
	if ctx == nil {
		return
	}
	n.goFunc(func() { _ = n.sendLeaderSync(ctx, kind, id, body, sum, want) })
}

// DecryptionShare is the only place a decryption share is made. It returns
// this site's share of the round's aggregate, given its mask (the encoded
// he.Mask: the aggregate's c1 parts, all a share depends on), after
// checking, independently of whoever asks, that the committed log allows it
// (fsm.ShareAllowed: the round is decrypting, this site is one of its fixed
// decryptors, and the ledger covers the round) and that mask is exactly the
// one whose hash the log fixed (AggregateHash). Otherwise it returns an
// error wrapping ErrRefused and produces nothing.
func (n *Node) DecryptionShare(roundID string, mask []byte) ([]byte, error) {
	return n.decryptionShare(roundID, mask, nil)
}

// decryptionShare is DecryptionShare for a mask whose SHA-256 may already
// be known (verified on receipt); nil = compute it.
func (n *Node) decryptionShare(roundID string, mask []byte, sum *[32]byte) ([]byte, error) {
	f := n.cfg.Log.FSM()
	if err := f.ShareAllowed(roundID, n.self); err != nil {
		n.sharesRefused.Add(1)
		return nil, fmt.Errorf("round %s: %w: %w", roundID, ErrRefused, err)
	}
	r, _ := f.Round(roundID)
	spec, err := parseKind(r.Kind)
	if err == nil {
		err = spec.verify(r, n.cfg.AllowDPOff)
	}
	if err != nil {
		n.sharesRefused.Add(1)
		return nil, fmt.Errorf("round %s: %w: %w", roundID, ErrRefused, err)
	}
	if sum == nil {
		s := sha256.Sum256(mask)
		sum = &s
	}
	if hexSum(*sum) != r.AggregateHash {
		n.sharesRefused.Add(1)
		return nil, fmt.Errorf("round %s: aggregate is not the one fixed in the log: %w", roundID, ErrRefused)
	}
	keys := n.epochKeys(r.KeyEpoch)
	if keys == nil {
		return nil, fmt.Errorf("round %s, epoch %d: %w", roundID, r.KeyEpoch, ErrNoKey)
	}
	m, err := he.UnmarshalMaskHashed(keys.setup, mask, *sum)
	if err != nil {
		return nil, fmt.Errorf("round %s: aggregate mask: %w", roundID, err)
	}
	ds, err := keys.share.DecryptionShareMask(m, r.Decryptors)
	if err != nil {
		return nil, fmt.Errorf("round %s: %w", roundID, err)
	}
	b, err := ds.MarshalBinary()
	if err != nil {
		return nil, err
	}
	n.sharesProduced.Add(1)
	return b, nil
}

// --- leader ---

// leadRound is the leader's state of a round it runs. Only the step
// goroutine touches it after creation.
type leadRound struct {
	num   uint64
	spec  roundSpec
	setup *he.Setup
	began time.Time
	seen  map[string]bool
	// acc sums the contributions as they arrive; added names the sites
	// whose contribution it holds (and the log accepted).
	acc      *he.Accumulator
	added    map[string]bool
	agg      *he.Ciphertext
	shares   map[string]*he.DecryptionShare
	finished bool
}

type roundResult struct{ values []int64 }

// leadRounds runs the aggregator's part of every unfinished round. A round
// this leader did not start (the leader changed mid-round) is aborted: the
// ciphertexts went to the old leader, and the FSM refunds the round if no
// decryption share can exist. Clients redo the sum.
func (n *Node) leadRounds(ctx context.Context, f *fsm.FSM) {
	for _, r := range f.Rounds() {
		if r.State.Terminal() {
			continue
		}
		n.mu.Lock()
		lr := n.led[r.ID]
		n.mu.Unlock()
		if lr == nil {
			n.propose(ctx, &fsm.AbortRound{Round: r.ID, Reason: reasonLeaderChanged + ": the new leader holds none of the round's ciphertexts; redo the sum"})
			continue
		}
		if lr.setup == nil || lr.finished {
			continue // still being started
		}
		switch r.State {
		case fsm.RoundOpen, fsm.RoundCollecting:
			n.collect(ctx, f, r, lr)
		case fsm.RoundDecrypting:
			n.decrypt(ctx, r, lr)
		}
	}
}

// collect adds each contribution to the aggregate as it arrives (validated
// and summed in one pass over its bytes, whose SHA-256 the transport
// verified on receipt), logs its hash, and takes it out again if the log
// rejects it. With every live participant in (or CollectTimeout passed with
// the round's minimum), it fixes the decryptors and the aggregate's mask
// hash in the log and sends the mask to the decryptors.
func (n *Node) collect(ctx context.Context, f *fsm.FSM, r fsm.Round, lr *leadRound) {
	type arrival struct {
		from string
		b    blob
		err  error
	}
	var in []arrival
	for from, b := range n.take(lr.num, kindCiphertext) {
		if lr.seen[from] || !slices.Contains(r.Participants, from) {
			continue // a duplicate or foreign ciphertext: its bytes are dropped
		}
		lr.seen[from] = true
		if lr.agg != nil {
			continue // the aggregate is already taken
		}
		err := n.timed(r.ID, Step{Name: StepAdd, Peer: from, Bytes: int64(len(b.body))}, func() error {
			return lr.acc.AddHashed(b.body, b.sum)
		})
		if err != nil {
			n.log.Warn("dropped malformed ciphertext", "round", r.ID, "from", from, "error", err)
			continue
		}
		in = append(in, arrival{from: from, b: b})
	}
	// Log the added contributions' hashes, all at once (raft batches
	// concurrent proposals into one append).
	var wg sync.WaitGroup
	for i := range in {
		a := &in[i]
		wg.Go(func() {
			a.err = n.committed(ctx, r.ID, &fsm.Contribute{Round: r.ID, Site: a.from, Hash: hexSum(a.b.sum), Size: int64(len(a.b.body))})
		})
	}
	wg.Wait()
	for _, a := range in {
		if a.err == nil {
			lr.added[a.from] = true
			continue
		}
		// Rejected by the log (late, duplicate, replayed...): dropped.
		if err := lr.acc.Remove(a.b.body, a.b.sum); err != nil {
			n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: "aggregate: " + err.Error()})
			return
		}
	}
	r, _ = f.Round(r.ID)
	if r.State != fsm.RoundOpen && r.State != fsm.RoundCollecting {
		return
	}
	allIn := true
	for _, p := range r.Participants {
		if s, ok := f.Site(p); ok && s.Live && s.Status == fsm.StatusJoined && !r.Contributed(p) {
			allIn = false
		}
	}
	if len(r.Contributions) < r.MinContributors || !(allIn || time.Since(lr.began) > n.cfg.CollectTimeout) {
		return
	}
	// The aggregate is exactly the log's contributions (the sum does not
	// depend on their order).
	for _, c := range r.Contributions {
		if !lr.added[c.Site] {
			n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: "leader lost the ciphertext of " + c.Site})
			return
		}
	}
	if lr.agg == nil && lr.acc.Count() != len(r.Contributions) {
		n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: fmt.Sprintf("aggregate of %d contributions, the log has %d", lr.acc.Count(), len(r.Contributions))})
		return
	}
	var b []byte
	var sum [32]byte
	err := n.timed(r.ID, Step{Name: StepAggregate}, func() error {
		if lr.agg == nil {
			agg, err := lr.acc.Aggregate()
			if err != nil {
				return err
			}
			lr.agg = agg
		}
		var err error
		b, err = lr.agg.Mask().MarshalBinary()
		sum = lr.agg.Mask().Digest()
		return err
	})
	if err != nil {
		n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: "aggregate: " + err.Error()})
		return
	}
	decryptors := chooseDecryptors(f, r, lr.setup.Participants(), n.self)
	if len(decryptors) < r.Threshold {
		n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: fmt.Sprintf("too few live decryptors: %d, threshold %d", len(decryptors), r.Threshold)})
		return
	}
	if err := n.committed(ctx, r.ID, &fsm.CloseRound{Round: r.ID, Decryptors: decryptors, AggregateHash: hexSum(sum)}); err != nil {
		return
	}
	id := r.ID
	for _, d := range decryptors {
		n.sendAsyncSum(d, kindAggregate, lr.num, b, sum, func() bool {
			r, _ := f.Round(id)
			return r.State == fsm.RoundDecrypting
		})
	}
}

// chooseDecryptors picks the round's t decryptors: the leader itself if it
// is a live participant (its share and the aggregate's mask need no
// transfer), then live contributors, then other live participants, each
// group ranked by sha256(round id, site) so the set varies from round to
// round; listed in key-participant order (the order Combiner uses).
func chooseDecryptors(f *fsm.FSM, r fsm.Round, keyOrder []string, leader string) []string {
	live := func(site string) bool {
		s, ok := f.Site(site)
		return ok && s.Live && s.Status == fsm.StatusJoined
	}
	rank := func(site string) []byte {
		h := sha256.Sum256([]byte(r.ID + "/" + site))
		return h[:]
	}
	var self, first, second []string
	for _, p := range r.Participants {
		switch {
		case !live(p):
		case p == leader:
			self = append(self, p)
		case r.Contributed(p):
			first = append(first, p)
		default:
			second = append(second, p)
		}
	}
	byRank := func(a, b string) int { return bytes.Compare(rank(a), rank(b)) }
	slices.SortFunc(first, byRank)
	slices.SortFunc(second, byRank)
	pick := slices.Concat(self, first, second)
	if len(pick) > r.Threshold {
		pick = pick[:r.Threshold]
	}
	slices.SortFunc(pick, func(a, b string) int { return slices.Index(keyOrder, a) - slices.Index(keyOrder, b) })
	return pick
}

func (n *Node) decrypt(ctx context.Context, r fsm.Round, lr *leadRound) {
	if lr.agg == nil {
		n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: "leader holds no aggregate"})
		return
	}
	for from, b := range n.take(lr.num, kindShare) {
		if !slices.Contains(r.Decryptors, from) || lr.shares[from] != nil {
			continue
		}
		var ds *he.DecryptionShare
		err := n.timed(r.ID, Step{Name: StepCombine, Detail: "decode", Peer: from, Bytes: int64(len(b.body))}, func() error {
			var err error
			ds, err = he.UnmarshalDecryptionShare(lr.setup, b.body)
			return err
		})
		if err != nil {
			n.log.Warn("dropped malformed decryption share", "round", r.ID, "from", from, "error", err)
			continue
		}
		lr.shares[from] = ds
	}
	if len(lr.shares) < len(r.Decryptors) {
		return
	}
	var values []int64
	var released []byte
	var resultHash string
	err := n.timed(r.ID, Step{Name: StepCombine}, func() error {
		var err error
		if values, err = he.Combine(lr.agg, r.Decryptors, lr.shares); err == nil {
			released = encodeValues(values)
			resultHash = hashHex(released)
		}
		return err
	})
	lr.finished = true
	if err != nil {
		n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: "decryption failed: " + err.Error()})
		return
	}
	cmd := &fsm.FinishRound{Round: r.ID, ResultHash: resultHash, Noise: noiseParams(lr.spec)}
	if len(released) <= fsm.MaxReleasedSize {
		cmd.Released = released
	} else {
		cmd.ReleasedHash = cmd.ResultHash
	}
	n.mu.Lock()
	n.results[r.ID] = roundResult{values: values}
	n.mu.Unlock()
	if err := n.committed(ctx, r.ID, cmd); err != nil {
		n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: "finish: " + err.Error()})
	}
}

func noiseParams(s roundSpec) fsm.NoiseParams {
	if s.Mech == mechNone {
		return fsm.NoiseParams{Mechanism: mechNone, Scale: 1}
	}
	return fsm.NoiseParams{Mechanism: mechSkellam, Sigma: math.Sqrt(s.Mu), Sensitivity: s.L2, Scale: 1}
}

// encodeValues is the released encoding: little-endian int64s.
func encodeValues(v []int64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

func decodeValues(b []byte) ([]int64, bool) {
	if len(b)%8 != 0 {
		return nil, false
	}
	out := make([]int64, len(b)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out, true
}

// leaderLoop proposes Ticks and liveness observations while this node leads.
func (n *Node) leaderLoop(ctx context.Context) {
	tick := time.NewTicker(n.cfg.TickInterval)
	defer tick.Stop()
	ping := time.NewTicker(n.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if n.cfg.Log.IsLeader() {
				_ = n.cfg.Log.Apply(ctx, &fsm.Tick{Now: time.Now().UnixMilli()})
			}
		case <-ping.C:
			if n.cfg.Log.IsLeader() {
				n.probe(ctx)
			}
		}
	}
}

// probe pings every joined site and records liveness changes in the log.
func (n *Node) probe(ctx context.Context) {
	f := n.cfg.Log.FSM()
	type res struct {
		site string
		ok   bool
	}
	var sites []fsm.Site
	for _, s := range f.Sites() {
		if s.Status == fsm.StatusJoined {
			sites = append(sites, s)
		}
	}
	out := make(chan res, len(sites))
	for _, s := range sites {
		go func() {
			if s.ID == n.self {
				out <- res{s.ID, true}
				return
			}
			pctx, cancel := context.WithTimeout(ctx, n.cfg.PingInterval)
			defer cancel()
			out <- res{s.ID, n.send(pctx, s.ID, kindPing, 0, nil, sha256.Sum256(nil)) == nil}
		}()
	}
	for range sites {
		r := <-out
		n.mu.Lock()
		if r.ok {
			n.down[r.site] = 0
		} else {
			n.down[r.site]++
		}
		fails := n.down[r.site]
		n.mu.Unlock()
		cur, _ := f.Site(r.site)
		switch {
		case r.ok && !cur.Live:
			n.propose(ctx, &fsm.SiteLiveness{Site: r.site, Live: true})
		case !r.ok && cur.Live && fails >= n.cfg.PingFailures:
			n.log.Info("site not answering: marking it down", "peer", r.site)
			n.propose(ctx, &fsm.SiteLiveness{Site: r.site, Live: false})
		}
	}
}
