// Package fsm is the federation state machine: the raft FSM every Strata node
// applies the committed log to.
//
// # What it holds
//
//   - the site registry: each site's id, raft address, role (voter or
//     non-voter, at most MaxVoters voters), status (invited → joined →
//     removed) and the leader's last liveness observation. The transport's
//     Authorize callback asks IsAllowed (or uses Authorize directly);
//   - federation settings agreed in the log: the test-only DP switch, the HE
//     parameter-set name, the default threshold t, the minimum cell count k;
//   - key set-up records per key epoch: ordered participants, threshold t,
//     HE parameters, common random seed, status, hash of the collective
//     public key;
//   - aggregation rounds: kind (statistic name), dataset, participants, the
//     fixed ordered decryptor list, state, per-site contribution records
//     (hash and size of the ciphertext);
//   - result records of done rounds: result hash, released values (or their
//     hash), noise parameters, budget charged;
//   - the privacy-budget ledger per (federation, dataset): total (ε, δ), spent,
//     and every charge (round or DP-only release id, cost);
//   - versions of the cross-channel segment model: version, content hash,
//     model bytes, the rounds it was built from and the budget they spent.
//
// # What it promises
//
// Determinism: Apply reads only the log entry and the state. It never reads
// the wall clock (time enters as Tick commands carrying the leader's logical
// time), never draws randomness, never depends on map iteration order, and
// does no I/O. Applying the same log to fresh FSMs gives byte-identical
// snapshots (the snapshot is the JSON encoding of State, whose maps encode
// with sorted keys).
//
// Apply never panics on any input. A command that cannot be decoded or is not
// allowed in the current state is rejected: ApplyResult.Err wraps one of the
// sentinel errors (errors.Is; Code maps them to stable strings) and the state
// is unchanged except for the applied index. Handlers check everything before
// they change anything.
//
// The log carries ids and hashes only: never ciphertexts, key shares,
// decryption shares or per-user data. Ciphertexts and shares travel on QUIC
// streams; their sha256 goes into the log. The only payloads are released
// (already noised, aggregate) values and the segment model, both bounded in
// size.
//
// Budget: a round's cost is charged by StartRound, in the same Apply that
// creates the round, and the round is refused with ErrBudgetExhausted when
// the ledger does not cover it — before any share can exist. A node must
// produce its decryption share only if ShareAllowed(round, self) is nil,
// which requires the round to be decrypting, the node to be a fixed
// decryptor and Covers(round) to hold on the committed ledger. Charges are
// never removed; a round that fails or is aborted before decryption started
// is refunded (marked Refunded), since no decryption share could have been
// produced for it. A ledger is created once (SetBudget) and never reset or
// raised; it lives in snapshots, so a restart never resets a budget. Spent
// budget is computed by a Composition chosen with WithComposition and the
// same on every node: BasicComposition (ε and δ add up; the default of New)
// or ZCDPComposition (the charges' zCDP ρ add up and convert back at the
// ledger's δ, per dp/budget; what the daemon uses, since the secure sum
// calibrates its noise to ρ and the federated jobs split a run's budget in ρ).
//
// Rounds end with a clear outcome, never a hang: SiteLiveness (down),
// RemoveSite and Tick fail a round whose live participants fall below t, a
// collecting round that can no longer reach its minimum contributions, a
// decrypting round that lost a fixed decryptor, and any round past its
// deadline. ApplyResult.Rounds names the rounds a command moved.
//
// Leader change mid-round: the committed contributions (site, hash, size) are
// in the log, so a new aggregator re-collects exactly those ciphertexts from
// the sites and checks them against the hashes; proposing a Contribute again
// is rejected (duplicate), so no contribution is counted twice or lost. If
// the ciphertexts cannot be re-collected, the leader fails the round and
// starts a new one.
//
// Queries (Site, IsAllowed, Round, Covers, ...) are safe for concurrent use
// with Apply and return copies. They answer from the committed state this node
// has applied: a node that has not caught up yet (a fresh joiner) knows no
// sites, so its Authorize callback needs a bootstrap rule of its own.
//
// Costs and limits: Snapshot encodes the state under a read lock (Apply waits);
// rounds, results and ledgers are kept for the life of the federation, so the
// snapshot grows with the number of rounds.
//
// # Encoding
//
// A command is JSON: {"type":"contribute","v":1,"body":{...}}. JSON was chosen
// over a binary codec because it is deterministic with encoding/json (struct
// fields in declaration order, map keys sorted), readable in transcripts and
// snapshots, and the log only carries small records. Decode is strict: unknown
// fields, trailing data, unknown types, unsupported versions and out-of-range
// values are errors (ErrBadCommand, ErrUnknownCommand, ErrUnsupportedVersion).
// Byte fields (model, released values) are base64 in JSON. Hashes are
// lowercase hex sha256. Ids (sites, rounds, federations, datasets) are 1–128
// bytes of [A-Za-z0-9._:@-].
//
// # Commands
//
// Membership:
//
//	add_site       {site, address?, role}   invite; re-inviting a removed site is allowed
//	site_joined    {site, address?}         invited → joined (after raft AddVoter/AddNonvoter); live;
//	                                        an address is needed at invitation or here
//	remove_site    {site, reason}           → removed; fails rounds that lose their threshold
//	set_role       {site, role}             voter count stays ≤ MaxVoters
//	site_liveness  {site, live}             leader's observation; down fails rounds that fall below t
//	set_settings   {settings}               replaces Settings as a whole
//
// Keys:
//
//	begin_key_setup    {epoch, participants, threshold, he_params?, seed}   epoch = latest+1, no other pending
//	complete_key_setup {epoch, public_key_hash}                             pending → active; old active → retired
//	fail_key_setup     {epoch, reason}                                      pending → failed
//
// Budget:
//
//	set_budget     {federation, dataset, total}                       once per (federation, dataset)
//	charge_budget  {id, federation, dataset, site, purpose, cost}     DP-only release
//
// Rounds:
//
//	start_round  {id, kind, federation, dataset, key_epoch, participants, min_contributors?, deadline?, cost}
//	             key epoch active; participants key holders, joined, ≥ t live; ε > 0 unless DP is
//	             disabled; charges the ledger (a zero cost with DP disabled needs no ledger) → open
//	contribute   {round, site, hash, size}      open|collecting → collecting; at most once per site;
//	             rejected in order: unknown round, foreign site, late, duplicate, removed, replayed hash
//	close_round  {round, decryptors, aggregate_hash}   ≥ min_contributors; exactly t live participants,
//	             in the order Combiner must use → decrypting
//	finish_round {round, result_hash, released?, released_hash?, noise}  decrypting → done; result record;
//	             mechanism "none" only if DP was disabled when the round started
//	fail_round   {round, reason}   → failed     (refund if not yet decrypting)
//	abort_round  {round, reason}   → aborted    (refund if not yet decrypting)
//	tick         {now}             logical time = max(time, now); unfinished rounds past deadline → failed
//
// Model:
//
//	commit_model {version, content_hash, model, rounds}   version = latest+1; sha256(model) = content_hash;
//	             every round done; budget_spent = composition of the rounds' costs
//
// # Usage
//
//	f := fsm.New()
//	r, _ := raft.NewRaft(conf, f, logs, stable, snaps, trans)
//	b, _ := fsm.Encode(&fsm.StartRound{ID: "r1", ...})
//	fut := r.Apply(b, 5*time.Second)
//	if err := fut.Error(); err != nil { ... }            // raft failed
//	if err := fsm.ResponseError(fut.Response()); err != nil { ... } // command rejected
//	if err := f.ShareAllowed("r1", self); err != nil { refuse }
package fsm
