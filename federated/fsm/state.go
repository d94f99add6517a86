package fsm

import "slices"

// Role is a site's raft role.
type Role string

// Raft roles.
const (
	RoleVoter    Role = "voter"
	RoleNonvoter Role = "nonvoter"
)

// MaxVoters is the most voters the registry admits; further sites must be
// non-voters.
const MaxVoters = 5

// SiteStatus is where a site is in its membership life cycle.
type SiteStatus string

// Site statuses: invited → joined → removed. A removed site may be invited again.
const (
	StatusInvited SiteStatus = "invited"
	StatusJoined  SiteStatus = "joined"
	StatusRemoved SiteStatus = "removed"
)

// Site is one entry of the site registry.
type Site struct {
	ID      string     `json:"id"`
	Address string     `json:"address"` // raft address (advertised, dialable)
	Role    Role       `json:"role"`
	Status  SiteStatus `json:"status"`
	// Live is the leader's last committed liveness observation (SiteLiveness).
	// A site is live when it joins.
	Live bool `json:"live"`
	// Reason is why the site was removed.
	Reason string `json:"reason,omitempty"`
	// Index is the log index of the site's last registry change.
	Index uint64 `json:"index"`
}

// Allowed reports whether the site may connect to the federation (invited or joined).
func (s Site) Allowed() bool { return s.Status == StatusInvited || s.Status == StatusJoined }

// Settings are the federation-wide settings agreed in the log.
type Settings struct {
	// DPDisabled turns DP noise off: a TEST-ONLY switch. Zero (false) means every
	// release must be noised and paid for.
	DPDisabled bool `json:"dp_disabled"`
	// HEParams names the HE parameter set (e.g. "bgv-logn13"); "" = not chosen.
	HEParams string `json:"he_params,omitempty"`
	// Threshold is the default decryption threshold t for new key set-ups;
	// 0 = not chosen.
	Threshold int `json:"threshold,omitempty"`
	// MinCellCount is the minimum aggregation threshold k below which released
	// cells are suppressed; 0 = no suppression.
	MinCellCount int `json:"min_cell_count,omitempty"`
}

// KeyStatus is the state of a key set-up.
type KeyStatus string

// Key set-up statuses: pending → active → retired, or pending → failed.
const (
	KeyPending KeyStatus = "pending"
	KeyActive  KeyStatus = "active"
	KeyRetired KeyStatus = "retired"
	KeyFailed  KeyStatus = "failed"
)

// KeySetup records one collective-key epoch. Shares are never in the log.
type KeySetup struct {
	Epoch uint64 `json:"epoch"`
	// Participants in the agreed order (Shamir points follow this order).
	Participants []string `json:"participants"`
	Threshold    int      `json:"threshold"`
	HEParams     string   `json:"he_params"`
	// Seed is the common random seed (lowercase hex) for the CRS.
	Seed   string    `json:"seed"`
	Status KeyStatus `json:"status"`
	// PublicKeyHash is the hex sha256 of the collective public key (when active).
	PublicKeyHash string `json:"public_key_hash,omitempty"`
	Reason        string `json:"reason,omitempty"`
	BeganIndex    uint64 `json:"began_index"`
	EndedIndex    uint64 `json:"ended_index,omitempty"`
}

// RoundState is the state of an aggregation round.
type RoundState string

// Round states: open → collecting → decrypting → done, and failed or aborted
// from any non-terminal state.
const (
	RoundOpen       RoundState = "open"
	RoundCollecting RoundState = "collecting"
	RoundDecrypting RoundState = "decrypting"
	RoundDone       RoundState = "done"
	RoundFailed     RoundState = "failed"
	RoundAborted    RoundState = "aborted"
)

// Terminal reports whether no further transition is possible.
func (s RoundState) Terminal() bool {
	return s == RoundDone || s == RoundFailed || s == RoundAborted
}

// Cost is a privacy cost or budget in (ε, δ).
type Cost struct {
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
}

