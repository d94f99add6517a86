// Package securesum runs Strata's threshold-encrypted, differentially
// private secure sums: the per-site protocol runner that turns the committed
// federation log (federated/fsm) into key set-ups and aggregation rounds,
// moving key shares, ciphertexts and decryption shares between sites as
// blobs on mutually authenticated streams, and doing the cryptography with
// federated/he and the noise with dp/noise.
//
// One Node runs per site (the daemon starts it; see Config). It depends on
// four small interfaces so it does no I/O of its own: Log (propose commands,
// read the applied FSM, who leads), Network (open/accept streams that carry
// the peer's verified site id), KeyStore (0600 files, written before any
// derived value leaves the site) and Provider (the site's private
// statistics). Every site runs the same code; the raft leader additionally
// acts as the aggregator.
//
// # Threat model and promises
//
// Sites are semi-honest: they follow the protocol and may pool what they
// see. Given a t-of-N key:
//
//   - Any t sites decrypt together; fewer than t colluding sites learn
//     nothing about the key or another site's vector (he's guarantee). The
//     aggregator is just a site: it sees ciphertexts, the encrypted
//     aggregate and decryption shares, never an individual contribution in
//     the clear, and never an un-noised total (the noise is inside the
//     ciphertexts before they reach it; see below).
//   - Private Shamir shares travel pairwise over mutually authenticated QUIC,
//     never through the log. The log carries the set-up (participants, t,
//     parameters, seed), hashes of ciphertexts, of the aggregate and of the
//     public key, the released (noised) values and the noise parameters.
//   - No decryption share exists for a round the ledger has not paid for:
//     StartRound charges the ledger at commit (a refusal means the round
//     never exists), and every decryptor independently checks
//     fsm.ShareAllowed (the round is decrypting, it is one of the t fixed
//     decryptors, the committed ledger covers the round) and that the
//     aggregate it is given hashes to the logged AggregateHash, in
//     Node.DecryptionShare, the only place a share is made. It refuses
//     (ErrRefused) whoever asks; a node sent an aggregate for an unknown or
//     finished round, or for a decrypting round it may not decrypt, answers
//     the sender with an error at once.
//   - A site contributes at most once per round; the leader logs each
//     ciphertext's hash with Contribute and the FSM rejects late, duplicate,
//     foreign and replayed ones (the leader then drops their bytes). Sums are
//     in the log's contribution order.
//   - Malicious sites (wrong ciphertexts or shares, skipped noise) are out of
//     scope; wrong shares are detected by he's check slot and digests.
//
// # Key set-up (all participants online once)
//
// The leader proposes BeginKeySetup{epoch, participants = joined sites
// sorted, t, parameter set, 32 random bytes}. Each participant, on seeing it
// committed: creates its he.Party, persists the secret (KeyStore), sends its
// public-key share to the leader ("key.pk-share") and each other participant
// its Shamir share ("key.threshold-share"). With every share received it
// finishes, persists its key share and tells the leader ("key.ready"). The
// leader aggregates the collective public key, proposes
// CompleteKeySetup{epoch, sha256(pk)} and pushes the key ("key.public-key")
// to every participant, which checks it against the logged hash and stores
// it. A restarted node reloads its key share and public key from the
// KeyStore. A set-up still pending when the leader changes is failed
// (ErrLeaderChanged: run it again), as is one not done after KeySetupTimeout.
//
// # A round
//
// The leader validates the Spec, calibrates the noise, proposes a Tick and
// StartRound{id = next decimal number, kind, dataset, key epoch, live key
// holders, deadline = now + RoundTimeout, cost (ε, δ)}. The round's spec is
// agreed through the log: Kind is
//
//	sum:<statistic> {"v":1,"n":…,"lo":…,"hi":…,"mech":"skellam","mu":…,"l1":…,"l2":…}
//
// so every site derives its clamp bounds and noise share from the committed
// entry alone. Each participant then reads its vector from the Provider,
// clamps each coordinate to [lo, hi], adds its noise share, encrypts under
// the collective key and sends the ciphertext to the leader
// ("round.ciphertext"). When every live participant has contributed (or
// CollectTimeout passed with at least the round's minimum, t by default),
// the leader sums, chooses the t decryptors deterministically (live
// contributors first, ranked by sha256(round id, site), listed in key
// order), proposes CloseRound{decryptors, sha256(aggregate)} and sends the
// aggregate to them ("round.aggregate"). Each decryptor checks as above and
// returns its share ("round.share"); the leader combines and proposes
// FinishRound{released values (little-endian int64, in the log when ≤ 256
// KiB, else only their hash), noise parameters}.
//
// Liveness and outcomes: the leader proposes a Tick every TickInterval (the
// FSM fails rounds past their deadline) and pings every joined site every
// PingInterval, marking a site down after PingFailures missed answers (and
// up again when it answers); the FSM fails every round whose live
// participants fall below t, or whose decryptor went down. A round thus
// always ends — done, failed (ErrRoundFailed, with the log's reason) or
// aborted — never hangs. A dropped site simply does not contribute: the
// round completes if at least t contributions and t live decryptors remain.
//
// Leader change: ciphertexts were sent to the old leader, so the new leader
// aborts every unfinished round it did not start ("leader changed"); the FSM
// refunds the charge unless decryption had started (then a share might
// exist, and the charge stays). The client redoes the sum as a new round
// (the admin Client does so transparently): nothing is counted twice, as the
// aborted round never releases anything.
//
// # Noise: distributed Skellam, calibrated per round
//
// Sensitivity: one contribution is a vector of n coordinates clamped to
// [lo, hi]; adding or removing one changes each coordinate of the sum by at
// most c = max(|lo|, |hi|), so Δ₁ = n·c and Δ₂ = √n·c. (The unit of privacy
// is one contribution as clamped: a Provider that sums several users into
// its vector must bound each user's part itself.) The total variance μ is
// the smallest for which Skellam noise costs ρ-zCDP with
// budget.LedgerEpsilon(ρ, δ) ≤ ε (dp/budget's conservative conversion, with
// the margin for the Skellam bound's integer orders): μ =
// budget.SkellamVariance(ρ, Δ₁, Δ₂). Each site adds Skellam noise of
// variance μ/t per coordinate (noise.NewShare): Skellam variables sum
// exactly, so any t honest contributions carry variance ≥ μ — the guarantee
// holds with up to N−t sites dropped or colluding — and all N carry N·μ/t.
// The result records NoiseParams{skellam, σ = √μ, Δ₂}. All noise is
// integer: nothing floating-point is released. With DP disabled (the
// test-only fsm.Settings.DPDisabled, agreed in the log) mechanism is "none"
// and the sum is exact; a cost may still be charged.
//
// Range: StartRound is refused (ErrBadSpec) unless max(|lo|,|hi|) plus 64
// standard deviations of a noise share fits he's per-site input bound
// (MaxAbsSum/N), so no sum of one contribution per participant can wrap the
// plaintext modulus.
//
// # API
//
// On the leader: StartKeySetup, SetBudget, SecureSum (blocks until the
// round ends); on any node: Keys, Round, Budget, Stats, DecryptionShare. The
// daemon exposes them through its admin API (node/admin: POST /v1/keys,
// PUT /v1/stats/{name}, POST /v1/rounds, GET /v1/rounds/{id},
// POST /v1/budgets) and the CLI (strata keys init, strata budget set,
// strata sum).
package securesum
