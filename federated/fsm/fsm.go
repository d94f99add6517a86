package fsm

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
)

// FSM is the federation state machine. It implements raft.FSM.
//
// Apply, Snapshot and Restore are called by raft from one goroutine. The query
// methods may be called from any goroutine, concurrently with Apply; they see
// the state after some applied entry and return copies the caller owns.
type FSM struct {
	comp Composition

	mu sync.RWMutex
	st *State
	// Derived indexes, rebuilt by Restore; never serialized.
	hashes  map[string]string // contribution hash → round id
	charges map[string]string // charge id → ledger key
}

var _ raft.FSM = (*FSM)(nil)

// Option configures New.
type Option func(*FSM)

// WithComposition sets the rule that turns ledger charges into spent budget.
// Defaults to BasicComposition. Every node must use the same rule.
func WithComposition(c Composition) Option {
	return func(f *FSM) {
		if c != nil {
			f.comp = c
		}
	}
}

// New returns an FSM with empty state.
func New(opts ...Option) *FSM {
	f := &FSM{comp: BasicComposition{}}
	for _, o := range opts {
		o(f)
	}
	f.reset(newState())
	return f
}

// reset installs st and rebuilds the derived indexes. Caller holds mu (or owns f).
func (f *FSM) reset(st *State) {
	f.st = st
	f.hashes = map[string]string{}
	f.charges = map[string]string{}
	for id, r := range st.Rounds {
		for _, c := range r.Contributions {
			f.hashes[c.Hash] = id
		}
	}
	for key, b := range st.Budgets {
		for _, ch := range b.Charges {
			f.charges[ch.ID] = key
		}
	}
}

// ApplyResult is what Apply returns; raft hands it out as ApplyFuture.Response().
type ApplyResult struct {
	// Index is the log index of the entry.
	Index uint64
	// Type is the command type ("" if the entry could not be decoded).
	Type CommandType
	// Err is nil if the command took effect, else a rejection wrapping one of
	// the package's sentinel errors. A rejected command changes nothing but
	// the applied index.
	Err error
	// Rounds lists the rounds whose state changed, in a deterministic order
	// (e.g. a Tick or SiteLiveness that failed rounds).
	Rounds []string
}

// ResponseError extracts the error from a raft ApplyFuture.Response() value:
// the command's rejection, or an error if resp is not an ApplyResult.
func ResponseError(resp any) error {
	switch r := resp.(type) {
	case ApplyResult:
		return r.Err
	case *ApplyResult:
		if r == nil {
			return errors.New("fsm: nil apply result")
		}
		return r.Err
	}
	return fmt.Errorf("fsm: unexpected apply response %T", resp)
}

// Apply applies one committed raft log entry. It is deterministic: it reads
// only the entry and the state, never the clock or randomness, and never
// panics on any input. Entries other than raft.LogCommand only advance the
// applied index. It returns an ApplyResult.
func (f *FSM) Apply(l *raft.Log) any {
	if l == nil {
		return ApplyResult{Err: fmt.Errorf("apply nil log: %w", ErrBadCommand)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.Index > f.st.AppliedIndex {
		f.st.AppliedIndex = l.Index
	}
	res := ApplyResult{Index: l.Index}
	if l.Type != raft.LogCommand {
		return res
	}
	c, err := Decode(l.Data)
	if err != nil {
		res.Err = fmt.Errorf("apply index %d: %w", l.Index, err)
		return res
	}
	res.Type = c.CommandType()
	a := applier{f: f, st: f.st, index: l.Index}
	if err := a.apply(c); err != nil {
		res.Err = fmt.Errorf("apply %s at index %d: %w", res.Type, l.Index, err)
		return res
	}
	res.Rounds = a.changed
	return res
}

// snapshotHeader identifies the snapshot format.
const (
	snapshotFormat  = "strata-fsm"
	snapshotVersion = 1
	// maxSnapshotSize bounds what Restore reads.
	maxSnapshotSize = 1 << 30
)

type snapshotFile struct {
	Format      string `json:"format"`
	V           int    `json:"v"`
	Composition string `json:"composition"`
	State       *State `json:"state"`
}

// Snapshot encodes the whole state as versioned JSON
// {"format":"strata-fsm","v":1,"composition":...,"state":{...}}; Persist only
// writes the bytes. The encoding is deterministic: equal states give equal bytes.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	b, err := f.SnapshotBytes()
	if err != nil {
		return nil, err
	}
	return &snapshot{data: b}, nil
}

// SnapshotBytes returns the bytes Snapshot would persist.
func (f *FSM) SnapshotBytes() ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := json.Marshal(snapshotFile{Format: snapshotFormat, V: snapshotVersion, Composition: f.comp.Name(), State: f.st})
	if err != nil {
		return nil, fmt.Errorf("fsm: encode snapshot: %w", err)
	}
	return b, nil
}

