package securesum

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/he"
)

// Result is the outcome of a secure sum.
type Result struct {
	RoundID   string  `json:"round_id"`
	Statistic string  `json:"statistic"`
	State     string  `json:"state"`
	Reason    string  `json:"reason,omitempty"`
	Values    []int64 `json:"values,omitempty"`
	// Noise describes the DP noise in Values (mechanism "none" with DP off).
	Noise   fsm.NoiseParams `json:"noise"`
	Charged fsm.Cost        `json:"charged"`
	// BudgetLeft is what remains of the dataset's ledger after this round;
	// nil when the round used no ledger (DP disabled, zero cost).
	BudgetLeft   *fsm.Cost `json:"budget_left,omitempty"`
	Dataset      string    `json:"dataset"`
	Contributors []string  `json:"contributors,omitempty"`
	Decryptors   []string  `json:"decryptors,omitempty"`
}

// SecureSum runs one secure-sum round (leader only) and waits for its end:
// the leader proposes StartRound — the ledger is charged at commit, and a
// refusal (fsm.ErrBudgetExhausted, ...) means no round exists — then every
// participant contributes, t decryptors decrypt the aggregate, and the
// result is committed. A round that fails returns ErrRoundFailed, one that
// was aborted (leader change) ErrRoundAborted: redo it with a new call.
func (n *Node) SecureSum(ctx context.Context, spec Spec) (Result, error) {
	if !n.cfg.Log.IsLeader() {
		return Result{}, n.notLeader()
	}
	if err := n.cfg.Log.Barrier(ctx); err != nil {
		return Result{}, err
	}
	f := n.cfg.Log.FSM()
	if !validName(spec.Statistic) || (spec.Dataset != "" && !validName(spec.Dataset)) {
		return Result{}, fmt.Errorf("statistic %q, dataset %q: want 1..64 bytes of [A-Za-z0-9._-]: %w", spec.Statistic, spec.Dataset, ErrBadSpec)
	}
	if spec.Lo > spec.Hi || spec.Length < 0 || spec.Length > MaxLength {
		return Result{}, fmt.Errorf("clamp [%d, %d], length %d: %w", spec.Lo, spec.Hi, spec.Length, ErrBadSpec)
	}
	params, err := canonicalParams(spec.Params)
	if err != nil {
		return Result{}, err
	}
	if spec.explicit() {
		if err := checkSensitivity(spec.L1, spec.L2, spec.MaxAbs); err != nil {
			return Result{}, err
		}
	}
	dpOff := f.Settings().DPDisabled
	if dpOff && !n.cfg.AllowDPOff {
		return Result{}, fmt.Errorf("DP is disabled in the log, and this node does not allow DP-off rounds (federation.allow_dp_off): %w", ErrDPOff)
	}
	ks, ok := f.ActiveKey()
	if !ok {
		return Result{}, ErrNoKey
	}
	setup, err := n.setupOf(ks)
	if err != nil {
		return Result{}, err
	}
	if spec.Length == 0 {
		v, err := n.cfg.Stats.Statistic(ctx, spec.Statistic, params)
		if err != nil {
			return Result{}, fmt.Errorf("length of the leader's own statistic: %w", err)
		}
		spec.Length = len(v)
	}
	participants := spec.Participants
	if participants == nil {
		for _, p := range ks.Participants {
			if s, ok := f.Site(p); ok && s.Live && s.Status == fsm.StatusJoined {
				participants = append(participants, p)
			}
		}
	}
	rs := roundSpec{Statistic: spec.Statistic, V: 1, N: spec.Length, Lo: spec.Lo, Hi: spec.Hi, Params: params, Mech: mechNone}
	if spec.explicit() {
		rs.MaxAbs = spec.MaxAbs
	}
	if !dpOff {
		rs.Mech = mechSkellam
		rs.L1, rs.L2 = sensitivity(spec.Length, spec.Lo, spec.Hi)
		if spec.explicit() {
			rs.L1, rs.L2 = spec.L1, spec.L2
		}
		if rs.Mu, err = calibrate(spec.Epsilon, spec.Delta, rs.L1, rs.L2); err != nil {
			return Result{}, err
		}
	}
	// Clamped values plus a 64σ noise tail must stay within what the
	// encryptor accepts, so no sum can wrap the plaintext modulus.
	tail := 64 * math.Sqrt(rs.Mu/float64(ks.Threshold))
	if lim := setup.Params().MaxAbsInput(len(ks.Participants)); float64(rs.bound())+tail > float64(lim) {
		return Result{}, fmt.Errorf("clamp bound %d plus noise tail %.3g exceeds %d per site: %w", rs.bound(), tail, lim, ErrBadSpec)
	}
	kind, err := rs.kind()
	if err != nil {
		return Result{}, err
	}
	if len(kind) > fsm.MaxKindLen {
		return Result{}, fmt.Errorf("round spec is %d bytes encoded, over the log's round-kind limit of %d (shorten params): %w",
			len(kind), fsm.MaxKindLen, ErrBadSpec)
	}
	// The round's deadline is in the log's logical time: bring it up to
	// date first, unless the leader's regular Tick just did.
	now := time.Now().UnixMilli()
	if now-f.Now() > n.cfg.TickInterval.Milliseconds() {
		if err := n.cfg.Log.Apply(ctx, &fsm.Tick{Now: now}); err != nil {
			return Result{}, fmt.Errorf("tick: %w", err)
		}
	}
	now = max(now, f.Now())
	acc, err := he.NewAccumulator(setup, spec.Length)
	if err != nil {
		return Result{}, fmt.Errorf("aggregate of %d values: %w", spec.Length, err)
	}
	var id string
	for attempt := 0; ; attempt++ {
		id = strconv.FormatUint(nextRoundNum(f)+uint64(attempt), 10)
		num, _ := roundNum(id)
		lr := &leadRound{num: num, spec: rs, setup: setup, began: time.Now(), seen: map[string]bool{},
			acc: acc, added: map[string]bool{}, shares: map[string]*he.DecryptionShare{}}
		n.mu.Lock()
		n.led[id] = lr
		n.mu.Unlock()
		start := time.Now()
		err = n.cfg.Log.Apply(ctx, &fsm.StartRound{
			ID: id, Kind: kind, Federation: n.cfg.Federation, Dataset: spec.dataset(), KeyEpoch: ks.Epoch,
			Participants: participants, Deadline: now + n.cfg.RoundTimeout.Milliseconds(),
			Cost: fsm.Cost{Epsilon: spec.Epsilon, Delta: spec.Delta},
		})
		if err == nil {
			n.record(id, Step{Name: StepCommit, Detail: string(fsm.TypeStartRound), Start: start, Wall: time.Since(start)})
			break
		}
		n.mu.Lock()
		delete(n.led, id)
		n.mu.Unlock()
		if !errors.Is(err, fsm.ErrRoundExists) || attempt >= 10 {
			return Result{}, fmt.Errorf("start round: %w", err)
		}
	}
	n.Notify()
	var res Result
	var lost time.Time
	err = waitFor(ctx, func() (bool, error) {
		r, _ := f.Round(id)
		if !r.State.Terminal() {
			// A node that stopped leading cannot finish the round (the new
			// leader aborts it): after a grace period for a flapping
			// election, tell the client to redo the sum at the new leader.
			switch {
			case n.cfg.Log.IsLeader():
				lost = time.Time{}
			case lost.IsZero():
				lost = time.Now()
			case time.Since(lost) > leadershipGrace:
				return true, fmt.Errorf("round %s: leadership lost: %w", id, n.notLeader())
			}
			return false, nil
		}
		res = n.result(f, r)
		switch r.State {
		case fsm.RoundFailed:
			return true, fmt.Errorf("round %s: %s: %w", id, r.Reason, ErrRoundFailed)
		case fsm.RoundAborted:
			return true, fmt.Errorf("round %s: %s: %w", id, r.Reason, ErrRoundAborted)
		}
		return true, nil
	})
	n.mu.Lock()
	delete(n.led, id)
	n.mu.Unlock()
	return res, err
}