// IsZero reports whether both ε and δ are zero.
func (c Cost) IsZero() bool { return c.Epsilon == 0 && c.Delta == 0 }

// Contribution records one site's ciphertext for a round: its hash, never its bytes.
type Contribution struct {
	Site  string `json:"site"`
	Hash  string `json:"hash"` // hex sha256 of the ciphertext bytes
	Size  int64  `json:"size"` // bytes
	Index uint64 `json:"index"`
}

// Round is one aggregation round.
type Round struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"` // statistic name, e.g. "sum:revenue"
	Federation string `json:"federation"`
	Dataset    string `json:"dataset"`
	KeyEpoch   uint64 `json:"key_epoch"`
	// Participants may contribute; Threshold of them must be live.
	Participants    []string `json:"participants"`
	Threshold       int      `json:"threshold"`
	MinContributors int      `json:"min_contributors"`
	// Deadline is in the leader's logical time (Tick.Now units); 0 = none.
	Deadline int64 `json:"deadline,omitempty"`
	Cost     Cost  `json:"cost"`
	// DPDisabled copies Settings.DPDisabled when the round started.
	DPDisabled bool       `json:"dp_disabled"`
	State      RoundState `json:"state"`
	// Reason explains failed and aborted.
	Reason        string         `json:"reason,omitempty"`
	Contributions []Contribution `json:"contributions"`
	// Decryptors is the fixed, ordered list of Threshold sites that produce
	// decryption shares; set when decryption starts.
	Decryptors    []string `json:"decryptors,omitempty"`
	AggregateHash string   `json:"aggregate_hash,omitempty"`
	StartedIndex  uint64   `json:"started_index"`
	EndedIndex    uint64   `json:"ended_index,omitempty"`
}

// Contributed reports whether site has contributed to the round.
func (r Round) Contributed(site string) bool {
	for _, c := range r.Contributions {
		if c.Site == site {
			return true
		}
	}
	return false
}

// NoiseParams describes the DP noise of a release.
type NoiseParams struct {
	// Mechanism: "none" (only with DP disabled), "discrete_gaussian", "skellam", ...
	Mechanism   string  `json:"mechanism"`
	Sigma       float64 `json:"sigma,omitempty"`
	Sensitivity float64 `json:"sensitivity,omitempty"`
	// Scale is the fixed-point scale of the released integers (1 = none).
	Scale float64 `json:"scale,omitempty"`
}

// ResultRecord is the committed outcome of a done round.
type ResultRecord struct {
	RoundID string `json:"round_id"`
	// ResultHash is the hex sha256 of the decrypted (noised) result.
	ResultHash string `json:"result_hash"`
	// Released holds the released values (encoding chosen by the round kind),
	// when small enough to live in the log; ReleasedHash is its hex sha256.
	Released     []byte      `json:"released,omitempty"`
	ReleasedHash string      `json:"released_hash,omitempty"`
	Noise        NoiseParams `json:"noise"`
	Charged      Cost        `json:"charged"`
	Contributors []string    `json:"contributors"`
	Decryptors   []string    `json:"decryptors"`
	Index        uint64      `json:"index"`
	Time         int64       `json:"time"` // logical time when committed
}

// Charge is one entry of a privacy-budget ledger.
type Charge struct {
	// ID is the round id, or the ChargeBudget id for a DP-only release.
	ID      string `json:"id"`
	Kind    string `json:"kind"` // "round" or "release"
	Site    string `json:"site,omitempty"`
	Purpose string `json:"purpose,omitempty"`
	Cost    Cost   `json:"cost"`
	Index   uint64 `json:"index"`
	// Refunded is set when a round failed or was aborted before decryption
	// started, so no decryption share can exist.
	Refunded bool `json:"refunded,omitempty"`
}

