package he

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
	"github.com/tuneinsight/lattigo/v5/utils/structs"
)

// keyedPRNG derives a lattigo PRNG from a domain label and a seed.
func keyedPRNG(label string, seed []byte) (*sampling.KeyedPRNG, error) {
	key := sha256.Sum256(append([]byte("strata/he/"+label+"/v1|"), seed...))
	prng, err := sampling.NewKeyedPRNG(key[:])
	if err != nil {
		return nil, fmt.Errorf("keyed PRNG: %v: %w", err, ErrInternal)
	}
	return prng, nil
}

// publicKeyCRP samples the common random polynomial of the collective public
// key from the set-up seed: every party derives the same one.
func publicKeyCRP(s *Setup) (mhe.PublicKeyGenProtocol, mhe.PublicKeyGenCRP, error) {
	prng, err := keyedPRNG("cpk-crs", s.seed)
	if err != nil {
		return mhe.PublicKeyGenProtocol{}, mhe.PublicKeyGenCRP{}, err
	}
	var ckg mhe.PublicKeyGenProtocol
	var crp mhe.PublicKeyGenCRP
	err = guard(func() error {
		ckg = mhe.NewPublicKeyGenProtocol(s.params.params)
		crp = ckg.SampleCRP(prng)
		return nil
	})
	return ckg, crp, err
}

// Party is one participant's state during the dealerless key set-up. Its
// steps, in order:
//
//  1. PublicKeyShare: send the result to the aggregator (PublicKeyAggregator).
//  2. ThresholdShares: send each share privately to the site it is keyed by.
//  3. ReceiveThresholdShare for every other participant's share to this site.
//  4. Finish: the site's threshold KeyShare, to persist.
//
// Steps 1 and 2 are independent and may be repeated: a party's outputs are a
// deterministic function of its secret (MarshalSecret), so after a restart a
// party restored with RestoreParty re-sends identical shares. Persist the
// secret (mode 0600) before sending anything. A Party is not safe for
// concurrent use.
type Party struct {
	setup    *Setup
	self     string
	idx      int
	sk       *rlwe.SecretKey
	polySeed [32]byte
	poly     *mhe.ShamirPolynomial
	thr      mhe.Thresholdizer
	received map[int]mhe.ShamirSecretShare
}

