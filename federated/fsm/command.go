package fsm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// CommandType names a command on the wire.
type CommandType string

// Command types. See the package documentation for each command's rules.
const (
	TypeAddSite          CommandType = "add_site"
	TypeSiteJoined       CommandType = "site_joined"
	TypeRemoveSite       CommandType = "remove_site"
	TypeSetRole          CommandType = "set_role"
	TypeSiteLiveness     CommandType = "site_liveness"
	TypeSetSettings      CommandType = "set_settings"
	TypeBeginKeySetup    CommandType = "begin_key_setup"
	TypeCompleteKeySetup CommandType = "complete_key_setup"
	TypeFailKeySetup     CommandType = "fail_key_setup"
	TypeSetBudget        CommandType = "set_budget"
	TypeChargeBudget     CommandType = "charge_budget"
	TypeStartRound       CommandType = "start_round"
	TypeContribute       CommandType = "contribute"
	TypeCloseRound       CommandType = "close_round"
	TypeFinishRound      CommandType = "finish_round"
	TypeFailRound        CommandType = "fail_round"
	TypeAbortRound       CommandType = "abort_round"
	TypeTick             CommandType = "tick"
	TypeCommitModel      CommandType = "commit_model"
)

// Version is the encoding version of every command type this FSM writes. Decode
// accepts only versions it knows (today: 1).
const Version = 1

// Limits on what a command may carry.
const (
	// MaxCommandSize bounds an encoded command.
	MaxCommandSize = 2 << 20
	// MaxModelSize bounds CommitModel.Model.
	MaxModelSize = 1 << 20
	// MaxReleasedSize bounds FinishRound.Released.
	MaxReleasedSize = 256 << 10
	// MaxSites bounds participant and decryptor lists.
	MaxSites = 1024
	// MaxIDLen bounds site, round, federation and dataset ids.
	MaxIDLen = 128
	// MaxTextLen bounds free text (reasons, purposes, addresses).
	MaxTextLen = 512
	// MaxKindLen bounds StartRound.Kind: a round's public spec, which
	// carries its statistic's parameters (k-means centroids, a model's
	// cut points and rule set) so every site derives its work from the
	// committed entry alone.
	MaxKindLen = 32 << 10
	// MinSeedLen and MaxSeedLen bound a key set-up's common random seed, in bytes.
	MinSeedLen = 32
	MaxSeedLen = 64
)

// Command is implemented by every command type. Validate performs the
// stateless checks (Decode and Encode call it); Apply does the stateful ones.
type Command interface {
	CommandType() CommandType
	Validate() error
}

// AddSite invites a site: it becomes allowed to connect (IsAllowed) and to join.
// Re-inviting a removed site is allowed. Address may be left empty at
// invitation and given when the site joins.
type AddSite struct {
	Site    string `json:"site"`
	Address string `json:"address,omitempty"`
	Role    Role   `json:"role"`
}

// SiteJoined records that an invited site joined raft (leader's AddVoter or
// AddNonvoter succeeded). Address, if set, replaces the invited address; one
// of the two must be set.
type SiteJoined struct {
	Site    string `json:"site"`
	Address string `json:"address,omitempty"`
}

// RemoveSite removes a site: it is no longer allowed, and counts as not live in
// every round.
type RemoveSite struct {
	Site   string `json:"site"`
	Reason string `json:"reason"`
}

// SetRole changes an invited or joined site's role.
type SetRole struct {
	Site string `json:"site"`
	Role Role   `json:"role"`
}

// SiteLiveness records the leader's liveness observation of a joined site.
// Marking a site down fails every round whose live participants fall below its
// threshold and every decrypting round that has the site as a decryptor.
type SiteLiveness struct {
	Site string `json:"site"`
	Live bool   `json:"live"`
}

// SetSettings replaces the federation settings as a whole.
type SetSettings struct {
	Settings Settings `json:"settings"`
}

// BeginKeySetup starts key epoch Epoch (latest + 1) with an ordered participant
// list, threshold and common random seed.
type BeginKeySetup struct {
	Epoch        uint64   `json:"epoch"`
	Participants []string `json:"participants"`
	Threshold    int      `json:"threshold"`
	// HEParams defaults to Settings.HEParams.
	HEParams string `json:"he_params,omitempty"`
	Seed     string `json:"seed"` // lowercase hex, MinSeedLen..MaxSeedLen bytes
}

// CompleteKeySetup activates a pending epoch; the previously active one retires.
type CompleteKeySetup struct {
	Epoch         uint64 `json:"epoch"`
	PublicKeyHash string `json:"public_key_hash"`
}