// Restore replaces the state with a snapshot written by Snapshot. On error the
// state is unchanged. It closes rc.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSnapshotSize+1))
	if err != nil {
		return fmt.Errorf("fsm: read snapshot: %w", err)
	}
	return f.RestoreBytes(b)
}

// RestoreBytes is Restore from bytes.
func (f *FSM) RestoreBytes(b []byte) error {
	if len(b) > maxSnapshotSize {
		return fmt.Errorf("snapshot over %d bytes: %w", maxSnapshotSize, ErrBadSnapshot)
	}
	var sf snapshotFile
	if err := strictUnmarshal(b, &sf); err != nil {
		return fmt.Errorf("decode snapshot: %v: %w", err, ErrBadSnapshot)
	}
	if sf.Format != snapshotFormat || sf.V != snapshotVersion {
		return fmt.Errorf("snapshot format %q v%d, want %q v%d: %w", sf.Format, sf.V, snapshotFormat, snapshotVersion, ErrBadSnapshot)
	}
	if sf.Composition != f.comp.Name() {
		return fmt.Errorf("snapshot composition %q, FSM uses %q: %w", sf.Composition, f.comp.Name(), ErrCompositionMismatch)
	}
	st := sf.State
	if st == nil {
		return fmt.Errorf("snapshot without state: %w", ErrBadSnapshot)
	}
	if err := st.check(); err != nil {
		return fmt.Errorf("snapshot state: %v: %w", err, ErrBadSnapshot)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reset(st)
	return nil
}

// check fills nil maps and rejects nil entries and mismatched keys.
func (s *State) check() error {
	if s.Sites == nil {
		s.Sites = map[string]*Site{}
	}
	if s.Rounds == nil {
		s.Rounds = map[string]*Round{}
	}
	if s.Results == nil {
		s.Results = map[string]*ResultRecord{}
	}
	if s.Budgets == nil {
		s.Budgets = map[string]*Budget{}
	}
	for k, v := range s.Sites {
		if v == nil || v.ID != k {
			return fmt.Errorf("site %q: bad entry", k)
		}
	}
	for k, v := range s.Rounds {
		if v == nil || v.ID != k {
			return fmt.Errorf("round %q: bad entry", k)
		}
	}
	for k, v := range s.Results {
		if v == nil || v.RoundID != k {
			return fmt.Errorf("result %q: bad entry", k)
		}
	}
	for k, v := range s.Budgets {
		if v == nil || LedgerKey(v.Federation, v.Dataset) != k {
			return fmt.Errorf("budget %q: bad entry", k)
		}
	}
	for i, k := range s.Keys {
		if k == nil || k.Epoch != uint64(i+1) {
			return fmt.Errorf("key set-up %d: bad entry", i+1)
		}
	}
	for i, m := range s.Models {
		if m == nil || m.Version != uint64(i+1) {
			return fmt.Errorf("model %d: bad entry", i+1)
		}
	}
	return nil
}

type snapshot struct{ data []byte }

// Persist writes the snapshot bytes to the sink.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := io.Copy(sink, bytes.NewReader(s.data)); err != nil {
		sink.Cancel()
		return fmt.Errorf("fsm: write snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("fsm: close snapshot: %w", err)
	}
	return nil
}