// leadershipGrace is how long SecureSum waits for leadership to come back
// before telling the client to go to the new leader.
const leadershipGrace = 2 * time.Second

// nextRoundNum is one more than the largest decimal round id in the log.
func nextRoundNum(f *fsm.FSM) uint64 {
	var top uint64
	for _, r := range f.Rounds() {
		if v, ok := roundNum(r.ID); ok && v > top {
			top = v
		}
	}
	return top + 1
}

// Round returns a round's state and, when known, its result.
func (n *Node) Round(id string) (Result, bool) {
	f := n.cfg.Log.FSM()
	r, ok := f.Round(id)
	if !ok {
		return Result{}, false
	}
	return n.result(f, r), true
}

func (n *Node) result(f *fsm.FSM, r fsm.Round) Result {
	res := Result{RoundID: r.ID, State: string(r.State), Reason: r.Reason, Charged: r.Cost, Dataset: r.Dataset,
		Decryptors: slices.Clone(r.Decryptors)}
	if spec, err := parseKind(r.Kind); err == nil {
		res.Statistic = spec.Statistic
	}
	for _, c := range r.Contributions {
		res.Contributors = append(res.Contributors, c.Site)
	}
	if b, ok := f.Budget(r.Federation, r.Dataset); ok {
		left := b.Remaining()
		res.BudgetLeft = &left
	}
	if rec, ok := f.Result(r.ID); ok {
		res.Noise = rec.Noise
		if v, ok := decodeValues(rec.Released); ok && len(rec.Released) > 0 {
			res.Values = v
		} else {
			n.mu.Lock()
			res.Values = slices.Clone(n.results[r.ID].values)
			n.mu.Unlock()
		}
	}
	return res
}

// SetBudget creates the ledger of a dataset (leader only). A ledger is set
// once and never reset or raised.
func (n *Node) SetBudget(ctx context.Context, dataset string, epsilon, delta float64) (fsm.Budget, error) {
	if !n.cfg.Log.IsLeader() {
		return fsm.Budget{}, n.notLeader()
	}
	if !validName(dataset) {
		return fsm.Budget{}, fmt.Errorf("dataset %q: %w", dataset, ErrBadSpec)
	}
	if err := n.cfg.Log.Apply(ctx, &fsm.SetBudget{Federation: n.cfg.Federation, Dataset: dataset,
		Total: fsm.Cost{Epsilon: epsilon, Delta: delta}}); err != nil {
		return fsm.Budget{}, err
	}
	b, _ := n.cfg.Log.FSM().Budget(n.cfg.Federation, dataset)
	return b, nil
}

// Budget returns the ledger of a dataset.
func (n *Node) Budget(dataset string) (fsm.Budget, bool) {
	return n.cfg.Log.FSM().Budget(n.cfg.Federation, dataset)
}