// FailKeySetup fails a pending epoch.
type FailKeySetup struct {
	Epoch  uint64 `json:"epoch"`
	Reason string `json:"reason"`
}

// SetBudget creates the ledger of a (federation, dataset). A ledger is created
// once and never reset or raised.
type SetBudget struct {
	Federation string `json:"federation"`
	Dataset    string `json:"dataset"`
	Total      Cost   `json:"total"`
}

// ChargeBudget charges a DP-only release (no HE round) to a ledger.
type ChargeBudget struct {
	ID         string `json:"id"`
	Federation string `json:"federation"`
	Dataset    string `json:"dataset"`
	Site       string `json:"site"`
	Purpose    string `json:"purpose"`
	Cost       Cost   `json:"cost"`
}

// StartRound creates a round and charges its cost to the ledger first: if the
// ledger does not cover it, the round is refused and never exists.
type StartRound struct {
	ID           string   `json:"id"`
	Kind         string   `json:"kind"`
	Federation   string   `json:"federation"`
	Dataset      string   `json:"dataset"`
	KeyEpoch     uint64   `json:"key_epoch"`
	Participants []string `json:"participants"`
	// MinContributors is the fewest contributions CloseRound accepts;
	// 0 = the key epoch's threshold.
	MinContributors int `json:"min_contributors,omitempty"`
	// Deadline in logical time (Tick.Now units); 0 = none.
	Deadline int64 `json:"deadline,omitempty"`
	Cost     Cost  `json:"cost"`
}

// Contribute records a participant's ciphertext hash and size.
type Contribute struct {
	Round string `json:"round"`
	Site  string `json:"site"`
	Hash  string `json:"hash"`
	Size  int64  `json:"size"`
}

// CloseRound stops collection and fixes the ordered decryptor list (exactly t
// live participants) and the hash of the aggregate to decrypt.
type CloseRound struct {
	Round         string   `json:"round"`
	Decryptors    []string `json:"decryptors"`
	AggregateHash string   `json:"aggregate_hash"`
}

// FinishRound commits a decrypting round's result.
type FinishRound struct {
	Round      string `json:"round"`
	ResultHash string `json:"result_hash"`
	// Released, if set, is stored and hashed; otherwise ReleasedHash alone is kept.
	Released     []byte      `json:"released,omitempty"`
	ReleasedHash string      `json:"released_hash,omitempty"`
	Noise        NoiseParams `json:"noise"`
}

// FailRound ends a round as failed (a protocol outcome).
type FailRound struct {
	Round  string `json:"round"`
	Reason string `json:"reason"`
}

// AbortRound ends a round as aborted (a deliberate cancellation).
type AbortRound struct {
	Round  string `json:"round"`
	Reason string `json:"reason"`
}

// Tick carries the leader's logical time (e.g. Unix milliseconds). The FSM's
// time becomes max(current, Now); rounds whose deadline is reached fail.
type Tick struct {
	Now int64 `json:"now"`
}

// CommitModel commits the next version of the cross-channel segment model.
type CommitModel struct {
	Version     uint64   `json:"version"`
	ContentHash string   `json:"content_hash"`
	Model       []byte   `json:"model"`
	Rounds      []string `json:"rounds"`
}

// CommandType implementations.
func (AddSite) CommandType() CommandType          { return TypeAddSite }
func (SiteJoined) CommandType() CommandType       { return TypeSiteJoined }
func (RemoveSite) CommandType() CommandType       { return TypeRemoveSite }
func (SetRole) CommandType() CommandType          { return TypeSetRole }
func (SiteLiveness) CommandType() CommandType     { return TypeSiteLiveness }
func (SetSettings) CommandType() CommandType      { return TypeSetSettings }
func (BeginKeySetup) CommandType() CommandType    { return TypeBeginKeySetup }
func (CompleteKeySetup) CommandType() CommandType { return TypeCompleteKeySetup }
func (FailKeySetup) CommandType() CommandType     { return TypeFailKeySetup }
func (SetBudget) CommandType() CommandType        { return TypeSetBudget }
func (ChargeBudget) CommandType() CommandType     { return TypeChargeBudget }
func (StartRound) CommandType() CommandType       { return TypeStartRound }
func (Contribute) CommandType() CommandType       { return TypeContribute }
func (CloseRound) CommandType() CommandType       { return TypeCloseRound }
func (FinishRound) CommandType() CommandType      { return TypeFinishRound }
func (FailRound) CommandType() CommandType        { return TypeFailRound }
func (AbortRound) CommandType() CommandType       { return TypeAbortRound }
func (Tick) CommandType() CommandType             { return TypeTick }
func (CommitModel) CommandType() CommandType      { return TypeCommitModel }

