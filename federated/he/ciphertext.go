package he

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// MaxValues bounds the length of an encrypted vector (2^24 values, about
// 512 MiB of ciphertext at LogN 13), so a decoder never allocates more.
const MaxValues = 1 << 24

// checkValue is the value of the check slot (slot 0) of every ciphertext a
// party encrypts; after summing c contributions it decrypts to c.
const checkValue = 1

// Ciphertext is an encrypted int64 vector: ceil(Len/Slots) BGV ciphertexts,
// each carrying Slots values plus a check slot, under a set-up's collective
// public key. Count is the number of contributions summed into it (1 when
// fresh). Methods other than Digest do not modify it; Digest caches and is
// safe for concurrent use.
type Ciphertext struct {
	setup  *Setup
	length int
	count  int
	cts    []*rlwe.Ciphertext

	digestOnce sync.Once
	digest     [32]byte

	maskOnce sync.Once
	mask     *Mask
}

// Len returns the number of values.
func (c *Ciphertext) Len() int { return c.length }

// Count returns the number of contributions summed into c.
func (c *Ciphertext) Count() int { return c.count }

// NumCiphertexts returns the number of BGV ciphertexts.
func (c *Ciphertext) NumCiphertexts() int { return len(c.cts) }

func numCiphertexts(pp *Parameters, length int) int {
	return (length + pp.Slots() - 1) / pp.Slots()
}

// ciphertextLen: setup digest | u64 length | u32 count | k × (c0, c1) over Q.
func ciphertextLen(pp *Parameters, k int) int { return digestLen + 8 + 4 + k*2*polyLenQ(pp) }

// MarshalBinary encodes c canonically.
func (c *Ciphertext) MarshalBinary() ([]byte, error) {
	b, err := c.marshal()
	if err != nil {
		return nil, err
	}
	c.digestOnce.Do(func() { c.digest = Digest(b) })
	return b, nil
}

func (c *Ciphertext) marshal() ([]byte, error) {
	pp := c.setup.params
	w := newWriter(pp, kindCiphertext, ciphertextLen(pp, len(c.cts)))
	w.digest(c.setup.digest)
	w.u64(uint64(c.length))
	w.u32(uint32(c.count))
	q := pp.params.Q()
	for _, ct := range c.cts {
		w.poly(ct.Value[0], q)
		w.poly(ct.Value[1], q)
	}
	return w.b, nil
}

// Digest returns the SHA-256 of c's encoding. It is computed once, by the
// first MarshalBinary or Digest, and cached.
func (c *Ciphertext) Digest() ([32]byte, error) {
	var err error
	c.digestOnce.Do(func() {
		var b []byte
		b, err = c.marshal()
		c.digest = Digest(b)
	})
	return c.digest, err
}

// UnmarshalCiphertext decodes and validates a ciphertext of setup: header,
// set-up, length in 1..MaxValues, count in 1..N, exact size, and every
// coefficient below its modulus. It does not hash b: Digest computes the
// digest when first asked (callers that received b usually hashed it on
// the way in already).
func UnmarshalCiphertext(setup *Setup, b []byte) (*Ciphertext, error) {
	if setup == nil {
		return nil, fmt.Errorf("nil set-up: %w", ErrSetup)
	}
	pp := setup.params
	r, err := openReader(pp, kindCiphertext, b, -1)
	if err != nil {
		return nil, err
	}
	if len(r.b) < digestLen+12 {
		return nil, fmt.Errorf("ciphertext: truncated: %w", ErrMalformed)
	}
	if r.digest() != setup.digest {
		return nil, fmt.Errorf("ciphertext of another set-up: %w", ErrSetup)
	}
	length, count := r.u64(), r.u32()
	if length < 1 || length > MaxValues {
		return nil, fmt.Errorf("ciphertext: length %d, want 1..%d: %w", length, MaxValues, ErrMalformed)
	}
	if count < 1 || int(count) > len(setup.participants) {
		return nil, fmt.Errorf("ciphertext: count %d, want 1..%d: %w", count, len(setup.participants), ErrMalformed)
	}
	k := numCiphertexts(pp, int(length))
	if len(b) != headerLen+ciphertextLen(pp, k) {
		return nil, fmt.Errorf("ciphertext: %d bytes, want %d for %d values: %w", len(b), headerLen+ciphertextLen(pp, k), length, ErrMalformed)
	}
	c := &Ciphertext{setup: setup, length: int(length), count: int(count), cts: make([]*rlwe.Ciphertext, k)}
	q := pp.params.Q()
	for i := range c.cts {
		ct := bgv.NewCiphertext(pp.params, 1, pp.params.MaxLevel())
		if err := r.poly(ct.Value[0], q); err != nil {
			return nil, fmt.Errorf("ciphertext %d: %w", i, err)
		}
		if err := r.poly(ct.Value[1], q); err != nil {
			return nil, fmt.Errorf("ciphertext %d: %w", i, err)
		}
		c.cts[i] = ct
	}
	return c, nil
}

