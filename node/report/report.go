package report

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors returned by this package. Test them with errors.Is.
var (
	// ErrInvalidReport: a Report is inconsistent (a segment's cells do not
	// line up with the channels, a value is NaN or infinite, a share is out
	// of [0, 1], ...). Nothing was written.
	ErrInvalidReport = errors.New("report: invalid report")
	// ErrNoReport: the handler's source has no report yet (served as 503).
	ErrNoReport = errors.New("report: no report yet")
)

// Report is the cross-channel report of one federated segmentation run. The
// node fills it from the committed model, the DP releases and the budget
// ledger; every per-segment or per-channel count in it is a released (noised)
// value, never a raw one. The zero value of an optional field means "not
// known" and is left out of the page.
type Report struct {
	// Title heads the page. Default "Cross-channel segment report".
	Title string `json:"title,omitempty"`
	// Federation names the federation (and dataset) the run belongs to.
	Federation string `json:"federation"`
	// GeneratedAt is when the report was made.
	GeneratedAt time.Time `json:"generated_at"`
	// DurationSeconds is the wall time of the whole pipeline, and Phases its
	// split, in order (optional).
	DurationSeconds float64 `json:"duration_seconds"`
	Phases          []Phase `json:"phases,omitempty"`
	// Members are the federation's sites.
	Members []Member `json:"members"`
	// Channels are the channels (one per contributing site); the Cells of
	// every Segment are in this order.
	Channels []Channel `json:"channels"`
	// Model is the committed cross-channel segment model.
	Model Model `json:"model"`
	// Segments are the model's segments in the rule set's order.
	Segments []Segment `json:"segments"`
	// Overlap is how the channels' user bases intersect.
	Overlap Overlap `json:"overlap"`
	// Budget is the privacy budget of the dataset: total, spent, left, charges.
	Budget Budget `json:"budget"`
	// Notes are free-text remarks shown at the end (methods, caveats).
	Notes []string `json:"notes,omitempty"`
	// MinMeanUsers: a cell's mean CLV is shown only when its released user
	// count is at least this (a mean of noised sums over a small noised
	// count is noise); 0 shows every mean.
	MinMeanUsers int64 `json:"min_mean_users,omitempty"`
}

// Phase is one step of the pipeline and its wall time.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Member is one site of the federation.
type Member struct {
	Site    string `json:"site"`              // site id
	Channel string `json:"channel,omitempty"` // the channel it contributes
	Role    string `json:"role,omitempty"`    // e.g. voter, nonvoter, leader
	Address string `json:"address,omitempty"` // advertised host:port
}

// Channel is one channel's totals.
type Channel struct {
	Name string `json:"name"`
	// Users is the DP count of the channel's users.
	Users int64 `json:"users"`
	// Revenue is the DP sum of the channel's net revenue, in currency units
	// (0 = not released).
	Revenue float64 `json:"revenue,omitempty"`
}

// Model is the committed cross-channel segment model.
type Model struct {
	// Version is the model's version in the federation log.
	Version uint64 `json:"version"`
	// RuleSet names the segment rule set (value-tiers, rfm8, rfm11, or a
	// custom set's name).
	RuleSet string `json:"rule_set"`
	// Currency labels money values (e.g. "EUR"); optional.
	Currency string `json:"currency,omitempty"`
	// Thresholds are the global R/F/M score cut points.
	Thresholds Thresholds `json:"thresholds"`
	// Clusters are the k-means centroids in original units.
	Clusters []Cluster `json:"clusters,omitempty"`
	// BGNBD and GammaGamma are the fitted lifetime-value models; CLV says how
	// CLV was computed from them.
	BGNBD      BGNBD       `json:"bgnbd"`
	GammaGamma GammaGamma  `json:"gamma_gamma"`
	CLV        CLVSettings `json:"clv"`
}

