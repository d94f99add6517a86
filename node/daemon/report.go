package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/segment"
	"github.com/strata-fed/strata/node/report"
)

// Report implements admin.ModelsBackend: the report of the latest
// committed model, built from this node's own replicated state only (see
// reportFor), so every node that applied the same log serves the same
// report. Before the first model the error wraps report.ErrNoReport.
func (d *Daemon) Report(context.Context) (*report.Report, error) {
	mv, ok := d.fsm.LatestModel()
	if !ok {
		return nil, fmt.Errorf("no segment model committed yet: %w", report.ErrNoReport)
	}
	return d.reportFor(mv)
}

// reportFor builds the report of one model version from the log: the
// model itself; the segment × channel table decoded from the released
// vector of the version's seg.channel round (its params, with the codec,
// are in the round's kind; the released values in its result record); the
// ledger of the dataset the rounds were charged to; the site registry.
// Nothing local (no site's own data) enters it.
func (d *Daemon) reportFor(mv fsm.ModelVersion) (*report.Report, error) {
	m, err := segmodel.Decode(mv.Model)
	if err != nil {
		return nil, fmt.Errorf("report of model v%d: %w", mv.Version, err)
	}
	in := reportInput{Version: mv, Model: m, Sites: d.fsm.Sites(), Purposes: map[string]string{}}
	var federation, dataset string
	for _, id := range mv.Rounds {
		r, ok := d.fsm.Round(id)
		if !ok {
			continue
		}
		if dataset == "" {
			federation, dataset = r.Federation, r.Dataset
		}
		stat, params, ok := roundStatistic(r.Kind)
		if !ok || stat != jobs.StatChannels {
			continue
		}
		res, ok := d.sum.node.Round(id)
		if !ok || len(res.Values) == 0 {
			in.Notes = append(in.Notes, fmt.Sprintf("The segment × channel release of round %s is not in this node's log; the table is left out.", id))
			continue
		}
		ch, err := jobs.DecodeChannels(params, res.Values)
		if err != nil {
			in.Notes = append(in.Notes, fmt.Sprintf("The segment × channel release of round %s could not be decoded (%v); the table is left out.", id, err))
			continue
		}
		in.Channels = ch
	}
	if dataset != "" {
		if b, ok := d.fsm.Budget(federation, dataset); ok {
			in.Budget = &b
			for _, c := range b.Charges {
				if r, ok := d.fsm.Round(c.ID); ok {
					if stat, _, ok := roundStatistic(r.Kind); ok {
						in.Purposes[c.ID] = stat
					}
				}
			}
		}
		in.Federation = federation + "/" + dataset
	}
	return buildReport(in)
}

// roundStatistic returns a secure-sum round's statistic and params from
// its kind, `sum:<statistic> <JSON spec>` (federated/securesum writes it;
// only the "params" field is read here).
func roundStatistic(kind string) (stat string, params []byte, ok bool) {
	rest, ok := strings.CutPrefix(kind, "sum:")
	if !ok {
		return "", nil, false
	}
	stat, js, ok := strings.Cut(rest, " ")
	if !ok {
		return stat, nil, true
	}
	var spec struct {
		Params json.RawMessage `json:"params"`
	}
	if err := json.NewDecoder(bytes.NewReader([]byte(js))).Decode(&spec); err != nil {
		return stat, nil, true
	}
	return stat, spec.Params, true
}

// MinMeanUsers is the released user count from which a DP report shows a
// cell's mean CLV (report.Report.MinMeanUsers).
const MinMeanUsers = 1000

// reportInput is what a report is built from, all of it from the log.
type reportInput struct {
	Version  fsm.ModelVersion
	Model    *segmodel.Model // decoded Version.Model
	Channels *jobs.Channels  // nil: no released segment × channel table
	Budget   *fsm.Budget     // nil: the rounds used no ledger
	// Purposes maps round ids to their statistic (charge purposes).
	Purposes   map[string]string
	Sites      []fsm.Site
	Federation string
	Notes      []string
}