// commandFactories makes a zero command of each type Decode knows.
var commandFactories = map[CommandType]func() Command{
	TypeAddSite:          func() Command { return &AddSite{} },
	TypeSiteJoined:       func() Command { return &SiteJoined{} },
	TypeRemoveSite:       func() Command { return &RemoveSite{} },
	TypeSetRole:          func() Command { return &SetRole{} },
	TypeSiteLiveness:     func() Command { return &SiteLiveness{} },
	TypeSetSettings:      func() Command { return &SetSettings{} },
	TypeBeginKeySetup:    func() Command { return &BeginKeySetup{} },
	TypeCompleteKeySetup: func() Command { return &CompleteKeySetup{} },
	TypeFailKeySetup:     func() Command { return &FailKeySetup{} },
	TypeSetBudget:        func() Command { return &SetBudget{} },
	TypeChargeBudget:     func() Command { return &ChargeBudget{} },
	TypeStartRound:       func() Command { return &StartRound{} },
	TypeContribute:       func() Command { return &Contribute{} },
	TypeCloseRound:       func() Command { return &CloseRound{} },
	TypeFinishRound:      func() Command { return &FinishRound{} },
	TypeFailRound:        func() Command { return &FailRound{} },
	TypeAbortRound:       func() Command { return &AbortRound{} },
	TypeTick:             func() Command { return &Tick{} },
	TypeCommitModel:      func() Command { return &CommitModel{} },
}

// newCommand returns a pointer to a zero command of type t.
func newCommand(t CommandType) (Command, bool) {
	mk, ok := commandFactories[t]
	if !ok {
		return nil, false
	}
	return mk(), true
}

// envelope is the encoded form of every command.
type envelope struct {
	Type CommandType     `json:"type"`
	V    int             `json:"v"`
	Body json.RawMessage `json:"body"`
}

// Encode validates c and encodes it as the JSON envelope
// {"type":...,"v":1,"body":{...}}. The encoding is deterministic.
func Encode(c Command) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("encode nil command: %w", ErrBadCommand)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.CommandType(), err)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %v: %w", c.CommandType(), err, ErrBadCommand)
	}
	b, err := json.Marshal(envelope{Type: c.CommandType(), V: Version, Body: body})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %v: %w", c.CommandType(), err, ErrBadCommand)
	}
	if len(b) > MaxCommandSize {
		return nil, fmt.Errorf("encode %s: %d bytes over limit %d: %w", c.CommandType(), len(b), MaxCommandSize, ErrBadCommand)
	}
	return b, nil
}

// Decode parses and validates an encoded command. It never panics; errors wrap
// ErrBadCommand, ErrUnknownCommand or ErrUnsupportedVersion. The returned
// Command is a pointer to one of this package's command structs (*AddSite, ...).
func Decode(b []byte) (Command, error) {
	if len(b) > MaxCommandSize {
		return nil, fmt.Errorf("decode command: %d bytes over limit %d: %w", len(b), MaxCommandSize, ErrBadCommand)
	}
	var env envelope
	if err := strictUnmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("decode command envelope: %v: %w", err, ErrBadCommand)
	}
	c, ok := newCommand(env.Type)
	if !ok {
		return nil, fmt.Errorf("decode command type %q: %w", env.Type, ErrUnknownCommand)
	}
	if env.V != Version {
		return nil, fmt.Errorf("decode %s v%d: %w", env.Type, env.V, ErrUnsupportedVersion)
	}
	if len(env.Body) == 0 || bytes.Equal(env.Body, []byte("null")) {
		return nil, fmt.Errorf("decode %s: missing body: %w", env.Type, ErrBadCommand)
	}
	if err := strictUnmarshal(env.Body, c); err != nil {
		return nil, fmt.Errorf("decode %s body: %v: %w", env.Type, err, ErrBadCommand)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("decode %s: %w", env.Type, err)
	}
	return c, nil
}

// strictUnmarshal decodes exactly one JSON value, rejecting unknown fields and
// trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

// --- stateless validation ---

func bad(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrBadCommand)
}

