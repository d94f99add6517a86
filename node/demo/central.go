package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/engine"
	"github.com/strata-fed/strata/node/fedjobs"
	"github.com/strata-fed/strata/node/ingest"
)

// pooled is the centralized baseline's local analysis: the three sites'
// files read in one process into one engine accumulator, each user keyed
// by (site, user id) — the unit the federation counts too, so with DP off
// the model is the federated one — analysed once, then split back into one
// SiteData per site, each in the result's (user id) order.
type pooled struct {
	sites []*segmodel.SiteData
	ids   [][]string // per site, its users' own ids in SiteData order
}

// siteBits is how many low bits of a numeric pooled key hold the site.
const siteBits = 2

// analysePooled reads every site's file into one accumulator and analyses
// the pooled users with cfg (asOf zero: the last purchase over all files
// + 1 day). A numeric user id n of site i becomes the numeric key
// n<<siteBits | i, so the engine keeps its fast path for numeric ids; any
// other id becomes the text "i|id".
func analysePooled(ctx context.Context, sites []Site, cfg engine.Config, progress func(string, ingest.Progress)) (*pooled, error) {
	if len(sites) > 1<<siteBits {
		return nil, fmt.Errorf("centralized: %d sites, at most %d: %w", len(sites), 1<<siteBits, ErrOptions)
	}
	calEnd := cfg.AsOf
	acc := engine.NewAccumulator(calEnd.Unix(), !calEnd.IsZero())
	defer acc.Finish()
	var key []byte
	for i, s := range sites {
		prefix := strconv.Itoa(i) + "|"
		src := ingest.DefaultSource(s.Data)
		var prog func(ingest.Progress)
		if progress != nil {
			prog = func(p ingest.Progress) { progress(s.ID, p) }
		}
		_, err := src.Read(ctx, func(r *ingest.Row) error {
			row := *r
			if r.UserIsNum && r.UserNum < 1<<(63-siteBits) {
				row.UserNum = r.UserNum<<siteBits | uint64(i)
			} else {
				key = append(append(key[:0], prefix...), r.User...)
				row.User, row.UserIsNum, row.UserNum = key, false, 0
			}
			return acc.Add(&row)
		}, prog)
		if err != nil {
			return nil, fmt.Errorf("centralized: read %s: %w", s.Data, err)
		}
	}
	res, err := engine.Analyze(ctx, acc, cfg)
	if err != nil {
		return nil, fmt.Errorf("centralized: analyse: %w", err)
	}
	// The same bridge the daemons use, then split by site.
	all, err := fedjobs.SiteDataFromEngine(res, "pooled")
	if err != nil {
		return nil, fmt.Errorf("centralized: %w", err)
	}
	idx := make([][]int, len(sites))
	p := &pooled{ids: make([][]string, len(sites))}
	for u := range res.Users() {
		site, id, err := splitKey(res.UserID(u))
		if err != nil || site >= len(sites) {
			return nil, fmt.Errorf("centralized: pooled user %q not attributed to a site: %w", res.UserID(u), ErrOutput)
		}
		idx[site] = append(idx[site], u)
		p.ids[site] = append(p.ids[site], id)
	}
	for i, s := range sites {
		d, err := segmodel.NewSiteData(s.Channel, gatherColumns(all.Columns(), idx[i]))
		if err != nil {
			return nil, fmt.Errorf("centralized: site %s: %w", s.ID, err)
		}
		p.sites = append(p.sites, d)
	}
	return p, nil
}

// splitKey returns the site and the site's own user id of a pooled key.
func splitKey(key string) (site int, id string, err error) {
	if prefix, id, ok := strings.Cut(key, "|"); ok {
		site, err = strconv.Atoi(prefix)
		return site, id, err
	}
	n, err := strconv.ParseUint(key, 10, 64)
	if err != nil {
		return 0, "", err
	}
	return int(n & (1<<siteBits - 1)), strconv.FormatUint(n>>siteBits, 10), nil
}

// runCentralized runs the same jobs as the federation, in plaintext and
// exactly (DP off), over the pooled SiteData, timing each job.
func runCentralized(ctx context.Context, p *pooled, opt jobs.Options, c *clock, progress func(string, ...any)) (*jobs.Result, error) {
	ph := newJobPhases(c, progress)
	res, err := jobs.Run(ctx, timedSummer{Summer: parallelSummer(p.sites), phases: ph}, opt)
	ph.flush()
	if err != nil {
		return nil, fmt.Errorf("centralized jobs: %w", err)
	}
	return res, nil
}

