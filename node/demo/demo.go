package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/analytics/segment"
	"github.com/strata-fed/strata/node/fedjobs"
	"github.com/strata-fed/strata/node/report"
	"github.com/strata-fed/strata/node/synth"
)

// Defaults of Options.
const (
	// DefaultUsers is the synthetic population: three sites of 55,000 to
	// 70,000 users; the whole demo takes about 5 s on a quiet 2-core
	// machine.
	DefaultUsers = 100_000
	// DefaultEpsilon and DefaultDelta are the run's privacy cost.
	DefaultEpsilon = 1.0
	DefaultDelta   = 1e-6
	// DefaultBudgetEpsilon and DefaultBudgetDelta are the dataset's total
	// budget, set in the log before the run: twice the run's ε. The jobs
	// split the run's (ε, δ) in zCDP and the ledger composes its charges in
	// zCDP too, so a run at ε = 1 spends at most ε = 1 of it.
	DefaultBudgetEpsilon = 2.0
	DefaultBudgetDelta   = 1e-5
	// DefaultRuleSet is the segment rule set.
	DefaultRuleSet = "rfm11"
	// DefaultK is the number of k-means clusters.
	DefaultK = 5
	// DefaultTimeout bounds each wait for the federation (leader, data
	// analysed, outputs written).
	DefaultTimeout = 5 * time.Minute
)

// Options configure Run and RunCentralized. Zero values mean the
// defaults.
type Options struct {
	// Dir holds everything the run writes: data, certificates, configs,
	// raft logs, outputs, node logs. Created if missing. Default: a new
	// temporary directory (kept after the run, and printed).
	Dir string
	// Users is the synthetic population (synth.Config.Users: each site
	// holds about 55–70% of it). Default DefaultUsers. Ignored with Data.
	Users int
	// Seed of the synthetic data and of k-means. Every value is a seed.
	Seed uint64
	// Data, if set, are three standard-schema transaction files, one per
	// site, used instead of synthetic data.
	Data []string
	// AsOf is every site's as-of date (ISO-8601). Default: the day after
	// the synthetic period; with Data, each site's last purchase + 1 day.
	AsOf string
	// Epsilon and Delta are the run's privacy cost. Defaults DefaultEpsilon,
	// DefaultDelta.
	Epsilon, Delta float64
	// BudgetEpsilon and BudgetDelta are the dataset's total budget.
	// Defaults DefaultBudgetEpsilon, DefaultBudgetDelta.
	BudgetEpsilon, BudgetDelta float64
	// DPOff runs with DP disabled federation-wide (the log's test switch;
	// the demo's configs then set allow_dp_off). Results are exact.
	DPOff bool
	// RuleSet is a segment preset (value-tiers, rfm8, rfm11). Default
	// DefaultRuleSet.
	RuleSet string
	// K is the number of k-means clusters. Default DefaultK.
	K int
	// Timeout bounds each wait for the federation. Default DefaultTimeout.
	Timeout time.Duration
	// Out receives the report summary and the timing table; Progress the
	// progress lines. nil discards.
	Out, Progress io.Writer
	// LogLevel of the node logs (DIR/<site>/node.log). Default info.
	LogLevel slog.Level

	// heParams names the key's HE parameter set ("" = the federation's
	// default); tests use the insecure, fast test set. kmeansMaxIter
	// bounds the Lloyd rounds (0 = the jobs' default).
	heParams      string
	kmeansMaxIter int
}

