package securesum

import (
	"errors"
	"testing"

	"github.com/strata-fed/strata/federated/fsm"
)

// TestVerifySpec: a site checks the committed round's noise against what the
// ledger charged for it, whatever the leader wrote into the round's Kind.
func TestVerifySpec(t *testing.T) {
	l1, l2 := sensitivity(4, -10, 100)
	mu, err := calibrate(0.5, 1e-6, l1, l2)
	if err != nil {
		t.Fatal(err)
	}
	good := roundSpec{Statistic: "revenue", V: 1, N: 4, Lo: -10, Hi: 100, Mech: mechSkellam, Mu: mu, L1: l1, L2: l2}
	round := fsm.Round{ID: "7", Threshold: 3, Cost: fsm.Cost{Epsilon: 0.5, Delta: 1e-6}}
	cases := []struct {
		name  string
		spec  func(roundSpec) roundSpec
		round func(fsm.Round) fsm.Round
		ok    bool
	}{
		{"calibrated", func(s roundSpec) roundSpec { return s }, func(r fsm.Round) fsm.Round { return r }, true},
		{"no noise with DP on", func(s roundSpec) roundSpec { s.Mech, s.Mu = mechNone, 0; return s }, func(r fsm.Round) fsm.Round { return r }, false},
		{"too little noise", func(s roundSpec) roundSpec { s.Mu /= 2; return s }, func(r fsm.Round) fsm.Round { return r }, false},
		{"charged more than the noise covers", func(s roundSpec) roundSpec { return s }, func(r fsm.Round) fsm.Round { r.Cost.Epsilon = 0.1; return r }, false},
		{"sensitivity understated", func(s roundSpec) roundSpec { s.L2 /= 2; return s }, func(r fsm.Round) fsm.Round { return r }, false},
		{"wider clamp than calibrated", func(s roundSpec) roundSpec { s.Hi = 1000; return s }, func(r fsm.Round) fsm.Round { return r }, false},
		{"closes below t", func(s roundSpec) roundSpec { return s }, func(r fsm.Round) fsm.Round { r.MinContributors = 2; return r }, false},
		{"more noise than needed", func(s roundSpec) roundSpec { s.Mu *= 4; return s }, func(r fsm.Round) fsm.Round { return r }, true},
		{"DP disabled in the log", func(s roundSpec) roundSpec { s.Mech, s.Mu = mechNone, 0; return s }, func(r fsm.Round) fsm.Round { r.DPDisabled = true; return r }, true},
	}
	for _, tc := range cases {
		err := tc.spec(good).verify(tc.round(round), true)
		if tc.ok && err != nil {
			t.Errorf("%s: verify = %v, want nil", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrBadSpec) {
			t.Errorf("%s: verify = %v, want ErrBadSpec", tc.name, err)
		}
	}
	// A site that does not allow DP-off rounds refuses one, whatever the
	// spec says.
	off := round
	off.DPDisabled = true
	for _, s := range []roundSpec{good, {Statistic: "revenue", V: 1, N: 4, Lo: -10, Hi: 100, Mech: mechNone}} {
		if err := s.verify(off, false); !errors.Is(err, ErrDPOff) {
			t.Errorf("verify(DP off, not allowed) = %v, want ErrDPOff", err)
		}
	}
}

// TestVerifyExplicitSensitivity: with explicit per-user sensitivities the
// site recomputes the calibration from the committed L1, L2 (not from the
// clamp bounds, which then bound one user), and refuses too little noise.
func TestVerifyExplicitSensitivity(t *testing.T) {
	const l1, l2 = 3.0, 1.7320508075688772
	mu, err := calibrate(0.5, 1e-6, l1, l2)
	must(t, err)
	good := roundSpec{Statistic: "rfm.hist", V: 1, N: 6000, Lo: 0, Hi: 1, MaxAbs: 1 << 20, Mech: mechSkellam, Mu: mu, L1: l1, L2: l2}
	round := fsm.Round{ID: "8", Threshold: 2, Cost: fsm.Cost{Epsilon: 0.5, Delta: 1e-6}}
	if err := good.verify(round, false); err != nil {
		t.Fatalf("verify(calibrated to the explicit sensitivities) = %v", err)
	}
	// Plain clamping of 6,000 coordinates to [0, 1] would need far more
	// noise: the explicit sensitivities are what the site checks against.
	if pl1, pl2 := sensitivity(good.N, good.Lo, good.Hi); !(pl2 > 10*l2) || pl1 <= l1 {
		t.Fatalf("test premise: plain sensitivity (%g, %g)", pl1, pl2)
	}
	for name, mod := range map[string]func(*roundSpec){
		"too little noise":           func(s *roundSpec) { s.Mu = mu * 0.9 },
		"L2 above L1":                func(s *roundSpec) { s.L1 = s.L2 / 2 },
		"zero L2":                    func(s *roundSpec) { s.L2 = 0 },
		"more sensitivity than paid": func(s *roundSpec) { s.L1, s.L2 = 2*l1, 2*l2 },
	} {
		s := good
		mod(&s)
		if err := s.verify(round, false); !errors.Is(err, ErrBadSpec) {
			t.Errorf("%s: verify = %v, want ErrBadSpec", name, err)
		}
	}
	// The site clamps its whole vector to ±MaxAbs, not to [Lo, Hi].
	v := []int64{5, -7, 1 << 30}
	good.clamp(v)
	if v[0] != 5 || v[1] != -7 || v[2] != 1<<20 {
		t.Errorf("clamp with MaxAbs = %v", v)
	}
	plain := good
	plain.MaxAbs = 0
	v = []int64{5, -7}
	plain.clamp(v)
	if v[0] != 1 || v[1] != 0 {
		t.Errorf("plain clamp = %v, want [1 0]", v)
	}
}
