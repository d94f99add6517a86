package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-fed/strata/node/analytics/lifecycle"
	"github.com/strata-fed/strata/node/analytics/score"
	"github.com/strata-fed/strata/node/analytics/segment"
	"github.com/strata-fed/strata/node/engine"
	"github.com/strata-fed/strata/node/ingest"
)

type analyzeFlags struct {
	source, out       string
	asof, calEnd      string
	only              string
	rules             string
	rCuts, fCuts      string
	mCuts             string
	k, restarts       int
	scanK             string
	seed              uint64
	horizon, discount float64
	unitDays          float64
	rejects           string
	rejectsFile       string
	progress          bool
	quiet             bool
	life              lifecycle.Params
}

func newAnalyzeCmd() *cobra.Command {
	var f analyzeFlags
	cmd := &cobra.Command{
		Use:   "analyze [FILE] --out DIR",
		Short: "Compute per-user RFM, segments, lifecycle, clusters and CLV from a transaction log",
		Long: `Analyze reads a transaction log and writes DIR/users.csv and DIR/summary.json.

The log is described by a source file (--source SRC.yaml; see deploy/examples
and 'strata check-source'), or given directly as FILE when its columns carry
the standard names user_id,order_id,ts,amount[,channel,inviter_id] with
ISO-8601 timestamps (CSV, TSV, or JSON Lines; plain or gzip).

users.csv has one row per user, sorted by user id, with the columns
  user_id,recency_days,frequency,monetary,r_score,f_score,m_score
then (unless --only rfm)
  segment,lifecycle_stage,cluster,p_alive,expected_purchases,clv,tenure_days,aov,mean_gap_days
recency_days = floor((asof - last purchase) / 1 day), frequency = distinct
orders, monetary = net spend (2 decimals); scores are quintiles (SQL ntile(5),
ties broken by user id, 5 = best, R inverted) unless thresholds are given.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAnalyze(cmd, args, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", "", "source file (YAML) describing the input")
	fl.StringVar(&f.out, "out", "", "output directory (required)")
	fl.StringVar(&f.asof, "asof", "", "as-of date or date-time (ISO-8601); default: last purchase + 1 day")
	fl.StringVar(&f.calEnd, "calibration-end", "", "end of the CLV calibration window (inclusive); default: the source's analysis.calibration_end, else the as-of")
	fl.StringVar(&f.only, "only", "all", "steps to run: all, or rfm (RFM values and scores only)")
	fl.StringVar(&f.rules, "rules", "value-tiers", "segment rule set: a preset ("+strings.Join(segment.PresetNames(), ", ")+") or a YAML file")
	fl.StringVar(&f.rCuts, "r-cuts", "", "recency thresholds in days instead of quintiles, e.g. 30,90,180,365 (R < 30 days scores 5)")
	fl.StringVar(&f.fCuts, "f-cuts", "", "frequency thresholds instead of quintiles, e.g. 2,3,5,10 (F >= 10 scores 5)")
	fl.StringVar(&f.mCuts, "m-cuts", "", "monetary thresholds in currency units instead of quintiles, e.g. 100,250,500,1000")
	fl.IntVar(&f.k, "k", engine.DefaultK, "number of k-means clusters")
	fl.IntVar(&f.restarts, "restarts", engine.DefaultRestarts, "k-means++ restarts (best inertia wins)")
	fl.StringVar(&f.scanK, "scan-k", "", "also report inertia and silhouette for each k in a range or list, e.g. 2-10 or 3,5,8, to help choose --k")
	fl.Uint64Var(&f.seed, "seed", 1, "k-means seed")
	fl.Float64Var(&f.horizon, "horizon", engine.DefaultHorizon, "CLV horizon in time units")
	fl.Float64Var(&f.discount, "discount", 0, "CLV discount rate per time unit")
	fl.Float64Var(&f.unitDays, "time-unit-days", 7, "CLV model time unit in days")
	fl.StringVar(&f.rejects, "rejects", "", "malformed rows: fail or skip (default: the source's rejects.policy, else fail)")
	fl.StringVar(&f.rejectsFile, "rejects-file", "", "where skipped rows go (default: the source's rejects.file, else OUT/rejects.csv)")
	fl.Int64Var(&f.life.NewDays, "new-days", 0, "lifecycle: first purchase within this many days is new (0 = 30)")
	fl.Int64Var(&f.life.ActiveDays, "active-days", 0, "lifecycle: last purchase within this many days is active (0 = 90)")
	fl.Int64Var(&f.life.AtRiskDays, "at-risk-days", 0, "lifecycle: ... within this many days is at_risk (0 = 180)")
	fl.Int64Var(&f.life.DormantDays, "dormant-days", 0, "lifecycle: ... within this many days is dormant, beyond churned (0 = 365)")
	fl.BoolVar(&f.progress, "progress", false, "show progress on stderr even when it is not a terminal")
	fl.BoolVar(&f.quiet, "quiet", false, "do not print the summary table")
	return cmd
}

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func runAnalyze(cmd *cobra.Command, args []string, f *analyzeFlags) error {
	if f.out == "" {
		return usagef("--out DIR is required")
	}
	if (len(args) == 1) == (f.source != "") {
		return usagef("give either a data FILE or --source SRC.yaml")
	}
	var src *ingest.Source
	if f.source != "" {
		s, err := ingest.LoadSource(f.source)
		if err != nil {
			return err
		}
		src = s
	} else {
		src = ingest.DefaultSource(args[0])
	}
	switch f.rejects {
	case "":
	case ingest.PolicyFail, ingest.PolicySkip:
		src.Rejects.Policy = f.rejects
	default:
		return usagef("--rejects %q: want fail or skip", f.rejects)
	}
	if f.rejectsFile != "" {
		src.Rejects.File = f.rejectsFile
	}
	if src.Rejects.Policy == ingest.PolicySkip && src.Rejects.File == "" {
		src.Rejects.File = filepath.Join(f.out, "rejects.csv")
	}
	cfg, err := analyzeConfig(src, f)
	if err != nil {
		return err
	}
	opt := engine.RunOptions{OutDir: f.out}
	if !f.quiet {
		opt.Table = cmd.OutOrStdout()
	}
	errOut := cmd.ErrOrStderr()
	var prog *progressLine
	if f.progress || isTerminal(errOut) {
		prog = &progressLine{w: errOut}
		opt.Progress = prog.update
	}
	_, sum, err := engine.Run(cmd.Context(), src, cfg, opt)
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		if sum.Rows.Read > 0 {
			fmt.Fprintf(errOut, "rows read before the error: %d\n", sum.Rows.Read)
		}
		return err
	}
	if !f.quiet {
		fmt.Fprintf(cmd.OutOrStdout(), "\nwrote %s and %s\n", filepath.Join(f.out, engine.UsersFile), filepath.Join(f.out, engine.SummaryFile))
	}
	return nil
}

func analyzeConfig(src *ingest.Source, f *analyzeFlags) (engine.Config, error) {
	cfg := engine.Config{K: f.k, Restarts: f.restarts, Seed: f.seed, Horizon: f.horizon, Discount: f.discount, Lifecycle: f.life}
	if err := f.life.Validate(); err != nil {
		return cfg, usagef("lifecycle thresholds: %v", err)
	}
	ks, err := parseKs(f.scanK)
	if err != nil {
		return cfg, usagef("--scan-k: %v", err)
	}
	cfg.ScanK = ks
	switch f.only {
	case "all", "":
	case "rfm":
		cfg.Only = engine.OnlyRFM
	default:
		return cfg, usagef("--only %q: want all or rfm", f.only)
	}
	if !(f.unitDays > 0) {
		return cfg, usagef("--time-unit-days must be positive")
	}
	cfg.TimeUnit = time.Duration(f.unitDays * float64(24*time.Hour))
	asof := firstNonEmpty(f.asof, src.Analysis.AsOf)
	if asof != "" {
		t, err := ingest.ParseTime(src, asof)
		if err != nil {
			return cfg, usagef("as-of: %v", err)
		}
		cfg.AsOf = t
	}
	if cal := firstNonEmpty(f.calEnd, src.Analysis.CalibrationEnd); cal != "" {
		t, err := ingest.ParseTime(src, cal)
		if err != nil {
			return cfg, usagef("calibration end: %v", err)
		}
		cfg.CalibrationEnd = t
	}
	if cfg.RCuts, err = parseCuts("--r-cuts", f.rCuts, 1, true); err != nil {
		return cfg, err
	}
	if cfg.FCuts, err = parseCuts("--f-cuts", f.fCuts, 1, false); err != nil {
		return cfg, err
	}
	if cfg.MCuts, err = parseCuts("--m-cuts", f.mCuts, 100, false); err != nil {
		return cfg, err
	}
	if cfg.Only == engine.OnlyAll {
		rs, err := loadRules(f.rules)
		if err != nil {
			return cfg, err
		}
		cfg.RuleSet = rs
	}
	return cfg, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// parseKs parses "2-10" or "3,5,8" (or a mix) into distinct ascending k.
func parseKs(v string) ([]int, error) {
	if v == "" {
		return nil, nil
	}
	seen := map[int]bool{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 1 {
			return nil, fmt.Errorf("%q is not a k >= 1", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range lo-hi with lo <= hi", part)
			}
		}
		if b-a > 64 {
			return nil, fmt.Errorf("%q spans more than 64 values of k", part)
		}
		for k := a; k <= b; k++ {
			seen[k] = true
		}
	}
	ks := make([]int, 0, len(seen))
	for k := range seen {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks, nil
}

// parseCuts parses comma-separated thresholds; scale 100 turns currency
// units (up to two decimals) into cents.
func parseCuts(flag, v string, scale int64, lowerIsBetter bool) (*score.Cuts, error) {
	if v == "" {
		return nil, nil
	}
	c := &score.Cuts{LowerIsBetter: lowerIsBetter}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		var p int64
		if scale == 100 {
			whole, frac, _ := strings.Cut(part, ".")
			if len(frac) > 2 {
				return nil, usagef("%s: %q has more than two decimals", flag, part)
			}
			w, err := strconv.ParseInt(whole, 10, 64)
			if err != nil {
				return nil, usagef("%s: %q is not a number", flag, part)
			}
			fr := int64(0)
			if frac != "" {
				fr, err = strconv.ParseInt((frac + "0")[:2], 10, 64)
				if err != nil {
					return nil, usagef("%s: %q is not a number", flag, part)
				}
			}
			if strings.HasPrefix(whole, "-") {
				fr = -fr
			}
			p = w*100 + fr
		} else {
			n, err := strconv.ParseInt(part, 10, 64)
			if err != nil {
				return nil, usagef("%s: %q is not an integer", flag, part)
			}
			p = n
		}
		c.Points = append(c.Points, p)
	}
	if err := c.Validate(); err != nil {
		return nil, usagef("%s: %v", flag, err)
	}
	return c, nil
}

func loadRules(v string) (*segment.RuleSet, error) {
	if rs, err := segment.Preset(v); err == nil {
		return rs, nil
	}
	if !strings.HasSuffix(v, ".yaml") && !strings.HasSuffix(v, ".yml") {
		return nil, usagef("--rules %q: not a preset (%s) nor a .yaml file", v, strings.Join(segment.PresetNames(), ", "))
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("rule set: %w", err)
	}
	rs, err := segment.ParseRuleSet(b)
	if err != nil {
		return nil, fmt.Errorf("rule set %s: %w", v, err)
	}
	return rs, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine renders read progress on one rewritten stderr line.
type progressLine struct {
	w     io.Writer
	shown bool
}

func (p *progressLine) update(pr ingest.Progress) {
	if pr.Done && !p.shown {
		return // fast inputs: no progress noise
	}
	p.shown = true
	msg := fmt.Sprintf("\rread %s rows, %s rows/s", humanCount(pr.Rows), humanCount(int64(pr.RowsPerSecond())))
	if fr := pr.Fraction(); fr >= 0 {
		msg += fmt.Sprintf(", %.0f%%", 100*fr)
	}
	fmt.Fprint(p.w, msg+"   ")
}

func (p *progressLine) finish() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

func humanCount(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}