func (o Options) withDefaults() (Options, error) {
	if o.Users == 0 {
		o.Users = DefaultUsers
	}
	if o.Epsilon == 0 {
		o.Epsilon = DefaultEpsilon
	}
	if o.Delta == 0 {
		o.Delta = DefaultDelta
	}
	if o.BudgetEpsilon == 0 {
		o.BudgetEpsilon = DefaultBudgetEpsilon
	}
	if o.BudgetDelta == 0 {
		o.BudgetDelta = DefaultBudgetDelta
	}
	if o.RuleSet == "" {
		o.RuleSet = DefaultRuleSet
	}
	if o.K == 0 {
		o.K = DefaultK
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Users < 1 {
		return o, fmt.Errorf("users %d: want at least 1: %w", o.Users, ErrOptions)
	}
	if !o.DPOff && (o.Epsilon > o.BudgetEpsilon || o.Delta > o.BudgetDelta) {
		return o, fmt.Errorf("the run's ε=%g, δ=%g exceed the budget ε=%g, δ=%g: %w", o.Epsilon, o.Delta, o.BudgetEpsilon, o.BudgetDelta, ErrOptions)
	}
	if !(o.Epsilon > 0) || !(o.Delta > 0 && o.Delta < 1) {
		return o, fmt.Errorf("ε=%g, δ=%g: want ε > 0 and 0 < δ < 1: %w", o.Epsilon, o.Delta, ErrOptions)
	}
	if _, err := segment.Preset(o.RuleSet); err != nil {
		return o, fmt.Errorf("rule set %q: %w: %w", o.RuleSet, err, ErrOptions)
	}
	if o.K < 1 || o.K > 8 {
		return o, fmt.Errorf("k %d: want 1..8 (a k-means round's parameters must fit the log): %w", o.K, ErrOptions)
	}
	return o, nil
}

// SiteOutput is what one site wrote for the committed model.
type SiteOutput struct {
	Site, Channel string
	// Users is the site's number of users; AnalysisSeconds the wall time
	// of its local analysis.
	Users           int
	AnalysisSeconds float64
	// OutDir is the model version's output directory; Audiences its
	// audience files (one per segment, relative to OutDir) and sizes.
	OutDir    string
	Audiences []admin.SegmentSize
}

// Result is what a run did.
type Result struct {
	// Dir is the run's directory.
	Dir string
	// Sites are the federation's members (or, centralized, the input
	// files) in order.
	Sites []Site
	// Truth is the synthetic data set's ground truth (zero with Data).
	Truth synth.Truth
	// Report is the cross-channel report (of the committed model, as the
	// nodes serve it), HTML its page.
	Report *report.Report
	HTML   string
	// Outputs are the sites' labelling outputs.
	Outputs []SiteOutput
	// Model is the committed model's version; Jobs the coordinator's
	// results (thresholds, k-means, ...).
	Version uint64
	Jobs    *jobs.Result
	// Phases are the timed steps in order; Total and TotalCPU the wall and
	// CPU time of the whole run.
	Phases          []Phase
	Total, TotalCPU float64
	// KeyLog is the SSLKEYLOGFILE the nodes wrote TLS secrets to ("" when
	// unset).
	KeyLog string
}

// Run runs the whole pipeline on a demo federation of three in-process
// nodes (see the package doc) and prints the report and timings to
// opt.Out. Every goroutine it starts has exited when it returns; the
// directory stays.
func Run(ctx context.Context, opt Options) (*Result, error) {
	r, err := newRun(ctx, opt)
	if err != nil {
		return nil, err
	}
	if err := r.federate(ctx); err != nil {
		return nil, err
	}
	return r.finish("federated")
}

// run is one execution of the demo or of its centralized baseline.
type run struct {
	opt   Options
	res   *Result
	clock clock
	pr    func(format string, args ...any)
	start mark
}

// newRun checks the options (and the --data files) before anything is
// created, makes the run's directory and generates the synthetic data
// unless files were given.
func newRun(ctx context.Context, opt Options) (*run, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &run{opt: opt, res: &Result{}, pr: progressf(opt.Progress), start: mark{time.Now(), cpuTime()}}
	if len(opt.Data) > 0 {
		if r.res.Sites, err = dataSites(ctx, opt.Data); err != nil {
			return nil, err
		}
	}
	if r.res.Dir, err = makeDir(opt.Dir); err != nil {
		return nil, err
	}
	r.pr("directory %s", r.res.Dir)
	if r.res.Sites != nil {
		return r, nil
	}
	r.pr("generating synthetic data: %d users over three channels", opt.Users)
	err = r.clock.time("generate data", func() (err error) {
		r.res.Sites, r.res.Truth, err = generate(opt.Users, opt.Seed, r.res.Dir)
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.opt.AsOf == "" {
		// The day after the synthetic period, for every site.
		r.opt.AsOf = synth.DefaultStart.AddDate(0, 0, synth.DefaultDays).Format(time.DateOnly)
	}
	return r, nil
}

// step runs f as a timed phase, with the run's timeout.
func (r *run) step(ctx context.Context, name string, f func(ctx context.Context) error) error {
	return r.clock.time(name, func() error {
		ctx, cancel := context.WithTimeout(ctx, r.opt.Timeout)
		defer cancel()
		return f(ctx)
	})
}

// finish records the phases and totals and prints the result.
func (r *run) finish(title string) (*Result, error) {
	r.res.Phases = r.clock.list()
	r.res.Total, r.res.TotalCPU = time.Since(r.start.t).Seconds(), (cpuTime() - r.start.cpu).Seconds()
	return r.res, r.res.print(r.opt.Out, title)
}

// federate runs the federated pipeline: certificates and configs, three
// nodes, key set-up, budget, the sites' local analysis, the coordinator,
// every site's labelling and export, the report; then stops the nodes.
func (r *run) federate(ctx context.Context) error {
	opt, res := r.opt, r.res
	res.KeyLog = os.Getenv("SSLKEYLOGFILE")
	var cl *cluster
	err := r.clock.time("certificates and configs", func() (err error) {
		cl, err = writeFederation(res.Dir, res.Sites, setupOptions{allowDPOff: opt.DPOff, asOf: opt.AsOf})
		return err
	})
	if err != nil {
		return err
	}
	if res.KeyLog != "" {
		r.pr("SSLKEYLOGFILE is set: every node appends its TLS secrets to %s (decrypt captures with tshark -o tls.keylog_file:%s)", res.KeyLog, res.KeyLog)
	}
	r.pr("starting 3 nodes on loopback (logs in %s)", filepath.Join(res.Dir, "<site>", "node.log"))
	if err := cl.start(ctx, opt.LogLevel); err != nil {
		return err
	}
	defer cl.stop()
	if err := r.step(ctx, "start 3 nodes: leader, membership", cl.waitFormed); err != nil {
		return err
	}
	client := cl.client()
	r.pr("federation formed; dealerless 2-of-3 threshold key set-up (the sites analyse their data meanwhile)")
	err = r.step(ctx, "key set-up 2-of-3", func(ctx context.Context) error {
		if _, err := client.StartKeySetup(ctx, 2, opt.heParams); err != nil {
			return fmt.Errorf("key set-up: %w", err)
		}
		return cl.waitKeys(ctx)
	})
	if err != nil {
		return err
	}
	err = r.step(ctx, "budget and settings", func(ctx context.Context) error {
		if opt.DPOff {
			if err := cl.setSetting(ctx, "dp_disabled", "true"); err != nil {
				return fmt.Errorf("turn DP off: %w", err)
			}
		}
		if _, err := client.SetBudget(ctx, fedjobs.DefaultDataset, opt.BudgetEpsilon, opt.BudgetDelta); err != nil {
			return fmt.Errorf("budget: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}

	// The daemons have been reading their files since they started.
	var acts []admin.Activation
	err = r.step(ctx, "local analysis (rest of the wait)", func(ctx context.Context) (err error) {
		acts, err = cl.waitData(ctx, r.pr)
		return err
	})
	if err != nil {
		return err
	}
	for _, a := range acts {
		r.clock.add(Phase{Name: "  analysis at " + a.Site + " (in parallel)", Seconds: a.AnalysisSeconds})
	}

	r.pr("segmentation over threshold-encrypted secure sums (%s)", privacyText(opt))
	seg, err := coordinate(ctx, client, fedjobs.SegmentOptions{Jobs: jobsOptions(opt, res.Sites)}, &r.clock, r.pr)
	if err != nil {
		return err
	}
	res.Jobs, res.Version = seg.Jobs, seg.Version

	r.pr("model v%d committed; waiting for every site to label its users and write its audiences", res.Version)
	err = r.step(ctx, "labelling and export (all sites)", func(ctx context.Context) (err error) {
		acts, err = cl.waitActivation(ctx, res.Version)
		return err
	})
	if err != nil {
		return err
	}
	for _, a := range acts {
		res.Outputs = append(res.Outputs, SiteOutput{Site: a.Site, Channel: a.Channel, Users: a.Users,
			AnalysisSeconds: a.AnalysisSeconds, OutDir: a.OutDir, Audiences: a.Segments})
	}
	err = r.step(ctx, "report", func(ctx context.Context) (err error) {
		res.Report, err = client.Report(ctx)
		return err
	})
	if err != nil {
		return err
	}
	res.HTML = filepath.Join(res.Outputs[0].OutDir, report.HTMLFile)
	return r.clock.time("stop 3 nodes", cl.stop)
}

// jobsOptions are the coordinator's options for a run.
func jobsOptions(opt Options, sites []Site) jobs.Options {
	o := jobs.Options{
		RuleSet: segmodel.RuleSetRef{Preset: opt.RuleSet},
		KMeans:  jobs.KMeansOptions{K: opt.K, Seed: opt.Seed, MaxIter: opt.kmeansMaxIter},
	}
	if !opt.DPOff {
		o.Privacy = jobs.Privacy{Epsilon: opt.Epsilon, Delta: opt.Delta}
	}
	for _, s := range sites {
		o.Channels = append(o.Channels, s.Channel)
	}
	return o
}

func privacyText(opt Options) string {
	if opt.DPOff {
		return "DP OFF: exact releases, test setting"
	}
	return fmt.Sprintf("DP on, ε = %g, δ = %g", opt.Epsilon, opt.Delta)
}

// makeDir creates dir, or a new temporary directory when dir is empty,
// and returns its absolute path.
func makeDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "strata-demo-")
		if err != nil {
			return "", fmt.Errorf("demo directory: %w", err)
		}
		return d, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("demo directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("demo directory: %w", err)
	}
	return abs, nil
}

// progressf returns a printf to w that prefixes "demo: " and ends lines.
func progressf(w io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(w, "demo: "+strings.TrimRight(format, "\n")+"\n", args...)
	}
}

// print writes the report summary, where the outputs are, and the timings.
func (r *Result) print(w io.Writer, title string) error {
	var errs []error
	if r.Report != nil {
		errs = append(errs, printReport(w, r.Report))
	}
	fmt.Fprintln(w)
	if r.HTML != "" {
		fmt.Fprintf(w, "HTML report: %s\n", r.HTML)
	}
	if len(r.Outputs) > 0 {
		fmt.Fprintln(w, "Audiences (each site's own user ids, one CSV per segment; labels.csv beside them):")
		for _, o := range r.Outputs {
			fmt.Fprintf(w, "  %-14s %9s users  %s\n", o.Site, group(int64(o.Users)), filepath.Join(o.OutDir, "audiences"))
		}
	}
	if r.Jobs != nil && r.Jobs.Model.Privacy.DP && r.Report != nil {
		p := r.Jobs.Model.Privacy
		fmt.Fprintf(w, "The model's own cost (the jobs' zCDP split): ε %.4g, δ %.3g (ρ %.4g); the ledger (%s composition) charged ε %.4g, δ %.3g for its %d rounds.\n",
			p.Epsilon, p.Delta, p.Rho, r.Report.Budget.Composition, r.Report.Budget.SpentEpsilon, r.Report.Budget.SpentDelta, len(r.Report.Budget.Charges))
	}
	if r.KeyLog != "" {
		fmt.Fprintf(w, "TLS secrets of every node's QUIC connections were appended to SSLKEYLOGFILE=%s\n", r.KeyLog)
	}
	fmt.Fprintln(w)
	errs = append(errs, printPhases(w, title, r.Phases, r.Total, r.TotalCPU))
	return errors.Join(errs...)
}
