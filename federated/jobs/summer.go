package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"

	"github.com/strata-fed/strata/dp/budget"
	"github.com/strata-fed/strata/dp/noise"
	"github.com/strata-fed/strata/federated/segmodel"
)

// Summer runs one federated secure sum: every site contributes the vector
// Local computes for (Statistic, Params) on its own data; the result is the
// element-wise sum over sites, noised per the DP settings unless DP is
// disabled federation-wide, and paid from the privacy budget.
//
// The jobs call Sum sequentially from one goroutine; implementations may run
// sites in parallel. The returned slice belongs to the caller.
type Summer interface {
	Sum(ctx context.Context, q Query) ([]int64, error)
}

// Query is one secure-sum request. Everything in it is public: it goes into
// the replicated log.
type Query struct {
	// Statistic names the Local function (see Statistics).
	Statistic string
	// Params is the statistic's public parameters, deterministic JSON.
	Params []byte
	// Length is the vector length every site returns.
	Length int
	// Lo and Hi bound every coordinate of ONE USER's contribution: Local
	// clamps (or encodes) each user's values into [Lo, Hi] before adding
	// them to the site's vector. A site's vector (a sum over its users) is
	// not itself bounded by them; |total| ≤ users·max(|Lo|, |Hi|).
	Lo, Hi int64
	// Epsilon and Delta are the release's privacy cost (ε, δ) under the
	// ledger's zCDP conversion (budget.LedgerEpsilon); the summer calibrates
	// the noise so that the release alone costs ρ with LedgerEpsilon(ρ, δ) ≤
	// ε. Zero Epsilon: the job runs with DP disabled.
	Epsilon, Delta float64
	// L1 and L2 are the sensitivities of the sum to adding or removing one
	// user's contribution (in the encoded integer units). Zero means the
	// conservative Length·c and √Length·c with c = max(|Lo|, |Hi|).
	L1, L2 float64
}

// Sensitivity returns the query's L1 and L2 sensitivity (see Query.L1).
func (q Query) Sensitivity() (l1, l2 float64) {
	c := math.Max(math.Abs(float64(q.Lo)), math.Abs(float64(q.Hi)))
	l1, l2 = q.L1, q.L2
	if l1 == 0 {
		l1 = float64(q.Length) * c
	}
	if l2 == 0 {
		l2 = math.Sqrt(float64(q.Length)) * c
	}
	return l1, l2
}

// Calibrate returns the zCDP cost ρ a query is charged and the total
// Skellam noise variance μ that buys it: ρ is the largest with
// budget.LedgerEpsilon(ρ, δ) ≤ ε, μ = budget.SkellamVariance(ρ, L1, L2).
func Calibrate(q Query) (rho, variance float64, err error) {
	if !(q.Epsilon > 0) || math.IsInf(q.Epsilon, 0) || !(q.Delta > 0 && q.Delta < 1) {
		return 0, 0, fmt.Errorf("%s: ε=%v δ=%v: %w", q.Statistic, q.Epsilon, q.Delta, ErrPrivacy)
	}
	rho = budget.LedgerRho(q.Epsilon, q.Delta)
	l1, l2 := q.Sensitivity()
	if !(rho > 0) || !(l2 > 0) {
		return 0, 0, fmt.Errorf("%s: ρ=%v, L2=%v: %w", q.Statistic, rho, l2, ErrPrivacy)
	}
	return rho, budget.SkellamVariance(rho, l1, l2), nil
}

// LocalFunc computes one site's contribution to a statistic.
type LocalFunc func(params []byte, d *segmodel.SiteData) ([]int64, error)

// locals is the registry of statistics, one per job query.
var locals = map[string]LocalFunc{
	statHist:     localHist,
	statRFMSums:  localRFMSums,
	statMoments:  localMoments,
	statGrid:     localGrid,
	statStep:     localStep,
	statCLVStart: localCLVStart,
	statBGNBD:    localBGNBD,
	statGG:       localGG,
	statCLVGrid:  localCLVGrid,
	statChannels: localChannels,
}

