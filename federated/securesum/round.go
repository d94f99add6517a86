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
		spec, err := parseKind(r.Kind)
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
			var agg []byte
			for _, b := range n.inbox[msgKey{num, kindAggregate}] {
				if hexSum(b.sum) == r.AggregateHash {
					agg = b.body
				}
			}
			n.mu.Unlock()
			if done || agg == nil {
				continue
			}
			share, err := n.decryptionShare(r.ID, agg, r.AggregateHash)
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
			n.sendLeader(kindShare, num, share, func() bool {
				r, _ := f.Round(id)
				return r.State == fsm.RoundDecrypting
			})
		}
	}
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
	ct, err := enc.Encrypt(values)
	if err != nil {
		return err
	}
	b, err := ct.MarshalBinary()
	if err != nil {
		return err
	}
	f := n.cfg.Log.FSM()
	id := r.ID
	if err := n.sendLeaderSync(ctx, kindCiphertext, num, b, func() bool {
		r, _ := f.Round(id)
		return (r.State == fsm.RoundOpen || r.State == fsm.RoundCollecting) && !r.Contributed(n.self)
	}); err != nil {
		return err
	}
	n.contributions.Add(1)
	return nil
}

// sendLeaderSync sends to whoever leads at each attempt, retrying while
// want() holds.
func (n *Node) sendLeaderSync(ctx context.Context, kind string, id uint64, body []byte, want func() bool) error {
	sum := sha256.Sum256(body)
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
func (n *Node) sendLeader(kind string, id uint64, body []byte, want func() bool) {
	n.mu.Lock()
	ctx := n.runCtx
	n.mu.Unlock()
	if ctx == nil {
		return
	}
	n.goFunc(func() { _ = n.sendLeaderSync(ctx, kind, id, body, want) })
}

// DecryptionShare is the only place a decryption share is made. It returns
// this site's share of aggregate for round roundID, after checking,
// independently of whoever asks, that the committed log allows it
// (fsm.ShareAllowed: the round is decrypting, this site is one of its fixed
// decryptors, and the ledger covers the round) and that aggregate is exactly
// the one whose hash the log fixed. Otherwise it returns an error wrapping
// ErrRefused and produces nothing.
func (n *Node) DecryptionShare(roundID string, aggregate []byte) ([]byte, error) {
	return n.decryptionShare(roundID, aggregate, "")
}

// decryptionShare is DecryptionShare for an aggregate whose hex SHA-256 is
// already known (verified on receipt); "" = compute it.
func (n *Node) decryptionShare(roundID string, aggregate []byte, aggHash string) ([]byte, error) {
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
	if aggHash == "" {
		aggHash = hashHex(aggregate)
	}
	if aggHash != r.AggregateHash {
		n.sharesRefused.Add(1)
		return nil, fmt.Errorf("round %s: aggregate is not the one fixed in the log: %w", roundID, ErrRefused)
	}
	keys := n.epochKeys(r.KeyEpoch)
	if keys == nil {
		return nil, fmt.Errorf("round %s, epoch %d: %w", roundID, r.KeyEpoch, ErrNoKey)
	}
	agg, err := he.UnmarshalCiphertext(keys.setup, aggregate)
	if err != nil {
		return nil, fmt.Errorf("round %s: aggregate: %w", roundID, err)
	}
	ds, err := keys.share.DecryptionShare(agg, r.Decryptors)
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
	num      uint64
	spec     roundSpec
	setup    *he.Setup
	began    time.Time
	seen     map[string]bool
	cts      map[string]*he.Ciphertext
	agg      *he.Ciphertext
	aggBytes []byte
	shares   map[string]*he.DecryptionShare
	sent     bool // aggregate pushed
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

func (n *Node) collect(ctx context.Context, f *fsm.FSM, r fsm.Round, lr *leadRound) {
	for from, b := range n.take(lr.num, kindCiphertext) {
		if lr.seen[from] || !slices.Contains(r.Participants, from) {
			continue // a duplicate or foreign ciphertext: its bytes are dropped
		}
		lr.seen[from] = true
		ct, err := he.UnmarshalContribution(lr.setup, lr.spec.N, b.body)
		if err != nil {
			n.log.Warn("dropped malformed ciphertext", "round", r.ID, "from", from, "error", err)
			continue
		}
		if err := n.propose(ctx, &fsm.Contribute{Round: r.ID, Site: from, Hash: hexSum(b.sum), Size: int64(len(b.body))}); err != nil {
			continue // rejected by the log (late, duplicate, replayed...): dropped
		}
		lr.cts[from] = ct
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
	cts := make([]*he.Ciphertext, 0, len(r.Contributions))
	for _, c := range r.Contributions { // the log's order: deterministic
		ct := lr.cts[c.Site]
		if ct == nil {
			n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: "leader lost the ciphertext of " + c.Site})
			return
		}
		cts = append(cts, ct)
	}
	agg, err := he.Sum(cts...)
	if err != nil {
		n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: "aggregate: " + err.Error()})
		return
	}
	b, err := agg.MarshalBinary()
	if err != nil {
		return
	}
	decryptors := chooseDecryptors(f, r, lr.setup.Participants())
	if len(decryptors) < r.Threshold {
		n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: fmt.Sprintf("too few live decryptors: %d, threshold %d", len(decryptors), r.Threshold)})
		return
	}
	sum := sha256.Sum256(b)
	if err := n.propose(ctx, &fsm.CloseRound{Round: r.ID, Decryptors: decryptors, AggregateHash: hexSum(sum)}); err != nil {
		return
	}
	lr.agg, lr.aggBytes = agg, b
	id := r.ID
	for _, d := range decryptors {
		n.sendAsyncSum(d, kindAggregate, lr.num, b, sum, func() bool {
			r, _ := f.Round(id)
			return r.State == fsm.RoundDecrypting
		})
	}
}

