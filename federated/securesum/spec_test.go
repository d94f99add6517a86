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
		err := tc.spec(good).verify(tc.round(round))
		if tc.ok && err != nil {
			t.Errorf("%s: verify = %v, want nil", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrBadSpec) {
			t.Errorf("%s: verify = %v, want ErrBadSpec", tc.name, err)
		}
	}
}