// NewParty starts the set-up for participant self with a fresh secret key.
func NewParty(setup *Setup, self string) (*Party, error) {
	p, err := newParty(setup, self)
	if err != nil {
		return nil, err
	}
	if _, err := rand.Read(p.polySeed[:]); err != nil {
		return nil, fmt.Errorf("party %s: seed: %w", self, err)
	}
	err = guard(func() error {
		p.sk = rlwe.NewKeyGenerator(setup.params.params).GenSecretKeyNew()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("party %s: secret key: %w", self, err)
	}
	return p, nil
}

func newParty(setup *Setup, self string) (*Party, error) {
	if setup == nil {
		return nil, fmt.Errorf("nil set-up: %w", ErrSetup)
	}
	idx, ok := setup.index[self]
	if !ok {
		return nil, fmt.Errorf("site %q is not a participant: %w", self, ErrSetup)
	}
	p := &Party{setup: setup, self: self, idx: idx, received: make(map[int]mhe.ShamirSecretShare)}
	err := guard(func() error {
		p.thr = mhe.NewThresholdizer(setup.params.params)
		return nil
	})
	return p, err
}

// Site returns the party's site ID.
func (p *Party) Site() string { return p.self }

// partySecretBody: setup digest | u32 index | poly seed | sk (QP).
func partySecretLen(pp *Parameters) int { return digestLen + 4 + 32 + polyLenQP(pp) }

// MarshalSecret encodes the party's secret state (its secret key and the seed
// of its Shamir polynomial) for persistence by the caller (0600).
func (p *Party) MarshalSecret() ([]byte, error) {
	pp := p.setup.params
	w := newWriter(pp, kindPartySecret, partySecretLen(pp))
	w.digest(p.setup.digest)
	w.u32(uint32(p.idx))
	w.bytes(p.polySeed[:])
	w.polyQP(pp, p.sk.Value)
	return w.b, nil
}

// RestoreParty rebuilds a party from MarshalSecret's output. Received
// threshold shares are not part of the secret: ask the peers again.
func RestoreParty(setup *Setup, self string, secret []byte) (*Party, error) {
	p, err := newParty(setup, self)
	if err != nil {
		return nil, err
	}
	pp := setup.params
	r, err := openReader(pp, kindPartySecret, secret, partySecretLen(pp))
	if err != nil {
		return nil, err
	}
	if r.digest() != setup.digest {
		return nil, fmt.Errorf("party secret of another set-up: %w", ErrSetup)
	}
	if int(r.u32()) != p.idx {
		return nil, fmt.Errorf("party secret of another participant: %w", ErrSetup)
	}
	copy(p.polySeed[:], r.bytes(32))
	p.sk = rlwe.NewSecretKey(pp.params)
	if err := r.polyQP(pp, p.sk.Value); err != nil {
		return nil, fmt.Errorf("party secret: %w", err)
	}
	return p, nil
}

// publicKeyShareLen: setup digest | u32 sender index | share (QP).
func publicKeyShareLen(pp *Parameters) int { return digestLen + 4 + polyLenQP(pp) }

// PublicKeyShare returns this party's share of the collective public key,
// −s_i·a + e_i for the common random polynomial a derived from the set-up
// seed. It goes to the aggregator; it reveals nothing about s_i (RLWE).
func (p *Party) PublicKeyShare() ([]byte, error) {
	ckg, crp, err := publicKeyCRP(p.setup)
	if err != nil {
		return nil, err
	}
	var share mhe.PublicKeyGenShare
	err = guard(func() error {
		share = ckg.AllocateShare()
		ckg.GenShare(p.sk, crp, &share)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("party %s: public key share: %w", p.self, err)
	}
	pp := p.setup.params
	w := newWriter(pp, kindPublicKeyShare, publicKeyShareLen(pp))
	w.digest(p.setup.digest)
	w.u32(uint32(p.idx))
	w.polyQP(pp, share.Value)
	return w.b, nil
}

// shamirPolynomial returns the party's degree t−1 polynomial with constant
// term s_i; the other coefficients come from the party's secret seed.
func (p *Party) shamirPolynomial() (mhe.ShamirPolynomial, error) {
	if p.poly != nil {
		return *p.poly, nil
	}
	prng, err := keyedPRNG("shamir", p.polySeed[:])
	if err != nil {
		return mhe.ShamirPolynomial{}, err
	}
	ringQP := p.setup.params.params.RingQP()
	gen := make([]ringqp.Poly, p.setup.threshold)
	gen[0] = *p.sk.Value.CopyNew()
	us := ringqp.NewUniformSampler(prng, *ringQP)
	for i := 1; i < len(gen); i++ {
		gen[i] = ringQP.NewPoly()
		us.Read(gen[i])
	}
	p.poly = &mhe.ShamirPolynomial{Value: structs.Vector[ringqp.Poly](gen)}
	return *p.poly, nil
}

func (p *Party) shareFor(to int) (mhe.ShamirSecretShare, error) {
	var share mhe.ShamirSecretShare
	err := guard(func() error {
		poly, err := p.shamirPolynomial()
		if err != nil {
			return err
		}
		share = p.thr.AllocateThresholdSecretShare()
		p.thr.GenShamirSecretShare(mhe.ShamirPublicPoint(to+1), poly, &share)
		return nil
	})
	return share, err
}

// thresholdShareLen: setup digest | u32 from | u32 to | share (QP).
func thresholdShareLen(pp *Parameters) int { return digestLen + 4 + 4 + polyLenQP(pp) }

// ThresholdShares returns, for every other participant, its Shamir share of
// this party's secret key, keyed by site ID. Each is SECRET: send it only to
// that site over an authenticated, encrypted channel, never through the log.
func (p *Party) ThresholdShares() (map[string][]byte, error) {
	pp := p.setup.params
	out := make(map[string][]byte, len(p.setup.participants)-1)
	for j, site := range p.setup.participants {
		if j == p.idx {
			continue
		}
		share, err := p.shareFor(j)
		if err != nil {
			return nil, fmt.Errorf("party %s: threshold share for %s: %w", p.self, site, err)
		}
		w := newWriter(pp, kindThresholdShare, thresholdShareLen(pp))
		w.digest(p.setup.digest)
		w.u32(uint32(p.idx))
		w.u32(uint32(j))
		w.polyQP(pp, share.Poly)
		out[site] = w.b
	}
	return out, nil
}

// ReceiveThresholdShare validates and stores the share participant from
// sent to this party. A second share from the same site is ErrDuplicate,
// unless identical (a re-send after a restart).
func (p *Party) ReceiveThresholdShare(from string, b []byte) error {
	fi, ok := p.setup.index[from]
	if !ok {
		return fmt.Errorf("threshold share from %q: not a participant: %w", from, ErrSetup)
	}
	if fi == p.idx {
		return fmt.Errorf("threshold share from self: %w", ErrMismatch)
	}
	pp := p.setup.params
	r, err := openReader(pp, kindThresholdShare, b, thresholdShareLen(pp))
	if err != nil {
		return fmt.Errorf("threshold share from %s: %w", from, err)
	}
	if r.digest() != p.setup.digest {
		return fmt.Errorf("threshold share from %s: another set-up: %w", from, ErrSetup)
	}
	if f, t := int(r.u32()), int(r.u32()); f != fi || t != p.idx {
		return fmt.Errorf("threshold share from %s: addressed from %d to %d, want %d to %d: %w", from, f, t, fi, p.idx, ErrMismatch)
	}
	share := p.thr.AllocateThresholdSecretShare()
	if err := r.polyQP(pp, share.Poly); err != nil {
		return fmt.Errorf("threshold share from %s: %w", from, err)
	}
	if prev, dup := p.received[fi]; dup {
		if prev.Equal(&share.Poly) {
			return nil
		}
		return fmt.Errorf("threshold share from %s: %w", from, ErrDuplicate)
	}
	p.received[fi] = share
	return nil
}

// Missing returns the participants whose threshold share has not arrived.
func (p *Party) Missing() []string {
	var out []string
	for j, site := range p.setup.participants {
		if _, ok := p.received[j]; !ok && j != p.idx {
			out = append(out, site)
		}
	}
	return out
}

// Finish aggregates the received shares and this party's own into the
// site's t-of-N threshold key share. It needs a share from every other
// participant (ErrIncomplete otherwise).
func (p *Party) Finish() (*KeyShare, error) {
	if m := p.Missing(); len(m) > 0 {
		return nil, fmt.Errorf("party %s: no threshold share from %v: %w", p.self, m, ErrIncomplete)
	}
	own, err := p.shareFor(p.idx)
	if err != nil {
		return nil, fmt.Errorf("party %s: own threshold share: %w", p.self, err)
	}
	err = guard(func() error {
		for j := range p.setup.participants {
			if j == p.idx {
				continue
			}
			if err := p.thr.AggregateShares(own, p.received[j], &own); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("party %s: aggregate threshold shares: %w", p.self, err)
	}
	return &KeyShare{setup: p.setup, self: p.self, idx: p.idx, tsk: own}, nil
}

// PublicKeyAggregator collects the N public key shares and derives the
// collective public key. Whoever runs it (the aggregator, or every party for
// itself) gets the same key. It is not safe for concurrent use.
type PublicKeyAggregator struct {
	setup *Setup
	ckg   mhe.PublicKeyGenProtocol
	crp   mhe.PublicKeyGenCRP
	agg   mhe.PublicKeyGenShare
	got   map[int]bool
}

// NewPublicKeyAggregator starts collecting public key shares for setup.
func NewPublicKeyAggregator(setup *Setup) (*PublicKeyAggregator, error) {
	if setup == nil {
		return nil, fmt.Errorf("nil set-up: %w", ErrSetup)
	}
	ckg, crp, err := publicKeyCRP(setup)
	if err != nil {
		return nil, err
	}
	return &PublicKeyAggregator{setup: setup, ckg: ckg, crp: crp, agg: ckg.AllocateShare(), got: make(map[int]bool)}, nil
}

// Add validates and adds the public key share sent by site from.
func (a *PublicKeyAggregator) Add(from string, b []byte) error {
	fi, ok := a.setup.index[from]
	if !ok {
		return fmt.Errorf("public key share from %q: not a participant: %w", from, ErrSetup)
	}
	if a.got[fi] {
		return fmt.Errorf("public key share from %s: %w", from, ErrDuplicate)
	}
	pp := a.setup.params
	r, err := openReader(pp, kindPublicKeyShare, b, publicKeyShareLen(pp))
	if err != nil {
		return fmt.Errorf("public key share from %s: %w", from, err)
	}
	if r.digest() != a.setup.digest {
		return fmt.Errorf("public key share from %s: another set-up: %w", from, ErrSetup)
	}
	if int(r.u32()) != fi {
		return fmt.Errorf("public key share from %s: made by another participant: %w", from, ErrMismatch)
	}
	share := a.ckg.AllocateShare()
	if err := r.polyQP(pp, share.Value); err != nil {
		return fmt.Errorf("public key share from %s: %w", from, err)
	}
	a.ckg.AggregateShares(a.agg, share, &a.agg)
	a.got[fi] = true
	return nil
}

// Missing returns the participants whose public key share has not arrived.
func (a *PublicKeyAggregator) Missing() []string {
	var out []string
	for j, site := range a.setup.participants {
		if !a.got[j] {
			out = append(out, site)
		}
	}
	return out
}

// PublicKey returns the collective public key; it needs every participant's
// share (ErrIncomplete otherwise).
func (a *PublicKeyAggregator) PublicKey() (*PublicKey, error) {
	if m := a.Missing(); len(m) > 0 {
		return nil, fmt.Errorf("no public key share from %v: %w", m, ErrIncomplete)
	}
	pk := rlwe.NewPublicKey(a.setup.params.params)
	err := guard(func() error {
		a.ckg.GenPublicKey(a.agg, a.crp, pk)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &PublicKey{setup: a.setup, pk: pk}, nil
}

// PublicKey is the collective public key of a set-up. It is immutable.
type PublicKey struct {
	setup *Setup
	pk    *rlwe.PublicKey
}

// publicKeyLen: setup digest | pk[0] (QP). pk[1] is the CRP, re-derived.
func publicKeyLen(pp *Parameters) int { return digestLen + polyLenQP(pp) }

// MarshalBinary encodes the public key (its first component; the second is
// the common random polynomial, which the decoder re-derives from the seed).
func (k *PublicKey) MarshalBinary() ([]byte, error) {
	pp := k.setup.params
	w := newWriter(pp, kindPublicKey, publicKeyLen(pp))
	w.digest(k.setup.digest)
	w.polyQP(pp, k.pk.Value[0])
	return w.b, nil
}

// UnmarshalPublicKey decodes a collective public key of setup.
func UnmarshalPublicKey(setup *Setup, b []byte) (*PublicKey, error) {
	if setup == nil {
		return nil, fmt.Errorf("nil set-up: %w", ErrSetup)
	}
	pp := setup.params
	r, err := openReader(pp, kindPublicKey, b, publicKeyLen(pp))
	if err != nil {
		return nil, err
	}
	if r.digest() != setup.digest {
		return nil, fmt.Errorf("public key of another set-up: %w", ErrSetup)
	}
	_, crp, err := publicKeyCRP(setup)
	if err != nil {
		return nil, err
	}
	pk := rlwe.NewPublicKey(pp.params)
	if err := r.polyQP(pp, pk.Value[0]); err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pk.Value[1].Copy(crp.Value)
	return &PublicKey{setup: setup, pk: pk}, nil
}