// chooseDecryptors picks the round's t decryptors deterministically from the
// log: live contributors first (then other live participants), ranked by
// sha256(round id, site) so the set varies from round to round, and listed in
// key-participant order (the order Combiner uses).
func chooseDecryptors(f *fsm.FSM, r fsm.Round, keyOrder []string) []string {
	live := func(site string) bool {
		s, ok := f.Site(site)
		return ok && s.Live && s.Status == fsm.StatusJoined
	}
	rank := func(site string) []byte {
		h := sha256.Sum256([]byte(r.ID + "/" + site))
		return h[:]
	}
	var first, second []string
	for _, p := range r.Participants {
		switch {
		case !live(p):
		case r.Contributed(p):
			first = append(first, p)
		default:
			second = append(second, p)
		}
	}
	byRank := func(a, b string) int { return bytes.Compare(rank(a), rank(b)) }
	slices.SortFunc(first, byRank)
	slices.SortFunc(second, byRank)
	pick := append(first, second...)
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
		ds, err := he.UnmarshalDecryptionShare(lr.setup, b.body)
		if err != nil {
			n.log.Warn("dropped malformed decryption share", "round", r.ID, "from", from, "error", err)
			continue
		}
		lr.shares[from] = ds
	}
	if len(lr.shares) < len(r.Decryptors) {
		return
	}
	values, err := he.Combine(lr.agg, r.Decryptors, lr.shares)
	lr.finished = true
	if err != nil {
		n.propose(ctx, &fsm.FailRound{Round: r.ID, Reason: "decryption failed: " + err.Error()})
		return
	}
	released := encodeValues(values)
	cmd := &fsm.FinishRound{Round: r.ID, ResultHash: hashHex(released), Noise: noiseParams(lr.spec)}
	if len(released) <= fsm.MaxReleasedSize {
		cmd.Released = released
	} else {
		cmd.ReleasedHash = cmd.ResultHash
	}
	n.mu.Lock()
	n.results[r.ID] = roundResult{values: values}
	n.mu.Unlock()
	if err := n.propose(ctx, cmd); err != nil {
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
