package daemon

// The site's half of the end-to-end segmentation pipeline.
//
// Names and choices (PLAN.md, "Architecture of the end-to-end pipeline"):
//
//   - The config's data: section (config.Data) names the site's file. The
//     daemon checks it synchronously in New (source YAML, file present,
//     as_of, output directory), so a wrong path is a start-up error; it
//     READS AND ANALYSES the file asynchronously, in a goroutine owned by
//     Run, so raft elects, joins and serves meanwhile. Until the data is
//     ready every jobs statistic is refused with ErrDataNotReady (the site
//     then contributes nothing to that round, and the coordinator's
//     completeness check names it); other statistics are served as before.
//     A malformed file stops the node: Run returns the error, which names
//     FILE:LINE (ingest.RowError).
//   - Once ready, the daemon installs &fedjobs.Provider{Data, Inner:
//     MemProvider()} and keeps the user ids (engine order = SiteData order)
//     in memory for audiences.
//   - Every committed model version is labelled once, in log order, by the
//     same goroutine: <data.out>/model-v<N>/{labels.csv,
//     audiences/<segment>.csv, report.json, report.html, activation.json},
//     written to a temporary directory and renamed into place. A version
//     whose directory exists is not redone (restart). activation.json is
//     the local status GET /v1/activation shows; it is an addition to the
//     plan's file list. Audience file names are the segment labels with
//     every byte outside [A-Za-z0-9._-] replaced by '_' (and a -<n> suffix
//     on a clash); Activation.Segments maps labels to files.
//   - Admin API: CommitModel, LatestModel, Activation and Report implement
//     admin.ModelsBackend (models.go, report.go); names as in the plan.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/config"
	"github.com/strata-fed/strata/node/engine"
	"github.com/strata-fed/strata/node/fedjobs"
	"github.com/strata-fed/strata/node/ingest"
)

// Errors of the segmentation pipeline; test with errors.Is.
var (
	// ErrDataNotReady: a jobs statistic was asked for while the site's data
	// is still being analysed, or after its analysis failed. The site does
	// not contribute to that round.
	ErrDataNotReady = errors.New("site data not ready")
)

// recheckInterval is how often the model watcher looks for committed
// versions it was not woken for (a snapshot installed from the leader
// applies many entries without the per-entry hook).
const recheckInterval = 2 * time.Second

// segService is the daemon's data and model watcher. The goroutine of
// runSegmentation is the only writer of data, ids and tried; mu guards what
// the admin API reads.
type segService struct {
	d    *Daemon
	cfg  *config.Data // nil: no data
	src  *ingest.Source
	asOf time.Time
	cal  time.Time
	// wake is signalled (without blocking) when a model is committed.
	wake chan struct{}

	mu    sync.Mutex
	act   admin.Activation
	data  *segmodel.SiteData
	ids   []string
	tried map[uint64]bool // versions handled by this process
}

// startSegmentation prepares the data pipeline; called by start after the
// secure-sum runner exists and before raft starts (raft's replay of the
// log wakes the watcher).
func (d *Daemon) startSegmentation() error {
	s := &segService{d: d, wake: make(chan struct{}, 1), tried: map[uint64]bool{}}
	s.act = admin.Activation{Site: d.cfg.Site, Data: admin.DataNone}
	d.seg = s
	dc := d.cfg.Data
	if dc == nil {
		return nil
	}
	src, err := openSource(dc)
	if err != nil {
		return err
	}
	asOf, cal := dc.AsOf, src.Analysis.CalibrationEnd
	if asOf == "" {
		asOf = src.Analysis.AsOf
	}
	if asOf != "" {
		if s.asOf, err = ingest.ParseTime(src, asOf); err != nil {
			return fmt.Errorf("data.as_of: %w", err)
		}
	}
	if cal != "" {
		if s.cal, err = ingest.ParseTime(src, cal); err != nil {
			return fmt.Errorf("data.source: analysis.calibration_end: %w", err)
		}
	}
	if err := os.MkdirAll(dc.Out, 0o700); err != nil {
		return fmt.Errorf("data.out: %w", err)
	}
	if src.Rejects.Policy == ingest.PolicySkip && src.Rejects.File == "" {
		src.Rejects.File = filepath.Join(dc.Out, "rejects.csv")
	}
	s.cfg, s.src = dc, src
	s.act.Data, s.act.File, s.act.Channel = admin.DataAnalysing, src.Path, dc.Channel
	d.SetProvider(&notReadyProvider{s: s, inner: d.MemProvider()})
	return nil
}

