package synth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// Header is the first line of every file (without the newline).
const Header = "user_id,order_id,ts,amount,channel,inviter_id"

// Row is one order of one site. The byte slices are shared and valid only
// until the callback returns; copy what you keep.
type Row struct {
	User    []byte // user id, e.g. u000123
	Order   uint64 // unique across the three sites, increasing with time
	Unix    int64  // purchase time, whole seconds
	Cents   int64  // order amount in cents, ≥ 1
	Inviter []byte // inviter's user id on this site; empty if none
}

// AppendCSV appends the row as a CSV line of the standard schema, with
// channel site and a trailing newline.
func (r *Row) AppendCSV(b []byte, site string) []byte {
	b = append(b, r.User...)
	b = append(b, ',')
	b = strconv.AppendUint(b, r.Order, 10)
	b = append(b, ',')
	b = appendTimestamp(b, r.Unix)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Cents/100, 10)
	c := r.Cents % 100
	b = append(b, '.', byte('0'+c/10), byte('0'+c%10), ',')
	b = append(b, site...)
	b = append(b, ',')
	b = append(b, r.Inviter...)
	return append(b, '\n')
}

// appendTimestamp appends unix (≥ 0, year < 10000) as 2006-01-02T15:04:05Z.
func appendTimestamp(b []byte, unix int64) []byte {
	days, sec := unix/86400, unix%86400
	y, m, d := civil(days)
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), 'T')
	h, mi, s := sec/3600, sec/60%60, sec%60
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), 'Z')
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's civil_from_days).
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// Truth is the ground truth of a generated data set, for tests and demos.
type Truth struct {
	// Users is the population size.
	Users int `json:"users"`
	// Sites holds per-site counts, in the order of Sites.
	Sites [3]SiteTruth `json:"sites"`
	// Memberships counts users by their exact set of channels, keyed by the
	// site names in Sites order joined with "+" (e.g. "brand-store+mini-program").
	Memberships map[string]int `json:"memberships"`
	// InChannels[k] is the number of users in exactly k channels (k = 1..3).
	InChannels [4]int `json:"in_channels"`
	// Churned is the number of users whose lifetime ended before the period.
	Churned int `json:"churned"`
}

// SiteTruth counts one site.
type SiteTruth struct {
	Site    string `json:"site"`
	Users   int    `json:"users"`   // members (each has at least one order)
	Invited int    `json:"invited"` // members with an inviter
	// Orders and RevenueCents are filled by Generate and WriteSites only.
	Orders       int64 `json:"orders"`
	RevenueCents int64 `json:"revenue_cents"`
}

// Shared returns the number of users who are members of both sites a and b
// (indices into Sites).
func (t Truth) Shared(a, b int) int {
	n := 0
	for m := uint8(1); m < 8; m++ {
		if m&(1<<a) != 0 && m&(1<<b) != 0 {
			n += t.Memberships[setName(m)]
		}
	}
	return n
}

func setName(m uint8) string {
	s := ""
	for c := range 3 {
		if m&(1<<c) != 0 {
			if s != "" {
				s += "+"
			}
			s += Sites[c]
		}
	}
	return s
}

// Describe returns the population-level truth of cfg (users per site,
// memberships, churners, invited users) without generating any order; the
// Orders and RevenueCents of its sites are zero.
func Describe(cfg Config) (Truth, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return Truth{}, err
	}
	p, err := newPopulation(c)
	if err != nil {
		return Truth{}, err
	}
	return p.truth(), nil
}

// Generate streams every row of the three sites to fn: all rows of
// brand-store in ts order, then marketplace, then mini-program. fn is called
// from the calling goroutine; an error from it stops generation and is
// returned wrapped.
func Generate(cfg Config, fn func(site string, row Row) error) (Truth, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return Truth{}, err
	}
	p, err := newPopulation(c)
	if err != nil {
		return Truth{}, err
	}
	t := p.truth()
	for s := range Sites {
		st, err := newSiteGen(p, s).run(nil, func(r *Row) error { return fn(Sites[s], *r) })
		if err != nil {
			return t, fmt.Errorf("generate %s: %w", Sites[s], err)
		}
		t.Sites[s].Orders, t.Sites[s].RevenueCents = st.orders, st.revenue
	}
	return t, nil
}

// WriteFiles writes dir/brand-store.csv, dir/marketplace.csv and
// dir/mini-program.csv (creating dir if needed) and returns their paths in
// Sites order. See WriteSites.
func WriteFiles(cfg Config, dir string) ([]string, error) {
	paths, _, err := WriteSites(cfg, dir)
	return paths, err
}

// WriteSites is WriteFiles that also returns the ground truth. The three
// files are written in parallel (one goroutine each, all finished when it
// returns); on error the files are removed.
func WriteSites(cfg Config, dir string) ([]string, Truth, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, Truth{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, Truth{}, fmt.Errorf("synth: create output directory: %w", err)
	}
	p, err := newPopulation(c)
	if err != nil {
		return nil, Truth{}, err
	}
	t := p.truth()
	paths := make([]string, len(Sites))
	errs := make([]error, len(Sites))
	var stop atomic.Bool
	var wg sync.WaitGroup
	for s := range Sites {
		paths[s] = filepath.Join(dir, Sites[s]+".csv")
		wg.Go(func() {
			st, err := writeSite(p, s, paths[s], &stop)
			if err != nil {
				stop.Store(true)
				errs[s] = err
			}
			t.Sites[s].Orders, t.Sites[s].RevenueCents = st.orders, st.revenue
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, path := range paths {
			os.Remove(path)
		}
		return nil, Truth{}, err
	}
	return paths, t, nil
}

func writeSite(p *population, s int, path string, stop *atomic.Bool) (stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return stats{}, fmt.Errorf("synth: %w", err)
	}
	const chunk = 1 << 20
	buf := make([]byte, 0, chunk+1024)
	buf = append(buf, Header+"\n"...)
	site := Sites[s]
	st, err := newSiteGen(p, s).run(stop, func(r *Row) error {
		buf = r.AppendCSV(buf, site)
		if len(buf) < chunk {
			return nil
		}
		_, err := f.Write(buf)
		buf = buf[:0]
		return err
	})
	if err == nil && stop.Load() {
		err = fmt.Errorf("synth: %s: stopped after another site failed", site)
	}
	if err == nil {
		_, err = f.Write(buf)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return st, fmt.Errorf("synth: write %s: %w", path, err)
	}
	return st, nil
}