// gatherColumns copies the users at positions idx of c, in that order.
func gatherColumns(c *segmodel.Columns, idx []int) segmodel.Columns {
	g := segmodel.Columns{
		RecencyDays:   make([]int64, len(idx)),
		Frequency:     make([]int64, len(idx)),
		MonetaryCents: make([]int64, len(idx)),
		TenureDays:    make([]int64, len(idx)),
		PrevDays:      make([]int64, len(idx)),
		CLV:           make([]clv.Summary, len(idx)),
		MeanValue:     make([]float64, len(idx)),
		InCLV:         make([]bool, len(idx)),
	}
	for k, u := range idx {
		g.RecencyDays[k], g.Frequency[k], g.MonetaryCents[k], g.TenureDays[k] = c.RecencyDays[u], c.Frequency[u], c.MonetaryCents[u], c.TenureDays[u]
		g.PrevDays[k], g.CLV[k], g.MeanValue[k], g.InCLV[k] = c.PrevDays[u], c.CLV[u], c.MeanValue[u], c.InCLV[u]
	}
	return g
}

// RunCentralized runs the same pipeline as Run, centralized and in
// plaintext: the three sites' files pooled in this process, analysed once
// (node/engine), the same jobs summed exactly in process (DP off; each
// site's jobs.Local vectors computed concurrently, as the nodes do), then
// every site's users labelled and exported as the daemons do (under
// DIR/central/<site>/). No node, no encryption, no raft: the baseline the
// federation's cost is measured against. Phases are timed the same way.
func RunCentralized(ctx context.Context, opt Options) (*Result, error) {
	r, err := newRun(ctx, opt)
	if err != nil {
		return nil, err
	}
	if err := r.centralize(ctx); err != nil {
		return nil, err
	}
	return r.finish("centralized")
}

// centralize runs the centralized pipeline.
func (r *run) centralize(ctx context.Context) error {
	res := r.res
	cfg := engine.Config{Only: engine.OnlyRFM}
	if r.opt.AsOf != "" {
		t, err := ingest.ParseTime(nil, r.opt.AsOf)
		if err != nil {
			return fmt.Errorf("as-of %q: %w: %w", r.opt.AsOf, err, ErrOptions)
		}
		cfg.AsOf = t
	}
	r.pr("centralized: reading and analysing the three files pooled in one process")
	var p *pooled
	err := r.clock.time("local analysis (pooled, once)", func() (err error) {
		last := time.Now()
		p, err = analysePooled(ctx, res.Sites, cfg, func(site string, pg ingest.Progress) {
			if time.Since(last) > 3*time.Second {
				last = time.Now()
				r.pr("centralized: %s: %d rows read", site, pg.Rows)
			}
		})
		return err
	})
	if err != nil {
		return err
	}
	jopt := jobsOptions(r.opt, res.Sites)
	jopt.Privacy = jobs.Privacy{} // plaintext, exact
	r.pr("centralized: the same jobs in plaintext (DP off)")
	if res.Jobs, err = runCentralized(ctx, p, jopt, &r.clock, r.pr); err != nil {
		return err
	}
	r.pr("centralized: labelling and exporting every site's users")
	return r.clock.time("labelling and export (all sites)", func() error {
		for i, s := range res.Sites {
			dir := filepath.Join(res.Dir, "central", s.ID)
			sizes, err := exportSite(dir, res.Jobs.Model, p.sites[i], p.ids[i])
			if err != nil {
				return fmt.Errorf("site %s: %w", s.ID, err)
			}
			res.Outputs = append(res.Outputs, SiteOutput{Site: s.ID, Channel: s.Channel, Users: p.sites[i].Len(), OutDir: dir, Audiences: sizes})
		}
		res.Report = centralReport(res.Jobs)
		return nil
	})
}

// parallelSummer is the centralized baseline's exact summer: what
// jobs.MemSummer does with DP off (every site's jobs.Local vector, added
// up), with the sites computed concurrently so that the baseline, like the
// federation, uses every core.
type parallelSummer []*segmodel.SiteData

// Sum implements jobs.Summer.
func (s parallelSummer) Sum(ctx context.Context, q jobs.Query) ([]int64, error) {
	vs := make([][]int64, len(s))
	errs := make([]error, len(s))
	var wg sync.WaitGroup
	for i, d := range s {
		wg.Go(func() { vs[i], errs[i] = jobs.Local(q.Statistic, q.Params, d) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("centralized sum: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	total := make([]int64, q.Length)
	for i, v := range vs {
		if len(v) != q.Length {
			return nil, fmt.Errorf("centralized sum: %s of %s has %d values, want %d: %w", q.Statistic, s[i].Channel, len(v), q.Length, jobs.ErrParams)
		}
		for j, x := range v {
			total[j] += x
		}
	}
	return total, nil
}