// buildReport turns the log's facts into a report.Report. Released
// (noised) values are post-processed only: counts rounded and floored at
// 0, revenue floored at 0, shares computed from the floored values and
// mean CLV = released CLV sum / released count (0 below one user). Overlap
// stays empty: no released aggregate measures it. Cluster sizes are not
// released either (left 0 = unknown).
func buildReport(in reportInput) (*report.Report, error) {
	m, mv := in.Model, in.Version
	r := &report.Report{
		Federation: in.Federation,
		Channels:   []report.Channel{},
		Members:    []report.Member{},
		Segments:   []report.Segment{},
		Overlap:    report.Overlap{Sets: []report.ChannelSet{}},
		Budget:     report.Budget{NoiseOff: !m.Privacy.DP, Charges: []report.Charge{}},
	}
	if mv.Time > 0 {
		r.GeneratedAt = time.UnixMilli(mv.Time).UTC()
	}
	for _, s := range in.Sites {
		if s.Allowed() {
			r.Members = append(r.Members, report.Member{Site: s.ID, Role: string(s.Role), Address: s.Address})
		}
	}
	r.Model = reportModel(mv.Version, m)
	if m.Privacy.DP {
		r.MinMeanUsers = MinMeanUsers
		r.Notes = append(r.Notes, fmt.Sprintf("Mean CLV is shown for cells of at least %d released users: below that, a mean of noised sums over a small noised count is mostly noise.", MinMeanUsers))
	}
	segs := m.Segments()
	if ch := in.Channels; ch != nil && slices.Equal(ch.Segments, segs) {
		users := make([][]int64, len(ch.Channels)) // [channel][segment]
		revenue := make([][]float64, len(ch.Channels))
		for c, name := range ch.Channels {
			users[c], revenue[c] = make([]int64, len(segs)), make([]float64, len(segs))
			var tu int64
			var tr float64
			for s := range segs {
				cell := ch.Cell(c, s)
				users[c][s] = int64(math.Max(0, math.Round(cell.Users)))
				revenue[c][s] = math.Max(0, cell.RevenueCents/100)
				tu += users[c][s]
				tr += revenue[c][s]
			}
			r.Channels = append(r.Channels, report.Channel{Name: name, Users: tu, Revenue: tr})
		}
		for s, name := range segs {
			seg := report.Segment{Name: name, Cells: make([]report.Cell, len(ch.Channels))}
			for c := range ch.Channels {
				cell := report.Cell{Users: users[c][s]}
				if t := r.Channels[c].Revenue; t > 0 {
					cell.RevenueShare = min(1, revenue[c][s]/t)
				}
				if u := users[c][s]; u >= max(1, r.MinMeanUsers) {
					cell.MeanCLV = math.Max(0, ch.Cell(c, s).CLVCents/100/float64(u))
				}
				seg.Cells[c] = cell
			}
			r.Segments = append(r.Segments, seg)
		}
	} else {
		if ch != nil {
			in.Notes = append(in.Notes, "The released segment × channel table does not match the model's segments; it is left out.")
		}
		for _, name := range segs {
			r.Segments = append(r.Segments, report.Segment{Name: name, Cells: []report.Cell{}})
		}
	}
	if b := in.Budget; b != nil {
		left := b.Remaining()
		r.Budget.Epsilon, r.Budget.Delta = b.Total.Epsilon, b.Total.Delta
		r.Budget.SpentEpsilon, r.Budget.SpentDelta = b.Spent.Epsilon, b.Spent.Delta
		r.Budget.RemainingEpsilon, r.Budget.RemainingDelta = left.Epsilon, left.Delta
		r.Budget.Composition = b.Composition
		for _, c := range b.Charges {
			purpose := c.Purpose
			if purpose == "" {
				purpose = in.Purposes[c.ID]
			}
			r.Budget.Charges = append(r.Budget.Charges, report.Charge{Round: c.ID, Purpose: purpose, Site: c.Site,
				Epsilon: c.Cost.Epsilon, Delta: c.Cost.Delta, Refunded: c.Refunded})
		}
	}
	if m.Privacy.DP {
		r.Notes = append(r.Notes, fmt.Sprintf("Every count, sum and model parameter is a differentially private release: the model cost ε = %.4g, δ = %.3g (zCDP ρ = %.4g) of the ledger.", m.Privacy.Epsilon, m.Privacy.Delta, m.Privacy.Rho))
	} else {
		r.Notes = append(r.Notes, "Differential privacy was OFF for this model (the federation's test setting): its counts are exact.")
	}
	r.Notes = append(r.Notes, "Channel overlap is not shown: no released aggregate measures it. Cluster sizes are not released.")
	r.Notes = append(r.Notes, in.Notes...)
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("report of model v%d: %w", mv.Version, err)
	}
	return r, nil
}

// maxLogFeature bounds a centroid's log1p feature in the report: e^35 ≈
// 1.6e15 days, orders or currency units, beyond any real customer.
const maxLogFeature = 35.0

// reportModel describes the model in the report's units: cut points (money
// in currency units) and centroids back in original units.
func reportModel(version uint64, m *segmodel.Model) report.Model {
	out := report.Model{
		Version: version,
		RuleSet: ruleSetName(m.RuleSet),
		Thresholds: report.Thresholds{
			RecencyDays: floats(m.Cuts.Recency, 1),
			Frequency:   floats(m.Cuts.Frequency, 1),
			Monetary:    floats(m.Cuts.Monetary, 100),
		},
	}
	c := m.Clusters
	for j, ct := range c.Centroids {
		// Features are log1p(recency days, frequency, monetary currency
		// units) standardised with Mean and Std: invert both.
		// A noised centroid can lie far outside the data: the log-space
		// value is clamped to [0, maxLogFeature] so the report stays finite.
		orig := [3]float64{}
		for k := range 3 {
			orig[k] = math.Expm1(min(max(ct[k]*c.Std[k]+c.Mean[k], 0), maxLogFeature))
		}
		out.Clusters = append(out.Clusters, report.Cluster{ID: j, RecencyDays: orig[0], Frequency: orig[1], Monetary: orig[2]})
	}
	if v := m.CLV; v != nil {
		out.BGNBD = report.BGNBD{R: v.BGNBD.R, Alpha: v.BGNBD.Alpha, A: v.BGNBD.A, B: v.BGNBD.B}
		out.GammaGamma = report.GammaGamma{P: v.GammaGamma.P, Q: v.GammaGamma.Q, Gamma: v.GammaGamma.Gamma}
		out.CLV = report.CLVSettings{TimeUnitDays: v.TimeUnitDays, Horizon: v.Horizon, Discount: v.Discount}
	}
	return out
}

// ruleSetName is a preset's name or a YAML rule set's own name.
func ruleSetName(r segmodel.RuleSetRef) string {
	name := r.Preset
	if name == "" {
		name = "custom"
		if rs, err := segment.ParseRuleSet([]byte(r.YAML)); err == nil && rs.Name != "" {
			name = rs.Name
		}
	}
	if r.Reference != "" {
		name += " (" + r.Reference + ")"
	}
	return name
}

func floats(v []int64, div float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x) / div
	}
	return out
}