// UnmarshalContribution is UnmarshalCiphertext for one site's fresh
// contribution to a round: it also requires Count() == 1 and Len() == length,
// so a site cannot pass off a sum or a vector of the wrong shape.
func UnmarshalContribution(setup *Setup, length int, b []byte) (*Ciphertext, error) {
	c, err := UnmarshalCiphertext(setup, b)
	if err != nil {
		return nil, err
	}
	if c.count != 1 || c.length != length {
		return nil, fmt.Errorf("contribution: count %d and %d values, want 1 and %d: %w", c.count, c.length, length, ErrMismatch)
	}
	return c, nil
}

// Encryptor encrypts int64 vectors under a collective public key. It is NOT
// safe for concurrent use: create one per goroutine (NewEncryptor is cheap
// next to an encryption).
type Encryptor struct {
	setup  *Setup
	maxAbs int64
	enc    *rlwe.Encryptor
	ecd    *bgv.Encoder
	pt     *rlwe.Plaintext
	buf    []int64
}

// NewEncryptor returns an encryptor for pk.
func NewEncryptor(pk *PublicKey) (*Encryptor, error) {
	if pk == nil {
		return nil, fmt.Errorf("nil public key: %w", ErrSetup)
	}
	s := pk.setup
	pp := s.params
	e := &Encryptor{setup: s, maxAbs: pp.MaxAbsInput(len(s.participants)), buf: make([]int64, pp.params.MaxSlots())}
	err := guard(func() error {
		e.enc = bgv.NewEncryptor(pp.params, pk.pk)
		e.ecd = bgv.NewEncoder(pp.params)
		e.pt = bgv.NewPlaintext(pp.params, pp.params.MaxLevel())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// MaxAbs returns the largest |value| Encrypt accepts: MaxAbsSum / N, so the
// sum of one contribution per participant cannot wrap.
func (e *Encryptor) MaxAbs() int64 { return e.maxAbs }

// Encrypt encrypts values (1..MaxValues of them, each |v| ≤ MaxAbs, else
// ErrRange: clamp before calling). The vector is split into ciphertexts of
// Slots values; the last is zero-padded.
func (e *Encryptor) Encrypt(values []int64) (*Ciphertext, error) {
	if err := e.check(values); err != nil {
		return nil, err
	}
	pp := e.setup.params
	slots := pp.Slots()
	c := &Ciphertext{setup: e.setup, length: len(values), count: 1, cts: make([]*rlwe.Ciphertext, numCiphertexts(pp, len(values)))}
	err := guard(func() error {
		for i := range c.cts {
			ct := bgv.NewCiphertext(pp.params, 1, pp.params.MaxLevel())
			if err := e.encryptChunk(values[i*slots:min((i+1)*slots, len(values))], ct); err != nil {
				return err
			}
			c.cts[i] = ct
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return c, nil
}

// EncryptMarshal is Encrypt followed by MarshalBinary and Digest, without
// materialising the Ciphertext: each BGV ciphertext is encrypted into one
// reused buffer and written straight into the encoding, which is hashed
// chunk by chunk as it is written (while the chunk is still in cache). The
// result is the encoding of a fresh contribution and its digest, as
// MarshalBinary and Digest of Encrypt's Ciphertext would give. Use it where
// only the bytes leave the site.
func (e *Encryptor) EncryptMarshal(values []int64) ([]byte, [32]byte, error) {
	if err := e.check(values); err != nil {
		return nil, [32]byte{}, err
	}
	pp := e.setup.params
	slots := pp.Slots()
	k := numCiphertexts(pp, len(values))
	w := newWriter(pp, kindCiphertext, ciphertextLen(pp, k))
	w.digest(e.setup.digest)
	w.u64(uint64(len(values)))
	w.u32(1)
	h := sha256.New()
	h.Write(w.b)
	q := pp.params.Q()
	err := guard(func() error {
		ct := bgv.NewCiphertext(pp.params, 1, pp.params.MaxLevel())
		for i := range k {
			if err := e.encryptChunk(values[i*slots:min((i+1)*slots, len(values))], ct); err != nil {
				return err
			}
			off := len(w.b)
			w.poly(ct.Value[0], q)
			w.poly(ct.Value[1], q)
			h.Write(w.b[off:])
		}
		return nil
	})
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("encrypt: %w", err)
	}
	var d [32]byte
	h.Sum(d[:0])
	return w.b, d, nil
}

// check validates the values Encrypt and EncryptMarshal accept.
func (e *Encryptor) check(values []int64) error {
	if len(values) < 1 || len(values) > MaxValues {
		return fmt.Errorf("encrypt %d values, want 1..%d: %w", len(values), MaxValues, ErrMismatch)
	}
	for i, v := range values {
		if v > e.maxAbs || v < -e.maxAbs {
			return fmt.Errorf("value %d is %d, beyond ±%d: %w", i, v, e.maxAbs, ErrRange)
		}
	}
	return nil
}

// encryptChunk encrypts the check value and up to Slots values into ct.
func (e *Encryptor) encryptChunk(chunk []int64, ct *rlwe.Ciphertext) error {
	e.buf[0] = checkValue
	n := copy(e.buf[1:], chunk)
	clear(e.buf[1+n:])
	if err := e.ecd.Encode(e.buf, e.pt); err != nil {
		return err
	}
	return e.enc.Encrypt(e.pt, ct)
}

// Sum returns the homomorphic sum of ciphertexts of the same set-up and
// length. The total Count may not exceed the number of participants (each
// site contributes at most once per round), which keeps the sum within
// MaxAbsSum. Sum is safe for concurrent use.
func Sum(cts ...*Ciphertext) (*Ciphertext, error) {
	if len(cts) == 0 {
		return nil, fmt.Errorf("sum of nothing: %w", ErrMismatch)
	}
	first := cts[0]
	if first == nil {
		return nil, fmt.Errorf("sum: nil ciphertext: %w", ErrMismatch)
	}
	count := 0
	for i, c := range cts {
		if c == nil || c.setup != first.setup && c.setup.digest != first.setup.digest {
			return nil, fmt.Errorf("sum: ciphertext %d of another set-up: %w", i, ErrMismatch)
		}
		if c.length != first.length {
			return nil, fmt.Errorf("sum: ciphertext %d has %d values, want %d: %w", i, c.length, first.length, ErrMismatch)
		}
		count += c.count
	}
	if count > len(first.setup.participants) {
		return nil, fmt.Errorf("sum of %d contributions exceeds %d participants: %w", count, len(first.setup.participants), ErrRange)
	}
	pp := first.setup.params
	ringQ := pp.params.RingQ()
	out := &Ciphertext{setup: first.setup, length: first.length, count: count, cts: make([]*rlwe.Ciphertext, len(first.cts))}
	err := guard(func() error {
		for j := range out.cts {
			acc := first.cts[j].CopyNew()
			for _, c := range cts[1:] {
				ringQ.Add(acc.Value[0], c.cts[j].Value[0], acc.Value[0])
				ringQ.Add(acc.Value[1], c.cts[j].Value[1], acc.Value[1])
			}
			out.cts[j] = acc
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sum: %w", err)
	}
	return out, nil
}
