package demo

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/daemon"
	"github.com/strata-fed/strata/node/report"
)

// exportSite labels one site's users with the model and writes, with the
// daemon's own writer, what a daemon writes for a model version — dir/labels.csv
// and dir/audiences/<segment>.csv — so the centralized baseline does the same
// labelling and export work. dir's parent must exist; dir must not.
func exportSite(dir string, m *segmodel.Model, d *segmodel.SiteData, ids []string) ([]admin.SegmentSize, error) {
	labels, err := segmodel.Label(m, d)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	auds, err := segmodel.Audiences(m, labels, ids)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	sizes, err := daemon.WriteSiteOutputs(filepath.Dir(dir), filepath.Base(dir), m, labels, ids, auds)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return sizes, nil
}

// centralReport is the baseline's summary in the report's shape: the
// model's cut points and the exact segment × channel table (users,
// revenue share, mean CLV). It is for printing; the federation's report
// (with the budget and the model in full) is the daemons'.
func centralReport(res *jobs.Result) *report.Report {
	m := res.Model
	r := &report.Report{Federation: "centralized (plaintext, pooled)", Budget: report.Budget{NoiseOff: true}}
	div := func(v []int64, d float64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x) / d
		}
		return out
	}
	r.Model = report.Model{RuleSet: m.RuleSet.Preset, Thresholds: report.Thresholds{
		RecencyDays: div(m.Cuts.Recency, 1), Frequency: div(m.Cuts.Frequency, 1), Monetary: div(m.Cuts.Monetary, 100)}}
	for j := range m.Clusters.Centroids {
		r.Model.Clusters = append(r.Model.Clusters, report.Cluster{ID: j})
	}
	if v := m.CLV; v != nil {
		r.Model.BGNBD = report.BGNBD{R: v.BGNBD.R, Alpha: v.BGNBD.Alpha, A: v.BGNBD.A, B: v.BGNBD.B}
		r.Model.GammaGamma = report.GammaGamma{P: v.GammaGamma.P, Q: v.GammaGamma.Q, Gamma: v.GammaGamma.Gamma}
		r.Model.CLV = report.CLVSettings{TimeUnitDays: v.TimeUnitDays, Horizon: v.Horizon, Discount: v.Discount}
	}
	ch := res.Channels
	if ch == nil {
		return r
	}
	revenue := make([]float64, len(ch.Channels))
	for c, name := range ch.Channels {
		var users float64
		for s := range ch.Segments {
			users += ch.Cell(c, s).Users
			revenue[c] += ch.Cell(c, s).RevenueCents
		}
		r.Channels = append(r.Channels, report.Channel{Name: name, Users: int64(users), Revenue: revenue[c] / 100})
	}
	for s, name := range ch.Segments {
		seg := report.Segment{Name: name}
		for c := range ch.Channels {
			cell := ch.Cell(c, s)
			rc := report.Cell{Users: int64(cell.Users)}
			if revenue[c] > 0 {
				rc.RevenueShare = max(0, min(1, cell.RevenueCents/revenue[c]))
			}
			if cell.Users > 0 {
				rc.MeanCLV = cell.CLVCents / 100 / cell.Users
			}
			seg.Cells = append(seg.Cells, rc)
		}
		r.Segments = append(r.Segments, seg)
	}
	return r
}
