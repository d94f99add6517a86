package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/node/fedjobs"
)

// Phase is one step of a run: its wall time and the CPU time the whole
// process (every in-process node, or the centralized run) used meanwhile.
// Phases are listed in the order they ran; Rounds counts the secure sums
// of a job (0 for other phases). CPU is 0 where it was not measured (a
// site's analysis, which overlaps other phases).
type Phase struct {
	Name         string
	Seconds, CPU float64
	Rounds       int
}

// clock records phases in order.
type clock struct {
	mu     sync.Mutex
	phases []Phase
}

// time runs f as the phase name and records its wall time.
func (c *clock) time(name string, f func() error) error {
	t0, cpu0 := time.Now(), cpuTime()
	err := f()
	c.add(Phase{Name: name, Seconds: time.Since(t0).Seconds(), CPU: (cpuTime() - cpu0).Seconds()})
	return err
}

func (c *clock) add(p Phase) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.phases = append(c.phases, p)
}

func (c *clock) list() []Phase {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Phase(nil), c.phases...)
}

// jobPhases turns the rounds of a segmentation run, reported as each
// ends, into one phase per job ("job: k-means", ...): a job's phase runs
// from the end of the previous job's last round (or from newJobPhases) to
// the end of its own last round, so the coordinator's own work between
// rounds counts towards it. Not safe for concurrent use; the jobs run
// their rounds sequentially.
type jobPhases struct {
	clock    *clock
	progress func(format string, args ...any)

	cur         Phase
	begin, last mark
	lastLine    time.Time
}

func newJobPhases(c *clock, progress func(string, ...any)) *jobPhases {
	now := mark{time.Now(), cpuTime()}
	return &jobPhases{clock: c, progress: progress, begin: now, last: now, lastLine: now.t}
}

// round records that a round of job has ended; detail names it in the
// progress lines (one per job, and one every 5 s of a long job).
func (j *jobPhases) round(job, detail string) {
	now := mark{time.Now(), cpuTime()}
	if name := "job: " + job; name != j.cur.Name {
		j.flush()
		j.cur, j.begin = Phase{Name: name}, j.last
		j.progress("%s", name)
		j.lastLine = now.t
	}
	j.cur.Rounds++
	j.last = now
	if now.t.Sub(j.lastLine) > 5*time.Second {
		j.lastLine = now.t
		j.progress("%s: %d rounds so far (%s)", j.cur.Name, j.cur.Rounds, detail)
	}
}

// flush records the current job's phase.
func (j *jobPhases) flush() {
	if j.cur.Name == "" {
		return
	}
	j.cur.Seconds, j.cur.CPU = j.last.t.Sub(j.begin.t).Seconds(), (j.last.cpu - j.begin.cpu).Seconds()
	j.clock.add(j.cur)
	j.cur = Phase{}
}

// timedSummer is a jobs.Summer that records its queries' phases.
type timedSummer struct {
	jobs.Summer
	phases *jobPhases
}

// Sum implements jobs.Summer.
func (s timedSummer) Sum(ctx context.Context, q jobs.Query) ([]int64, error) {
	v, err := s.Summer.Sum(ctx, q)
	s.phases.round(fedjobs.JobOf(q.Statistic), q.Statistic)
	return v, err
}

// printPhases writes a table of phases and the run's totals.
func printPhases(w io.Writer, title string, phases []Phase, total, totalCPU float64) error {
	nameW := len(title)
	for _, p := range phases {
		nameW = max(nameW, utf8.RuneCountInString(p.Name))
	}
	var b strings.Builder
	pad := func(s string) string { return s + strings.Repeat(" ", nameW-utf8.RuneCountInString(s)) }
	opt := func(v float64, format string) string {
		if v == 0 {
			return ""
		}
		return fmt.Sprintf(format, v)
	}
	fmt.Fprintf(&b, "%s  %8s  %8s  %6s\n", pad(title), "wall s", "CPU s", "rounds")
	for _, p := range phases {
		fmt.Fprintf(&b, "%s  %8.2f  %8s  %6s\n", pad(p.Name), p.Seconds, opt(p.CPU, "%.2f"), opt(float64(p.Rounds), "%.0f"))
	}
	fmt.Fprintf(&b, "%s  %8.2f  %8s\n", pad("total"), total, opt(totalCPU, "%.2f"))
	_, err := io.WriteString(w, b.String())
	return err
}