// Budget is the privacy-budget ledger of one (federation, dataset).
type Budget struct {
	Federation  string   `json:"federation"`
	Dataset     string   `json:"dataset"`
	Composition string   `json:"composition"`
	Total       Cost     `json:"total"`
	Spent       Cost     `json:"spent"`
	Charges     []Charge `json:"charges"`
	Index       uint64   `json:"index"`
}

// Remaining returns Total − Spent per component, floored at 0.
func (b Budget) Remaining() Cost {
	return Cost{Epsilon: max(0, b.Total.Epsilon-b.Spent.Epsilon), Delta: max(0, b.Total.Delta-b.Spent.Delta)}
}

// ModelVersion is one committed version of the cross-channel segment model.
type ModelVersion struct {
	Version     uint64 `json:"version"`
	ContentHash string `json:"content_hash"` // hex sha256 of Model
	Model       []byte `json:"model"`
	// Rounds whose releases built the model; BudgetSpent composes their costs.
	Rounds      []string `json:"rounds"`
	BudgetSpent Cost     `json:"budget_spent"`
	Index       uint64   `json:"index"`
	Time        int64    `json:"time"`
}

// State is the whole replicated state. Maps encode with sorted keys, so its
// JSON encoding is deterministic.
type State struct {
	// AppliedIndex is the log index of the last applied command.
	AppliedIndex uint64 `json:"applied_index"`
	// Now is the leader's logical time: the largest Tick.Now applied.
	Now      int64                    `json:"now"`
	Settings Settings                 `json:"settings"`
	Sites    map[string]*Site         `json:"sites"`
	Keys     []*KeySetup              `json:"keys"` // by epoch, ascending
	Rounds   map[string]*Round        `json:"rounds"`
	Results  map[string]*ResultRecord `json:"results"`
	// Budgets is keyed by LedgerKey(federation, dataset).
	Budgets map[string]*Budget `json:"budgets"`
	Models  []*ModelVersion    `json:"models"` // by version, ascending
}

// LedgerKey is the Budgets key of a (federation, dataset).
func LedgerKey(federation, dataset string) string { return federation + "/" + dataset }

func newState() *State {
	return &State{
		Sites:   map[string]*Site{},
		Rounds:  map[string]*Round{},
		Results: map[string]*ResultRecord{},
		Budgets: map[string]*Budget{},
	}
}

func (k KeySetup) clone() KeySetup {
	k.Participants = slices.Clone(k.Participants)
	return k
}

func (r Round) clone() Round {
	r.Participants = slices.Clone(r.Participants)
	r.Contributions = slices.Clone(r.Contributions)
	r.Decryptors = slices.Clone(r.Decryptors)
	return r
}

func (r ResultRecord) clone() ResultRecord {
	r.Released = slices.Clone(r.Released)
	r.Contributors = slices.Clone(r.Contributors)
	r.Decryptors = slices.Clone(r.Decryptors)
	return r
}

func (b Budget) clone() Budget {
	b.Charges = slices.Clone(b.Charges)
	return b
}

func (m ModelVersion) clone() ModelVersion {
	m.Model = slices.Clone(m.Model)
	m.Rounds = slices.Clone(m.Rounds)
	return m
}

// clone returns a deep copy.
func (s *State) clone() *State {
	c := newState()
	c.AppliedIndex, c.Now, c.Settings = s.AppliedIndex, s.Now, s.Settings
	for k, v := range s.Sites {
		vv := *v
		c.Sites[k] = &vv
	}
	for _, v := range s.Keys {
		vv := v.clone()
		c.Keys = append(c.Keys, &vv)
	}
	for k, v := range s.Rounds {
		vv := v.clone()
		c.Rounds[k] = &vv
	}
	for k, v := range s.Results {
		vv := v.clone()
		c.Results[k] = &vv
	}
	for k, v := range s.Budgets {
		vv := v.clone()
		c.Budgets[k] = &vv
	}
	for _, v := range s.Models {
		vv := v.clone()
		c.Models = append(c.Models, &vv)
	}
	return c
}
