package fedjobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/report"
)

// Keys implements KeyLister through the admin API (GET /v1/keys on the
// first node that answers), so a Summer over a ClientRunner derives MaxAbs
// from the active key. Without a Client, or if no node answers within
// 30 s, it returns nil, and Summer reports that it found no active key;
// Segment checks the key first, with the real error.
func (c ClientRunner) Keys() []securesum.KeyInfo {
	if c.Client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, err := c.Client.Keys(ctx)
	if err != nil {
		return nil
	}
	return k
}

// SegmentOptions configures Segment. Zero values mean the defaults.
type SegmentOptions struct {
	// Jobs configures the federated jobs (privacy budget, rule set,
	// k-means, CLV, channels). Zero Jobs.Privacy means DP off, which the
	// federation must allow (dp_disabled, and every site's allow_dp_off).
	// Jobs.Channels should name every site's channel (data.channel in its
	// config) to get the segment × channel table.
	Jobs jobs.Options
	// Dataset is the ledger the rounds are charged to; "" = DefaultDataset.
	Dataset string
	// Participants restricts every round to these sites; nil = every holder
	// of the active key. Every participant must contribute to every round:
	// a round some participant skipped fails the run with ErrIncomplete.
	Participants []string
	// RoundTimeout bounds each round; 0 = one minute.
	RoundTimeout time.Duration
	// Progress, if set, is called after each round, on the goroutine that
	// called Segment.
	Progress func(RoundProgress)
}

// RoundProgress describes one finished round of a Segment run.
type RoundProgress struct {
	// Job is the job the round belongs to (thresholds, means, k-means, clv,
	// channels), Statistic its statistic, Round its id in the log.
	Job, Statistic, Round string
	// N is the number of rounds run so far, Seconds this round's wall time.
	N       int
	Seconds float64
	// Epsilon is what the round was charged.
	Epsilon float64
}

// SegmentResult is the outcome of a Segment run.
type SegmentResult struct {
	// Jobs is everything the jobs released and the model they built.
	Jobs *jobs.Result
	// Version and ContentHash identify the committed model in the log.
	Version     uint64
	ContentHash string
	// Rounds are the ids of the rounds the model was computed from, in
	// order; the commit records them.
	Rounds []string
	// Phases are the wall times per job, then "commit"; Seconds is the
	// whole run.
	Phases  []report.Phase
	Seconds float64
}

// Segment is the coordinator of a federated segmentation run, from any
// process that reaches the federation's admin APIs: it checks that an
// active key exists, runs jobs.Run over a Summer whose rounds go through c
// (every participant must contribute to every round), and commits the
// model with the ids of all its rounds (POST /v1/models). Each site's
// daemon then labels its own users with it.
func Segment(ctx context.Context, c *admin.Client, opt SegmentOptions) (*SegmentResult, error) {
	t0 := time.Now()
	keys, err := c.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("segment: list keys: %w", err)
	}
	var key *securesum.KeyInfo
	for _, k := range keys {
		if k.Status == "active" {
			key = &k
		}
	}
	if key == nil {
		return nil, fmt.Errorf("segment: the federation has no active key (run `strata keys init` first): %w", ErrConfig)
	}
	want := opt.Participants
	if want == nil {
		want = key.Participants
	}
	for _, p := range want {
		if !slices.Contains(key.Participants, p) {
			return nil, fmt.Errorf("segment: participant %q does not hold a share of key epoch %d (%v): %w", p, key.Epoch, key.Participants, ErrConfig)
		}
	}
	sum := &Summer{Runner: ClientRunner{Client: c, Timeout: opt.RoundTimeout}, Dataset: opt.Dataset, Participants: opt.Participants}
	obs := &observer{sum: sum, want: want, progress: opt.Progress, start: time.Now()}
	res, err := jobs.Run(ctx, obs, opt.Jobs)
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	model, err := res.Model.Encode()
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	out := &SegmentResult{Jobs: res, Rounds: obs.ids()}
	tc := time.Now()
	if out.Version, out.ContentHash, err = c.CommitModel(ctx, model, out.Rounds); err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	out.Phases = append(obs.phases(), report.Phase{Name: "commit", Seconds: time.Since(tc).Seconds()})
	out.Seconds = time.Since(t0).Seconds()
	return out, nil
}

// JobOf maps a jobs statistic to its job's name.
func JobOf(statistic string) string {
	switch {
	case statistic == "rfm.hist":
		return "thresholds"
	case statistic == "rfm.sums":
		return "means"
	case strings.HasPrefix(statistic, "km."):
		return "k-means"
	case strings.HasPrefix(statistic, "clv."):
		return "clv"
	case statistic == jobs.StatChannels:
		return "channels"
	}
	return statistic
}

// observer is the jobs.Summer of a Segment run: it forwards to the Summer,
// checks that every wanted site contributed, times the jobs and reports
// progress. The jobs call it sequentially.
type observer struct {
	sum      *Summer
	want     []string
	progress func(RoundProgress)
	start    time.Time

	mu     sync.Mutex
	rounds []string
	jobs   []report.Phase
}

func (o *observer) Sum(ctx context.Context, q jobs.Query) ([]int64, error) {
	t0 := time.Now()
	v, err := o.sum.Sum(ctx, q)
	if err != nil {
		return nil, err
	}
	rs := o.sum.Rounds()
	res := rs[len(rs)-1]
	var missing []string
	for _, s := range o.want {
		if !slices.Contains(res.Contributors, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("round %s (%s): %v did not contribute (site data not ready or not configured? see GET /v1/activation and the site's log): %w",
			res.RoundID, q.Statistic, missing, ErrIncomplete)
	}
	secs := time.Since(t0).Seconds()
	job := JobOf(q.Statistic)
	o.mu.Lock()
	o.rounds = append(o.rounds, res.RoundID)
	if n := len(o.jobs); n > 0 && o.jobs[n-1].Name == job {
		o.jobs[n-1].Seconds += secs
	} else {
		o.jobs = append(o.jobs, report.Phase{Name: job, Seconds: secs})
	}
	n := len(o.rounds)
	o.mu.Unlock()
	if o.progress != nil {
		o.progress(RoundProgress{Job: job, Statistic: q.Statistic, Round: res.RoundID, N: n, Seconds: secs, Epsilon: res.Charged.Epsilon})
	}
	return v, nil
}

func (o *observer) ids() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.rounds)
}

func (o *observer) phases() []report.Phase {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.jobs)
}

// WaitDataReady polls GET /v1/activation on each address until its site's
// data is ready (or it has none) and returns the sites' activations, in
// addrs order. It fails if a site's analysis failed or ctx ends first.
// progress, if set, is called while a site is still analysing.
func WaitDataReady(ctx context.Context, addrs []string, progress func(addr string, a admin.Activation)) ([]admin.Activation, error) {
	out := make([]admin.Activation, 0, len(addrs))
	for _, addr := range addrs {
		c := &admin.Client{Addrs: []string{addr}}
		for {
			a, err := c.Activation(ctx)
			if err != nil {
				return nil, fmt.Errorf("data of %s: %w", addr, err)
			}
			if a.Data == admin.DataFailed {
				return nil, fmt.Errorf("data of site %s (%s): %s: %w", a.Site, addr, a.Error, ErrConfig)
			}
			if a.Data == admin.DataReady || a.Data == admin.DataNone {
				out = append(out, a)
				break
			}
			if progress != nil {
				progress(addr, a)
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("data of site %s (%s) not ready: %w", a.Site, addr, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return out, nil
}