// Thresholds are ascending score cut points: a value at or above the i-th
// cut scores i+2 (for recency, at or below scores better; see the segment
// package). Quintiles have four cuts per dimension.
type Thresholds struct {
	RecencyDays []float64 `json:"recency_days"`
	Frequency   []float64 `json:"frequency"`
	Monetary    []float64 `json:"monetary"` // currency units
}

// Cluster is one k-means cluster, its centroid in original units.
type Cluster struct {
	ID          int     `json:"id"`
	Label       string  `json:"label,omitempty"` // e.g. "high value, recent"
	Users       int64   `json:"users"`           // DP count over all channels
	RecencyDays float64 `json:"recency_days"`
	Frequency   float64 `json:"frequency"`
	Monetary    float64 `json:"monetary"`
}

// BGNBD holds the BG/NBD purchase-process parameters.
type BGNBD struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
}

// GammaGamma holds the Gamma-Gamma spend parameters.
type GammaGamma struct {
	P     float64 `json:"p"`
	Q     float64 `json:"q"`
	Gamma float64 `json:"gamma"`
}

// CLVSettings says how CLV was computed.
type CLVSettings struct {
	TimeUnitDays float64 `json:"time_unit_days"` // model time unit, e.g. 7
	Horizon      float64 `json:"horizon"`        // in time units
	Discount     float64 `json:"discount"`       // per time unit
}

// Segment is one segment's values per channel.
type Segment struct {
	Name string `json:"name"`
	// Cells are the segment's values in each channel, in Report.Channels
	// order.
	Cells []Cell `json:"cells"`
}

// Cell is one segment × channel.
type Cell struct {
	// Users is the DP count of the channel's users in the segment (a noised
	// count may be clamped at 0 by the node; it is shown as given).
	Users int64 `json:"users"`
	// RevenueShare is the fraction, in [0, 1], of the channel's revenue that
	// comes from the segment.
	RevenueShare float64 `json:"revenue_share"`
	// MeanCLV is the segment's mean CLV in the channel, in currency units.
	MeanCLV float64 `json:"mean_clv"`
}

// ShowsMean reports whether the report shows cell c's mean CLV.
func (r *Report) ShowsMean(c Cell) bool { return c.Users >= r.MinMeanUsers }

// Overlap is how the channels' user bases intersect.
type Overlap struct {
	// Sets counts users by the exact set of channels they buy in (DP counts).
	Sets []ChannelSet `json:"sets"`
	// Method says how the counts were obtained (e.g. private set
	// intersection cardinality plus noise); optional.
	Method string `json:"method,omitempty"`
}

// ChannelSet is the number of users in exactly these channels.
type ChannelSet struct {
	Channels []string `json:"channels"`
	Users    int64    `json:"users"`
}

// Budget is the privacy budget of the dataset.
type Budget struct {
	// Epsilon and Delta are the total budget.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// SpentEpsilon and SpentDelta are what the charges composed to;
	// RemainingEpsilon and RemainingDelta what is left.
	SpentEpsilon     float64 `json:"spent_epsilon"`
	SpentDelta       float64 `json:"spent_delta"`
	RemainingEpsilon float64 `json:"remaining_epsilon"`
	RemainingDelta   float64 `json:"remaining_delta"`
	// Composition names the composition rule (e.g. "zcdp", "basic").
	Composition string `json:"composition,omitempty"`
	// NoiseOff is the federation-wide test setting that turns DP noise off.
	// The page then carries a warning: its counts are exact.
	NoiseOff bool `json:"noise_off"`
	// Charges are the ledger's entries in log order.
	Charges []Charge `json:"charges"`
}

// Charge is one entry of the budget ledger.
type Charge struct {
	Round    string  `json:"round"`              // round id (or release id)
	Purpose  string  `json:"purpose"`            // e.g. "rfm thresholds", "k-means iteration 3"
	Site     string  `json:"site,omitempty"`     // for a site-local release
	Epsilon  float64 `json:"epsilon"`            // cost
	Delta    float64 `json:"delta"`              // cost
	Refunded bool    `json:"refunded,omitempty"` // the round failed before any release
}

