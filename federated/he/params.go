package he

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/big"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// PlaintextModulus59 is the plaintext modulus of every parameter set: the
// largest prime below 2^59 that is ≡ 1 mod 2^14, i.e. the first prime returned
// by ring.NewNTTFriendlyPrimesGenerator(59, 1<<14).NextDownstreamPrime().
// Being ≡ 1 mod 2N for every LogN ≤ 13, it gives N SIMD slots. TestParams
// re-derives it.
const PlaintextModulus59 uint64 = 0x7fffffffffcc001 // 576460752303210497

// SmudgingSigma is the standard deviation (2^50) of the discrete Gaussian
// flooding noise each decryptor adds to its decryption share. It hides the
// decryptor's secret-key-dependent noise; it is NOT differential-privacy
// noise: it is a multiple of nothing in the plaintext and vanishes when the
// combined phase is reduced modulo the plaintext modulus.
const SmudgingSigma float64 = 1 << 50

// MaxParties bounds the number of participants of a set-up. The noise budget
// check in NewParameters assumes up to MaxParties decryption shares, each with
// noise up to 6·σ, and MaxParties summed fresh encryptions.
const MaxParties = 64

// LiteralPN13QP120 is the production BGV parameter literal: ring degree
// 2^13 (8,192 slots), a 120-bit ciphertext modulus Q of two 60-bit NTT primes
// and no special modulus P. P is only needed for key-switching keys
// (relinearisation, rotations); sums need none, and the mhe public-key,
// threshold and decryption (KeySwitchProtocol) steps work on Q alone.
// logQP = 120 ≤ 218, the HE-standard bound for 128-bit classical security at
// LogN 13 with a uniform ternary secret and σ = 3.2 error (lattigo's default
// Xs and Xe); 120 is also close to the 256-bit bound (118).
var LiteralPN13QP120 = bgv.ParametersLiteral{
	LogN:             13,
	LogQ:             []int{60, 60},
	PlaintextModulus: PlaintextModulus59,
}

// LiteralTestPN11QP120 is an INSECURE literal for fast unit tests only:
// ring degree 2^11 with the same 120-bit modulus and plaintext modulus, so
// every code path and noise margin matches production at a quarter of the cost.
var LiteralTestPN11QP120 = bgv.ParametersLiteral{
	LogN:             11,
	LogQ:             []int{60, 60},
	PlaintextModulus: PlaintextModulus59,
}

// ParamSet names a BGV literal together with the smudging noise of its
// decryption shares. Parameters are built from it with NewParameters.
type ParamSet struct {
	// Name identifies the set in configuration and logs.
	Name string
	// Literal is the unchecked lattigo parameter literal.
	Literal bgv.ParametersLiteral
	// SmudgingSigma is the standard deviation of the flooding noise added to
	// each decryption share. Required (> 0).
	SmudgingSigma float64
	// Insecure exempts the set from the security-table check. Tests only.
	Insecure bool
}

// PN13QP120 is the production parameter set (see LiteralPN13QP120).
var PN13QP120 = ParamSet{Name: "PN13QP120", Literal: LiteralPN13QP120, SmudgingSigma: SmudgingSigma}

// TestPN11QP120 is the insecure test parameter set (see LiteralTestPN11QP120).
var TestPN11QP120 = ParamSet{Name: "TestPN11QP120", Literal: LiteralTestPN11QP120, SmudgingSigma: SmudgingSigma, Insecure: true}

// LookupParamSet returns the named parameter set.
func LookupParamSet(name string) (ParamSet, error) {
	switch name {
	case PN13QP120.Name:
		return PN13QP120, nil
	case TestPN11QP120.Name:
		return TestPN11QP120, nil
	}
	return ParamSet{}, fmt.Errorf("unknown parameter set %q: %w", name, ErrParams)
}

// maxLogQP is the HE standard (homomorphicencryption.org, 2018) table of the
// largest log2(QP) giving 128-bit classical security for a uniform ternary
// secret, indexed by LogN.
var maxLogQP = map[int]float64{10: 27, 11: 54, 12: 109, 13: 218, 14: 438, 15: 881}

// Parameters is a checked, immutable parameter set. It is safe for
// concurrent use.
type Parameters struct {
	set    ParamSet
	params bgv.Parameters
	id     [8]byte
}