// checkID accepts 1..MaxIDLen bytes of [A-Za-z0-9._:@-].
func checkID(field, s string) error {
	if s == "" || len(s) > MaxIDLen {
		return bad("%s: length %d not in 1..%d", field, len(s), MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == ':' || c == '@') {
			return bad("%s %q: byte %d not in [A-Za-z0-9._:@-]", field, s, i)
		}
	}
	return nil
}

// checkText accepts up to MaxTextLen printable bytes (no control characters);
// required text must be non-empty.
func checkText(field, s string, required bool) error {
	return checkTextLimit(field, s, required, MaxTextLen)
}

// checkTextLimit is checkText with another length limit.
func checkTextLimit(field, s string, required bool, limit int) error {
	if required && s == "" {
		return bad("%s: required", field)
	}
	if len(s) > limit {
		return bad("%s: %d bytes over limit %d", field, len(s), limit)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return bad("%s: control byte at %d", field, i)
		}
	}
	return nil
}

// checkHash accepts a lowercase hex sha256 (64 characters).
func checkHash(field, s string) error {
	if len(s) != 64 {
		return bad("%s: want 64 hex characters, got %d", field, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return bad("%s: not lowercase hex", field)
		}
	}
	return nil
}

func checkSites(field string, ids []string, min int) error {
	if len(ids) < min || len(ids) > MaxSites {
		return bad("%s: %d sites not in %d..%d", field, len(ids), min, MaxSites)
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if err := checkID(field, id); err != nil {
			return err
		}
		if seen[id] {
			return bad("%s: site %q listed twice", field, id)
		}
		seen[id] = true
	}
	return nil
}

func checkRole(r Role) error {
	if r != RoleVoter && r != RoleNonvoter {
		return bad("role %q: want %q or %q", r, RoleVoter, RoleNonvoter)
	}
	return nil
}

func checkCost(field string, c Cost) error {
	if math.IsNaN(c.Epsilon) || math.IsInf(c.Epsilon, 0) || c.Epsilon < 0 {
		return bad("%s: epsilon %v not a finite non-negative number", field, c.Epsilon)
	}
	if math.IsNaN(c.Delta) || c.Delta < 0 || c.Delta >= 1 {
		return bad("%s: delta %v not in [0, 1)", field, c.Delta)
	}
	return nil
}

func checkFinite(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return bad("%s: %v not a finite non-negative number", field, v)
	}
	return nil
}

// Validate implementations.

func (c AddSite) Validate() error {
	if err := checkID("site", c.Site); err != nil {
		return err
	}
	if err := checkText("address", c.Address, false); err != nil {
		return err
	}
	return checkRole(c.Role)
}

func (c SiteJoined) Validate() error {
	if err := checkID("site", c.Site); err != nil {
		return err
	}
	return checkText("address", c.Address, false)
}

func (c RemoveSite) Validate() error {
	if err := checkID("site", c.Site); err != nil {
		return err
	}
	return checkText("reason", c.Reason, false)
}

func (c SetRole) Validate() error {
	if err := checkID("site", c.Site); err != nil {
		return err
	}
	return checkRole(c.Role)
}

func (c SiteLiveness) Validate() error { return checkID("site", c.Site) }

func (c SetSettings) Validate() error {
	s := c.Settings
	if err := checkText("he_params", s.HEParams, false); err != nil {
		return err
	}
	if s.Threshold < 0 || s.Threshold > MaxSites {
		return bad("threshold %d not in 0..%d", s.Threshold, MaxSites)
	}
	if s.MinCellCount < 0 {
		return bad("min_cell_count %d negative", s.MinCellCount)
	}
	return nil
}

func (c BeginKeySetup) Validate() error {
	if c.Epoch == 0 {
		return bad("epoch: must be >= 1")
	}
	if err := checkSites("participants", c.Participants, 1); err != nil {
		return err
	}
	if c.Threshold < 1 || c.Threshold > len(c.Participants) {
		return bad("threshold %d not in 1..%d", c.Threshold, len(c.Participants))
	}
	if err := checkText("he_params", c.HEParams, false); err != nil {
		return err
	}
	if seed, err := hex.DecodeString(c.Seed); err != nil || len(seed) < MinSeedLen || len(seed) > MaxSeedLen || hex.EncodeToString(seed) != c.Seed {
		return bad("seed: want %d to %d bytes as lowercase hex", MinSeedLen, MaxSeedLen)
	}
	return nil
}

func (c CompleteKeySetup) Validate() error {
	if c.Epoch == 0 {
		return bad("epoch: must be >= 1")
	}
	return checkHash("public_key_hash", c.PublicKeyHash)
}