// Validate checks that r can be rendered: cells line up with channels,
// numbers are finite, shares lie in [0, 1], budgets are non-negative.
func (r *Report) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalidReport)
	}
	type num struct {
		what string
		v    float64
	}
	nums := []num{
		{"duration", r.DurationSeconds},
		{"bgnbd r", r.Model.BGNBD.R}, {"bgnbd alpha", r.Model.BGNBD.Alpha}, {"bgnbd a", r.Model.BGNBD.A}, {"bgnbd b", r.Model.BGNBD.B},
		{"gamma-gamma p", r.Model.GammaGamma.P}, {"gamma-gamma q", r.Model.GammaGamma.Q}, {"gamma-gamma gamma", r.Model.GammaGamma.Gamma},
		{"clv time unit", r.Model.CLV.TimeUnitDays}, {"clv horizon", r.Model.CLV.Horizon}, {"clv discount", r.Model.CLV.Discount},
		{"budget epsilon", r.Budget.Epsilon}, {"budget delta", r.Budget.Delta},
		{"spent epsilon", r.Budget.SpentEpsilon}, {"spent delta", r.Budget.SpentDelta},
		{"remaining epsilon", r.Budget.RemainingEpsilon}, {"remaining delta", r.Budget.RemainingDelta},
	}
	for _, p := range r.Phases {
		nums = append(nums, num{"phase " + p.Name, p.Seconds})
	}
	for _, c := range r.Budget.Charges {
		nums = append(nums, num{"charge " + c.Round + " epsilon", c.Epsilon}, num{"charge " + c.Round + " delta", c.Delta})
	}
	for _, ch := range r.Channels {
		nums = append(nums, num{"channel " + ch.Name + " revenue", ch.Revenue})
	}
	for _, n := range nums {
		if math.IsNaN(n.v) || math.IsInf(n.v, 0) || n.v < 0 {
			return bad("%s is %v, want a finite value ≥ 0", n.what, n.v)
		}
	}
	for _, t := range [][]float64{r.Model.Thresholds.RecencyDays, r.Model.Thresholds.Frequency, r.Model.Thresholds.Monetary} {
		for _, v := range t {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return bad("threshold %v is not finite", v)
			}
		}
	}
	for _, c := range r.Model.Clusters {
		for _, v := range []float64{c.RecencyDays, c.Frequency, c.Monetary} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return bad("cluster %d centroid %v is not finite", c.ID, v)
			}
		}
	}
	seen := map[string]bool{}
	for _, ch := range r.Channels {
		if ch.Name == "" || seen[ch.Name] {
			return bad("channel name %q empty or repeated", ch.Name)
		}
		seen[ch.Name] = true
	}
	for _, s := range r.Segments {
		if len(s.Cells) != len(r.Channels) {
			return bad("segment %q has %d cells for %d channels", s.Name, len(s.Cells), len(r.Channels))
		}
		for i, c := range s.Cells {
			if !(c.RevenueShare >= 0 && c.RevenueShare <= 1) {
				return bad("segment %q channel %s revenue share %v not in [0, 1]", s.Name, r.Channels[i].Name, c.RevenueShare)
			}
			if math.IsNaN(c.MeanCLV) || math.IsInf(c.MeanCLV, 0) {
				return bad("segment %q channel %s mean CLV %v not finite", s.Name, r.Channels[i].Name, c.MeanCLV)
			}
		}
	}
	for _, set := range r.Overlap.Sets {
		if len(set.Channels) == 0 {
			return bad("overlap set with no channel")
		}
		for _, name := range set.Channels {
			if !seen[name] {
				return bad("overlap set names unknown channel %q", name)
			}
		}
	}
	return nil
}
