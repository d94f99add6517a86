package he

import "errors"

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrParams reports a parameter set that fails the start-up checks
	// (lattigo rejects it, it is outside the security table, or the noise
	// budget cannot decrypt MaxParties' smudged shares).
	ErrParams = errors.New("he: invalid parameter set")

	// ErrSetup reports an invalid or inconsistent key set-up: bad participant
	// list, threshold, seed, an unknown site, or an object made for another
	// set-up (its set-up digest differs).
	ErrSetup = errors.New("he: invalid key set-up")

	// ErrMalformed reports bytes that do not decode to the expected object:
	// wrong magic, version, kind, parameter set, size, or a coefficient
	// outside its modulus.
	ErrMalformed = errors.New("he: malformed encoding")

	// ErrDuplicate reports a second share from the same site.
	ErrDuplicate = errors.New("he: duplicate share")

	// ErrIncomplete reports a step attempted before all the shares it needs
	// have arrived.
	ErrIncomplete = errors.New("he: missing shares")

	// ErrRange reports an input value whose magnitude could make a sum of
	// MaxParties contributions wrap the plaintext modulus.
	ErrRange = errors.New("he: value out of range")

	// ErrMismatch reports objects that do not belong together: ciphertexts of
	// different lengths, a decryption share made for another aggregate or
	// another decryptor list, or a decryptor list that is not exactly t
	// distinct participants.
	ErrMismatch = errors.New("he: mismatched inputs")

	// ErrDecryption reports a combined decryption whose check slot is wrong:
	// the shares did not come from the decryptor list they claim (or the
	// aggregate was tampered with). The output must not be used.
	ErrDecryption = errors.New("he: decryption check failed")

	// ErrInternal reports a panic inside lattigo turned into an error. It
	// indicates a bug (inputs are validated before lattigo sees them).
	ErrInternal = errors.New("he: internal error")
)
