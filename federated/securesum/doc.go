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
// statistics, computed for a round's public parameters and each bound to
// the dataset it is computed from). Every site runs the same code; the raft
// leader additionally acts as the aggregator.
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
//     parameters, seed), hashes of ciphertexts, of the aggregate's mask and
//     of the public key, the released (noised) values and the noise
//     parameters.
//   - No decryption share exists for a round the ledger has not paid for:
//     StartRound charges the ledger at commit (a refusal means the round
//     never exists), and every decryptor independently checks
//     fsm.ShareAllowed (the round is decrypting, it is one of the t fixed
//     decryptors, the committed ledger covers the round) and that the
//     aggregate's mask it is given hashes to the logged AggregateHash, in
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
//	sum:<statistic> {"v":1,"n":…,"lo":…,"hi":…,"max_abs":…,"params":…,"mech":"skellam","mu":…,"l1":…,"l2":…}
//
// (max_abs and params omitted when unset, so kinds written before they
// existed parse unchanged) so every site derives its clamp bounds, its
// statistic's parameters and its noise share from the committed entry
// alone. Params are the statistic's public, deterministic parameters (e.g.
// the current k-means centroids): JSON of at most MaxParams bytes, written
// compacted; the whole Kind must also fit the log's limit (fsm.MaxKindLen).
// Each participant
// then checks the round (see below: its noise, its dataset, DP-off
// consent), computes its vector with Provider.Statistic(name, params),
// clamps each coordinate (to [lo, hi], or to ±max_abs with explicit
// sensitivities), adds its noise share, encrypts under the collective key
// and sends the ciphertext to the leader ("round.ciphertext"). A site that
// refuses sends nothing; the round completes without it if t others
// contribute. The leader adds each ciphertext to the aggregate as it
// arrives (and takes it out again should the log reject it). When every
// live participant has contributed (or CollectTimeout passed with at least
// the round's minimum, t by default), the leader chooses the t decryptors
// (itself first, whose share needs no transfer, then live contributors,
// ranked by sha256(round id, site), listed in key order), proposes
// CloseRound{decryptors, sha256(mask)} and sends them the aggregate's mask
// ("round.aggregate"): its c1 parts (he.Mask), all a decryption share
// depends on, half the aggregate's size; the leader keeps the rest to
// combine. Each decryptor checks as above and returns its share
// ("round.share"); the leader combines and proposes FinishRound{released
// values (little-endian int64, in the log when ≤ 256 KiB, else only their
// hash), noise parameters}.
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
// Sensitivity, by default: one contribution is a vector of n coordinates
// clamped to [lo, hi]; adding or removing one changes each coordinate of the
// sum by at most c = max(|lo|, |hi|), so Δ₁ = n·c and Δ₂ = √n·c. The unit of
// privacy is one site's whole vector as clamped, whatever it sums.
//
// Per-user sensitivity (Spec.L1, L2, MaxAbs): a Provider that sums many
// users into its vector, and bounds each user's part itself (as
// federated/jobs' Local does: Lo, Hi bound one user's contribution per
// coordinate), can be protected per user at far less noise. The requester
// then gives the per-user sensitivities Δ₁ = L1, Δ₂ = L2 (L1 ≥ L2 > 0) and
// MaxAbs; each site clamps its whole vector to [−MaxAbs, MaxAbs] (not to
// [lo, hi], which would destroy a sum over users) — a bound on what one
// site's vector can weigh in the total, chosen by the requester and checked
// with the noise tail against the plaintext modulus (below), that plays no
// part in the calibration. The noise is calibrated to the given L1, L2, and
// every site's verify recomputes that calibration from the committed L1, L2.
// Safety rests on the site, not on the requester's word: a site contributes
// to such a round only if its Provider's Binding for the statistic declares
// a per-user bound (Binding.L1, L2 > 0) no larger than the round's L1, L2.
// With explicit sensitivities the Provider is trusted to bound every user's
// contribution as it declares — it is the site's own code, not the
// requester's or the leader's. What that protects: each single user's
// records at a site (adding or removing one changes the released sum by at
// most L1, L2), at the charged (ε, δ); a person present at several sites is
// protected at the sum of their costs (group privacy). It does not protect
// a site's aggregate as a whole (use the default mode for that), and a
// Provider that under-bounds users voids the guarantee for its own users
// only. MemProvider's operator-set vectors declare no per-user bound, so
// they are only ever released in the default mode.
//
// The total variance μ is
// the smallest for which Skellam noise costs ρ-zCDP with
// budget.LedgerEpsilon(ρ, δ) ≤ ε (dp/budget's conservative conversion, with
// the margin for the Skellam bound's integer orders): μ =
// budget.SkellamVariance(ρ, Δ₁, Δ₂). Each site adds Skellam noise of
// variance μ/t per coordinate (noise.NewShare): Skellam variables sum
// exactly, so any t honest contributions carry variance ≥ μ — the guarantee
// holds with up to N−t sites dropped or colluding — and all N carry N·μ/t.
// The result records NoiseParams{skellam, σ = √μ, Δ₂}. All noise is
// integer: nothing floating-point is released.
//
// DP off needs every site's consent. With DP disabled (the test-only
// fsm.Settings.DPDisabled, agreed in the log) mechanism is "none" and the
// sum is exact; a cost may still be charged. Since one admin call on the
// leader sets that switch for the whole federation, each site also needs its
// own Config.AllowDPOff (the node's federation.allow_dp_off, default false):
// without it the site neither contributes to nor decrypts a DP-off round,
// and as leader refuses to start one (ErrDPOff); the daemon likewise refuses
// to set dp_disabled on a leader without it.
//
// Budget per dataset, bound on the site. The ledger is keyed by (federation,
// round Dataset), and the Dataset comes from the request; so that a fresh
// ledger under another label cannot re-spend the same data, each site binds
// every statistic to the dataset it is computed from (Provider.Binding;
// MemProvider.Set names it, default the statistic's name) and refuses to
// contribute to a round whose committed Dataset differs
// (ErrDatasetMismatch).
//
// Range: StartRound is refused (ErrBadSpec) unless the clamp bound
// (max(|lo|,|hi|), or MaxAbs with explicit sensitivities) plus 64 standard
// deviations of a noise share fits he's per-site input bound (MaxAbsSum/N),
// so no sum of one contribution per participant can wrap the plaintext
// modulus.
//
// # API
//
// On the leader: StartKeySetup, SetBudget, SecureSum (blocks until the
// round ends); on any node: Keys, Round, Budget, Stats, DecryptionShare. The
// daemon exposes them through its admin API (node/admin: POST /v1/keys,
// PUT /v1/stats/{name} (with its "dataset"), POST /v1/rounds, GET /v1/rounds/{id},
// POST /v1/budgets) and the CLI (strata keys init, strata budget set,
// strata sum). Timeline returns a node's timed steps of a recent round
// (encrypt, adds, aggregate, shares, combine with their thread CPU; sends,
// receives and commits with their wall time), from which a round's
// critical path can be read (node/fedtest2's benchmark does).
package securesum
