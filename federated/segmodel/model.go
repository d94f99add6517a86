package segmodel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/analytics/lifecycle"
	"github.com/strata-fed/strata/node/analytics/score"
	"github.com/strata-fed/strata/node/analytics/segment"
)

// FormatVersion is the encoding version this package writes and reads.
const FormatVersion = 1

// MaxSize bounds an encoded model (the log's fsm.MaxModelSize).
const MaxSize = 1 << 20

// Model is the merged cross-channel segment model. Build one field by field
// (the federated jobs do), call Validate, then Encode. Decode returns a
// validated model. After Validate a Model must not be modified (Label uses
// the compiled rule set).
type Model struct {
	// Format is FormatVersion.
	Format int `json:"format"`
	// Cuts are the global R/F/M cut points for score.Cuts (4 each for 1..5
	// scores): recency scored LowerIsBetter, frequency and monetary (cents)
	// higher is better.
	Cuts CutPoints `json:"cuts"`
	// RuleSet is the segment rule set: a preset name or YAML.
	RuleSet RuleSetRef `json:"rule_set"`
	// Stats are the global reference values the rule set's high/low
	// conditions compare against.
	Stats Stats `json:"stats"`
	// Lifecycle are the stage thresholds in days (0 = default).
	Lifecycle Lifecycle `json:"lifecycle"`
	// Clusters are the global standardisation and k-means centroids over
	// standardised log1p(R, F, M).
	Clusters Clusters `json:"clusters"`
	// CLV holds the BG/NBD and Gamma-Gamma parameters and the prediction
	// settings. Absent (nil) when no CLV model was fitted.
	CLV *CLV `json:"clv"`
	// AsOf notes each site's as-of date (free text per site, e.g. RFC 3339).
	AsOf []SiteNote `json:"as_of"`
	// Users is the (possibly noised) number of users the model was fitted on.
	Users int64 `json:"users"`
	// Privacy records the budget spent on the model.
	Privacy Privacy `json:"privacy"`

	rules *segment.RuleSet
}

// CutPoints are score.Cuts points per dimension.
type CutPoints struct {
	Recency   []int64 `json:"recency_days"`
	Frequency []int64 `json:"frequency"`
	Monetary  []int64 `json:"monetary_cents"`
}

// RuleSetRef names a segment rule set: exactly one of Preset (a
// segment.Preset name) and YAML (a segment.ParseRuleSet document).
// Reference, if set, overrides the rule set's mean/median reference
// (segment.RuleSet.WithReference).
type RuleSetRef struct {
	Preset    string `json:"preset,omitempty"`
	YAML      string `json:"yaml,omitempty"`
	Reference string `json:"reference,omitempty"`
}

// Stats mirrors segment.Stats with JSON names.
type Stats struct {
	MeanR   float64 `json:"mean_recency_days"`
	MeanF   float64 `json:"mean_frequency"`
	MeanM   float64 `json:"mean_monetary_cents"`
	MedianR float64 `json:"median_recency_days"`
	MedianF float64 `json:"median_frequency"`
	MedianM float64 `json:"median_monetary_cents"`
}

// Segment returns the values as segment.Stats.
func (s Stats) Segment() segment.Stats {
	return segment.Stats{MeanR: s.MeanR, MeanF: s.MeanF, MeanM: s.MeanM, MedianR: s.MedianR, MedianF: s.MedianF, MedianM: s.MedianM}
}

// Lifecycle mirrors lifecycle.Params with JSON names (0 = default).
type Lifecycle struct {
	NewDays             int64 `json:"new_days"`
	ActiveDays          int64 `json:"active_days"`
	AtRiskDays          int64 `json:"at_risk_days"`
	DormantDays         int64 `json:"dormant_days"`
	ReactivationGapDays int64 `json:"reactivation_gap_days"`
}

// Params returns the thresholds as lifecycle.Params.
func (l Lifecycle) Params() lifecycle.Params {
	return lifecycle.Params{NewDays: l.NewDays, ActiveDays: l.ActiveDays, AtRiskDays: l.AtRiskDays, DormantDays: l.DormantDays, ReactivationGapDays: l.ReactivationGapDays}
}

// Clusters is the k-means part: features are log1p(R, F, M) standardised
// with Mean and Std (kmeans.StandardizeWith; std 0 = centre only), then
// assigned to the nearest of Centroids.
type Clusters struct {
	Mean      []float64   `json:"mean"`
	Std       []float64   `json:"std"`
	Centroids [][]float64 `json:"centroids"`
	// Iterations is the number of federated Lloyd iterations run.
	Iterations int `json:"iterations"`
}

// CLV holds the fitted lifetime-value models and prediction settings.
type CLV struct {
	BGNBD      BGNBD      `json:"bgnbd"`
	GammaGamma GammaGamma `json:"gamma_gamma"`
	// TimeUnitDays is the model time unit in days (7 for weeks).
	TimeUnitDays float64 `json:"time_unit_days"`
	// Horizon of expected purchases and CLV, in time units.
	Horizon float64 `json:"horizon"`
	// Discount rate per time unit (0 = undiscounted); CLV discounts per
	// step of Horizon/12 as the local engine does.
	Discount float64 `json:"discount"`
}

