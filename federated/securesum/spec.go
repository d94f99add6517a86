package securesum

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/strata-fed/strata/dp/budget"
	"github.com/strata-fed/strata/federated/fsm"
)

// Spec is a secure-sum request.
type Spec struct {
	// Statistic names the vector every site's Provider returns. Required:
	// 1..64 bytes of [A-Za-z0-9._-].
	Statistic string `json:"statistic"`
	// Length is the number of coordinates; 0 = the length of the leader's
	// own statistic.
	Length int `json:"length,omitempty"`
	// Params are the statistic's public, deterministic parameters (JSON,
	// at most MaxParams bytes; e.g. the current k-means centroids), handed
	// to every site's Provider. They are written, compacted, into the
	// round's spec in the log, whose Kind limit (fsm.MaxKindLen) bounds
	// the whole encoded spec: SecureSum refuses a longer one (ErrBadSpec).
	// Empty for plain named vectors.
	Params json.RawMessage `json:"params,omitempty"`
	// Lo and Hi are the per-coordinate clamp bounds (Lo ≤ Hi). Without
	// explicit sensitivities, every site clamps its vector into [Lo, Hi]
	// before adding noise and encrypting, and they fix the sensitivity
	// (one site's vector is the unit of privacy). With explicit
	// sensitivities (L1, L2, MaxAbs set), they are the per-coordinate bound
	// of ONE USER's contribution that the site's Provider applies itself,
	// recorded in the log.
	Lo int64 `json:"lo"`
	Hi int64 `json:"hi"`
	// L1 and L2 are explicit sensitivities of the sum to adding or removing
	// one user's contribution, for providers that bound each user's
	// contribution themselves (see the package doc, "Per-user
	// sensitivity"). Zero (with MaxAbs zero) means the clamp bounds' Δ₁ =
	// Length·c, Δ₂ = √Length·c with c = max(|Lo|, |Hi|). When set, L1 ≥ L2
	// > 0 and MaxAbs > 0 are required.
	L1 float64 `json:"l1,omitempty"`
	L2 float64 `json:"l2,omitempty"`
	// MaxAbs, with explicit sensitivities, bounds every coordinate of one
	// site's whole vector (a sum over its users): each site clamps its
	// vector into [−MaxAbs, MaxAbs] instead of [Lo, Hi]. Chosen by the
	// requester; MaxAbs plus the noise tail must pass the plaintext-modulus
	// wrap check. It does not enter the calibration.
	MaxAbs int64 `json:"max_abs,omitempty"`
	// Epsilon and Delta are the release's privacy cost, charged to the
	// ledger of (federation, Dataset) when the round starts. With DP on,
	// Epsilon > 0 and 0 < Delta < 1 are required. With DP disabled (test
	// switch in the log) they may be zero (no charge, no ledger needed).
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Dataset names the budget ledger; "" = Statistic.
	Dataset string `json:"dataset,omitempty"`
	// Participants restricts the round to these sites; nil = every live
	// holder of the active key.
	Participants []string `json:"participants,omitempty"`
}

func (s Spec) dataset() string {
	if s.Dataset != "" {
		return s.Dataset
	}
	return s.Statistic
}

// MaxLength bounds Spec.Length.
const MaxLength = 1 << 22

// MaxParams bounds Spec.Params, in bytes. The encoded round spec must also
// fit the log's round-kind limit (fsm.MaxKindLen).
const MaxParams = 16 << 10

// explicit reports whether the spec gives explicit per-user sensitivities.
func (s Spec) explicit() bool { return s.L1 != 0 || s.L2 != 0 || s.MaxAbs != 0 }

// checkSensitivity validates explicit sensitivities.
func checkSensitivity(l1, l2 float64, maxAbs int64) error {
	if !(l2 > 0) || !(l1 >= l2) || math.IsInf(l1, 0) || maxAbs <= 0 {
		return fmt.Errorf("explicit sensitivities L1=%v L2=%v, max_abs %d: want L1 ≥ L2 > 0, finite, and max_abs > 0: %w", l1, l2, maxAbs, ErrBadSpec)
	}
	return nil
}

