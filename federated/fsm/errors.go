package fsm

import "errors"

// Sentinel errors. Every rejection returned by Apply (in ApplyResult.Err) and by
// Decode wraps exactly one of these; test them with errors.Is. Code maps each to
// a short stable string for APIs and logs.
var (
	// ErrBadCommand: the command is malformed (bad JSON, unknown field, missing
	// or out-of-range field). Decode and Command.Validate return it.
	ErrBadCommand = errors.New("fsm: bad command")
	// ErrUnknownCommand: the command's type is not known to this FSM.
	ErrUnknownCommand = errors.New("fsm: unknown command type")
	// ErrUnsupportedVersion: the command's version is not supported.
	ErrUnsupportedVersion = errors.New("fsm: unsupported command version")

	// ErrUnknownSite: the site is not in the registry.
	ErrUnknownSite = errors.New("fsm: unknown site")
	// ErrSiteExists: the site is already invited or joined.
	ErrSiteExists = errors.New("fsm: site already registered")
	// ErrSiteNotAllowed: the site has been removed, or has not joined yet.
	ErrSiteNotAllowed = errors.New("fsm: site not allowed")
	// ErrTooManyVoters: the federation already has MaxVoters voters.
	ErrTooManyVoters = errors.New("fsm: too many voters")

	// ErrUnknownKeyEpoch: no key set-up with that epoch.
	ErrUnknownKeyEpoch = errors.New("fsm: unknown key epoch")
	// ErrKeyEpoch: a new key epoch must be exactly the latest epoch + 1.
	ErrKeyEpoch = errors.New("fsm: key epoch out of order")
	// ErrKeySetupPending: another key set-up is still pending.
	ErrKeySetupPending = errors.New("fsm: key set-up pending")
	// ErrKeyNotActive: the key epoch is not (or not yet, or no longer) active.
	ErrKeyNotActive = errors.New("fsm: key epoch not active")
	// ErrNotKeyParticipant: the site holds no share of the round's key epoch.
	ErrNotKeyParticipant = errors.New("fsm: site is not a key participant")

	// ErrUnknownRound: no round with that id.
	ErrUnknownRound = errors.New("fsm: unknown round")
	// ErrRoundExists: a round or charge with that id already exists.
	ErrRoundExists = errors.New("fsm: round id already used")
	// ErrBadTransition: the round is not in a state that allows the command.
	ErrBadTransition = errors.New("fsm: invalid round transition")
	// ErrRoundFinished: the round is already done, failed or aborted.
	ErrRoundFinished = errors.New("fsm: round already finished")
	// ErrNotParticipant: a foreign contribution, or a decryptor that is not a
	// participant of the round.
	ErrNotParticipant = errors.New("fsm: site is not a round participant")
	// ErrLateContribution: the contribution arrived after the round closed.
	ErrLateContribution = errors.New("fsm: late contribution")
	// ErrDuplicateContribution: the site already contributed to the round.
	ErrDuplicateContribution = errors.New("fsm: duplicate contribution")
	// ErrReplayedContribution: a ciphertext with this hash was already
	// contributed (to this or another round).
	ErrReplayedContribution = errors.New("fsm: replayed contribution")
	// ErrNotEnoughContributions: fewer contributions than the round requires.
	ErrNotEnoughContributions = errors.New("fsm: not enough contributions")
	// ErrTooFewLiveSites: fewer live sites than the threshold t, or a decryptor
	// that is not live.
	ErrTooFewLiveSites = errors.New("fsm: too few live sites")
	// ErrDeadlinePassed: the round's deadline is not after the FSM's logical time.
	ErrDeadlinePassed = errors.New("fsm: deadline already passed")
	// ErrNoiseRequired: DP is on and the result carries no noise, or a round
	// asks for a zero cost.
	ErrNoiseRequired = errors.New("fsm: DP noise and cost required")

	// ErrNoBudget: no ledger exists for the (federation, dataset).
	ErrNoBudget = errors.New("fsm: no privacy budget for dataset")
	// ErrBudgetExists: a ledger already exists for the (federation, dataset).
	ErrBudgetExists = errors.New("fsm: privacy budget already set")
	// ErrBudgetExhausted: the ledger does not cover the cost.
	ErrBudgetExhausted = errors.New("fsm: privacy budget exhausted")
	// ErrCompositionMismatch: the ledger was created under another composition
	// rule than the one this FSM is configured with.
	ErrCompositionMismatch = errors.New("fsm: composition rule mismatch")

	// ErrHashMismatch: a content hash does not match the bytes.
	ErrHashMismatch = errors.New("fsm: hash mismatch")
	// ErrModelVersion: a model version must be exactly the latest version + 1.
	ErrModelVersion = errors.New("fsm: model version out of order")
	// ErrRoundNotDone: a model refers to a round that is not done.
	ErrRoundNotDone = errors.New("fsm: round not done")

	// ErrBadSnapshot: Restore could not read the snapshot.
	ErrBadSnapshot = errors.New("fsm: bad snapshot")
)

var errorCodes = []struct {
	err  error
	code string
}{
	{ErrBadCommand, "bad_command"},
	{ErrUnknownCommand, "unknown_command"},
	{ErrUnsupportedVersion, "unsupported_version"},
	{ErrUnknownSite, "unknown_site"},
	{ErrSiteExists, "site_exists"},
	{ErrSiteNotAllowed, "site_not_allowed"},
	{ErrTooManyVoters, "too_many_voters"},
	{ErrUnknownKeyEpoch, "unknown_key_epoch"},
	{ErrKeyEpoch, "key_epoch_order"},
	{ErrKeySetupPending, "key_setup_pending"},
	{ErrKeyNotActive, "key_not_active"},
	{ErrNotKeyParticipant, "not_key_participant"},
	{ErrUnknownRound, "unknown_round"},
	{ErrRoundExists, "round_exists"},
	{ErrBadTransition, "bad_transition"},
	{ErrRoundFinished, "round_finished"},
	{ErrNotParticipant, "not_participant"},
	{ErrLateContribution, "late_contribution"},
	{ErrDuplicateContribution, "duplicate_contribution"},
	{ErrReplayedContribution, "replayed_contribution"},
	{ErrNotEnoughContributions, "not_enough_contributions"},
	{ErrTooFewLiveSites, "too_few_live_sites"},
	{ErrDeadlinePassed, "deadline_passed"},
	{ErrNoiseRequired, "noise_required"},
	{ErrNoBudget, "no_budget"},
	{ErrBudgetExists, "budget_exists"},
	{ErrBudgetExhausted, "budget_exhausted"},
	{ErrCompositionMismatch, "composition_mismatch"},
	{ErrHashMismatch, "hash_mismatch"},
	{ErrModelVersion, "model_version"},
	{ErrRoundNotDone, "round_not_done"},
	{ErrBadSnapshot, "bad_snapshot"},
}

// Code returns a short stable code ("duplicate_contribution", ...) for the
// first sentinel error err wraps, "" for nil and "internal" for anything else.
func Code(err error) string {
	if err == nil {
		return ""
	}
	for _, ec := range errorCodes {
		if errors.Is(err, ec.err) {
			return ec.code
		}
	}
	return "internal"
}