// BGNBD are BG/NBD parameters (clv.BGNBD) and the log-likelihood.
type BGNBD struct {
	R      float64 `json:"r"`
	Alpha  float64 `json:"alpha"`
	A      float64 `json:"a"`
	B      float64 `json:"b"`
	LogLik float64 `json:"log_likelihood"`
}

// GammaGamma are Gamma-Gamma parameters (clv.GammaGamma).
type GammaGamma struct {
	P      float64 `json:"p"`
	Q      float64 `json:"q"`
	Gamma  float64 `json:"gamma"`
	LogLik float64 `json:"log_likelihood"`
}

// Model returns the clv form.
func (b BGNBD) Model() clv.BGNBD {
	return clv.BGNBD{R: b.R, Alpha: b.Alpha, A: b.A, B: b.B, LogLik: b.LogLik}
}

// Model returns the clv form.
func (g GammaGamma) Model() clv.GammaGamma {
	return clv.GammaGamma{P: g.P, Q: g.Q, Gamma: g.Gamma, LogLik: g.LogLik}
}

// SiteNote is a per-site free-text note (the site's as-of date).
type SiteNote struct {
	Site string `json:"site"`
	Note string `json:"note"`
}

// Privacy records what the model cost. DP false means the federation ran
// with DP disabled (test setting): nothing was noised or paid.
type Privacy struct {
	DP bool `json:"dp"`
	// Epsilon and Delta are the spent total under the ledger's conversion.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Rho is the spent zCDP total.
	Rho float64 `json:"rho"`
	// Jobs itemises the spending.
	Jobs []JobCost `json:"jobs"`
}

// JobCost is one job's share of the budget.
type JobCost struct {
	Job    string  `json:"job"`
	Rounds int     `json:"rounds"`
	Rho    float64 `json:"rho"`
}

// Buckets is the number of scores per dimension.
const Buckets = 5

