package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-fed/strata/node/ingest"
	"github.com/strata-fed/strata/node/synth"
	"github.com/strata-fed/strata/protocol/pki"
)

// Site is one member of the demo federation: a site id, the channel it
// sells through and its transaction log.
type Site struct {
	ID      string // site id (certificate identity)
	Channel string // channel name in the report
	Data    string // absolute path of the site's transaction log
}

// checkRows is how many rows of each --data file are parsed up front.
const checkRows = 1000

// errEnough stops a check read early.
var errEnough = errors.New("enough rows")

// generate writes the synthetic three-channel data set under dir/data and
// returns the three sites (site id = channel = the synth site name).
func generate(users int, seed uint64, dir string) ([]Site, synth.Truth, error) {
	paths, truth, err := synth.WriteSites(synth.Config{Users: users, Seed: seed}, filepath.Join(dir, "data"))
	if err != nil {
		return nil, synth.Truth{}, fmt.Errorf("generate data: %w", err)
	}
	sites := make([]Site, len(paths))
	for i, p := range paths {
		sites[i] = Site{ID: synth.Sites[i], Channel: synth.Sites[i], Data: p}
	}
	return sites, truth, nil
}

// dataSites validates the --data files before anything starts: exactly
// three distinct readable files, each in the standard schema (the header,
// then the first rows parse). Each file becomes a site named after the
// file (its base name without extensions, if that is a valid site id and
// unique), else site-1, site-2, site-3.
func dataSites(ctx context.Context, files []string) ([]Site, error) {
	if len(files) != 3 {
		return nil, fmt.Errorf("--data takes exactly three files (one per site), got %d: %w", len(files), ErrOptions)
	}
	sites := make([]Site, len(files))
	seen := map[string]bool{}
	names := map[string]bool{}
	useNames := true
	for i, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, fmt.Errorf("--data %s: %v: %w", f, err, ErrData)
		}
		if seen[abs] {
			return nil, fmt.Errorf("--data %s is given twice: %w", f, ErrData)
		}
		seen[abs] = true
		if err := checkFile(ctx, abs); err != nil {
			return nil, fmt.Errorf("--data %s: %w", f, err)
		}
		name := siteName(abs)
		if pki.ValidateSiteID(name) != nil || names[name] {
			useNames = false
		}
		names[name] = true
		sites[i] = Site{ID: name, Channel: name, Data: abs}
	}
	if !useNames {
		for i := range sites {
			sites[i].ID = fmt.Sprintf("site-%d", i+1)
			sites[i].Channel = sites[i].ID
		}
	}
	return sites, nil
}

// siteName is a file's base name without its extensions, lower-cased.
func siteName(path string) string {
	b := filepath.Base(path)
	if i := strings.IndexByte(b, '.'); i > 0 {
		b = b[:i]
	}
	return strings.ToLower(b)
}

// checkFile checks that path is a regular, readable file in the standard
// schema whose first checkRows rows parse.
func checkFile(ctx context.Context, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%v: %w", err, ErrData)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file: %w", ErrData)
	}
	src := ingest.DefaultSource(path)
	n := 0
	acc, err := src.Read(ctx, func(*ingest.Row) error {
		if n++; n >= checkRows {
			return errEnough
		}
		return nil
	}, nil)
	if err != nil && !errors.Is(err, errEnough) {
		return fmt.Errorf("not a transaction log in the standard schema (user_id,order_id,ts,amount[,channel,inviter_id]): %w: %w", err, ErrData)
	}
	if acc.Accepted == 0 {
		return fmt.Errorf("no transactions: %w", ErrData)
	}
	return nil
}