// NewParameters checks a parameter set and returns it ready for use. Call it
// at start-up: it rejects a set that lattigo refuses, whose plaintext modulus
// is not a prime ≡ 1 mod 2N (full SIMD slots), that exceeds the 128-bit
// security table (unless Insecure), or whose ciphertext modulus leaves no
// room for the decryption noise of MaxParties smudged shares.
func NewParameters(set ParamSet) (*Parameters, error) {
	if set.Name == "" {
		return nil, fmt.Errorf("parameter set has no name: %w", ErrParams)
	}
	if !(set.SmudgingSigma > 0) || math.IsInf(set.SmudgingSigma, 0) {
		return nil, fmt.Errorf("parameter set %s: smudging sigma %v must be positive: %w", set.Name, set.SmudgingSigma, ErrParams)
	}
	var params bgv.Parameters
	err := guard(func() error {
		var err error
		params, err = bgv.NewParametersFromLiteral(set.Literal)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("parameter set %s: lattigo: %v: %w", set.Name, err, ErrParams)
	}
	t := params.PlaintextModulus()
	if !new(big.Int).SetUint64(t).ProbablyPrime(32) || t%uint64(2*params.N()) != 1 {
		return nil, fmt.Errorf("parameter set %s: plaintext modulus %d is not a prime ≡ 1 mod 2N: %w", set.Name, t, ErrParams)
	}
	if params.MaxSlots() != params.N() {
		return nil, fmt.Errorf("parameter set %s: %d slots, want N = %d: %w", set.Name, params.MaxSlots(), params.N(), ErrParams)
	}
	if !set.Insecure {
		bound, ok := maxLogQP[params.LogN()]
		if !ok || params.LogQP() > bound {
			return nil, fmt.Errorf("parameter set %s: logQP %.1f at LogN %d exceeds the 128-bit HE standard bound %v: %w",
				set.Name, params.LogQP(), params.LogN(), bound, ErrParams)
		}
		if xs, ok := params.Xs().(ring.Ternary); !ok || xs.H != 0 {
			return nil, fmt.Errorf("parameter set %s: secret distribution %v is not uniform ternary: %w", set.Name, params.Xs(), ErrParams)
		}
	}
	// Decryption is correct while |T·e| < Q/2 for the total noise e: up to
	// MaxParties shares with noise ≤ 6·sqrt(σ² + σ_fresh²) each, plus
	// MaxParties fresh public-key encryptions.
	smudge := 6 * math.Sqrt(set.SmudgingSigma*set.SmudgingSigma+params.NoiseFreshSK()*params.NoiseFreshSK())
	noise := MaxParties * (smudge + 6*params.NoiseFreshPK())
	if math.Log2(float64(t))+math.Log2(noise)+1 >= params.LogQ() {
		return nil, fmt.Errorf("parameter set %s: log2(T·noise) %.1f leaves no margin below logQ %.1f: %w",
			set.Name, math.Log2(float64(t))+math.Log2(noise), params.LogQ(), ErrParams)
	}
	p := &Parameters{set: set, params: params}
	p.id = paramsID(set.Name, params, set.SmudgingSigma)
	return p, nil
}

// MustParameters is NewParameters for the package's own, tested sets; it
// panics on error (a programming error).
func MustParameters(set ParamSet) *Parameters {
	p, err := NewParameters(set)
	if err != nil {
		panic(err)
	}
	return p
}

func paramsID(name string, p bgv.Parameters, sigma float64) (id [8]byte) {
	h := sha256.New()
	fmt.Fprintf(h, "strata/he/params/v1|%s|%d|%v|%v|%d|%v|%v|%v", name, p.LogN(), p.Q(), p.P(), p.PlaintextModulus(), p.Xs(), p.Xe(), sigma)
	copy(id[:], h.Sum(nil))
	return id
}

// Name returns the parameter set's name.
func (p *Parameters) Name() string { return p.set.Name }

// Set returns the parameter set p was built from.
func (p *Parameters) Set() ParamSet { return p.set }

// BGV returns the lattigo parameters.
func (p *Parameters) BGV() bgv.Parameters { return p.params }

// ID returns a fingerprint of the parameters; every encoded object carries it.
func (p *Parameters) ID() [8]byte { return p.id }

// Slots returns the number of int64 values carried per ciphertext: N − 1
// (slot 0 of every ciphertext is a check slot, see Encryptor).
func (p *Parameters) Slots() int { return p.params.MaxSlots() - 1 }

// PlaintextModulus returns T.
func (p *Parameters) PlaintextModulus() uint64 { return p.params.PlaintextModulus() }

// LogQP returns log2 of the ciphertext modulus (Q·P).
func (p *Parameters) LogQP() float64 { return p.params.LogQP() }

// SmudgingSigma returns the decryption-share flooding noise's standard deviation.
func (p *Parameters) SmudgingSigma() float64 { return p.set.SmudgingSigma }

// MaxAbsSum returns the largest |sum| that decrypts exactly: (T−3)/2. Slots
// hold integers modulo T, decoded centred into [−(T+1)/2, (T−3)/2]; a sum
// beyond ±MaxAbsSum wraps silently.
func (p *Parameters) MaxAbsSum() int64 { return int64((p.PlaintextModulus() - 3) / 2) }

// MaxAbsInput returns the largest |value| a party may encrypt when at most
// parties contributions are summed: MaxAbsSum / parties. Encryptor enforces
// it for the set-up's participant count, so a sum of one contribution per
// participant cannot wrap.
func (p *Parameters) MaxAbsInput(parties int) int64 {
	if parties < 1 {
		parties = 1
	}
	return p.MaxAbsSum() / int64(parties)
}

// CheckSum reports ErrRange unless parties values of magnitude at most maxAbs
// sum exactly. Callers clamp inputs to a bound that passes this check.
func (p *Parameters) CheckSum(maxAbs int64, parties int) error {
	if maxAbs < 0 || parties < 1 || maxAbs > p.MaxAbsInput(parties) {
		return fmt.Errorf("%d parties × |value| ≤ %d exceeds ±%d: %w", parties, maxAbs, p.MaxAbsSum(), ErrRange)
	}
	return nil
}

func (p *Parameters) rlwe() rlwe.Parameters { return p.params.Parameters }
