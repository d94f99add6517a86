package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/analytics/kmeans"
	"github.com/strata-fed/strata/node/analytics/lifecycle"
	"github.com/strata-fed/strata/node/analytics/score"
	"github.com/strata-fed/strata/node/analytics/segment"
)

// Sentinel errors.
var (
	// ErrNoUsers: the input had no accepted row, so there is nothing to analyse.
	ErrNoUsers = errors.New("no users in the input")
	// ErrConfig: an invalid Config.
	ErrConfig = errors.New("invalid analysis config")
)

// Steps selectable with Config.Only.
const (
	OnlyAll = ""    // every step (default)
	OnlyRFM = "rfm" // RFM values and scores only; users.csv has the 7 peer columns
)

// Config controls one analysis. The zero value of each field means its
// documented default.
type Config struct {
	// AsOf is the reference instant. Defaults to the last purchase + 1 day.
	AsOf time.Time
	// CalibrationEnd ends the CLV calibration window (inclusive). Defaults
	// to AsOf. The window is tracked while reading: Run passes it (or an
	// explicit AsOf) to NewAccumulator; callers of Analyze do the same.
	CalibrationEnd time.Time
	// Only restricts the steps: OnlyAll or OnlyRFM.
	Only string
	// RCuts, FCuts, MCuts score by explicit thresholds instead of quintiles.
	// Points are days (R, with LowerIsBetter), orders (F) and cents (M).
	RCuts, FCuts, MCuts *score.Cuts
	// RuleSet labels segments. Defaults to the value-tiers preset.
	RuleSet *segment.RuleSet
	// Lifecycle thresholds; zero fields are the lifecycle package defaults.
	Lifecycle lifecycle.Params
	// K clusters (default 5), Restarts of k-means++ (default 3), Seed (default 0).
	K, Restarts int
	Seed        uint64
	// ScanK, if not empty, also fits k-means for each of these k on the same
	// features and reports inertia and silhouette per k, to help choose k.
	ScanK []int
	// TimeUnit of the CLV models. Defaults to one week.
	TimeUnit time.Duration
	// Horizon for expected purchases and CLV, in time units. Defaults to 52.
	Horizon float64
	// Discount rate per time unit for CLV. Defaults to 0 (undiscounted).
	Discount float64
	// FitSample caps the customers used to fit BG/NBD and Gamma-Gamma: above
	// it, a uniform sample (seeded with Seed) is fitted, and predictions are
	// made for everyone. Defaults to DefaultFitSample; negative = no cap.
	FitSample int
}

// Defaults.
const (
	DefaultK        = 5
	DefaultRestarts = 3
	DefaultHorizon  = 52
	DefaultTimeUnit = 7 * 24 * time.Hour
	// DefaultFitSample keeps a CLV fit near one second per model on two
	// cores; parameter standard errors at this size are far below the
	// differences that matter for ranking customers.
	DefaultFitSample = 250000
)

