package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-fed/strata/node/ingest"
)

// Output file names inside the output directory.
const (
	UsersFile   = "users.csv"
	SummaryFile = "summary.json"
)

// RunOptions say where a Run writes.
type RunOptions struct {
	// OutDir receives users.csv and summary.json; created if missing. Required.
	OutDir string
	// Table, if not nil, receives the readable summary table.
	Table io.Writer
	// Progress, if not nil, receives read progress (see ingest.Source.Read).
	Progress func(ingest.Progress)
}

// Run reads src, analyses it with cfg and writes the outputs. It returns
// the result and summary even when writing fails, and the row accounting
// (inside the summary) even when reading fails part way.
func Run(ctx context.Context, src *ingest.Source, cfg Config, opt RunOptions) (*Result, Summary, error) {
	if opt.OutDir == "" {
		return nil, Summary{}, fmt.Errorf("%w: no output directory", ErrConfig)
	}
	if _, err := cfg.withDefaults(); err != nil {
		return nil, Summary{}, err
	}
	t0 := time.Now()
	// The CLV calibration window ends at the calibration end, else at an
	// explicit as-of: purchases after it must not count as repeat purchases.
	calEnd := cfg.CalibrationEnd
	if calEnd.IsZero() {
		calEnd = cfg.AsOf
	}
	acc := NewAccumulator(calEnd.Unix(), !calEnd.IsZero())
	defer acc.Finish()
	rows, err := src.Read(ctx, acc.Add, opt.Progress)
	acc.Finish()
	if err != nil {
		return nil, Summary{Rows: rows}, fmt.Errorf("read %s: %w", src.Path, err)
	}
	if acc.Users() == 0 {
		return nil, Summary{Rows: rows}, fmt.Errorf("%s: %d rows read, none accepted: %w", src.Path, rows.Read, ErrNoUsers)
	}
	readTime := time.Since(t0)
	res, err := Analyze(ctx, acc, cfg)
	if err != nil {
		return nil, Summary{Rows: rows}, err
	}
	res.Timings = append([]Timing{{"read and aggregate", readTime.Seconds()}}, res.Timings...)
	if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
		return res, Summary{Rows: rows}, fmt.Errorf("output directory: %w", err)
	}
	t1 := time.Now()
	if err := writeFile(filepath.Join(opt.OutDir, UsersFile), res.WriteUsersCSV); err != nil {
		return res, Summary{Rows: rows}, err
	}
	res.step("write users.csv", t1)
	sum := res.Summarize(src.Path, rows)
	if err := writeFile(filepath.Join(opt.OutDir, SummaryFile), sum.WriteJSON); err != nil {
		return res, sum, err
	}
	if opt.Table != nil {
		if err := sum.PrintTable(opt.Table); err != nil {
			return res, sum, fmt.Errorf("print summary: %w", err)
		}
	}
	return res, sum, nil
}

// writeFile writes via a temporary file and renames it into place, so a
// failed run never leaves a half-written output under the final name.
func writeFile(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}
