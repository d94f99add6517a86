package he

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// KeyShare is a site's t-of-N threshold share of the collective secret key,
// the output of the set-up (Party.Finish). It is SECRET: the caller persists
// it (MarshalBinary, mode 0600) and reloads it with UnmarshalKeyShare. It is
// immutable and safe for concurrent use.
type KeyShare struct {
	setup *Setup
	self  string
	idx   int
	tsk   mhe.ShamirSecretShare
}

// Site returns the site the share belongs to.
func (k *KeyShare) Site() string { return k.self }

// Setup returns the share's set-up.
func (k *KeyShare) Setup() *Setup { return k.setup }

// keyShareLen: setup digest | u32 index | threshold secret (QP).
func keyShareLen(pp *Parameters) int { return digestLen + 4 + polyLenQP(pp) }

// MarshalBinary encodes the key share for persistence.
func (k *KeyShare) MarshalBinary() ([]byte, error) {
	pp := k.setup.params
	w := newWriter(pp, kindKeyShare, keyShareLen(pp))
	w.digest(k.setup.digest)
	w.u32(uint32(k.idx))
	w.polyQP(pp, k.tsk.Poly)
	return w.b, nil
}

// UnmarshalKeyShare decodes self's key share of setup.
func UnmarshalKeyShare(setup *Setup, self string, b []byte) (*KeyShare, error) {
	if setup == nil {
		return nil, fmt.Errorf("nil set-up: %w", ErrSetup)
	}
	idx, ok := setup.index[self]
	if !ok {
		return nil, fmt.Errorf("site %q is not a participant: %w", self, ErrSetup)
	}
	pp := setup.params
	r, err := openReader(pp, kindKeyShare, b, keyShareLen(pp))
	if err != nil {
		return nil, err
	}
	if r.digest() != setup.digest {
		return nil, fmt.Errorf("key share of another set-up: %w", ErrSetup)
	}
	if int(r.u32()) != idx {
		return nil, fmt.Errorf("key share of another participant: %w", ErrSetup)
	}
	k := &KeyShare{setup: setup, self: self, idx: idx, tsk: mhe.ShamirSecretShare{Poly: pp.params.RingQP().NewPoly()}}
	if err := r.polyQP(pp, k.tsk.Poly); err != nil {
		return nil, fmt.Errorf("key share: %w", err)
	}
	return k, nil
}

// additiveShare derives this site's t-out-of-t additive share of the
// collective secret key for the ordered decryptor list.
func (k *KeyShare) additiveShare(decryptors []string) (*rlwe.SecretKey, [32]byte, error) {
	pts, listDigest, err := k.setup.decryptors(decryptors)
	if err != nil {
		return nil, listDigest, err
	}
	own := mhe.ShamirPublicPoint(k.idx + 1)
	in := false
	for _, p := range pts {
		in = in || p == own
	}
	if !in {
		return nil, listDigest, fmt.Errorf("site %s is not in the decryptor list: %w", k.self, ErrMismatch)
	}
	sk := rlwe.NewSecretKey(k.setup.params.params)
	err = guard(func() error {
		cmb := mhe.NewCombiner(k.setup.params.rlwe(), own, k.setup.points(), k.setup.threshold)
		return cmb.GenAdditiveShare(pts, own, k.tsk, sk)
	})
	return sk, listDigest, err
}

// DecryptionShare is one decryptor's share for decrypting one aggregate:
// per BGV ciphertext, c1·s_i + e_i with s_i the decryptor's additive share
// for the decryptor list and e_i smudging noise of σ = SmudgingSigma (a
// collective key switch to the zero key, mhe.KeySwitchProtocol). It names
// the aggregate (by the digest of its Mask, the only part it depends on) and
// the decryptor list it was made for.
type DecryptionShare struct {
	setup      *Setup
	mask       [32]byte
	decryptors [32]byte
	shares     []mhe.KeySwitchShare
}