// canonicalParams returns params compacted (as the log stores them), nil
// for none or JSON null; an error wrapping ErrBadSpec if they are not JSON
// or exceed MaxParams.
func canonicalParams(params []byte) ([]byte, error) {
	if len(params) > MaxParams {
		return nil, fmt.Errorf("params: %d bytes over limit %d: %w", len(params), MaxParams, ErrBadSpec)
	}
	if len(bytes.TrimSpace(params)) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(json.RawMessage(params)) // validates and compacts
	if err != nil {
		return nil, fmt.Errorf("params: not JSON: %v: %w", err, ErrBadSpec)
	}
	if string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// roundSpec is the part of a round every site must agree on. The leader
// writes it, canonically, into the round's Kind in the log:
//
//	sum:<statistic> {"v":1,"n":...,"lo":...,"hi":...,"max_abs":...,"params":...,"mech":...,"mu":...,"l1":...,"l2":...}
//
// so each site derives its clamp bounds, its statistic's parameters and its
// noise share from the committed log alone, never from the leader's word.
// max_abs and params are omitted when zero (kinds written before they
// existed parse unchanged).
type roundSpec struct {
	Statistic string `json:"-"`
	V         int    `json:"v"`
	N         int    `json:"n"`
	Lo        int64  `json:"lo"`
	Hi        int64  `json:"hi"`
	// MaxAbs > 0 marks explicit per-user sensitivities: each site clamps
	// its vector to [−MaxAbs, MaxAbs] (Lo, Hi bound one user's part, which
	// the Provider enforces), and L1, L2 are the given ones.
	MaxAbs int64 `json:"max_abs,omitempty"`
	// Params are the statistic's parameters, compact JSON.
	Params json.RawMessage `json:"params,omitempty"`
	// Mech is "skellam" or "none" (DP disabled).
	Mech string `json:"mech"`
	// Mu is the total noise variance σ² per coordinate that any t honest
	// shares add up to.
	Mu float64 `json:"mu,omitempty"`
	// L1 and L2 are the sensitivities the noise was calibrated to.
	L1 float64 `json:"l1,omitempty"`
	L2 float64 `json:"l2,omitempty"`
}

const (
	mechSkellam = "skellam"
	mechNone    = "none"
	kindPrefix  = "sum:"
)

// kind encodes the spec as the round's Kind.
func (r roundSpec) kind() (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode round spec: %w", err)
	}
	return kindPrefix + r.Statistic + " " + string(b), nil
}

// parseKind decodes a round Kind written by kind.
func parseKind(kind string) (roundSpec, error) {
	var r roundSpec
	rest, ok := strings.CutPrefix(kind, kindPrefix)
	if !ok {
		return r, fmt.Errorf("round kind %q is not a secure sum: %w", kind, ErrBadSpec)
	}
	name, js, ok := strings.Cut(rest, " ")
	if !ok || !validName(name) {
		return r, fmt.Errorf("round kind %q: bad statistic: %w", kind, ErrBadSpec)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(js)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("round kind %q: %v: %w", kind, err, ErrBadSpec)
	}
	r.Statistic = name
	if r.V != 1 || r.N < 1 || r.N > MaxLength || r.Lo > r.Hi || r.MaxAbs < 0 {
		return r, fmt.Errorf("round kind %q: bad fields: %w", kind, ErrBadSpec)
	}
	params, err := canonicalParams(r.Params)
	if err != nil {
		return r, fmt.Errorf("round kind %q: %w", kind, err)
	}
	r.Params = params
	switch r.Mech {
	case mechNone:
	case mechSkellam:
		if !(r.Mu > 0) || math.IsInf(r.Mu, 0) {
			return r, fmt.Errorf("round kind %q: bad variance: %w", kind, ErrBadSpec)
		}
		if r.MaxAbs > 0 {
			if err := checkSensitivity(r.L1, r.L2, r.MaxAbs); err != nil {
				return r, fmt.Errorf("round kind %q: %w", kind, err)
			}
		}
	default:
		return r, fmt.Errorf("round kind %q: unknown mechanism %q: %w", kind, r.Mech, ErrBadSpec)
	}
	return r, nil
}

// bound is the largest |value| a clamped coordinate can have.
func (r roundSpec) bound() int64 {
	if r.MaxAbs > 0 {
		return r.MaxAbs
	}
	return max(absInt(r.Lo), absInt(r.Hi))
}

// clamp bounds a site's vector in place: to [−MaxAbs, MaxAbs] with explicit
// sensitivities, to [Lo, Hi] otherwise.
func (r roundSpec) clamp(v []int64) {
	lo, hi := r.Lo, r.Hi
	if r.MaxAbs > 0 {
		lo, hi = -r.MaxAbs, r.MaxAbs
	}
	for i, x := range v {
		v[i] = min(max(x, lo), hi)
	}
}