// openSource returns the source of the data: section: the source YAML if
// given (with File replacing its path), else the standard schema of File.
// The file must exist.
func openSource(dc *config.Data) (*ingest.Source, error) {
	var src *ingest.Source
	if dc.Source != "" {
		s, err := ingest.LoadSource(dc.Source)
		if err != nil {
			return nil, fmt.Errorf("data.source: %w", err)
		}
		src = s
		if dc.File != "" {
			src.Path = dc.File
		}
	} else {
		src = ingest.DefaultSource(dc.File)
	}
	st, err := os.Stat(src.Path)
	if err != nil {
		return nil, fmt.Errorf("data.file: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("data.file: %s is a directory", src.Path)
	}
	return src, nil
}

// runSegmentation analyses the site's data, installs its provider, then
// labels every committed model version until ctx ends. Owned by Run; an
// error (the data could not be analysed) stops the node.
func (d *Daemon) runSegmentation(ctx context.Context) error {
	s := d.seg
	if s.cfg == nil {
		return nil
	}
	if err := s.analyse(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		s.act.Data, s.act.Error = admin.DataFailed, err.Error()
		s.mu.Unlock()
		return fmt.Errorf("site data: %w", err)
	}
	removeStaleTemps(s.cfg.Out, d.log)
	t := time.NewTicker(recheckInterval)
	defer t.Stop()
	for {
		s.labelNew(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-t.C:
		}
	}
}

// notifyModel wakes the watcher; called from raft's FSM goroutine.
func (s *segService) notifyModel() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// analyse reads and analyses the site's file (analyseFile) and makes its
// data the provider's.
func (s *segService) analyse(ctx context.Context) error {
	log := s.d.log.With("component", "data")
	path := s.src.Path
	log.Info("analysing site data", "file", path, "channel", s.cfg.Channel)
	t0 := time.Now()
	lastLog := t0
	progress := func(p ingest.Progress) {
		s.mu.Lock()
		s.act.RowsRead = p.Rows
		s.mu.Unlock()
		if p.Done || time.Since(lastLog) < 2*time.Second {
			return
		}
		lastLog = time.Now()
		args := []any{"rows", p.Rows, "elapsed", p.Elapsed.Round(time.Millisecond)}
		if f := p.Fraction(); f >= 0 {
			args = append(args, "percent", fmt.Sprintf("%.0f", 100*f))
		}
		log.Info("reading site data", args...)
	}
	a, err := analyseFile(ctx, s.src, s.asOf, s.cal, s.cfg.Channel, progress)
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	s.mu.Lock()
	s.data, s.ids = a.data, a.ids
	s.act.Data, s.act.Users, s.act.RowsRead, s.act.AnalysisSeconds = admin.DataReady, len(a.ids), a.rows.Read, secs
	s.mu.Unlock()
	s.d.SetProvider(&fedjobs.Provider{Data: a.data, Inner: s.d.MemProvider()})
	log.Info("site data ready", "file", path, "users", len(a.ids), "rows", a.rows.Read, "accepted", a.rows.Accepted,
		"rejected", a.rows.Rejected, "as_of", a.asOf.Format(time.RFC3339), "seconds", fmt.Sprintf("%.2f", secs))
	return nil
}

// siteAnalysis is a site's analysed data.
type siteAnalysis struct {
	data *segmodel.SiteData
	ids  []string // ids[i] is the user of row i of data
	rows ingest.Accounting
	asOf time.Time
}

// analyseFile reads src into the engine's accumulator and computes the
// per-user columns the jobs and Label read (engine.Analyze, RFM only; zero
// asOf = last purchase + 1 day, zero cal = the as-of), in the engine's user
// order. A malformed row fails it with an error naming FILE:LINE.
func analyseFile(ctx context.Context, src *ingest.Source, asOf, cal time.Time, channel string, progress func(ingest.Progress)) (siteAnalysis, error) {
	acc := engine.NewAccumulator(cal.Unix(), !cal.IsZero())
	defer acc.Finish()
	rows, err := src.Read(ctx, acc.Add, progress)
	acc.Finish()
	if re := (*ingest.RowError)(nil); errors.As(err, &re) {
		return siteAnalysis{}, err // "FILE:LINE: field: reason" already
	}
	if err != nil {
		return siteAnalysis{}, fmt.Errorf("read %s: %w", src.Path, err)
	}
	if acc.Users() == 0 {
		return siteAnalysis{}, fmt.Errorf("%s: %d rows read, none accepted: %w", src.Path, rows.Read, engine.ErrNoUsers)
	}
	res, err := engine.Analyze(ctx, acc, engine.Config{Only: engine.OnlyRFM, AsOf: asOf, CalibrationEnd: cal})
	if err != nil {
		return siteAnalysis{}, fmt.Errorf("analyse %s: %w", src.Path, err)
	}
	data, err := fedjobs.SiteDataFromEngine(res, channel)
	if err != nil {
		return siteAnalysis{}, fmt.Errorf("analyse %s: %w", src.Path, err)
	}
	ids := make([]string, res.Users())
	for i := range ids {
		ids[i] = res.UserID(i)
	}
	return siteAnalysis{data: data, ids: ids, rows: rows, asOf: res.AsOf}, nil
}

// labelNew handles every committed version not handled yet, oldest first.
func (s *segService) labelNew(ctx context.Context) {
	latest, ok := s.d.fsm.LatestModel()
	if !ok {
		return
	}
	for v := uint64(1); v <= latest.Version && ctx.Err() == nil; v++ {
		if s.tried[v] {
			continue
		}
		s.tried[v] = true // a failure is retried after a restart, not in a loop
		mv, ok := s.d.fsm.Model(v)
		if !ok {
			continue
		}
		if err := s.activate(ctx, mv); err != nil {
			s.d.log.Error("labelling with the committed model failed", "version", v, "error", err)
			s.mu.Lock()
			s.act.LabelError = fmt.Sprintf("model v%d: %v", v, err)
			s.mu.Unlock()
		}
	}
}

// modelDirName is the output directory of a model version.
func modelDirName(version uint64) string { return fmt.Sprintf("model-v%d", version) }

// activate labels the site's users with one model version and writes its
// outputs, unless they exist already.
func (s *segService) activate(ctx context.Context, mv fsm.ModelVersion) error {
	name := modelDirName(mv.Version)
	dir := filepath.Join(s.cfg.Out, name)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		prev, err := readActivationFile(dir)
		if err != nil {
			s.d.log.Warn("model outputs exist but their activation.json is unreadable", "dir", dir, "error", err)
			prev = activationFile{Version: mv.Version, ContentHash: mv.ContentHash}
		}
		s.setActivation(dir, prev)
		s.d.log.Info("model outputs already written, not redone", "version", mv.Version, "dir", dir)
		return nil
	}
	t0 := time.Now()
	m, err := segmodel.Decode(mv.Model)
	if err != nil {
		return fmt.Errorf("decode model v%d: %w", mv.Version, err)
	}
	labels, err := segmodel.Label(m, s.data)
	if err != nil {
		return fmt.Errorf("label with model v%d: %w", mv.Version, err)
	}
	aud, err := segmodel.Audiences(m, labels, s.ids)
	if err != nil {
		return fmt.Errorf("audiences of model v%d: %w", mv.Version, err)
	}
	rep, err := s.d.reportFor(mv)
	if err != nil {
		// The labels do not depend on the report: write them without it.
		s.d.log.Warn("no report for the model outputs", "version", mv.Version, "error", err)
		rep = nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	act, err := writeOutputs(s.cfg.Out, name, outputs{
		Version: mv.Version, ContentHash: mv.ContentHash, Model: m, Labels: labels, IDs: s.ids, Audiences: aud, Report: rep,
	})
	if err != nil {
		return err
	}
	s.setActivation(dir, act)
	s.d.log.Info("labelled this site's users with the committed model", "version", mv.Version, "users", len(labels),
		"dir", dir, "seconds", fmt.Sprintf("%.2f", time.Since(t0).Seconds()))
	return nil
}

// setActivation records the outputs of a version as the current ones
// (unless a newer version's are).
func (s *segService) setActivation(dir string, a activationFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Version < s.act.ModelVersion {
		return
	}
	s.act.ModelVersion, s.act.ContentHash, s.act.OutDir = a.Version, a.ContentHash, dir
	s.act.Labelled, s.act.Segments, s.act.LabelError = a.Users, slices.Clone(a.Segments), ""
}

// Activation implements admin.ModelsBackend: this site's data and
// labelling status.
func (d *Daemon) Activation() admin.Activation {
	s := d.seg
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.act
	a.Segments = slices.Clone(a.Segments)
	return a
}

// SiteData returns the site's analysed data and its user ids (same order),
// or nil before the data is ready or without a data: section. Read only;
// for tests and tools.
func (d *Daemon) SiteData() (*segmodel.SiteData, []string) {
	s := d.seg
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data, s.ids
}

// notReadyProvider stands in for the site's fedjobs.Provider until the
// data is analysed: jobs statistics are refused with ErrDataNotReady,
// others go to the in-memory provider.
type notReadyProvider struct {
	s     *segService
	inner securesum.Provider
}

func (p *notReadyProvider) Statistic(ctx context.Context, name string, params []byte) ([]int64, error) {
	if !slices.Contains(jobs.Statistics(), name) {
		return p.inner.Statistic(ctx, name, params)
	}
	return nil, p.s.notReady(name)
}

func (p *notReadyProvider) Binding(ctx context.Context, name string, params []byte) (securesum.Binding, error) {
	if !slices.Contains(jobs.Statistics(), name) {
		return p.inner.Binding(ctx, name, params)
	}
	return securesum.Binding{}, p.s.notReady(name)
}

func (s *segService) notReady(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.act.Data == admin.DataFailed {
		return fmt.Errorf("statistic %s: %w: the analysis of %s failed: %s", name, ErrDataNotReady, s.act.File, s.act.Error)
	}
	return fmt.Errorf("statistic %s: %w: %s is still being analysed (%d rows read)", name, ErrDataNotReady, s.act.File, s.act.RowsRead)
}

// removeStaleTemps deletes temporary output directories a crash left
// behind (never a finished model-v<N>).
func removeStaleTemps(out string, log interface{ Warn(string, ...any) }) {
	entries, err := os.ReadDir(out)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".model-v") {
			if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
				log.Warn("cannot remove a stale temporary output directory", "dir", e.Name(), "error", err)
			}
		}
	}
}
