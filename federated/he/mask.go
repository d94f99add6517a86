package he

import (
	"fmt"
	"sync"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// Mask is the degree-1 part of a ciphertext: c1 (the uniformly random
// "mask") of each of its BGV ciphertexts (c0, c1). A decryption share
// depends on c1 only (a key switch computes c1·s_i + e_i), so decryptors are
// sent the aggregate's Mask, half the aggregate's size, and the aggregator,
// which keeps c0, combines. The Mask also carries the aggregate's length and
// count, so its digest names one aggregate. It is immutable and safe for
// concurrent use.
//
// Decrypting with shares of a Mask reveals no more than decrypting the
// whole aggregate: c0 only shifts the plaintext by a value its holder
// knows, so whoever may ask for shares of (c0, c1) learns the same from
// shares of c1.
type Mask struct {
	setup  *Setup
	length int
	count  int
	c1     []ring.Poly

	digestOnce sync.Once
	digest     [32]byte
}

// Mask returns c's mask (sharing c's memory; computed once and cached).
func (c *Ciphertext) Mask() *Mask {
	c.maskOnce.Do(func() {
		m := &Mask{setup: c.setup, length: c.length, count: c.count, c1: make([]ring.Poly, len(c.cts))}
		for i, ct := range c.cts {
			m.c1[i] = ct.Value[1]
		}
		c.mask = m
	})
	return c.mask
}

// Len returns the number of values of the ciphertext the mask belongs to.
func (m *Mask) Len() int { return m.length }

// Count returns the number of contributions summed into that ciphertext.
func (m *Mask) Count() int { return m.count }

// maskLen: setup digest | u64 length | u32 count | k × c1 over Q.
func maskLen(pp *Parameters, k int) int { return digestLen + 8 + 4 + k*polyLenQ(pp) }

// MarshalBinary encodes m canonically (and caches its digest).
func (m *Mask) MarshalBinary() ([]byte, error) {
	b := m.marshal()
	m.digestOnce.Do(func() { m.digest = Digest(b) })
	return b, nil
}

func (m *Mask) marshal() []byte {
	pp := m.setup.params
	w := newWriter(pp, kindMask, maskLen(pp, len(m.c1)))
	w.digest(m.setup.digest)
	w.u64(uint64(m.length))
	w.u32(uint32(m.count))
	q := pp.params.Q()
	for _, p := range m.c1 {
		w.poly(p, q)
	}
	return w.b
}

// Digest returns the SHA-256 of m's encoding, computed once and cached.
// Decryption shares name the mask they were made for by this digest.
func (m *Mask) Digest() [32]byte {
	m.digestOnce.Do(func() { m.digest = Digest(m.marshal()) })
	return m.digest
}

// UnmarshalMask decodes and validates a mask of setup: header, set-up,
// length in 1..MaxValues, count in 1..N, exact size, and every coefficient
// below its modulus. It hashes b for Digest.
func UnmarshalMask(setup *Setup, b []byte) (*Mask, error) {
	m, err := unmarshalMask(setup, b)
	if err != nil {
		return nil, err
	}
	m.digestOnce.Do(func() { m.digest = Digest(b) })
	return m, nil
}

// UnmarshalMaskHashed is UnmarshalMask for a caller that already computed
// digest = Digest(b) while receiving b (and checked it against the log), so
// b is not hashed a second time. A digest that is not Digest(b) makes the
// decryption share name another mask, and Combine then rejects it.
func UnmarshalMaskHashed(setup *Setup, b []byte, digest [32]byte) (*Mask, error) {
	m, err := unmarshalMask(setup, b)
	if err != nil {
		return nil, err
	}
	m.digestOnce.Do(func() { m.digest = digest })
	return m, nil
}

func unmarshalMask(setup *Setup, b []byte) (*Mask, error) {
	if setup == nil {
		return nil, fmt.Errorf("nil set-up: %w", ErrSetup)
	}
	pp := setup.params
	r, err := openReader(pp, kindMask, b, -1)
	if err != nil {
		return nil, err
	}
	if len(r.b) < digestLen+12 {
		return nil, fmt.Errorf("mask: truncated: %w", ErrMalformed)
	}
	if r.digest() != setup.digest {
		return nil, fmt.Errorf("mask of another set-up: %w", ErrSetup)
	}
	length, count := r.u64(), r.u32()
	if length < 1 || length > MaxValues {
		return nil, fmt.Errorf("mask: length %d, want 1..%d: %w", length, MaxValues, ErrMalformed)
	}
	if count < 1 || int(count) > len(setup.participants) {
		return nil, fmt.Errorf("mask: count %d, want 1..%d: %w", count, len(setup.participants), ErrMalformed)
	}
	k := numCiphertexts(pp, int(length))
	if len(b) != headerLen+maskLen(pp, k) {
		return nil, fmt.Errorf("mask: %d bytes, want %d for %d values: %w", len(b), headerLen+maskLen(pp, k), length, ErrMalformed)
	}
	m := &Mask{setup: setup, length: int(length), count: int(count), c1: make([]ring.Poly, k)}
	ringQ := pp.params.RingQ()
	q := pp.params.Q()
	for i := range m.c1 {
		m.c1[i] = ringQ.NewPoly()
		if err := r.poly(m.c1[i], q); err != nil {
			return nil, fmt.Errorf("mask %d: %w", i, err)
		}
	}
	return m, nil
}