// Release does nothing.
func (s *snapshot) Release() {}

// --- queries: safe for concurrent use, return copies ---

// State returns a deep copy of the whole state.
func (f *FSM) State() *State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.clone()
}

// AppliedIndex returns the index of the last applied log entry.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.AppliedIndex
}

// Now returns the FSM's logical time (the largest Tick applied).
func (f *FSM) Now() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Now
}

// Settings returns the federation settings.
func (f *FSM) Settings() Settings {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Settings
}

// Composition returns the name of the FSM's composition rule.
func (f *FSM) Composition() string { return f.comp.Name() }

// Site returns the registry entry of a site.
func (f *FSM) Site(id string) (Site, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.st.Sites[id]
	if !ok {
		return Site{}, false
	}
	return *s, true
}

// Sites returns the registry sorted by site id, removed sites included.
func (f *FSM) Sites() []Site {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Site, 0, len(f.st.Sites))
	for _, s := range f.st.Sites {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Site) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// IsAllowed reports whether the committed registry allows the site to connect
// (invited or joined, not removed).
func (f *FSM) IsAllowed(siteID string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.st.Sites[siteID]
	return ok && s.Allowed()
}

// Authorize is IsAllowed shaped as the transport's Authorize callback: nil if
// allowed, else an error wrapping ErrUnknownSite or ErrSiteNotAllowed.
func (f *FSM) Authorize(siteID string) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.st.Sites[siteID]
	switch {
	case !ok:
		return fmt.Errorf("site %q: %w", siteID, ErrUnknownSite)
	case !s.Allowed():
		return fmt.Errorf("site %q is %s: %w", siteID, s.Status, ErrSiteNotAllowed)
	}
	return nil
}

// KeySetup returns the key set-up of an epoch.
func (f *FSM) KeySetup(epoch uint64) (KeySetup, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if epoch == 0 || epoch > uint64(len(f.st.Keys)) {
		return KeySetup{}, false
	}
	return f.st.Keys[epoch-1].clone(), true
}

// ActiveKey returns the active key epoch, if any.
func (f *FSM) ActiveKey() (KeySetup, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for i := len(f.st.Keys) - 1; i >= 0; i-- {
		if f.st.Keys[i].Status == KeyActive {
			return f.st.Keys[i].clone(), true
		}
	}
	return KeySetup{}, false
}

// KeySetups returns all key set-ups by ascending epoch.
func (f *FSM) KeySetups() []KeySetup {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]KeySetup, len(f.st.Keys))
	for i, k := range f.st.Keys {
		out[i] = k.clone()
	}
	return out
}

// Round returns a round.
func (f *FSM) Round(id string) (Round, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.st.Rounds[id]
	if !ok {
		return Round{}, false
	}
	return r.clone(), true
}

// Rounds returns all rounds in the order they started.
func (f *FSM) Rounds() []Round {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Round, 0, len(f.st.Rounds))
	for _, r := range f.st.Rounds {
		out = append(out, r.clone())
	}
	slices.SortFunc(out, func(a, b Round) int { return cmp.Compare(a.StartedIndex, b.StartedIndex) })
	return out
}

// Result returns the result record of a done round.
func (f *FSM) Result(roundID string) (ResultRecord, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.st.Results[roundID]
	if !ok {
		return ResultRecord{}, false
	}
	return r.clone(), true
}

// Budget returns the ledger of a (federation, dataset).
func (f *FSM) Budget(federation, dataset string) (Budget, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, ok := f.st.Budgets[LedgerKey(federation, dataset)]
	if !ok {
		return Budget{}, false
	}
	return b.clone(), true
}