// Validate checks the model and compiles its rule set. Errors wrap
// ErrInvalid.
func (m *Model) Validate() error {
	if m.Format != FormatVersion {
		return fmt.Errorf("format %d, want %d: %w", m.Format, FormatVersion, ErrInvalid)
	}
	for i, pts := range [][]int64{m.Cuts.Recency, m.Cuts.Frequency, m.Cuts.Monetary} {
		name := [...]string{"recency", "frequency", "monetary"}[i]
		if len(pts) != Buckets-1 {
			return fmt.Errorf("%s cuts: %d points, want %d: %w", name, len(pts), Buckets-1, ErrInvalid)
		}
		if err := (score.Cuts{Points: pts}).Validate(); err != nil {
			return fmt.Errorf("%s cuts: %w: %w", name, err, ErrInvalid)
		}
	}
	rs, err := m.RuleSet.compile()
	if err != nil {
		return err
	}
	st := m.Stats
	for _, v := range []float64{st.MeanR, st.MeanF, st.MeanM, st.MedianR, st.MedianF, st.MedianM} {
		if !finite(v) {
			return fmt.Errorf("stats %+v: %w", st, ErrInvalid)
		}
	}
	if err := m.Lifecycle.Params().Validate(); err != nil {
		return fmt.Errorf("lifecycle: %w: %w", err, ErrInvalid)
	}
	if err := m.Clusters.validate(); err != nil {
		return err
	}
	if m.CLV != nil {
		if err := m.CLV.validate(); err != nil {
			return err
		}
	}
	for _, n := range m.AsOf {
		if n.Site == "" || len(n.Site) > 256 || len(n.Note) > 256 {
			return fmt.Errorf("as-of note %q: %w", n.Site, ErrInvalid)
		}
	}
	if m.Users < 0 {
		return fmt.Errorf("users %d: %w", m.Users, ErrInvalid)
	}
	p := m.Privacy
	if !finiteNonNeg(p.Epsilon) || !finiteNonNeg(p.Rho) || !(p.Delta >= 0 && p.Delta < 1) {
		return fmt.Errorf("privacy ε=%v δ=%v ρ=%v: %w", p.Epsilon, p.Delta, p.Rho, ErrInvalid)
	}
	for _, j := range p.Jobs {
		if j.Job == "" || j.Rounds < 0 || !finiteNonNeg(j.Rho) {
			return fmt.Errorf("privacy job %+v: %w", j, ErrInvalid)
		}
	}
	m.rules = rs
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (r RuleSetRef) compile() (*segment.RuleSet, error) {
	var (
		rs  *segment.RuleSet
		err error
	)
	switch {
	case r.Preset != "" && r.YAML == "":
		rs, err = segment.Preset(r.Preset)
	case r.Preset == "" && r.YAML != "":
		rs, err = segment.ParseRuleSet([]byte(r.YAML))
	default:
		return nil, fmt.Errorf("rule set: want exactly one of preset and yaml: %w", ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("rule set: %w: %w", err, ErrInvalid)
	}
	switch segment.Reference(r.Reference) {
	case "":
	case segment.Mean, segment.Median:
		rs = rs.WithReference(segment.Reference(r.Reference))
	default:
		return nil, fmt.Errorf("rule set reference %q: %w", r.Reference, ErrInvalid)
	}
	return rs, nil
}

// NeedsMedian reports whether the rule set compares against medians
// (with its reference override applied). An invalid reference gives false.
func (r RuleSetRef) NeedsMedian() bool {
	rs, err := r.compile()
	return err == nil && rs.NeedsMedian()
}

// maxK bounds the number of centroids.
const maxK = 1024

func (c Clusters) validate() error {
	const dim = 3
	if len(c.Mean) != dim || len(c.Std) != dim {
		return fmt.Errorf("standardisation of %d/%d features, want %d: %w", len(c.Mean), len(c.Std), dim, ErrInvalid)
	}
	for i := range dim {
		if !finite(c.Mean[i]) || !finiteNonNeg(c.Std[i]) {
			return fmt.Errorf("standardisation feature %d: mean %v std %v: %w", i, c.Mean[i], c.Std[i], ErrInvalid)
		}
	}
	if len(c.Centroids) < 1 || len(c.Centroids) > maxK {
		return fmt.Errorf("%d centroids: %w", len(c.Centroids), ErrInvalid)
	}
	for j, ct := range c.Centroids {
		if len(ct) != dim {
			return fmt.Errorf("centroid %d has %d coordinates: %w", j, len(ct), ErrInvalid)
		}
		for _, v := range ct {
			if !finite(v) {
				return fmt.Errorf("centroid %d: %v: %w", j, ct, ErrInvalid)
			}
		}
	}
	if c.Iterations < 0 {
		return fmt.Errorf("iterations %d: %w", c.Iterations, ErrInvalid)
	}
	return nil
}

func (c *CLV) validate() error {
	b, g := c.BGNBD, c.GammaGamma
	for _, v := range []float64{b.R, b.Alpha, b.A, b.B, g.P, g.Q, g.Gamma, c.TimeUnitDays} {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("clv parameters %+v: %w", *c, ErrInvalid)
		}
	}
	if !finite(b.LogLik) || !finite(g.LogLik) || !finiteNonNeg(c.Horizon) || !finiteNonNeg(c.Discount) {
		return fmt.Errorf("clv settings %+v: %w", *c, ErrInvalid)
	}
	return nil
}

// Segments returns the segment labels in the rule set's declaration order;
// UserLabel.Segment indexes it. Nil before Validate.
func (m *Model) Segments() []string {
	if m.rules == nil {
		return nil
	}
	return m.rules.Segments()
}

// Encode validates m and returns its canonical encoding.
func (m *Model) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode model: %w: %w", err, ErrInvalid)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("encoded model of %d bytes, limit %d: %w", len(b), MaxSize, ErrInvalid)
	}
	return b, nil
}

// Hash returns the content hash of an encoding: hex SHA-256, as
// fsm.CommitModel.ContentHash.
func Hash(encoded []byte) string {
	s := sha256.Sum256(encoded)
	return hex.EncodeToString(s[:])
}

// Decode parses and validates a canonical encoding. Unknown fields, missing
// fields, trailing data and bytes that are not exactly what Encode writes
// for the decoded model are rejected, so a decoded model always re-encodes
// to the same bytes and the same Hash.
func Decode(b []byte) (*Model, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("model of %d bytes, limit %d: %w", len(b), MaxSize, ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	m := new(Model)
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("decode model: %w: %w", err, ErrInvalid)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode model: trailing data: %w", ErrInvalid)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	again, err := json.Marshal(m)
	if err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("decode model: not the canonical encoding: %w", ErrInvalid)
	}
	return m, nil
}

// Clone returns a deep copy (validated if m was).
func (m *Model) Clone() *Model {
	c := *m
	c.Cuts = CutPoints{slices.Clone(m.Cuts.Recency), slices.Clone(m.Cuts.Frequency), slices.Clone(m.Cuts.Monetary)}
	c.Clusters.Mean = slices.Clone(m.Clusters.Mean)
	c.Clusters.Std = slices.Clone(m.Clusters.Std)
	c.Clusters.Centroids = make([][]float64, len(m.Clusters.Centroids))
	for j, ct := range m.Clusters.Centroids {
		c.Clusters.Centroids[j] = slices.Clone(ct)
	}
	if m.CLV != nil {
		v := *m.CLV
		c.CLV = &v
	}
	c.AsOf = slices.Clone(m.AsOf)
	c.Privacy.Jobs = slices.Clone(m.Privacy.Jobs)
	return &c
}
