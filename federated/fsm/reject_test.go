package fsm

import (
	"errors"
	"testing"
)

var abc = []string{"a", "b", "c"}

// collecting returns a federation a, b, c (t = 2, ε budget 1) with round r1 (ε 0.25)
// that a has contributed to.
func collecting(t *testing.T) *node {
	n := federation(t, abc, 2, Cost{Epsilon: 1, Delta: 1e-6})
	n.must(startRound("r1", abc, 0.25), &Contribute{Round: "r1", Site: "a", Hash: hashOf("a1"), Size: 10})
	return n
}

// decrypting returns collecting with b's contribution and r1 closed with decryptors b, a.
func decrypting(t *testing.T) *node {
	n := collecting(t)
	n.must(&Contribute{Round: "r1", Site: "b", Hash: hashOf("b1"), Size: 10},
		&CloseRound{Round: "r1", Decryptors: []string{"b", "a"}, AggregateHash: hashOf("agg")})
	return n
}

func done(t *testing.T) *node {
	n := decrypting(t)
	n.must(&FinishRound{Round: "r1", ResultHash: hashOf("res"), Noise: NoiseParams{Mechanism: "discrete_gaussian", Sigma: 3}})
	return n
}

func TestRejections(t *testing.T) {
	dg := NoiseParams{Mechanism: "discrete_gaussian", Sigma: 3}
	cases := []struct {
		name string
		want error
		run  func(t *testing.T, want error)
	}{
		{"decryptor count", ErrBadCommand, func(t *testing.T, want error) {
			n := collecting(t)
			n.must(&Contribute{Round: "r1", Site: "b", Hash: hashOf("b1"), Size: 10})
			n.reject(&CloseRound{Round: "r1", Decryptors: abc, AggregateHash: hashOf("agg")}, want)
		}},
		{"key set-up without HE params", ErrBadCommand, func(t *testing.T, want error) {
			n := newNode(t)
			n.must(&AddSite{Site: "a", Address: "x", Role: RoleVoter}, &SiteJoined{Site: "a"})
			n.reject(&BeginKeySetup{Epoch: 1, Participants: []string{"a"}, Threshold: 1, Seed: hashOf("s")}, want)
		}},
		{"join unknown", ErrUnknownSite, func(t *testing.T, want error) { newNode(t).reject(&SiteJoined{Site: "a"}, want) }},
		{"remove unknown", ErrUnknownSite, func(t *testing.T, want error) { newNode(t).reject(&RemoveSite{Site: "a"}, want) }},
		{"role unknown", ErrUnknownSite, func(t *testing.T, want error) { newNode(t).reject(&SetRole{Site: "a", Role: RoleVoter}, want) }},
		{"liveness unknown", ErrUnknownSite, func(t *testing.T, want error) { newNode(t).reject(&SiteLiveness{Site: "a"}, want) }},
		{"invite twice", ErrSiteExists, func(t *testing.T, want error) {
			n := newNode(t)
			n.must(&AddSite{Site: "a", Address: "x", Role: RoleVoter})
			n.reject(&AddSite{Site: "a", Address: "y", Role: RoleNonvoter}, want)
		}},
		{"join twice", ErrSiteExists, func(t *testing.T, want error) {
			n := newNode(t)
			n.must(&AddSite{Site: "a", Address: "x", Role: RoleVoter}, &SiteJoined{Site: "a"})
			n.reject(&SiteJoined{Site: "a"}, want)
		}},
		{"join removed", ErrSiteNotAllowed, func(t *testing.T, want error) {
			n := newNode(t)
			n.must(&AddSite{Site: "a", Address: "x", Role: RoleVoter}, &RemoveSite{Site: "a"})
			n.reject(&SiteJoined{Site: "a"}, want)
		}},
		{"remove twice", ErrSiteNotAllowed, func(t *testing.T, want error) {
			n := newNode(t)
			n.must(&AddSite{Site: "a", Address: "x", Role: RoleVoter}, &RemoveSite{Site: "a"})
			n.reject(&RemoveSite{Site: "a"}, want)
		}},
		{"liveness of invited", ErrSiteNotAllowed, func(t *testing.T, want error) {
			n := newNode(t)
			n.must(&AddSite{Site: "a", Address: "x", Role: RoleVoter})
			n.reject(&SiteLiveness{Site: "a", Live: true}, want)
		}},
		{"role of removed", ErrSiteNotAllowed, func(t *testing.T, want error) {
			n := newNode(t)
			n.must(&AddSite{Site: "a", Address: "x", Role: RoleVoter}, &RemoveSite{Site: "a"})
			n.reject(&SetRole{Site: "a", Role: RoleNonvoter}, want)
		}},
		{"key participant not joined", ErrSiteNotAllowed, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(&AddSite{Site: "d", Address: "x", Role: RoleNonvoter})
			n.reject(&BeginKeySetup{Epoch: 2, Participants: []string{"a", "d"}, Threshold: 1, Seed: hashOf("s2")}, want)
		}},
		{"round participant removed", ErrSiteNotAllowed, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(&RemoveSite{Site: "c"})
			n.reject(startRound("r1", abc, 0.1), want)
		}},
		{"contribution from removed participant", ErrSiteNotAllowed, func(t *testing.T, want error) {
			n := federation(t, []string{"a", "b", "c", "d"}, 2, Cost{Epsilon: 1})
			n.must(startRound("r1", []string{"a", "b", "c", "d"}, 0.1), &RemoveSite{Site: "d"})
			n.reject(&Contribute{Round: "r1", Site: "d", Hash: hashOf("d"), Size: 1}, want)
		}},
		{"release by site not joined", ErrSiteNotAllowed, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.reject(&ChargeBudget{ID: "q", Federation: "fed", Dataset: "orders", Site: "zz", Purpose: "count", Cost: Cost{Epsilon: 0.1}}, want)
		}},
		{"sixth voter", ErrTooManyVoters, func(t *testing.T, want error) {
			n := newNode(t)
			for _, s := range []string{"a", "b", "c", "d", "e"} {
				n.must(&AddSite{Site: s, Address: "x", Role: RoleVoter})
			}
			n.reject(&AddSite{Site: "f", Address: "x", Role: RoleVoter}, want)
		}},
		{"promote sixth voter", ErrTooManyVoters, func(t *testing.T, want error) {
			n := newNode(t)
			for _, s := range []string{"a", "b", "c", "d", "e"} {
				n.must(&AddSite{Site: s, Address: "x", Role: RoleVoter})
			}
			n.must(&AddSite{Site: "f", Address: "x", Role: RoleNonvoter})
			n.reject(&SetRole{Site: "f", Role: RoleVoter}, want)
		}},
		{"complete unknown epoch", ErrUnknownKeyEpoch, func(t *testing.T, want error) {
			newNode(t).reject(&CompleteKeySetup{Epoch: 1, PublicKeyHash: hashOf("k")}, want)
		}},
		{"fail unknown epoch", ErrUnknownKeyEpoch, func(t *testing.T, want error) {
			newNode(t).reject(&FailKeySetup{Epoch: 3, Reason: "x"}, want)
		}},
		{"round on unknown epoch", ErrUnknownKeyEpoch, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			r := startRound("r1", abc, 0.1)
			r.KeyEpoch = 2
			n.reject(r, want)
		}},
		{"epoch skipped", ErrKeyEpoch, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.reject(&BeginKeySetup{Epoch: 3, Participants: abc, Threshold: 2, Seed: hashOf("s")}, want)
		}},
		{"epoch pending", ErrKeySetupPending, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(&BeginKeySetup{Epoch: 2, Participants: abc, Threshold: 2, Seed: hashOf("s2")})
			n.reject(&BeginKeySetup{Epoch: 3, Participants: abc, Threshold: 2, Seed: hashOf("s3")}, want)
		}},
		{"complete active epoch", ErrKeyNotActive, func(t *testing.T, want error) {
			federation(t, abc, 2, Cost{Epsilon: 1}).reject(&CompleteKeySetup{Epoch: 1, PublicKeyHash: hashOf("k")}, want)
		}},
		{"fail active epoch", ErrKeyNotActive, func(t *testing.T, want error) {
			federation(t, abc, 2, Cost{Epsilon: 1}).reject(&FailKeySetup{Epoch: 1, Reason: "x"}, want)
		}},
		{"round on retired epoch", ErrKeyNotActive, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(&BeginKeySetup{Epoch: 2, Participants: abc, Threshold: 3, Seed: hashOf("s2")},
				&CompleteKeySetup{Epoch: 2, PublicKeyHash: hashOf("k2")})
			n.reject(startRound("r1", abc, 0.1), want)
		}},
		{"round on pending epoch", ErrKeyNotActive, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(&BeginKeySetup{Epoch: 2, Participants: abc, Threshold: 3, Seed: hashOf("s2")})
			r := startRound("r1", abc, 0.1)
			r.KeyEpoch = 2
			n.reject(r, want)
		}},
		{"round participant without key share", ErrNotKeyParticipant, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(&AddSite{Site: "d", Address: "x", Role: RoleVoter}, &SiteJoined{Site: "d"})
			n.reject(startRound("r1", []string{"a", "d"}, 0.1), want)
		}},
		{"contribute unknown round", ErrUnknownRound, func(t *testing.T, want error) {
			collecting(t).reject(&Contribute{Round: "r2", Site: "a", Hash: hashOf("x"), Size: 1}, want)
		}},
		{"close unknown round", ErrUnknownRound, func(t *testing.T, want error) {
			collecting(t).reject(&CloseRound{Round: "r2", Decryptors: []string{"a", "b"}, AggregateHash: hashOf("x")}, want)
		}},
		{"finish unknown round", ErrUnknownRound, func(t *testing.T, want error) {
			collecting(t).reject(&FinishRound{Round: "r2", ResultHash: hashOf("x"), Noise: dg}, want)
		}},
		{"fail unknown round", ErrUnknownRound, func(t *testing.T, want error) {
			collecting(t).reject(&FailRound{Round: "r2", Reason: "x"}, want)
		}},
		{"abort unknown round", ErrUnknownRound, func(t *testing.T, want error) {
			collecting(t).reject(&AbortRound{Round: "r2", Reason: "x"}, want)
		}},
		{"model of unknown round", ErrUnknownRound, func(t *testing.T, want error) {
			done(t).reject(&CommitModel{Version: 1, ContentHash: hashOf("m"), Model: []byte("m"), Rounds: []string{"r1", "r2"}}, want)
		}},
		{"round id reused", ErrRoundExists, func(t *testing.T, want error) {
			collecting(t).reject(startRound("r1", abc, 0.1), want)
		}},
		{"charge id of a round", ErrRoundExists, func(t *testing.T, want error) {
			collecting(t).reject(&ChargeBudget{ID: "r1", Federation: "fed", Dataset: "orders", Site: "a", Purpose: "count", Cost: Cost{Epsilon: 0.1}}, want)
		}},
		{"round id of a charge", ErrRoundExists, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(&ChargeBudget{ID: "q", Federation: "fed", Dataset: "orders", Site: "a", Purpose: "count", Cost: Cost{Epsilon: 0.1}})
			n.reject(startRound("q", abc, 0.1), want)
		}},
		{"close decrypting", ErrBadTransition, func(t *testing.T, want error) {
			decrypting(t).reject(&CloseRound{Round: "r1", Decryptors: []string{"a", "b"}, AggregateHash: hashOf("x")}, want)
		}},
		{"finish collecting", ErrBadTransition, func(t *testing.T, want error) {
			collecting(t).reject(&FinishRound{Round: "r1", ResultHash: hashOf("x"), Noise: dg}, want)
		}},
		{"close done", ErrBadTransition, func(t *testing.T, want error) {
			done(t).reject(&CloseRound{Round: "r1", Decryptors: []string{"a", "b"}, AggregateHash: hashOf("x")}, want)
		}},
		{"finish done", ErrRoundFinished, func(t *testing.T, want error) {
			done(t).reject(&FinishRound{Round: "r1", ResultHash: hashOf("x"), Noise: dg}, want)
		}},
		{"fail done", ErrRoundFinished, func(t *testing.T, want error) {
			done(t).reject(&FailRound{Round: "r1", Reason: "x"}, want)
		}},
		{"abort aborted", ErrRoundFinished, func(t *testing.T, want error) {
			n := collecting(t)
			n.must(&AbortRound{Round: "r1", Reason: "x"})
			n.reject(&AbortRound{Round: "r1", Reason: "x"}, want)
		}},
		{"foreign contribution", ErrNotParticipant, func(t *testing.T, want error) {
			n := federation(t, []string{"a", "b", "c", "d"}, 2, Cost{Epsilon: 1})
			n.must(startRound("r1", abc, 0.1))
			n.reject(&Contribute{Round: "r1", Site: "d", Hash: hashOf("d"), Size: 1}, want)
		}},
		{"contribution from outsider", ErrNotParticipant, func(t *testing.T, want error) {
			collecting(t).reject(&Contribute{Round: "r1", Site: "mallory", Hash: hashOf("m"), Size: 1}, want)
		}},
		{"decryptor not participant", ErrNotParticipant, func(t *testing.T, want error) {
			n := federation(t, []string{"a", "b", "c", "d"}, 2, Cost{Epsilon: 1})
			n.must(startRound("r1", abc, 0.1), &Contribute{Round: "r1", Site: "a", Hash: hashOf("a"), Size: 1},
				&Contribute{Round: "r1", Site: "b", Hash: hashOf("b"), Size: 1})
			n.reject(&CloseRound{Round: "r1", Decryptors: []string{"a", "d"}, AggregateHash: hashOf("x")}, want)
		}},
		{"contribution after close", ErrLateContribution, func(t *testing.T, want error) {
			decrypting(t).reject(&Contribute{Round: "r1", Site: "c", Hash: hashOf("c1"), Size: 10}, want)
		}},
		{"contribution after failure", ErrLateContribution, func(t *testing.T, want error) {
			n := collecting(t)
			n.must(&FailRound{Round: "r1", Reason: "x"})
			n.reject(&Contribute{Round: "r1", Site: "c", Hash: hashOf("c1"), Size: 10}, want)
		}},
		{"second contribution", ErrDuplicateContribution, func(t *testing.T, want error) {
			collecting(t).reject(&Contribute{Round: "r1", Site: "a", Hash: hashOf("a2"), Size: 10}, want)
		}},
		{"same contribution twice", ErrDuplicateContribution, func(t *testing.T, want error) {
			collecting(t).reject(&Contribute{Round: "r1", Site: "a", Hash: hashOf("a1"), Size: 10}, want)
		}},
		{"ciphertext replayed by another site", ErrReplayedContribution, func(t *testing.T, want error) {
			collecting(t).reject(&Contribute{Round: "r1", Site: "b", Hash: hashOf("a1"), Size: 10}, want)
		}},
		{"ciphertext replayed into another round", ErrReplayedContribution, func(t *testing.T, want error) {
			n := collecting(t)
			n.must(startRound("r2", abc, 0.25))
			n.reject(&Contribute{Round: "r2", Site: "a", Hash: hashOf("a1"), Size: 10}, want)
		}},
		{"close too early", ErrNotEnoughContributions, func(t *testing.T, want error) {
			collecting(t).reject(&CloseRound{Round: "r1", Decryptors: []string{"a", "b"}, AggregateHash: hashOf("x")}, want)
		}},
		{"start with too few live", ErrTooFewLiveSites, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(&SiteLiveness{Site: "b", Live: false}, &SiteLiveness{Site: "c", Live: false})
			n.reject(startRound("r1", abc, 0.1), want)
		}},
		{"close with a down decryptor", ErrTooFewLiveSites, func(t *testing.T, want error) {
			n := collecting(t)
			n.must(&Contribute{Round: "r1", Site: "b", Hash: hashOf("b1"), Size: 10}, &SiteLiveness{Site: "c", Live: false})
			n.reject(&CloseRound{Round: "r1", Decryptors: []string{"a", "c"}, AggregateHash: hashOf("x")}, want)
		}},
		{"deadline in the past", ErrDeadlinePassed, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(&Tick{Now: 10})
			r := startRound("r1", abc, 0.1)
			r.Deadline = 5
			n.reject(r, want)
		}},
		{"zero cost with DP on", ErrNoiseRequired, func(t *testing.T, want error) {
			federation(t, abc, 2, Cost{Epsilon: 1}).reject(startRound("r1", abc, 0), want)
		}},
		{"fewer than t contributors with DP on", ErrNoiseRequired, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			r := startRound("r1", abc, 0.1)
			r.MinContributors = 1
			n.reject(r, want)
			if b, _ := n.f.Budget(r.Federation, r.Dataset); len(b.Charges) != 0 {
				t.Errorf("refused round was charged: %+v", b.Charges)
			}
		}},
		{"no noise with DP on", ErrNoiseRequired, func(t *testing.T, want error) {
			decrypting(t).reject(&FinishRound{Round: "r1", ResultHash: hashOf("x"), Noise: NoiseParams{Mechanism: "none"}}, want)
		}},
		{"no noise with DP on, spelled differently", ErrNoiseRequired, func(t *testing.T, want error) {
			decrypting(t).reject(&FinishRound{Round: "r1", ResultHash: hashOf("x"), Noise: NoiseParams{Mechanism: "None"}}, want)
		}},
		{"round without ledger", ErrNoBudget, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			r := startRound("r1", abc, 0.1)
			r.Dataset = "other"
			n.reject(r, want)
		}},
		{"release without ledger", ErrNoBudget, func(t *testing.T, want error) {
			federation(t, abc, 2, Cost{Epsilon: 1}).reject(&ChargeBudget{ID: "q", Federation: "other", Dataset: "orders", Site: "a", Purpose: "count", Cost: Cost{Epsilon: 0.1}}, want)
		}},
		{"ledger twice", ErrBudgetExists, func(t *testing.T, want error) {
			federation(t, abc, 2, Cost{Epsilon: 1}).reject(&SetBudget{Federation: "fed", Dataset: "orders", Total: Cost{Epsilon: 9}}, want)
		}},
		{"round beyond ε", ErrBudgetExhausted, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1})
			n.must(startRound("r1", abc, 0.75))
			n.reject(startRound("r2", abc, 0.3), want)
		}},
		{"round beyond δ", ErrBudgetExhausted, func(t *testing.T, want error) {
			n := federation(t, abc, 2, Cost{Epsilon: 1, Delta: 1e-6})
			r := startRound("r1", abc, 0.1)
			r.Cost.Delta = 2e-6
			n.reject(r, want)
		}},
		{"release beyond ε", ErrBudgetExhausted, func(t *testing.T, want error) {
			federation(t, abc, 2, Cost{Epsilon: 1}).reject(&ChargeBudget{ID: "q", Federation: "fed", Dataset: "orders", Site: "a", Purpose: "count", Cost: Cost{Epsilon: 1.5}}, want)
		}},
		{"model hash", ErrHashMismatch, func(t *testing.T, want error) {
			done(t).reject(&CommitModel{Version: 1, ContentHash: hashOf("other"), Model: []byte("m"), Rounds: []string{"r1"}}, want)
		}},
		{"released hash", ErrHashMismatch, func(t *testing.T, want error) {
			decrypting(t).reject(&FinishRound{Round: "r1", ResultHash: hashOf("x"), Released: []byte("1,2"), ReleasedHash: hashOf("1,3"), Noise: dg}, want)
		}},
		{"model version", ErrModelVersion, func(t *testing.T, want error) {
			done(t).reject(&CommitModel{Version: 2, ContentHash: hashOf("m"), Model: []byte("m"), Rounds: []string{"r1"}}, want)
		}},
		{"model of unfinished round", ErrRoundNotDone, func(t *testing.T, want error) {
			decrypting(t).reject(&CommitModel{Version: 1, ContentHash: hashOf("m"), Model: []byte("m"), Rounds: []string{"r1"}}, want)
		}},
	}
	covered := map[error]bool{}
	for _, c := range cases {
		covered[c.want] = true
		t.Run(c.name, func(t *testing.T) { c.run(t, c.want) })
	}
	// Decode-level, snapshot and composition errors are covered elsewhere.
	elsewhere := map[error]bool{ErrUnknownCommand: true, ErrUnsupportedVersion: true, ErrBadSnapshot: true, ErrCompositionMismatch: true}
	for _, ec := range errorCodes {
		if !covered[ec.err] && !elsewhere[ec.err] {
			t.Errorf("no rejection case for %v", ec.err)
		}
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, ec := range errorCodes {
		if seen[ec.code] {
			t.Errorf("code %q used twice", ec.code)
		}
		seen[ec.code] = true
		if got := Code(errors.Join(errors.New("context"), ec.err)); got != ec.code {
			t.Errorf("Code(wrapped %v) = %q, want %q", ec.err, got, ec.code)
		}
	}
	if got := Code(nil); got != "" {
		t.Errorf("Code(nil) = %q, want empty", got)
	}
	if got := Code(errors.New("boom")); got != "internal" {
		t.Errorf("Code(other) = %q, want internal", got)
	}
}