// Budgets returns all ledgers sorted by (federation, dataset).
func (f *FSM) Budgets() []Budget {
	f.mu.RLock()
	defer f.mu.RUnlock()
	keys := make([]string, 0, len(f.st.Budgets))
	for k := range f.st.Budgets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Budget, len(keys))
	for i, k := range keys {
		out[i] = f.st.Budgets[k].clone()
	}
	return out
}

// Covers reports whether the committed ledger covers the round (or DP-only
// release) id: a non-refunded charge with that id exists in a ledger whose
// spent budget is within its total, or the round is free (zero cost, started
// with DP disabled). Nodes must refuse to produce a decryption share unless
// Covers is true; ShareAllowed checks this and the rest.
func (f *FSM) Covers(id string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.covers(id)
}

func (f *FSM) covers(id string) bool {
	if r, ok := f.st.Rounds[id]; ok && r.DPDisabled && r.Cost.IsZero() {
		return true
	}
	key, ok := f.charges[id]
	if !ok {
		return false
	}
	b := f.st.Budgets[key]
	for _, ch := range b.Charges {
		if ch.ID == id {
			return !ch.Refunded && within(b.Spent, b.Total)
		}
	}
	return false
}

// ShareAllowed returns nil if site may produce its decryption share for the
// round now: the round is decrypting, site is one of its fixed decryptors and
// the committed ledger covers it. Otherwise the error wraps ErrUnknownRound,
// ErrBadTransition, ErrNotParticipant or ErrBudgetExhausted.
func (f *FSM) ShareAllowed(roundID, site string) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.st.Rounds[roundID]
	switch {
	case !ok:
		return fmt.Errorf("round %q: %w", roundID, ErrUnknownRound)
	case r.State != RoundDecrypting:
		return fmt.Errorf("round %q is %s, not decrypting: %w", roundID, r.State, ErrBadTransition)
	case !slices.Contains(r.Decryptors, site):
		return fmt.Errorf("site %q is not a decryptor of round %q: %w", site, roundID, ErrNotParticipant)
	case !f.covers(roundID):
		return fmt.Errorf("round %q not covered by the ledger: %w", roundID, ErrBudgetExhausted)
	}
	return nil
}

// Model returns a committed model version.
func (f *FSM) Model(version uint64) (ModelVersion, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if version == 0 || version > uint64(len(f.st.Models)) {
		return ModelVersion{}, false
	}
	return f.st.Models[version-1].clone(), true
}

// LatestModel returns the newest committed model version.
func (f *FSM) LatestModel() (ModelVersion, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if len(f.st.Models) == 0 {
		return ModelVersion{}, false
	}
	return f.st.Models[len(f.st.Models)-1].clone(), true
}

// SuggestDecryptors proposes the decryptor list for CloseRound: Threshold live
// participants, those that contributed first, each group in participant order.
// The leader may propose any other valid list; this is a deterministic default.
// The error wraps ErrUnknownRound, ErrBadTransition or ErrTooFewLiveSites.
func (f *FSM) SuggestDecryptors(roundID string) ([]string, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.st.Rounds[roundID]
	switch {
	case !ok:
		return nil, fmt.Errorf("round %q: %w", roundID, ErrUnknownRound)
	case r.State != RoundOpen && r.State != RoundCollecting:
		return nil, fmt.Errorf("round %q is %s: %w", roundID, r.State, ErrBadTransition)
	}
	a := applier{f: f, st: f.st}
	var first, rest []string
	for _, p := range r.Participants {
		switch {
		case !a.live(p):
		case r.Contributed(p):
			first = append(first, p)
		default:
			rest = append(rest, p)
		}
	}
	list := append(first, rest...)
	if len(list) < r.Threshold {
		return nil, fmt.Errorf("round %q: %d live participants, threshold %d: %w", roundID, len(list), r.Threshold, ErrTooFewLiveSites)
	}
	return list[:r.Threshold], nil
}