// Statistics lists the statistic names Local knows.
func Statistics() []string {
	return []string{statHist, statRFMSums, statMoments, statGrid, statStep, statCLVStart, statBGNBD, statGG, statCLVGrid, statChannels}
}

// Local computes this site's contribution to a statistic: the vector a
// node hands to the secure-sum protocol (its Provider). It is pure; the
// vector never leaves the site in the clear. Errors wrap ErrUnknown or
// ErrParams.
func Local(statistic string, params []byte, d *segmodel.SiteData) ([]int64, error) {
	f, ok := locals[statistic]
	if !ok {
		return nil, fmt.Errorf("statistic %q: %w", statistic, ErrUnknown)
	}
	v, err := f(params, d)
	if err != nil {
		return nil, fmt.Errorf("statistic %s: %w", statistic, err)
	}
	return v, nil
}

// decodeParams strictly decodes a statistic's JSON parameters.
func decodeParams(b []byte, v any) error {
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("params: %v: %w", err, ErrParams)
	}
	if dec.More() {
		return fmt.Errorf("params: trailing data: %w", ErrParams)
	}
	return nil
}

func encodeParams(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own parameter structs are encoded; they always marshal
		// unless a float is NaN/Inf, which the jobs check first.
		return nil
	}
	return b
}

// MemSummer is an in-memory Summer over in-process sites, for tests and the
// centralised baseline: Sum calls Local on every site and adds the vectors
// exactly. With DP set, each site adds its own distributed Skellam share
// (variance μ/N with threshold t = N, dp/noise.NewShare) calibrated by
// Calibrate, as the real protocol does; without it the sum is exact and ε
// is ignored. Safe for concurrent use.
type MemSummer struct {
	Sites []*segmodel.SiteData
	DP    bool

	mu  sync.Mutex
	log []Record
}

// Record is one query a MemSummer answered.
type Record struct {
	Statistic string
	Length    int
	// Rho is the charged zCDP cost (0 with DP off); Variance the total noise.
	Rho, Variance float64
}

// Log returns the queries answered so far.
func (s *MemSummer) Log() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.log...)
}

// Sum implements Summer.
func (s *MemSummer) Sum(ctx context.Context, q Query) ([]int64, error) {
	if len(s.Sites) == 0 {
		return nil, fmt.Errorf("mem summer: no sites: %w", ErrParams)
	}
	if q.Length < 1 || q.Lo > q.Hi {
		return nil, fmt.Errorf("mem summer %s: length %d, clamp [%d, %d]: %w", q.Statistic, q.Length, q.Lo, q.Hi, ErrParams)
	}
	rec := Record{Statistic: q.Statistic, Length: q.Length}
	if s.DP {
		var err error
		if rec.Rho, rec.Variance, err = Calibrate(q); err != nil {
			return nil, fmt.Errorf("mem summer: %w", err)
		}
	}
	total := make([]int64, q.Length)
	for i, d := range s.Sites {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := Local(q.Statistic, q.Params, d)
		if err != nil {
			return nil, fmt.Errorf("mem summer site %d: %w", i, err)
		}
		if len(v) != q.Length {
			return nil, fmt.Errorf("mem summer site %d: %s has %d values, want %d: %w", i, q.Statistic, len(v), q.Length, ErrParams)
		}
		if s.DP {
			sk, err := noise.NewShare(noise.ShareParams{N: len(s.Sites), T: len(s.Sites), Variance: rec.Variance})
			if err != nil {
				return nil, fmt.Errorf("mem summer: %w", err)
			}
			sk.AddTo(v)
		}
		for j, x := range v {
			total[j] += x
		}
	}
	s.mu.Lock()
	s.log = append(s.log, rec)
	s.mu.Unlock()
	return total, nil
}
