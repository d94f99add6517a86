package synth

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Sites are the three channels, in the order files and truths are returned.
var Sites = [3]string{"brand-store", "marketplace", "mini-program"}

// Site indices into Sites.
const (
	BrandStore  = 0
	Marketplace = 1
	MiniProgram = 2
)

// Defaults of the zero Config fields.
const (
	DefaultUsers         = 10_000
	DefaultDays          = 730
	DefaultUserIDFormat  = "u%06d"
	DefaultEarly         = 0.30
	DefaultChurn         = 0.40
	DefaultChurnMeanDays = 120
	DefaultOrdersPerYear = 3
	DefaultRateShape     = 0.5
	DefaultInvited       = 0.55
	DefaultReferred      = 0.04
	// MaxUsers bounds Config.Users (user indices are 32-bit, and order ids of
	// a site must stay below the next site's base).
	MaxUsers = 50_000_000
	// MaxDays bounds Config.Days.
	MaxDays = 36_500
)

// DefaultStart is the first day of the period when Config.Start is zero.
var DefaultStart = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultOverlap is the membership mix when Config.Overlap is zero.
var DefaultOverlap = Overlap{One: 0.40, Two: 0.35, Three: 0.25}

// Errors returned by this package. Test them with errors.Is.
var (
	// ErrInvalidConfig: a Config field is out of range.
	ErrInvalidConfig = errors.New("synth: invalid config")
)

// Overlap is the probability that a user belongs to exactly one, two or
// three channels. The three are normalised to sum to 1; the zero value means
// DefaultOverlap.
type Overlap struct {
	One, Two, Three float64
}

// Config describes one synthetic data set. The zero value of every field
// means its documented default; fractions that default to a non-zero value
// are switched off with a negative value.
type Config struct {
	// Users is the size of the shared population (not per site). Default
	// 10,000. With the default overlap a site holds about 62% of the
	// population, so ≈ 1.62M users give three sites of ≈ 1M users each.
	Users int
	// Days is the length of the period in days. Default 730.
	Days int
	// Start is the first day of the period, truncated to a UTC day. Zero
	// means DefaultStart (2023-01-01).
	Start time.Time
	// Seed selects the random streams. Every value, 0 included, is a seed.
	Seed uint64
	// UserIDFormat formats user numbers 1..Users into ids: an optional
	// prefix and suffix around one integer verb (%d, %06d, %x, ...). It must
	// not contain a comma, quote or line break. Default "u%06d" (u000123):
	// distinctive, so tests can search traffic for it.
	UserIDFormat string
	// Overlap is the mix of users in one, two and three channels. Zero
	// means DefaultOverlap (40/35/25%).
	Overlap Overlap
	// Early is the fraction of users who are already customers when the
	// period starts. Default 0.30; negative means none.
	Early float64
	// Churn is the fraction of users with a finite lifetime. Default 0.40;
	// negative means nobody churns.
	Churn float64
	// ChurnMeanDays is the mean lifetime of churners. Default 120.
	ChurnMeanDays float64
	// OrdersPerYear is the population mean of the base purchase rate, in
	// orders per year beyond the first. Default 3.
	OrdersPerYear float64
	// RateShape is the Gamma shape of the purchase rate (smaller is more
	// heavy-tailed). Default 0.5.
	RateShape float64
	// Invited is the fraction of mini-program members invited by an earlier
	// member. Default 0.55; negative means none.
	Invited float64
	// Referred is the fraction of brand-store and marketplace members
	// referred by an earlier member. Default 0.04; negative means none.
	Referred float64
}

// withDefaults returns cfg with defaults filled in, or an error wrapping
// ErrInvalidConfig.
func (cfg Config) withDefaults() (Config, error) {
	c := cfg
	if c.Users == 0 {
		c.Users = DefaultUsers
	}
	if c.Days == 0 {
		c.Days = DefaultDays
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = time.Unix(c.Start.Unix()-floorMod(c.Start.Unix(), 86400), 0).UTC()
	if c.UserIDFormat == "" {
		c.UserIDFormat = DefaultUserIDFormat
	}
	if c.Overlap == (Overlap{}) {
		c.Overlap = DefaultOverlap
	}
	c.Early = fraction(c.Early, DefaultEarly)
	c.Churn = fraction(c.Churn, DefaultChurn)
	c.Invited = fraction(c.Invited, DefaultInvited)
	c.Referred = fraction(c.Referred, DefaultReferred)
	if c.ChurnMeanDays == 0 {
		c.ChurnMeanDays = DefaultChurnMeanDays
	}
	if c.OrdersPerYear == 0 {
		c.OrdersPerYear = DefaultOrdersPerYear
	}
	if c.RateShape == 0 {
		c.RateShape = DefaultRateShape
	}

	switch {
	case c.Users < 1 || c.Users > MaxUsers:
		return c, fmt.Errorf("users %d not in [1, %d]: %w", c.Users, MaxUsers, ErrInvalidConfig)
	case c.Days < 1 || c.Days > MaxDays:
		return c, fmt.Errorf("days %d not in [1, %d]: %w", c.Days, MaxDays, ErrInvalidConfig)
	case c.Start.Year() < 1970 || c.Start.Year() > 9000:
		return c, fmt.Errorf("start %s before 1970 or after 9000: %w", c.Start.Format(time.DateOnly), ErrInvalidConfig)
	case !idFormat.MatchString(c.UserIDFormat):
		return c, fmt.Errorf("user id format %q: want a prefix, one integer verb such as %%06d, a suffix, no comma, quote or line break: %w", c.UserIDFormat, ErrInvalidConfig)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"overlap one", c.Overlap.One}, {"overlap two", c.Overlap.Two}, {"overlap three", c.Overlap.Three},
		{"early", c.Early}, {"churn", c.Churn}, {"invited", c.Invited}, {"referred", c.Referred}} {
		if !(f.v >= 0 && f.v <= 1) {
			return c, fmt.Errorf("%s fraction %v not in [0, 1] (negative means none): %w", f.name, f.v, ErrInvalidConfig)
		}
	}
	sum := c.Overlap.One + c.Overlap.Two + c.Overlap.Three
	if !(sum > 0) {
		return c, fmt.Errorf("overlap fractions sum to %v: %w", sum, ErrInvalidConfig)
	}
	c.Overlap = Overlap{c.Overlap.One / sum, c.Overlap.Two / sum, c.Overlap.Three / sum}
	for _, f := range []struct {
		name string
		v    float64
	}{{"churn mean days", c.ChurnMeanDays}, {"orders per year", c.OrdersPerYear}, {"rate shape", c.RateShape}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) || f.v > 1e6 {
			return c, fmt.Errorf("%s %v must be positive and finite: %w", f.name, f.v, ErrInvalidConfig)
		}
	}
	return c, nil
}

// fraction maps the zero value to def and negative values to 0.
func fraction(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
