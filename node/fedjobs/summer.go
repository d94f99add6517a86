package fedjobs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/strata-fed/strata/federated/he"
	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/node/admin"
)

// Runner runs one secure-sum round and waits for its end: a leader's
// *securesum.Node, a *daemon.Daemon, or an admin client (ClientRunner).
type Runner interface {
	SecureSum(ctx context.Context, spec securesum.Spec) (securesum.Result, error)
}

// KeyLister lists the federation's key epochs (*securesum.Node and
// *daemon.Daemon implement it). A Runner that also implements it lets
// Summer derive MaxAbs from the active key.
type KeyLister interface {
	Keys() []securesum.KeyInfo
}

// ClientRunner runs secure sums through the admin API client (which finds
// the leader and redoes a round aborted by a leader change).
type ClientRunner struct {
	Client *admin.Client
	// Timeout bounds each round; 0 = one minute.
	Timeout time.Duration
}

// SecureSum implements Runner.
func (c ClientRunner) SecureSum(ctx context.Context, spec securesum.Spec) (securesum.Result, error) {
	t := c.Timeout
	if t <= 0 {
		t = time.Minute
	}
	return c.Client.SecureSum(ctx, spec, t)
}

// Summer is a jobs.Summer over threshold-encrypted secure sums: each Sum is
// one round (see the package doc for the mapping). Sum is safe for
// concurrent use; the jobs call it sequentially.
type Summer struct {
	// Runner runs the rounds. Required.
	Runner Runner
	// Dataset is the ledger the rounds are charged to; "" = DefaultDataset.
	// It must be the dataset the sites' Providers bind the statistics to.
	Dataset string
	// MaxAbs bounds each coordinate of one site's vector; 0 = MaxAbsFor the
	// active key (Runner must then implement KeyLister).
	MaxAbs int64
	// Participants restricts the rounds to these sites; nil = every live
	// holder of the active key.
	Participants []string

	mu     sync.Mutex
	params map[string]*he.Parameters
	log    []securesum.Result
}

var _ jobs.Summer = (*Summer)(nil)

// Rounds returns the results of the rounds run so far (values included).
func (s *Summer) Rounds() []securesum.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]securesum.Result(nil), s.log...)
}

// Sum implements jobs.Summer.
func (s *Summer) Sum(ctx context.Context, q jobs.Query) ([]int64, error) {
	if s.Runner == nil {
		return nil, fmt.Errorf("summer: no runner: %w", ErrConfig)
	}
	spec, err := s.Spec(q)
	if err != nil {
		return nil, err
	}
	res, err := s.Runner.SecureSum(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("secure sum %s: %w", q.Statistic, err)
	}
	if len(res.Values) != q.Length {
		return nil, fmt.Errorf("secure sum %s, round %s: %d values released, want %d: %w", q.Statistic, res.RoundID, len(res.Values), q.Length, ErrRelease)
	}
	if q.Epsilon == 0 && res.Noise.Mechanism != "none" {
		return nil, fmt.Errorf("secure sum %s, round %s: DP-off query released with %q noise: %w", q.Statistic, res.RoundID, res.Noise.Mechanism, ErrRelease)
	}
	s.mu.Lock()
	s.log = append(s.log, res)
	s.mu.Unlock()
	return append([]int64(nil), res.Values...), nil
}

