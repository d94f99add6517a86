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
	// not cover the round, or the aggregate is not the logged one).
	ErrRefused = errors.New("securesum: decryption share refused")
	// ErrUnknownStatistic: the Provider has no statistic of that name.
	ErrUnknownStatistic = errors.New("securesum: unknown statistic")
	// ErrKeySetup: a key set-up failed or could not start.
	ErrKeySetup = errors.New("securesum: key set-up failed")
	// ErrLeaderChanged: the leader changed during a key set-up, which was
	// therefore failed; run it again. (A round aborted for the same reason
	// returns ErrRoundAborted.)
	ErrLeaderChanged = errors.New("securesum: leader changed")
)
