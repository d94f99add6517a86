// Package he is Strata's threshold homomorphic encryption for secure sums:
// the cryptographic steps only, as pure functions over values and bytes. It
// does no I/O — no network, no files, no clocks; the caller moves bytes
// (raft log, QUIC streams) and persists secrets (mode 0600 files).
//
// # Scheme and parameters
//
// BGV (lattigo v5) over the named literal LiteralPN13QP120 (parameter set
// PN13QP120): ring degree 2^13, ciphertext modulus Q of two 60-bit primes
// (logQP = 120, no special modulus P: sums need no key-switching keys),
// plaintext modulus PlaintextModulus59 (a 59-bit prime ≡ 1 mod 2^14, so 8,192
// SIMD slots), uniform ternary secret, σ = 3.2 error. logQP 120 is well below
// 218, the HE-standard bound for 128-bit security at LogN 13 (and about at
// the 256-bit bound, 118). NewParameters checks a set at start-up: lattigo
// accepts it, T is a prime with full slots, logQP is inside the security
// table, and Q leaves room to decrypt MaxParties smudged shares.
// TestPN11QP120 is an insecure LogN 11 set for unit tests.
//
// Values are signed integers, decoded centred: a sum decrypts exactly while
// |sum| ≤ MaxAbsSum = (T−3)/2 ≈ 2.88·10^17 and wraps silently beyond it.
// Encryptor therefore refuses |value| > MaxAbsSum/N for a set-up of N
// participants, and Sum refuses more than N contributions, so a round in
// which every site contributes at most once cannot wrap. Callers clamp
// inputs first (Parameters.CheckSum tells whether a clamp bound is safe).
//
// # Threat model
//
// Parties are semi-honest (they follow the protocol, may pool what they see).
// Any t of the N participants can decrypt an aggregate together; any
// coalition of fewer than t learns nothing about the secret key or other
// sites' inputs beyond the released sums. The aggregator is just another
// party: it sees ciphertexts and decryption shares only. Each party's
// decryption share carries smudging noise (σ = 2^50, SmudgingSigma) that hides
// its key-dependent noise; this noise vanishes modulo T and is NOT
// differential-privacy noise — DP noise must be added to the inputs before
// encryption. Decryption shares must only be produced for the committed
// aggregate of a round: a decryptor decrypts whatever ciphertext it is given.
// Malicious behaviour (wrong shares, wrong ciphertexts) is not prevented; it
// is detected in the common cases by the check slot (below) and by digests.
//
// # Steps
//
// Set-up (dealerless t-of-N, lattigo mhe), all N participants online once:
//
//   - Agree in the log on a Setup: parameters, the ordered participant list
//     (participant i gets Shamir point i+1), t, and a ≥ 32-byte random seed.
//   - Each site: NewParty; persist MarshalSecret; send PublicKeyShare to the
//     aggregator; send each of ThresholdShares privately to its recipient.
//   - Aggregator: PublicKeyAggregator.Add every share, then PublicKey — the
//     collective public key, published (MarshalBinary).
//   - Each site: ReceiveThresholdShare from every other site, then Finish —
//     its KeyShare, persisted (MarshalBinary) and reloaded
//     (UnmarshalKeyShare). A restarted party (RestoreParty) re-sends
//     byte-identical shares.
//
// A round:
//
//   - Each contributing site: Encryptor.Encrypt its clamped vector and send
//     the Ciphertext to the aggregator (its Digest to the log);
//     EncryptMarshal gives the encoding and digest directly.
//   - Aggregator: Accumulator.Add each encoded contribution (validated,
//     hashed for matching against the log, replays rejected, summed in one
//     pass; AddHashed if the transport hashed the bytes while receiving
//     them; Remove if the log then rejects it), then Aggregate.
//     UnmarshalContribution plus Sum does the same on decoded ciphertexts.
//     The aggregator publishes the aggregate's Mask (its c1 parts, half its
//     size: all a decryption share depends on) and keeps the rest.
//   - Exactly the t decryptors fixed in the log, in the fixed order:
//     KeyShare.DecryptionShareMask of the aggregate's Mask — a collective key
//     switch to the zero key (mhe.KeySwitchProtocol) from the decryptor's
//     additive share (mhe.Combiner for that list), with smudging noise.
//   - Aggregator: Combine the t shares into the int64 sums.
//
// Slot 0 of every ciphertext is a check slot: each fresh ciphertext carries 1
// there, so an aggregate of c contributions must decrypt to c. Combine
// returns ErrDecryption when it does not (shares for another decryptor list
// or key), which a wrong result passes with probability ≈ 1/T per
// ciphertext. Every share also names its aggregate (the digest of its Mask)
// and decryptor list, so mismatched shares are rejected before combining.
//
// # Encoding and validation
//
// Every object encodes to canonical bytes ("STHE", version, kind, parameter
// ID, fixed-layout body; see codec.go) and its SHA-256 (Digest) identifies it.
// Decoders check kind, parameters, set-up digest, exact length (computed
// before allocating), and that every coefficient is below its modulus; bad
// input returns an error wrapping a sentinel (ErrMalformed, ErrSetup, ...),
// never a panic. Calls into lattigo run under recover and report ErrInternal
// should lattigo panic (a bug: inputs are validated first).
//
// # Concurrency
//
// Parameters, Setup, PublicKey, KeyShare, Ciphertext, Mask and
// DecryptionShare are immutable and safe for concurrent use; Sum, Combine and
// KeyShare.DecryptionShare build their lattigo objects per call. Party,
// PublicKeyAggregator, Accumulator and Encryptor are not safe for concurrent
// use: one per goroutine (lattigo's protocol objects and encryptors hold buffers; they
// need ShallowCopy per goroutine).
package he
