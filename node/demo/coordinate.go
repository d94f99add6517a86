package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/fedjobs"
)

// coordinate runs the segmentation coordinator (fedjobs.Segment: every job
// over the federation's secure sums, then the model commit) and records
// its phases: one per job with its number of rounds, then the commit. A
// job's phase runs from the end of the previous job's last round (the
// coordinator's own work between rounds included) to the end of its own
// last round.
func coordinate(ctx context.Context, client *admin.Client, opt fedjobs.SegmentOptions, c *clock, pr func(string, ...any)) (*fedjobs.SegmentResult, error) {
	ph := newJobPhases(c, pr)
	opt.Progress = func(p fedjobs.RoundProgress) { ph.round(p.Job, p.Statistic+", round "+p.Round) }
	res, err := fedjobs.Segment(ctx, client, opt)
	if err != nil {
		return nil, err
	}
	ph.flush()
	done := mark{time.Now(), cpuTime()}
	c.add(Phase{Name: "model commit", Seconds: done.t.Sub(ph.last.t).Seconds(), CPU: (done.cpu - ph.last.cpu).Seconds()})
	if res.Version == 0 {
		return nil, fmt.Errorf("segmentation: committed no model version: %w", ErrOutput)
	}
	return res, nil
}

// mark is a point in wall and CPU time.
type mark struct {
	t   time.Time
	cpu time.Duration
}
