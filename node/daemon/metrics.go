package daemon

import (
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus metrics (exposed on GET /metrics).
type metrics struct {
	applySeconds prometheus.Histogram
}

func newMetrics(d *Daemon, reg *prometheus.Registry) *metrics {
	m := &metrics{
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strata_raft_apply_seconds",
			Help:    "Time from proposing a command on this node to its commit and application.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.applySeconds,
		gauge("strata_raft_is_leader", "1 if this node is the raft leader.", func() float64 {
			if d.raft.State() == raft.Leader {
				return 1
			}
			return 0
		}),
		gauge("strata_raft_term", "Current raft term.", func() float64 { return float64(parseUint(d.raft.Stats()["term"])) }),
		gauge("strata_raft_commit_index", "Raft commit index.", func() float64 { return float64(d.raft.CommitIndex()) }),
		gauge("strata_raft_applied_index", "Last log index applied to the state machine.", func() float64 { return float64(d.raft.AppliedIndex()) }),
		gauge("strata_raft_last_log_index", "Last index in the local raft log.", func() float64 { return float64(d.raft.LastIndex()) }),
		gauge("strata_federation_members", "Raft servers in the configuration.", func() float64 {
			f := d.raft.GetConfiguration()
			if f.Error() != nil {
				return 0
			}
			return float64(len(f.Configuration().Servers))
		}),
		gauge("strata_transport_peers", "Open QUIC connections to peers.", func() float64 { return float64(len(d.tr.Peers())) }),
	)
	return m
}