func absInt(v int64) int64 {
	if v < 0 {
		if v == math.MinInt64 {
			return math.MaxInt64
		}
		return -v
	}
	return v
}

// verify checks a committed round's spec against what the log charged for
// it, so that no site relies on the leader's word for the noise. A round
// with DP disabled in the log is refused unless this site allows it
// (allowDPOff, the node's own federation.allow_dp_off). With DP on, the
// mechanism must be Skellam, its sensitivities at least those implied by
// the clamp bounds (or, with explicit sensitivities, the committed L1 and
// L2 themselves), its variance at least the calibration of the round's
// charged (ε, δ) for those sensitivities, and the round may not close with
// fewer than t contributions (fewer shares would carry less than the
// calibrated noise). Contributors check before sending a ciphertext,
// decryptors before producing a share.
func (s roundSpec) verify(r fsm.Round, allowDPOff bool) error {
	if r.DPDisabled {
		if !allowDPOff {
			return fmt.Errorf("round %s: DP is disabled in the log, and this site does not allow DP-off rounds (federation.allow_dp_off): %w",
				r.ID, ErrDPOff)
		}
		return nil
	}
	if s.Mech != mechSkellam {
		return fmt.Errorf("round %s: DP is on but the round carries %q noise: %w", r.ID, s.Mech, ErrBadSpec)
	}
	l1, l2 := sensitivity(s.N, s.Lo, s.Hi)
	if s.MaxAbs > 0 {
		if err := checkSensitivity(s.L1, s.L2, s.MaxAbs); err != nil {
			return fmt.Errorf("round %s: %w", r.ID, err)
		}
		l1, l2 = s.L1, s.L2
	}
	if s.L1 < l1 || s.L2 < l2 {
		return fmt.Errorf("round %s: noise calibrated to sensitivity (%g, %g), below the clamp bounds' (%g, %g): %w",
			r.ID, s.L1, s.L2, l1, l2, ErrBadSpec)
	}
	want, err := calibrate(r.Cost.Epsilon, r.Cost.Delta, l1, l2)
	if err != nil {
		return fmt.Errorf("round %s: charged cost: %w", r.ID, err)
	}
	if s.Mu < want*(1-1e-9) {
		return fmt.Errorf("round %s: noise variance %g is below the %g its charged ε=%g, δ=%g call for: %w",
			r.ID, s.Mu, want, r.Cost.Epsilon, r.Cost.Delta, ErrBadSpec)
	}
	if r.MinContributors > 0 && r.MinContributors < r.Threshold {
		return fmt.Errorf("round %s: may close with %d contributions, fewer than the %d whose noise shares make up the calibrated variance: %w",
			r.ID, r.MinContributors, r.Threshold, ErrBadSpec)
	}
	return nil
}

// sensitivity returns the L1 and L2 sensitivity of a sum of clamped vectors
// of n coordinates under add/remove of one contribution: each coordinate
// moves by at most c = max(|lo|, |hi|).
func sensitivity(n int, lo, hi int64) (l1, l2 float64) {
	c := float64(max(absInt(lo), absInt(hi)))
	return float64(n) * c, math.Sqrt(float64(n)) * c
}

// calibrate returns the total Skellam variance μ for a release that alone is
// (ε, δ)-DP under the ledger's conservative zCDP conversion (budget.LedgerEpsilon,
// which includes the margin for Skellam's integer-order Rényi bound).
func calibrate(eps, delta, l1, l2 float64) (float64, error) {
	if !(eps > 0) || math.IsInf(eps, 0) || !(delta > 0 && delta < 1) {
		return 0, fmt.Errorf("ε=%v δ=%v: DP needs ε > 0 and 0 < δ < 1: %w", eps, delta, ErrBadSpec)
	}
	if !(l2 > 0) {
		return 0, fmt.Errorf("zero sensitivity (clamp bounds [0, 0]): %w", ErrBadSpec)
	}
	rho := budget.LedgerRho(eps, delta)
	if !(rho > 0) {
		return 0, fmt.Errorf("ε=%v δ=%v leaves no zCDP budget: %w", eps, delta, ErrBadSpec)
	}
	return budget.SkellamVariance(rho, l1, l2), nil
}
