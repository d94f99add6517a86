package fsm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// applier applies one command. Handlers check everything before they change
// anything, so a rejected command leaves the state untouched.
type applier struct {
	f       *FSM
	st      *State
	index   uint64
	changed []string // rounds whose state changed
}

func (a *applier) apply(c Command) error {
	switch c := c.(type) {
	case *AddSite:
		return a.addSite(c)
	case *SiteJoined:
		return a.siteJoined(c)
	case *RemoveSite:
		return a.removeSite(c)
	case *SetRole:
		return a.setRole(c)
	case *SiteLiveness:
		return a.siteLiveness(c)
	case *SetSettings:
		a.st.Settings = c.Settings
		return nil
	case *BeginKeySetup:
		return a.beginKeySetup(c)
	case *CompleteKeySetup:
		return a.completeKeySetup(c)
	case *FailKeySetup:
		return a.failKeySetup(c)
	case *SetBudget:
		return a.setBudget(c)
	case *ChargeBudget:
		return a.chargeBudget(c)
	case *StartRound:
		return a.startRound(c)
	case *Contribute:
		return a.contribute(c)
	case *CloseRound:
		return a.closeRound(c)
	case *FinishRound:
		return a.finishRound(c)
	case *FailRound:
		return a.endRound(c.Round, RoundFailed, c.Reason)
	case *AbortRound:
		return a.endRound(c.Round, RoundAborted, c.Reason)
	case *Tick:
		return a.tick(c)
	case *CommitModel:
		return a.commitModel(c)
	}
	return fmt.Errorf("command %T: %w", c, ErrUnknownCommand)
}

// --- site registry ---

// voters counts allowed voters other than except.
func (a *applier) voters(except string) int {
	n := 0
	for id, s := range a.st.Sites {
		if id != except && s.Allowed() && s.Role == RoleVoter {
			n++
		}
	}
	return n
}

func (a *applier) addSite(c *AddSite) error {
	if s, ok := a.st.Sites[c.Site]; ok && s.Allowed() {
		return fmt.Errorf("site %q is %s: %w", c.Site, s.Status, ErrSiteExists)
	}
	if c.Role == RoleVoter && a.voters(c.Site) >= MaxVoters {
		return fmt.Errorf("site %q as voter: %d voters already: %w", c.Site, MaxVoters, ErrTooManyVoters)
	}
	a.st.Sites[c.Site] = &Site{ID: c.Site, Address: c.Address, Role: c.Role, Status: StatusInvited, Index: a.index}
	return nil
}

func (a *applier) siteJoined(c *SiteJoined) error {
	s, ok := a.st.Sites[c.Site]
	switch {
	case !ok:
		return fmt.Errorf("site %q: %w", c.Site, ErrUnknownSite)
	case s.Status == StatusJoined:
		return fmt.Errorf("site %q already joined: %w", c.Site, ErrSiteExists)
	case s.Status != StatusInvited:
		return fmt.Errorf("site %q is %s: %w", c.Site, s.Status, ErrSiteNotAllowed)
	}
	if c.Address == "" && s.Address == "" {
		return bad("site %q: address set neither at invitation nor at join", c.Site)
	}
	s.Status, s.Live, s.Index = StatusJoined, true, a.index
	if c.Address != "" {
		s.Address = c.Address
	}
	return nil
}

func (a *applier) removeSite(c *RemoveSite) error {
	s, ok := a.st.Sites[c.Site]
	switch {
	case !ok:
		return fmt.Errorf("site %q: %w", c.Site, ErrUnknownSite)
	case !s.Allowed():
		return fmt.Errorf("site %q already %s: %w", c.Site, s.Status, ErrSiteNotAllowed)
	}
	s.Status, s.Live, s.Reason, s.Index = StatusRemoved, false, c.Reason, a.index
	a.checkLiveness()
	return nil
}

