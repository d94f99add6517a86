package securesum

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (test
// them with errors.Is), or an fsm sentinel when the log refused a command.
var (
	// ErrBadSpec: a sum request is malformed or cannot be run safely (bad
	// statistic name, length, clamp bounds, privacy parameters, or noise
	// that could wrap the plaintext modulus).
	ErrBadSpec = errors.New("securesum: bad sum specification")
	// ErrNotLeader: the request must go to the raft leader.
	ErrNotLeader = errors.New("securesum: not the leader")
	// ErrNoKey: no active collective key that this node holds.
	ErrNoKey = errors.New("securesum: no active collective key")
	// ErrRoundFailed: the round ended failed (too few live sites, deadline,
	// decryption failure); the error text carries the log's reason.
	ErrRoundFailed = errors.New("securesum: round failed")
	// ErrRoundAborted: the round was aborted, typically because the leader
	// changed; the caller may redo the sum with a new round.
	ErrRoundAborted = errors.New("securesum: round aborted")
	// ErrRefused: this node refuses to produce a decryption share (the round
	// is not decrypting, this site is not a fixed decryptor, the ledger does
	// not cover the round, the aggregate is not the logged one, or the
	// round's spec fails the site's checks), or to contribute to a round
	// (its noise, dataset, sensitivities or DP-off setting fail the site's
	// checks; the cause is wrapped too).
	ErrRefused = errors.New("securesum: decryption share refused")
	// ErrDPOff: the round has DP disabled in the log and this node does not
	// allow DP-off rounds (Config.AllowDPOff, the node's
	// federation.allow_dp_off): it neither contributes to nor decrypts
	// such a round, and as leader does not start one.
	ErrDPOff = errors.New("securesum: DP-off round not allowed by this node")
	// ErrDatasetMismatch: the round is charged to a dataset other than the
	// one this site's statistic is bound to (Provider.Binding); the site
	// does not contribute.
	ErrDatasetMismatch = errors.New("securesum: round dataset differs from the statistic's")
	// ErrUnknownStatistic: the Provider has no statistic of that name.
	ErrUnknownStatistic = errors.New("securesum: unknown statistic")
	// ErrKeySetup: a key set-up failed or could not start.
	ErrKeySetup = errors.New("securesum: key set-up failed")
	// ErrLeaderChanged: the leader changed during a key set-up, which was
	// therefore failed; run it again. (A round aborted for the same reason
	// returns ErrRoundAborted.)
	ErrLeaderChanged = errors.New("securesum: leader changed")
)