func (c Config) withDefaults() (Config, error) {
	if c.Only != OnlyAll && c.Only != OnlyRFM {
		return c, fmt.Errorf("%w: only %q: want %q or %q", ErrConfig, c.Only, "all", OnlyRFM)
	}
	if c.K == 0 {
		c.K = DefaultK
	}
	if c.Restarts == 0 {
		c.Restarts = DefaultRestarts
	}
	if c.TimeUnit == 0 {
		c.TimeUnit = DefaultTimeUnit
	}
	if c.Horizon == 0 {
		c.Horizon = DefaultHorizon
	}
	if c.FitSample == 0 {
		c.FitSample = DefaultFitSample
	}
	if c.K < 1 || c.Restarts < 1 || c.TimeUnit < time.Second || c.Horizon < 0 || c.Discount < 0 || math.IsNaN(c.Horizon) || math.IsNaN(c.Discount) {
		return c, fmt.Errorf("%w: k %d, restarts %d, time unit %v, horizon %v, discount %v", ErrConfig, c.K, c.Restarts, c.TimeUnit, c.Horizon, c.Discount)
	}
	if c.RuleSet == nil && c.Only == OnlyAll {
		rs, err := segment.Preset("value-tiers")
		if err != nil {
			return c, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		c.RuleSet = rs
	}
	if err := c.Lifecycle.Validate(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for _, cu := range []*score.Cuts{c.RCuts, c.FCuts, c.MCuts} {
		if cu != nil {
			if err := cu.Validate(); err != nil {
				return c, fmt.Errorf("%w: %w", ErrConfig, err)
			}
		}
	}
	return c, nil
}

// Result is the per-user analysis, users sorted by user id (numerically
// when every id is an integer, else bytewise), in columns.
type Result struct {
	Config         Config
	AsOf           time.Time
	CalibrationEnd time.Time
	Orders         int64 // distinct (user, order) pairs
	RevenueCents   int64

	acc    *Accumulator
	order  []uint32 // user index by output position
	asof   int64    // AsOf, Unix seconds
	calEnd int64    // CalibrationEnd, Unix seconds

	Recency, Frequency, Monetary, Tenure []int64
	R, F, M                              []uint8

	// Segments (full analysis only): Segment[i] indexes SegmentNames.
	SegmentNames []string
	Segment      []uint16
	// Stage[i] is the lifecycle stage ("" if it could not be determined).
	Stage []lifecycle.Stage
	// Cluster[i] is the k-means cluster; Model and Profiles describe them.
	Cluster  []int32
	KMeans   kmeans.Model
	Profiles []kmeans.Profile
	// KScan holds inertia and silhouette per k when Config.ScanK is set.
	KScan []kmeans.KScore
	// CLV outputs, NaN where the user has no calibration history.
	PAlive, ExpectedPurchases, CLV []float64
	BGNBD                          clv.BGNBD
	GammaGamma                     clv.GammaGamma
	CLVUsers, GGUsers              int // customers in the BG/NBD and Gamma-Gamma fits
	CLVError                       string

	Timings []Timing
}

// Timing is the wall time of one step.
type Timing struct {
	Step    string
	Seconds float64
}

// Users is the number of users.
func (r *Result) Users() int { return len(r.order) }

// UserID returns the id of the user at output position i.
func (r *Result) UserID(i int) string { return r.acc.userText(r.order[i]) }

func (r *Result) appendUserID(b []byte, i int) []byte {
	k := r.acc.key(r.order[i])
	if k&strFlag != 0 {
		return append(b, r.acc.names[k&^strFlag]...)
	}
	return strconv.AppendUint(b, k, 10)
}

func (a *Accumulator) userText(h uint32) string {
	k := a.key(h)
	if k&strFlag != 0 {
		return a.names[k&^strFlag]
	}
	return strconv.FormatUint(k, 10)
}

func (r *Result) step(name string, start time.Time) {
	r.Timings = append(r.Timings, Timing{name, time.Since(start).Seconds()})
}

// Analyze computes every per-user output from the accumulated state.
func Analyze(ctx context.Context, acc *Accumulator, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	acc.Finish()
	n := acc.Users()
	if n == 0 {
		return nil, ErrNoUsers
	}
	res := &Result{Config: cfg, acc: acc, Orders: acc.Orders()}
	asof := acc.maxUnix + 86400
	if !cfg.AsOf.IsZero() {
		asof = cfg.AsOf.Unix()
	}
	res.asof, res.calEnd = asof, asof
	if acc.calEnd != noTime {
		res.calEnd = acc.calEnd
	}
	res.AsOf = time.Unix(asof, 0).UTC()
	res.CalibrationEnd = time.Unix(res.calEnd, 0).UTC()

	t0 := time.Now()
	res.order = acc.sortedUsers()
	res.step("sort users", t0)

	t0 = time.Now()
	res.Recency = make([]int64, n)
	res.Frequency = make([]int64, n)
	res.Monetary = make([]int64, n)
	res.Tenure = make([]int64, n)
	for i, u := range res.order {
		s := acc.user(u)
		res.Recency[i] = floorDiv(asof-s.last, 86400)
		res.Frequency[i] = int64(s.orders)
		res.Monetary[i] = s.cents
		res.Tenure[i] = floorDiv(asof-s.first, 86400)
		res.RevenueCents += s.cents
	}
	res.R = scoreOf(res.Recency, true, cfg.RCuts)
	res.F = scoreOf(res.Frequency, false, cfg.FCuts)
	res.M = scoreOf(res.Monetary, false, cfg.MCuts)
	res.step("rfm scores", t0)
	if cfg.Only == OnlyRFM {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	t0 = time.Now()
	res.segments()
	res.lifecycle()
	res.step("segments and lifecycle", t0)

	t0 = time.Now()
	if err := res.cluster(ctx); err != nil {
		return nil, err
	}
	res.step("k-means", t0)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res.lifetimeValue()
	return res, nil
}

func scoreOf(keys []int64, desc bool, cuts *score.Cuts) []uint8 {
	if cuts == nil {
		return score.NTile(keys, desc, 5)
	}
	return cuts.ScoreAll(keys)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// sortedUsers orders user handles by user id.
func (a *Accumulator) sortedUsers() []uint32 {
	n := a.users
	order := make([]uint32, 0, n)
	if len(a.names) == 0 {
		var maxID uint64
		for _, h := range a.handles {
			maxID = max(maxID, a.key(h))
		}
		if maxID < uint64(8*n+1024) { // dense ids: place directly
			pos := make([]uint32, maxID+1)
			for _, h := range a.handles {
				pos[a.key(h)] = h + 1
			}
			for _, p := range pos {
				if p != 0 {
					order = append(order, p-1)
				}
			}
			return order
		}
		type pair struct {
			id uint64
			h  uint32
		}
		ps := make([]pair, n)
		for i, h := range a.handles {
			ps[i] = pair{a.key(h), h}
		}
		slices.SortFunc(ps, func(x, y pair) int {
			switch {
			case x.id < y.id:
				return -1
			case x.id > y.id:
				return 1
			}
			return 0
		})
		for _, p := range ps {
			order = append(order, p.h)
		}
		return order
	}
	// Sort (id text, handle) pairs: the comparator reads the texts in place
	// (no map lookups), which is most of the time on millions of users.
	type named struct {
		id string
		h  uint32
	}
	ns := make([]named, 0, n)
	allDigits := true
	for _, h := range a.handles {
		id := a.userText(h)
		ns = append(ns, named{id, h})
		if allDigits && !isDigits(id) {
			allDigits = false
		}
	}
	if allDigits {
		slices.SortFunc(ns, func(x, y named) int {
			if c := compareNumeric(x.id, y.id); c != 0 {
				return c
			}
			return strings.Compare(x.id, y.id)
		})
	} else {
		slices.SortFunc(ns, func(x, y named) int { return strings.Compare(x.id, y.id) })
	}
	for _, p := range ns {
		order = append(order, p.h)
	}
	return order
}

func isDigits(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareNumeric compares two digit strings by value.
func compareNumeric(x, y string) int {
	x = strings.TrimLeft(x, "0")
	y = strings.TrimLeft(y, "0")
	if len(x) != len(y) {
		if len(x) < len(y) {
			return -1
		}
		return 1
	}
	return strings.Compare(x, y)
}

func (r *Result) records() []segment.Record {
	recs := make([]segment.Record, len(r.order))
	for i := range recs {
		recs[i] = segment.Record{
			RecencyDays: r.Recency[i], Frequency: r.Frequency[i], MonetaryCents: r.Monetary[i],
			R: r.R[i], F: r.F[i], M: r.M[i], TenureDays: r.Tenure[i],
		}
	}
	return recs
}

func (r *Result) segments() {
	rs := r.Config.RuleSet
	recs := r.records()
	var st segment.Stats
	if rs.NeedsMedian() {
		st = segment.ComputeStats(recs)
	} else {
		st = segment.ComputeMeans(recs)
	}
	r.SegmentNames = rs.Segments()
	r.Segment = make([]uint16, len(recs))
	for i := range recs {
		r.Segment[i] = uint16(rs.Classify(recs[i], st))
	}
}

func (r *Result) lifecycle() {
	p := r.Config.Lifecycle
	r.Stage = make([]lifecycle.Stage, len(r.order))
	for i := range r.order {
		r.Stage[i] = p.Stage(r.History(i))
	}
}

func (r *Result) cluster(ctx context.Context) error {
	n := len(r.order)
	k := min(r.Config.K, n)
	pts := kmeans.Log1pRFM(r.Recency, r.Frequency, r.Monetary)
	kmeans.Standardize(pts, 3)
	model, labels, err := kmeans.FitContext(ctx, pts, 3, kmeans.Options{K: k, Restarts: r.Config.Restarts, Seed: r.Config.Seed})
	if err != nil {
		return fmt.Errorf("k-means: %w", err)
	}
	r.KMeans = model
	r.Cluster = make([]int32, n)
	for i, l := range labels {
		r.Cluster[i] = int32(l)
	}
	r.Profiles = kmeans.Profiles(labels, k, r.Recency, r.Frequency, r.Monetary)
	if len(r.Config.ScanK) > 0 {
		var ks []int
		for _, k := range r.Config.ScanK {
			if k >= 1 && k <= n {
				ks = append(ks, k)
			}
		}
		r.KScan, err = kmeans.Scan(pts, 3, ks, kmeans.Options{Restarts: r.Config.Restarts, Seed: r.Config.Seed})
		if err != nil {
			return fmt.Errorf("k-means scan: %w", err)
		}
	}
	return nil
}

// lifetimeValue fits BG/NBD and Gamma-Gamma on the calibration summaries
// and predicts per user. Users without a purchase in the calibration
// window get NaN. A failed fit is recorded in CLVError, not returned.
func (r *Result) lifetimeValue() {
	n := len(r.order)
	sums := make([]clv.Summary, n)
	mbar := make([]float64, n)
	ok := make([]bool, n)
	inFit := sampleMask(n, r.Config.FitSample, r.Config.Seed)
	var fitS []clv.Summary
	var ggX, ggM []float64
	for i := range r.order {
		sums[i], mbar[i], ok[i] = r.Calibration(i, r.Config.TimeUnit)
		if !ok[i] || inFit != nil && !inFit[i] {
			continue
		}
		fitS = append(fitS, sums[i])
		if sums[i].X > 0 && mbar[i] > 0 {
			ggX = append(ggX, sums[i].X)
			ggM = append(ggM, mbar[i])
		}
	}
	r.PAlive = make([]float64, n)
	r.ExpectedPurchases = make([]float64, n)
	r.CLV = make([]float64, n)
	for i := range n {
		r.PAlive[i], r.ExpectedPurchases[i], r.CLV[i] = math.NaN(), math.NaN(), math.NaN()
	}
	r.CLVUsers, r.GGUsers = len(fitS), len(ggX)
	tf := time.Now()
	bg, err := fitBGNBD(fitS)
	if err != nil {
		r.CLVError = "BG/NBD: " + err.Error()
		return
	}
	r.BGNBD = bg
	gg, ggErr := clv.FitGammaGamma(ggX, ggM)
	if ggErr != nil {
		r.CLVError = "Gamma-Gamma: " + ggErr.Error()
	} else {
		r.GammaGamma = gg
	}
	r.step("clv fit", tf)
	t0 := time.Now()
	// CLV: with no discount the discounted sum telescopes to
	// E[value] × E[purchases over the horizon]; with a discount, purchases
	// are discounted per step of horizon/12 (monthly for a 52-week year).
	step := max(r.Config.Horizon/12, 1e-9)
	stepRate := math.Pow(1+r.Config.Discount, step) - 1
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if !ok[i] {
				continue
			}
			s := sums[i]
			r.PAlive[i] = bg.PAlive(s)
			e := bg.ExpectedPurchases(r.Config.Horizon, s)
			r.ExpectedPurchases[i] = e
			if ggErr != nil {
				continue
			}
			m := mbar[i]
			if s.X == 0 || m <= 0 {
				// x = 0: the population mean. A non-positive mean repeat
				// value (refunds) is taken as 0: the value shrinks towards 0.
				m = 0
			}
			if r.Config.Discount == 0 {
				r.CLV[i] = gg.ExpectedValue(s.X, m) * e
			} else {
				r.CLV[i] = clv.CLVSchedule(bg, gg, s, m, r.Config.Horizon, step, stepRate)
			}
		}
	})
	r.step("clv predict", t0)
}

// sampleMask marks a uniform sample of m of n positions, or returns nil
// when every position is used (m < 0 or m >= n).
func sampleMask(n, m int, seed uint64) []bool {
	if m < 0 || m >= n {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x636c76)) // "clv"
	mask := make([]bool, n)
	for _, i := range rng.Perm(n)[:m] {
		mask[i] = true
	}
	return mask
}

// fitBGNBD fits on all cores: the log-likelihood is summed over chunks.
func fitBGNBD(s []clv.Summary) (clv.BGNBD, error) {
	if len(s) == 0 {
		return clv.BGNBD{}, fmt.Errorf("fit BG/NBD: %w", clv.ErrNoData)
	}
	if len(s) < 50000 {
		return clv.FitBGNBD(s)
	}
	if err := clv.ValidateSummaries(s); err != nil {
		return clv.BGNBD{}, err
	}
	var sumX, sumT float64
	for _, c := range s {
		sumX += c.X
		sumT += c.T
	}
	return clv.FitBGNBDObjective(float64(len(s)), clv.BGNBDStart(sumX, sumT), func(p [4]float64) (float64, [4]float64, error) {
		w := runtime.GOMAXPROCS(0)
		lls := make([]float64, w)
		grads := make([][4]float64, w)
		var wg sync.WaitGroup
		chunk := (len(s) + w - 1) / w
		for j := range w {
			lo, hi := j*chunk, min(len(s), (j+1)*chunk)
			if lo >= hi {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				lls[j], grads[j] = clv.BGNBDLogLik(p, s[lo:hi])
			}()
		}
		wg.Wait()
		var ll float64
		var g [4]float64
		for j := range w {
			ll += lls[j]
			for d := range 4 {
				g[d] += grads[j][d]
			}
		}
		return ll, g, nil
	})
}

// parallel runs fn over [0, n) split across GOMAXPROCS goroutines and waits.
func parallel(n int, fn func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if n < 10000 || w == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for j := range w {
		lo, hi := j*chunk, min(n, (j+1)*chunk)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