func (a *applier) setRole(c *SetRole) error {
	s, ok := a.st.Sites[c.Site]
	switch {
	case !ok:
		return fmt.Errorf("site %q: %w", c.Site, ErrUnknownSite)
	case !s.Allowed():
		return fmt.Errorf("site %q is %s: %w", c.Site, s.Status, ErrSiteNotAllowed)
	case c.Role == RoleVoter && a.voters(c.Site) >= MaxVoters:
		return fmt.Errorf("site %q as voter: %d voters already: %w", c.Site, MaxVoters, ErrTooManyVoters)
	}
	s.Role, s.Index = c.Role, a.index
	return nil
}

func (a *applier) siteLiveness(c *SiteLiveness) error {
	s, ok := a.st.Sites[c.Site]
	switch {
	case !ok:
		return fmt.Errorf("site %q: %w", c.Site, ErrUnknownSite)
	case s.Status != StatusJoined:
		return fmt.Errorf("site %q is %s: %w", c.Site, s.Status, ErrSiteNotAllowed)
	}
	if s.Live == c.Live {
		return nil
	}
	s.Live, s.Index = c.Live, a.index
	if !c.Live {
		a.checkLiveness()
	}
	return nil
}

// live reports whether a site is joined and live.
func (a *applier) live(id string) bool {
	s, ok := a.st.Sites[id]
	return ok && s.Status == StatusJoined && s.Live
}

func (a *applier) liveCount(ids []string) int {
	n := 0
	for _, id := range ids {
		if a.live(id) {
			n++
		}
	}
	return n
}

// checkLiveness fails every unfinished round whose live participants fell
// below its threshold, every collecting round that can no longer reach its
// minimum number of contributions, and every decrypting round with a
// decryptor not live.
func (a *applier) checkLiveness() {
	for _, id := range a.sortedRoundIDs() {
		r := a.st.Rounds[id]
		if r.State.Terminal() {
			continue
		}
		if n := a.liveCount(r.Participants); n < r.Threshold {
			a.end(r, RoundFailed, fmt.Sprintf("too few live sites: %d of %d participants live, threshold %d", n, len(r.Participants), r.Threshold))
			continue
		}
		if r.State != RoundDecrypting {
			// Contributions already made count; the rest must come from live sites.
			reachable := len(r.Contributions)
			for _, p := range r.Participants {
				if !r.Contributed(p) && a.live(p) {
					reachable++
				}
			}
			if reachable < r.MinContributors {
				a.end(r, RoundFailed, fmt.Sprintf("too few live sites: at most %d of %d required contributions reachable", reachable, r.MinContributors))
				continue
			}
		}
		if r.State == RoundDecrypting {
			for _, d := range r.Decryptors {
				if !a.live(d) {
					a.end(r, RoundFailed, fmt.Sprintf("decryptor %s not live", d))
					break
				}
			}
		}
	}
}