// DecryptionShare returns this site's decryption share of agg for the
// ordered decryptor list: DecryptionShareMask of agg.Mask().
func (k *KeyShare) DecryptionShare(agg *Ciphertext, decryptors []string) (*DecryptionShare, error) {
	if agg == nil {
		return nil, fmt.Errorf("decryption share: nil aggregate: %w", ErrMismatch)
	}
	return k.DecryptionShareMask(agg.Mask(), decryptors)
}

// DecryptionShareMask returns this site's decryption share of the aggregate
// whose mask is m, for the ordered decryptor list (exactly t distinct
// participants including this site, fixed in the log beforehand). Produce
// it for a committed aggregate only: any ciphertext whose mask is given
// here gets decrypted.
func (k *KeyShare) DecryptionShareMask(m *Mask, decryptors []string) (*DecryptionShare, error) {
	if m == nil || m.setup.digest != k.setup.digest {
		return nil, fmt.Errorf("decryption share: aggregate of another set-up: %w", ErrMismatch)
	}
	sk, listDigest, err := k.additiveShare(decryptors)
	if err != nil {
		return nil, fmt.Errorf("decryption share: %w", err)
	}
	pp := k.setup.params
	ds := &DecryptionShare{setup: k.setup, mask: m.Digest(), decryptors: listDigest, shares: make([]mhe.KeySwitchShare, len(m.c1))}
	err = guard(func() error {
		sigma := pp.set.SmudgingSigma
		cks, err := mhe.NewKeySwitchProtocol(pp.params, ring.DiscreteGaussian{Sigma: sigma, Bound: 6 * sigma})
		if err != nil {
			return err
		}
		zero := rlwe.NewSecretKey(pp.params)
		ringQ := pp.params.RingQ()
		// GenShare reads only c1 (Value[1]) and the metadata: one
		// ciphertext shell serves every c1 of the mask.
		ct := bgv.NewCiphertext(pp.params, 1, pp.params.MaxLevel())
		for i, c1 := range m.c1 {
			ct.Value[1] = c1
			ds.shares[i] = cks.AllocateShare(ct.Level())
			cks.GenShare(sk, zero, ct, &ds.shares[i])
			// GenShare leaves lazily reduced coefficients (< 2q): reduce
			// them so the encoding is canonical and passes validation.
			ringQ.AtLevel(ct.Level()).Reduce(ds.shares[i].Value, ds.shares[i].Value)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decryption share: %w", err)
	}
	return ds, nil
}

// decryptionShareLen: setup digest | aggregate digest | decryptors digest |
// u32 k | k polys over Q.
func decryptionShareLen(pp *Parameters, k int) int { return 3*digestLen + 4 + k*polyLenQ(pp) }

// MarshalBinary encodes the share canonically.
func (d *DecryptionShare) MarshalBinary() ([]byte, error) {
	pp := d.setup.params
	w := newWriter(pp, kindDecryptionShare, decryptionShareLen(pp, len(d.shares)))
	w.digest(d.setup.digest)
	w.digest(d.mask)
	w.digest(d.decryptors)
	w.u32(uint32(len(d.shares)))
	q := pp.params.Q()
	for _, s := range d.shares {
		w.poly(s.Value, q)
	}
	return w.b, nil
}

// Digest returns the SHA-256 of the share's encoding.
func (d *DecryptionShare) Digest() ([32]byte, error) {
	b, err := d.MarshalBinary()
	return Digest(b), err
}

// MaskDigest returns the digest of the mask (Mask.Digest) of the aggregate
// the share was made for.
func (d *DecryptionShare) MaskDigest() [32]byte { return d.mask }

// UnmarshalDecryptionShare decodes and validates a decryption share of setup.
func UnmarshalDecryptionShare(setup *Setup, b []byte) (*DecryptionShare, error) {
	if setup == nil {
		return nil, fmt.Errorf("nil set-up: %w", ErrSetup)
	}
	pp := setup.params
	r, err := openReader(pp, kindDecryptionShare, b, -1)
	if err != nil {
		return nil, err
	}
	if len(r.b) < 3*digestLen+4 {
		return nil, fmt.Errorf("decryption share: truncated: %w", ErrMalformed)
	}
	if r.digest() != setup.digest {
		return nil, fmt.Errorf("decryption share of another set-up: %w", ErrSetup)
	}
	d := &DecryptionShare{setup: setup, mask: r.digest(), decryptors: r.digest()}
	k := int(r.u32())
	if k < 1 || k > numCiphertexts(pp, MaxValues) {
		return nil, fmt.Errorf("decryption share: %d ciphertexts: %w", k, ErrMalformed)
	}
	if len(b) != headerLen+decryptionShareLen(pp, k) {
		return nil, fmt.Errorf("decryption share: %d bytes, want %d: %w", len(b), headerLen+decryptionShareLen(pp, k), ErrMalformed)
	}
	d.shares = make([]mhe.KeySwitchShare, k)
	for i := range d.shares {
		d.shares[i] = mhe.KeySwitchShare{Value: pp.params.RingQ().NewPoly()}
		if err := r.poly(d.shares[i].Value, pp.params.Q()); err != nil {
			return nil, fmt.Errorf("decryption share %d: %w", i, err)
		}
	}
	return d, nil
}

// Combine decrypts agg from the decryption shares of exactly the sites of the
// ordered decryptor list (keyed by site ID, as authenticated by the
// transport). Every share must name agg (its Mask's digest) and this list
// (ErrMismatch otherwise). The check slot of each ciphertext must decrypt to agg.Count()
// (ErrDecryption otherwise: shares made with another list or key); a wrong
// result passes it with probability about 1/T per ciphertext. Combine is safe
// for concurrent use.
func Combine(agg *Ciphertext, decryptors []string, shares map[string]*DecryptionShare) ([]int64, error) {
	if agg == nil {
		return nil, fmt.Errorf("combine: nil aggregate: %w", ErrMismatch)
	}
	s := agg.setup
	_, listDigest, err := s.decryptors(decryptors)
	if err != nil {
		return nil, fmt.Errorf("combine: %w", err)
	}
	maskDigest := agg.Mask().Digest()
	if len(shares) > len(decryptors) {
		return nil, fmt.Errorf("combine: %d shares for %d decryptors: %w", len(shares), len(decryptors), ErrMismatch)
	}
	ordered := make([]*DecryptionShare, len(decryptors))
	for i, site := range decryptors {
		d, ok := shares[site]
		if !ok || d == nil {
			return nil, fmt.Errorf("combine: no share from decryptor %s: %w", site, ErrIncomplete)
		}
		if d.setup.digest != s.digest || d.mask != maskDigest || d.decryptors != listDigest || len(d.shares) != len(agg.cts) {
			return nil, fmt.Errorf("combine: share from %s was made for another aggregate or decryptor list: %w", site, ErrMismatch)
		}
		ordered[i] = d
	}
	return combine(agg, ordered)
}

// combine adds the shares to c0 and decodes, checking the check slots.
func combine(agg *Ciphertext, shares []*DecryptionShare) ([]int64, error) {
	pp := agg.setup.params
	out := make([]int64, agg.length)
	slots := pp.Slots()
	t := pp.PlaintextModulus()
	want := int64(agg.count)
	var bad []int
	err := guard(func() error {
		ringQ := pp.params.RingQ()
		ecd := bgv.NewEncoder(pp.params)
		pt := bgv.NewPlaintext(pp.params, pp.params.MaxLevel())
		buf := make([]int64, pp.params.MaxSlots())
		for i, ct := range agg.cts {
			ringQ.Add(ct.Value[0], shares[0].shares[i].Value, pt.Value)
			for _, d := range shares[1:] {
				ringQ.Add(pt.Value, d.shares[i].Value, pt.Value)
			}
			if err := ecd.Decode(pt, buf); err != nil {
				return err
			}
			if buf[0] != want {
				bad = append(bad, i)
			}
			copy(out[i*slots:min((i+1)*slots, len(out))], buf[1:])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("combine: %w", err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("combine: check slot of ciphertexts %v is not %d (mod %d): %w", bad, want, t, ErrDecryption)
	}
	return out, nil
}