// Spec maps a query to the secure-sum request Sum sends: the same
// statistic, params, length, per-user bounds [Lo, Hi] and (ε, δ); explicit
// per-user sensitivities L1, L2 (the query's, or jobs' conservative
// defaults, Query.Sensitivity); MaxAbs as configured or MaxAbsFor the
// active key and the query's noise.
func (s *Summer) Spec(q jobs.Query) (securesum.Spec, error) {
	if q.Length < 1 || q.Lo > q.Hi {
		return securesum.Spec{}, fmt.Errorf("query %s: length %d, bounds [%d, %d]: %w", q.Statistic, q.Length, q.Lo, q.Hi, securesum.ErrBadSpec)
	}
	l1, l2 := q.Sensitivity()
	maxAbs := s.MaxAbs
	if maxAbs == 0 {
		var variance float64
		if q.Epsilon != 0 {
			_, v, err := jobs.Calibrate(q)
			if err != nil {
				return securesum.Spec{}, fmt.Errorf("query %s: %w", q.Statistic, err)
			}
			variance = v
		}
		var err error
		if maxAbs, err = s.derivedMaxAbs(variance); err != nil {
			return securesum.Spec{}, fmt.Errorf("query %s: %w", q.Statistic, err)
		}
	}
	ds := s.Dataset
	if ds == "" {
		ds = DefaultDataset
	}
	return securesum.Spec{
		Statistic: q.Statistic, Length: q.Length, Params: json.RawMessage(q.Params),
		Lo: q.Lo, Hi: q.Hi, L1: l1, L2: l2, MaxAbs: maxAbs,
		Epsilon: q.Epsilon, Delta: q.Delta, Dataset: ds, Participants: s.Participants,
	}, nil
}

// derivedMaxAbs is MaxAbsFor the runner's active key.
func (s *Summer) derivedMaxAbs(variance float64) (int64, error) {
	kl, ok := s.Runner.(KeyLister)
	if !ok {
		return 0, fmt.Errorf("summer: MaxAbs unset and the runner lists no keys: %w", ErrConfig)
	}
	var key *securesum.KeyInfo
	for _, k := range kl.Keys() {
		if k.Status == "active" {
			key = &k
		}
	}
	if key == nil {
		return 0, fmt.Errorf("summer: no active key to derive MaxAbs from: %w", ErrConfig)
	}
	s.mu.Lock()
	p := s.params[key.HEParams]
	s.mu.Unlock()
	if p == nil {
		set, err := he.LookupParamSet(key.HEParams)
		if err != nil {
			return 0, fmt.Errorf("summer: key epoch %d: %w", key.Epoch, err)
		}
		if p, err = he.NewParameters(set); err != nil {
			return 0, fmt.Errorf("summer: key epoch %d: %w", key.Epoch, err)
		}
		s.mu.Lock()
		if s.params == nil {
			s.params = map[string]*he.Parameters{}
		}
		s.params[key.HEParams] = p
		s.mu.Unlock()
	}
	return MaxAbsFor(p, len(key.Participants), key.Threshold, variance)
}

// MaxAbsFor returns the largest per-site clamp bound that passes
// securesum's wrap check for a key of the given participants and threshold
// t, with noise of total variance μ (0 with DP off): securesum refuses a
// round unless MaxAbs + 64·√(μ/t) ≤ MaxAbsInput(participants) =
// MaxAbsSum/participants, so that no sum of one clamped, noised vector per
// participant can wrap the plaintext modulus. We take that bound minus the
// tail rounded up (with a relative margin of 1e-6 for rounding) minus 1.
//
// Why the largest: MaxAbs plays no part in the DP calibration (the per-user
// L1, L2 do), it only limits what one site's vector — a sum over its users
// — can weigh. Clamping there would silently bias the total, so it should
// never bind; with the production and test parameter sets (t ≈ 2^59) and
// three sites it is ≈ 2^56, which a site reaches only with more than 2^35
// users at the exact codec's per-user bound 2^21.
func MaxAbsFor(p *he.Parameters, participants, threshold int, variance float64) (int64, error) {
	if p == nil || participants < 1 || threshold < 1 || !(variance >= 0) || math.IsInf(variance, 0) {
		return 0, fmt.Errorf("max abs: %d participants, threshold %d, variance %v: %w", participants, threshold, variance, ErrConfig)
	}
	tail := math.Ceil(64*math.Sqrt(variance/float64(threshold))*(1+1e-6)) + 1
	lim := float64(p.MaxAbsInput(participants))
	if !(tail < lim) {
		return 0, fmt.Errorf("max abs: noise tail %.3g leaves nothing of the per-site bound %.3g: %w", tail, lim, securesum.ErrBadSpec)
	}
	return p.MaxAbsInput(participants) - int64(tail), nil
}
