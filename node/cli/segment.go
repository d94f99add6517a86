package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/analytics/segment"
	"github.com/strata-fed/strata/node/fedjobs"
	"github.com/strata-fed/strata/node/report"
)

type segmentFlags struct {
	af             adminFlags
	epsilon, delta float64
	dpOff          bool
	ruleSet        string
	k, maxIter     int
	seed           uint64
	clvMode        string
	channels       []string
	participants   []string
	out            string
	noWait         bool
}

func newSegmentCmd() *cobra.Command {
	var f segmentFlags
	cmd := &cobra.Command{
		Use:   "segment --admin URL[,URL...] (--epsilon E [--delta D] | --dp-off)",
		Short: "Run the federated cross-channel segmentation and commit its model",
		Long: `Segment coordinates one federated segmentation run from this process: global
R/F/M score thresholds, the means and medians the rule set compares against,
k-means centroids, BG/NBD and Gamma-Gamma lifetime-value parameters, and the
segment x channel counts, each computed from threshold-encrypted, DP-noised
sums of the sites' own data (the data: section of each node's config). The
merged model is then committed to the federation's log; every site labels
its own users with it and writes model-v<N>/{labels.csv,audiences/,report.*}
under its data.out directory. Nothing per-user leaves a site.

The privacy budget is charged to the ledger of the dataset the sites bind
their data to ("segmentation"), which must exist:
  strata budget set --dataset segmentation --epsilon 2 --delta 1e-5
--dp-off runs without noise and without charge; the federation must have
dp_disabled set and every site must allow it (test federations only).

Give every node's admin URL: the command waits until each site's data is
analysed, takes the channels from their configs unless --channels is set,
and requires every key holder (or --participants) to contribute to every
round. Progress goes to stderr, the report summary to stdout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSegment(cmd, &f) },
	}
	f.af.register(cmd)
	fl := cmd.Flags()
	fl.Float64Var(&f.epsilon, "epsilon", 0, "total privacy budget ε of the run (split between the jobs)")
	fl.Float64Var(&f.delta, "delta", 1e-6, "total δ of the run")
	fl.BoolVar(&f.dpOff, "dp-off", false, "no DP noise and no charge (needs the federation's dp_disabled setting)")
	fl.StringVar(&f.ruleSet, "rule-set", "rfm11", "segment rule set: a preset ("+strings.Join(segment.PresetNames(), ", ")+") or a YAML file")
	fl.IntVar(&f.k, "k", 5, "number of k-means clusters (at most 8)")
	fl.IntVar(&f.maxIter, "max-iter", 0, "k-means Lloyd rounds at most (0 = 300 with DP off, 5 with DP on)")
	fl.Uint64Var(&f.seed, "seed", 1, "k-means++ seed")
	fl.StringVar(&f.clvMode, "clv", "auto", "lifetime-value fit: auto (exact with --dp-off, else grid), grid, exact, or off")
	fl.StringSliceVar(&f.channels, "channels", nil, "channels of the segment x channel table (default: each site's data.channel)")
	fl.StringSliceVar(&f.participants, "participants", nil, "sites that must contribute to every round (default: every key holder)")
	fl.StringVar(&f.out, "out", "", "also write the report (report.json, report.html) to this directory")
	fl.BoolVar(&f.noWait, "no-wait", false, "do not wait for the sites' data to be analysed")
	return cmd
}

func runSegment(cmd *cobra.Command, f *segmentFlags) error {
	opt, err := f.options()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.af.timeout)
	defer cancel()
	errOut, out := cmd.ErrOrStderr(), cmd.OutOrStdout()
	c := f.af.client()
	if !f.noWait {
		said := map[string]bool{}
		acts, err := fedjobs.WaitDataReady(ctx, f.af.addrs, func(addr string, a admin.Activation) {
			if !said[addr] {
				said[addr] = true
				fmt.Fprintf(errOut, "waiting for %s to analyse %s (%d rows read)...\n", a.Site, a.File, a.RowsRead)
			}
		})
		if err != nil {
			return fmt.Errorf("segment: %w", err)
		}
		if len(opt.Jobs.Channels) == 0 {
			for _, a := range acts {
				if a.Data == admin.DataReady && !slices.Contains(opt.Jobs.Channels, a.Channel) {
					opt.Jobs.Channels = append(opt.Jobs.Channels, a.Channel)
				}
			}
		}
	}
	opt.Progress = func(p fedjobs.RoundProgress) {
		fmt.Fprintf(errOut, "round %-4s %-10s %-11s %6.2fs  ε=%.4g\n", p.Round, p.Job, p.Statistic, p.Seconds, p.Epsilon)
	}
	res, err := fedjobs.Segment(ctx, c, opt)
	if err != nil {
		return err
	}
	rep, err := awaitReport(ctx, c, res.Version)
	if err != nil {
		return err
	}
	rep.DurationSeconds, rep.Phases = res.Seconds, res.Phases
	if f.af.json {
		if err := report.WriteJSON(out, rep); err != nil {
			return err
		}
	} else if err := printSegmentSummary(out, res, rep); err != nil {
		return err
	}
	if f.out != "" {
		htmlPath, jsonPath, err := report.Save(f.out, rep)
		if err != nil {
			return err
		}
		fmt.Fprintf(errOut, "wrote %s and %s\n", htmlPath, jsonPath)
	}
	return nil
}

// options turns the flags into Segment's options.
func (f *segmentFlags) options() (fedjobs.SegmentOptions, error) {
	opt := fedjobs.SegmentOptions{Participants: f.participants}
	switch {
	case f.dpOff && f.epsilon != 0:
		return opt, usagef("give either --epsilon or --dp-off, not both")
	case !f.dpOff && f.epsilon == 0:
		return opt, usagef("give a privacy budget --epsilon E (with --delta D), or --dp-off on a test federation")
	case !f.dpOff:
		opt.Jobs.Privacy = jobs.Privacy{Epsilon: f.epsilon, Delta: f.delta}
		if err := opt.Jobs.Privacy.Validate(); err != nil {
			return opt, usagef("--epsilon %v --delta %v: want ε > 0 and 0 < δ < 1", f.epsilon, f.delta)
		}
	}
	rs, err := ruleSetRef(f.ruleSet)
	if err != nil {
		return opt, err
	}
	opt.Jobs.RuleSet = rs
	if f.k < 1 || f.k > 8 {
		return opt, usagef("--k %d: want 1..8 (the log bounds a round's parameters)", f.k)
	}
	if f.maxIter < 0 {
		return opt, usagef("--max-iter %d: want ≥ 0", f.maxIter)
	}
	opt.Jobs.KMeans = jobs.KMeansOptions{K: f.k, MaxIter: f.maxIter, Seed: f.seed}
	switch f.clvMode {
	case "auto":
	case "grid":
		opt.Jobs.CLV.Grid = true
	case "exact":
		if !f.dpOff {
			return opt, usagef("--clv exact needs --dp-off (with DP the fit is always on the grid)")
		}
	case "off":
		opt.Jobs.SkipCLV = true
	default:
		return opt, usagef("--clv %q: want auto, grid, exact or off", f.clvMode)
	}
	opt.Jobs.Channels = f.channels
	return opt, nil
}

// ruleSetRef resolves --rule-set: a preset name, else a YAML file.
func ruleSetRef(v string) (segmodel.RuleSetRef, error) {
	if slices.Contains(segment.PresetNames(), v) {
		return segmodel.RuleSetRef{Preset: v}, nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return segmodel.RuleSetRef{}, usagef("--rule-set %q is neither a preset (%s) nor a file", v, strings.Join(segment.PresetNames(), ", "))
		}
		return segmodel.RuleSetRef{}, fmt.Errorf("--rule-set: %w", err)
	}
	if _, err := segment.ParseRuleSet(b); err != nil {
		return segmodel.RuleSetRef{}, fmt.Errorf("--rule-set %s: %w", v, err)
	}
	return segmodel.RuleSetRef{YAML: string(b)}, nil
}

// awaitReport fetches the report of the committed version (a follower may
// serve it a moment after the leader committed).
func awaitReport(ctx context.Context, c *admin.Client, version uint64) (*report.Report, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := c.Report(ctx)
		if err == nil && r.Model.Version >= version {
			return r, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("the nodes serve the report of model v%d, not v%d yet", r.Model.Version, version)
			}
			return nil, fmt.Errorf("segment: model v%d committed, but: %w", version, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// printSegmentSummary prints the committed model, the DP segment × channel
// counts, the cut points and the budget.
func printSegmentSummary(w io.Writer, res *fedjobs.SegmentResult, r *report.Report) error {
	fmt.Fprintf(w, "model v%d committed (sha256 %s) from %d rounds in %.1fs\n", res.Version, short(res.ContentHash), len(res.Rounds), res.Seconds)
	var ph []string
	for _, p := range res.Phases {
		ph = append(ph, fmt.Sprintf("%s %.2fs", p.Name, p.Seconds))
	}
	fmt.Fprintf(w, "  %s\n", strings.Join(ph, " · "))
	if pr := res.Jobs.Model.Privacy; pr.DP {
		rho, eps := jobs.Spent(res.Jobs.Costs, pr.Delta)
		fmt.Fprintf(w, "privacy cost of the run (zCDP, all jobs): ε=%.4g at δ=%.3g, ρ=%.4g\n", eps, pr.Delta, rho)
	} else {
		fmt.Fprintln(w, "DP OFF: nothing was noised or charged (test federations only)")
	}
	th := r.Model.Thresholds
	fmt.Fprintf(w, "rule set %s; score cut points: recency_days %v, frequency %v, monetary %v\n", r.Model.RuleSet,
		th.RecencyDays, th.Frequency, th.Monetary)
	if len(r.Channels) > 0 {
		kind := "DP user counts"
		if r.Budget.NoiseOff {
			kind = "exact user counts: DP OFF"
		}
		fmt.Fprintf(w, "\nsegment x channel (%s)\n", kind)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "segment\t")
		for _, ch := range r.Channels {
			fmt.Fprintf(tw, "%s\t", ch.Name)
		}
		fmt.Fprint(tw, "total\t\n")
		for _, s := range r.Segments {
			fmt.Fprintf(tw, "%s\t", s.Name)
			var t int64
			for _, c := range s.Cells {
				fmt.Fprintf(tw, "%d\t", c.Users)
				t += c.Users
			}
			fmt.Fprintf(tw, "%d\t\n", t)
		}
		fmt.Fprint(tw, "all\t")
		var t int64
		for _, ch := range r.Channels {
			fmt.Fprintf(tw, "%d\t", ch.Users)
			t += ch.Users
		}
		fmt.Fprintf(tw, "%d\t\n", t)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	b := r.Budget
	if b.Epsilon > 0 {
		fmt.Fprintf(w, "\nbudget %s: spent ε=%.4g δ=%.3g of ε=%.4g δ=%.3g, left ε=%.4g δ=%.3g (%s)\n", r.Federation,
			b.SpentEpsilon, b.SpentDelta, b.Epsilon, b.Delta, b.RemainingEpsilon, b.RemainingDelta, b.Composition)
	} else {
		fmt.Fprintln(w, "\nbudget: no ledger charged (DP off)")
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