func (a *applier) sortedRoundIDs() []string {
	ids := make([]string, 0, len(a.st.Rounds))
	for id := range a.st.Rounds {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// --- key set-up ---

func (a *applier) beginKeySetup(c *BeginKeySetup) error {
	if want := uint64(len(a.st.Keys)) + 1; c.Epoch != want {
		return fmt.Errorf("epoch %d, want %d: %w", c.Epoch, want, ErrKeyEpoch)
	}
	for _, k := range a.st.Keys {
		if k.Status == KeyPending {
			return fmt.Errorf("epoch %d still pending: %w", k.Epoch, ErrKeySetupPending)
		}
	}
	params := c.HEParams
	if params == "" {
		params = a.st.Settings.HEParams
	}
	if params == "" {
		return bad("he_params: set neither in the command nor in the settings")
	}
	for _, p := range c.Participants {
		if s, ok := a.st.Sites[p]; !ok || s.Status != StatusJoined {
			return fmt.Errorf("participant %q has not joined: %w", p, ErrSiteNotAllowed)
		}
	}
	a.st.Keys = append(a.st.Keys, &KeySetup{
		Epoch: c.Epoch, Participants: slices.Clone(c.Participants), Threshold: c.Threshold,
		HEParams: params, Seed: c.Seed, Status: KeyPending, BeganIndex: a.index,
	})
	return nil
}

func (a *applier) keySetup(epoch uint64) (*KeySetup, error) {
	if epoch == 0 || epoch > uint64(len(a.st.Keys)) {
		return nil, fmt.Errorf("epoch %d: %w", epoch, ErrUnknownKeyEpoch)
	}
	return a.st.Keys[epoch-1], nil
}

func (a *applier) completeKeySetup(c *CompleteKeySetup) error {
	k, err := a.keySetup(c.Epoch)
	if err != nil {
		return err
	}
	if k.Status != KeyPending {
		return fmt.Errorf("epoch %d is %s, not pending: %w", c.Epoch, k.Status, ErrKeyNotActive)
	}
	for _, old := range a.st.Keys {
		if old.Status == KeyActive {
			old.Status, old.EndedIndex = KeyRetired, a.index
		}
	}
	k.Status, k.PublicKeyHash = KeyActive, c.PublicKeyHash
	return nil
}

func (a *applier) failKeySetup(c *FailKeySetup) error {
	k, err := a.keySetup(c.Epoch)
	if err != nil {
		return err
	}
	if k.Status != KeyPending {
		return fmt.Errorf("epoch %d is %s, not pending: %w", c.Epoch, k.Status, ErrKeyNotActive)
	}
	k.Status, k.Reason, k.EndedIndex = KeyFailed, c.Reason, a.index
	return nil
}

// --- budget ledger ---

func (a *applier) setBudget(c *SetBudget) error {
	key := LedgerKey(c.Federation, c.Dataset)
	if _, ok := a.st.Budgets[key]; ok {
		return fmt.Errorf("ledger %s: %w", key, ErrBudgetExists)
	}
	a.st.Budgets[key] = &Budget{
		Federation: c.Federation, Dataset: c.Dataset, Composition: a.f.comp.Name(),
		Total: c.Total, Charges: []Charge{}, Index: a.index,
	}
	return nil
}

// ledgerFor returns the ledger of (federation, dataset) after checking it can
// take a charge of cost under id.
func (a *applier) ledgerFor(id, federation, dataset string, cost Cost) (*Budget, error) {
	if _, ok := a.f.charges[id]; ok {
		return nil, fmt.Errorf("charge %q: %w", id, ErrRoundExists)
	}
	if _, ok := a.st.Rounds[id]; ok {
		return nil, fmt.Errorf("charge %q: %w", id, ErrRoundExists)
	}
	key := LedgerKey(federation, dataset)
	b, ok := a.st.Budgets[key]
	if !ok {
		return nil, fmt.Errorf("ledger %s: %w", key, ErrNoBudget)
	}
	if b.Composition != a.f.comp.Name() {
		return nil, fmt.Errorf("ledger %s uses %q, FSM %q: %w", key, b.Composition, a.f.comp.Name(), ErrCompositionMismatch)
	}
	after := a.f.comp.Spent(liveCosts(b, cost), b.Total.Delta)
	if !within(after, b.Total) {
		return nil, fmt.Errorf("ledger %s: spent (ε=%g, δ=%g) + cost (ε=%g, δ=%g) exceeds total (ε=%g, δ=%g): %w",
			key, b.Spent.Epsilon, b.Spent.Delta, cost.Epsilon, cost.Delta, b.Total.Epsilon, b.Total.Delta, ErrBudgetExhausted)
	}
	return b, nil
}

// charge appends a charge to b (already checked by ledgerFor).
func (a *applier) charge(b *Budget, ch Charge) {
	ch.Index = a.index
	b.Charges = append(b.Charges, ch)
	b.Spent = a.f.comp.Spent(liveCosts(b), b.Total.Delta)
	a.f.charges[ch.ID] = LedgerKey(b.Federation, b.Dataset)
}

func (a *applier) chargeBudget(c *ChargeBudget) error {
	if s, ok := a.st.Sites[c.Site]; !ok || s.Status != StatusJoined {
		return fmt.Errorf("site %q has not joined: %w", c.Site, ErrSiteNotAllowed)
	}
	b, err := a.ledgerFor(c.ID, c.Federation, c.Dataset, c.Cost)
	if err != nil {
		return err
	}
	a.charge(b, Charge{ID: c.ID, Kind: "release", Site: c.Site, Purpose: c.Purpose, Cost: c.Cost})
	return nil
}

// refund marks round id's charge refunded and recomputes the ledger's spent budget.
func (a *applier) refund(id string) {
	key, ok := a.f.charges[id]
	if !ok {
		return
	}
	b := a.st.Budgets[key]
	for i := range b.Charges {
		if b.Charges[i].ID == id {
			b.Charges[i].Refunded = true
		}
	}
	b.Spent = a.f.comp.Spent(liveCosts(b), b.Total.Delta)
}

// --- rounds ---

func (a *applier) startRound(c *StartRound) error {
	if _, ok := a.st.Rounds[c.ID]; ok {
		return fmt.Errorf("round %q: %w", c.ID, ErrRoundExists)
	}
	k, err := a.keySetup(c.KeyEpoch)
	if err != nil {
		return err
	}
	if k.Status != KeyActive {
		return fmt.Errorf("epoch %d is %s: %w", k.Epoch, k.Status, ErrKeyNotActive)
	}
	for _, p := range c.Participants {
		if !slices.Contains(k.Participants, p) {
			return fmt.Errorf("participant %q, epoch %d: %w", p, k.Epoch, ErrNotKeyParticipant)
		}
		if s, ok := a.st.Sites[p]; !ok || s.Status != StatusJoined {
			return fmt.Errorf("participant %q has not joined: %w", p, ErrSiteNotAllowed)
		}
	}
	if n := a.liveCount(c.Participants); n < k.Threshold {
		return fmt.Errorf("%d of %d participants live, threshold %d: %w", n, len(c.Participants), k.Threshold, ErrTooFewLiveSites)
	}
	if c.Deadline != 0 && c.Deadline <= a.st.Now {
		return fmt.Errorf("deadline %d, logical time %d: %w", c.Deadline, a.st.Now, ErrDeadlinePassed)
	}
	dpOff := a.st.Settings.DPDisabled
	if !dpOff && c.Cost.Epsilon == 0 {
		return fmt.Errorf("round %q: zero ε with DP on: %w", c.ID, ErrNoiseRequired)
	}
	// Each site's noise share carries 1/t of the calibrated variance, so a
	// round that could close with fewer than t contributions would release
	// less noise than its cost pays for.
	if !dpOff && c.MinContributors != 0 && c.MinContributors < k.Threshold {
		return fmt.Errorf("round %q: %d minimum contributors, below the threshold %d whose noise shares make up the calibrated noise: %w",
			c.ID, c.MinContributors, k.Threshold, ErrNoiseRequired)
	}
	var ledger *Budget
	if !(dpOff && c.Cost.IsZero()) {
		if ledger, err = a.ledgerFor(c.ID, c.Federation, c.Dataset, c.Cost); err != nil {
			return err
		}
	}
	minc := c.MinContributors
	if minc == 0 {
		minc = min(k.Threshold, len(c.Participants))
	}
	a.st.Rounds[c.ID] = &Round{
		ID: c.ID, Kind: c.Kind, Federation: c.Federation, Dataset: c.Dataset, KeyEpoch: c.KeyEpoch,
		Participants: slices.Clone(c.Participants), Threshold: k.Threshold, MinContributors: minc,
		Deadline: c.Deadline, Cost: c.Cost, DPDisabled: dpOff, State: RoundOpen,
		Contributions: []Contribution{}, StartedIndex: a.index,
	}
	if ledger != nil {
		a.charge(ledger, Charge{ID: c.ID, Kind: "round", Purpose: c.Kind, Cost: c.Cost})
	}
	a.changed = append(a.changed, c.ID)
	return nil
}

func (a *applier) round(id string) (*Round, error) {
	r, ok := a.st.Rounds[id]
	if !ok {
		return nil, fmt.Errorf("round %q: %w", id, ErrUnknownRound)
	}
	return r, nil
}

// contribute checks, in order: unknown round, foreign site, late, duplicate,
// removed site, replayed ciphertext.
func (a *applier) contribute(c *Contribute) error {
	r, err := a.round(c.Round)
	if err != nil {
		return err
	}
	if !slices.Contains(r.Participants, c.Site) {
		return fmt.Errorf("site %q, round %q: %w", c.Site, c.Round, ErrNotParticipant)
	}
	if r.State != RoundOpen && r.State != RoundCollecting {
		return fmt.Errorf("site %q, round %q is %s: %w", c.Site, c.Round, r.State, ErrLateContribution)
	}
	if r.Contributed(c.Site) {
		return fmt.Errorf("site %q, round %q: %w", c.Site, c.Round, ErrDuplicateContribution)
	}
	if s, ok := a.st.Sites[c.Site]; !ok || s.Status != StatusJoined {
		return fmt.Errorf("site %q is not joined: %w", c.Site, ErrSiteNotAllowed)
	}
	if prev, ok := a.f.hashes[c.Hash]; ok {
		return fmt.Errorf("site %q, round %q: hash seen in round %q: %w", c.Site, c.Round, prev, ErrReplayedContribution)
	}
	r.Contributions = append(r.Contributions, Contribution{Site: c.Site, Hash: c.Hash, Size: c.Size, Index: a.index})
	a.f.hashes[c.Hash] = r.ID
	if r.State == RoundOpen {
		r.State = RoundCollecting
		a.changed = append(a.changed, r.ID)
	}
	return nil
}

func (a *applier) closeRound(c *CloseRound) error {
	r, err := a.round(c.Round)
	if err != nil {
		return err
	}
	if r.State != RoundOpen && r.State != RoundCollecting {
		return fmt.Errorf("round %q is %s: %w", r.ID, r.State, ErrBadTransition)
	}
	if len(r.Contributions) < r.MinContributors {
		return fmt.Errorf("round %q: %d contributions, need %d: %w", r.ID, len(r.Contributions), r.MinContributors, ErrNotEnoughContributions)
	}
	if len(c.Decryptors) != r.Threshold {
		return bad("round %q: %d decryptors, want exactly threshold %d", r.ID, len(c.Decryptors), r.Threshold)
	}
	for _, d := range c.Decryptors {
		if !slices.Contains(r.Participants, d) {
			return fmt.Errorf("decryptor %q, round %q: %w", d, r.ID, ErrNotParticipant)
		}
		if !a.live(d) {
			return fmt.Errorf("decryptor %q, round %q not live: %w", d, r.ID, ErrTooFewLiveSites)
		}
	}
	r.State, r.Decryptors, r.AggregateHash = RoundDecrypting, slices.Clone(c.Decryptors), c.AggregateHash
	a.changed = append(a.changed, r.ID)
	return nil
}

func (a *applier) finishRound(c *FinishRound) error {
	r, err := a.round(c.Round)
	if err != nil {
		return err
	}
	if r.State.Terminal() {
		return fmt.Errorf("round %q is %s: %w", r.ID, r.State, ErrRoundFinished)
	}
	if r.State != RoundDecrypting {
		return fmt.Errorf("round %q is %s, not decrypting: %w", r.ID, r.State, ErrBadTransition)
	}
	if !r.DPDisabled && strings.EqualFold(c.Noise.Mechanism, "none") {
		return fmt.Errorf("round %q: result without noise while DP is on: %w", r.ID, ErrNoiseRequired)
	}
	relHash := c.ReleasedHash
	if len(c.Released) > 0 {
		sum := sha256.Sum256(c.Released)
		got := hex.EncodeToString(sum[:])
		if relHash != "" && relHash != got {
			return fmt.Errorf("round %q: released_hash %s, bytes hash to %s: %w", r.ID, relHash, got, ErrHashMismatch)
		}
		relHash = got
	}
	contributors := make([]string, len(r.Contributions))
	for i, ct := range r.Contributions {
		contributors[i] = ct.Site
	}
	a.st.Results[r.ID] = &ResultRecord{
		RoundID: r.ID, ResultHash: c.ResultHash, Released: slices.Clone(c.Released), ReleasedHash: relHash,
		Noise: c.Noise, Charged: r.Cost, Contributors: contributors, Decryptors: slices.Clone(r.Decryptors),
		Index: a.index, Time: a.st.Now,
	}
	r.State, r.EndedIndex = RoundDone, a.index
	a.changed = append(a.changed, r.ID)
	return nil
}

func (a *applier) endRound(id string, to RoundState, reason string) error {
	r, err := a.round(id)
	if err != nil {
		return err
	}
	if r.State.Terminal() {
		return fmt.Errorf("round %q is %s: %w", r.ID, r.State, ErrRoundFinished)
	}
	a.end(r, to, reason)
	return nil
}

// end moves an unfinished round to failed or aborted. A round that never
// reached decrypting gets its charge refunded: no decryption share can exist.
func (a *applier) end(r *Round, to RoundState, reason string) {
	if r.State == RoundOpen || r.State == RoundCollecting {
		a.refund(r.ID)
	}
	r.State, r.Reason, r.EndedIndex = to, reason, a.index
	a.changed = append(a.changed, r.ID)
}

func (a *applier) tick(c *Tick) error {
	if c.Now <= a.st.Now {
		return nil
	}
	a.st.Now = c.Now
	for _, id := range a.sortedRoundIDs() {
		r := a.st.Rounds[id]
		if !r.State.Terminal() && r.Deadline != 0 && r.Deadline <= c.Now {
			a.end(r, RoundFailed, fmt.Sprintf("deadline %d passed while %s", r.Deadline, r.State))
		}
	}
	return nil
}

// --- segment model ---

func (a *applier) commitModel(c *CommitModel) error {
	if want := uint64(len(a.st.Models)) + 1; c.Version != want {
		return fmt.Errorf("version %d, want %d: %w", c.Version, want, ErrModelVersion)
	}
	sum := sha256.Sum256(c.Model)
	if got := hex.EncodeToString(sum[:]); got != c.ContentHash {
		return fmt.Errorf("model v%d: content_hash %s, bytes hash to %s: %w", c.Version, c.ContentHash, got, ErrHashMismatch)
	}
	costs := make([]Cost, 0, len(c.Rounds))
	var delta float64 // the conversion δ: the largest of the rounds' ledgers
	for _, id := range c.Rounds {
		r, err := a.round(id)
		if err != nil {
			return err
		}
		if r.State != RoundDone {
			return fmt.Errorf("model v%d: round %q is %s: %w", c.Version, id, r.State, ErrRoundNotDone)
		}
		costs = append(costs, r.Cost)
		if b, ok := a.st.Budgets[LedgerKey(r.Federation, r.Dataset)]; ok {
			delta = max(delta, b.Total.Delta)
		}
	}
	a.st.Models = append(a.st.Models, &ModelVersion{
		Version: c.Version, ContentHash: c.ContentHash, Model: slices.Clone(c.Model),
		Rounds: slices.Clone(c.Rounds), BudgetSpent: a.f.comp.Spent(costs, delta), Index: a.index, Time: a.st.Now,
	})
	return nil
}