func (c FailKeySetup) Validate() error {
	if c.Epoch == 0 {
		return bad("epoch: must be >= 1")
	}
	return checkText("reason", c.Reason, true)
}

func (c SetBudget) Validate() error {
	if err := checkID("federation", c.Federation); err != nil {
		return err
	}
	if err := checkID("dataset", c.Dataset); err != nil {
		return err
	}
	return checkCost("total", c.Total)
}

func (c ChargeBudget) Validate() error {
	if err := checkID("id", c.ID); err != nil {
		return err
	}
	if err := checkID("federation", c.Federation); err != nil {
		return err
	}
	if err := checkID("dataset", c.Dataset); err != nil {
		return err
	}
	if err := checkID("site", c.Site); err != nil {
		return err
	}
	if err := checkText("purpose", c.Purpose, true); err != nil {
		return err
	}
	if err := checkCost("cost", c.Cost); err != nil {
		return err
	}
	if c.Cost.IsZero() {
		return bad("cost: must not be zero")
	}
	return nil
}

func (c StartRound) Validate() error {
	if err := checkID("id", c.ID); err != nil {
		return err
	}
	if err := checkTextLimit("kind", c.Kind, true, MaxKindLen); err != nil {
		return err
	}
	if err := checkID("federation", c.Federation); err != nil {
		return err
	}
	if err := checkID("dataset", c.Dataset); err != nil {
		return err
	}
	if c.KeyEpoch == 0 {
		return bad("key_epoch: must be >= 1")
	}
	if err := checkSites("participants", c.Participants, 1); err != nil {
		return err
	}
	if c.MinContributors < 0 || c.MinContributors > len(c.Participants) {
		return bad("min_contributors %d not in 0..%d", c.MinContributors, len(c.Participants))
	}
	if c.Deadline < 0 {
		return bad("deadline %d negative", c.Deadline)
	}
	return checkCost("cost", c.Cost)
}

func (c Contribute) Validate() error {
	if err := checkID("round", c.Round); err != nil {
		return err
	}
	if err := checkID("site", c.Site); err != nil {
		return err
	}
	if err := checkHash("hash", c.Hash); err != nil {
		return err
	}
	if c.Size <= 0 {
		return bad("size %d: must be positive", c.Size)
	}
	return nil
}

func (c CloseRound) Validate() error {
	if err := checkID("round", c.Round); err != nil {
		return err
	}
	if err := checkSites("decryptors", c.Decryptors, 1); err != nil {
		return err
	}
	return checkHash("aggregate_hash", c.AggregateHash)
}

func (c FinishRound) Validate() error {
	if err := checkID("round", c.Round); err != nil {
		return err
	}
	if err := checkHash("result_hash", c.ResultHash); err != nil {
		return err
	}
	if len(c.Released) > MaxReleasedSize {
		return bad("released: %d bytes over limit %d", len(c.Released), MaxReleasedSize)
	}
	if c.ReleasedHash != "" {
		if err := checkHash("released_hash", c.ReleasedHash); err != nil {
			return err
		}
	}
	n := c.Noise
	if err := checkText("noise.mechanism", n.Mechanism, true); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"noise.sigma", n.Sigma}, {"noise.sensitivity", n.Sensitivity}, {"noise.scale", n.Scale}} {
		if err := checkFinite(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

func (c FailRound) Validate() error {
	if err := checkID("round", c.Round); err != nil {
		return err
	}
	return checkText("reason", c.Reason, true)
}

func (c AbortRound) Validate() error {
	if err := checkID("round", c.Round); err != nil {
		return err
	}
	return checkText("reason", c.Reason, true)
}

func (c Tick) Validate() error {
	if c.Now < 0 {
		return bad("now %d negative", c.Now)
	}
	return nil
}

func (c CommitModel) Validate() error {
	if c.Version == 0 {
		return bad("version: must be >= 1")
	}
	if err := checkHash("content_hash", c.ContentHash); err != nil {
		return err
	}
	if len(c.Model) == 0 || len(c.Model) > MaxModelSize {
		return bad("model: %d bytes not in 1..%d", len(c.Model), MaxModelSize)
	}
	if len(c.Rounds) > MaxSites*64 {
		return bad("rounds: %d over limit", len(c.Rounds))
	}
	seen := make(map[string]bool, len(c.Rounds))
	for _, id := range c.Rounds {
		if err := checkID("rounds", id); err != nil {
			return err
		}
		if seen[id] {
			return bad("rounds: %q listed twice", id)
		}
		seen[id] = true
	}
	return nil
}
