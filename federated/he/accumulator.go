package he

import (
	"encoding/binary"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// Accumulator is the aggregator's streaming Sum: it adds encoded
// contributions directly into a running aggregate, validating and hashing
// each in the same pass, without materialising a Ciphertext per
// contribution. It is not safe for concurrent use.
type Accumulator struct {
	setup  *Setup
	length int
	k      int
	acc    []*rlwe.Ciphertext
	count  int
	seen   map[[32]byte]bool
	done   bool
}

// NewAccumulator starts an aggregate of contributions of length values.
func NewAccumulator(setup *Setup, length int) (*Accumulator, error) {
	if setup == nil {
		return nil, fmt.Errorf("nil set-up: %w", ErrSetup)
	}
	if length < 1 || length > MaxValues {
		return nil, fmt.Errorf("accumulator of %d values, want 1..%d: %w", length, MaxValues, ErrMismatch)
	}
	pp := setup.params
	a := &Accumulator{setup: setup, length: length, k: numCiphertexts(pp, length), seen: map[[32]byte]bool{}}
	a.acc = make([]*rlwe.Ciphertext, a.k)
	for i := range a.acc {
		a.acc[i] = bgv.NewCiphertext(pp.params, 1, pp.params.MaxLevel())
	}
	return a, nil
}

// Add validates one site's encoded contribution (as UnmarshalContribution:
// this set-up, Count 1, the accumulator's length, exact size, coefficients in
// range), adds it, and returns its digest, to be matched against the log.
// Identical bytes added twice are ErrDuplicate; a rejected contribution
// leaves the aggregate unchanged. More than N contributions is ErrRange.
func (a *Accumulator) Add(b []byte) ([32]byte, error) {
	return a.add(b, nil)
}

// AddHashed is Add for a caller that already computed digest = Digest(b)
// while receiving b (e.g. through an io.TeeReader into sha256.New()), so the
// hashing overlaps the network transfer instead of following it. A digest
// that is not Digest(b) breaks replay detection and log matching: pass only
// what was computed over exactly these bytes.
func (a *Accumulator) AddHashed(b []byte, digest [32]byte) error {
	_, err := a.add(b, &digest)
	return err
}

func (a *Accumulator) add(b []byte, digest *[32]byte) ([32]byte, error) {
	if a.done {
		return [32]byte{}, fmt.Errorf("contribution after Aggregate: %w", ErrMismatch)
	}
	pp := a.setup.params
	r, err := openReader(pp, kindCiphertext, b, ciphertextLen(pp, a.k))
	if err != nil {
		return [32]byte{}, fmt.Errorf("contribution: %w", err)
	}
	if r.digest() != a.setup.digest {
		return [32]byte{}, fmt.Errorf("contribution of another set-up: %w", ErrSetup)
	}
	length, count := r.u64(), r.u32()
	if length != uint64(a.length) || count != 1 {
		return [32]byte{}, fmt.Errorf("contribution: count %d and %d values, want 1 and %d: %w", count, length, a.length, ErrMismatch)
	}
	var d [32]byte
	if digest != nil {
		d = *digest
	} else {
		d = Digest(b)
	}
	if a.seen[d] {
		return d, fmt.Errorf("contribution %x: %w", d[:8], ErrDuplicate)
	}
	if a.count >= len(a.setup.participants) {
		return [32]byte{}, fmt.Errorf("contribution beyond %d participants: %w", len(a.setup.participants), ErrRange)
	}
	// One pass: add each coefficient, checking it is below its modulus. On a
	// bad coefficient, subtract what was added so far and fail.
	body := r.b
	q := pp.params.Q()
	n := pp.params.N()
	off := 0
	for _, ct := range a.acc {
		for _, p := range ct.Value {
			for i, row := range p.Coeffs {
				qi := q[i]
				src := body[off : off+8*n]
				for j := range row {
					c := binary.LittleEndian.Uint64(src[8*j:])
					if c >= qi {
						a.rollback(body, off+8*j)
						return [32]byte{}, fmt.Errorf("contribution: coefficient %d of limb %d out of range: %w", j, i, ErrMalformed)
					}
					s := row[j] + c
					if s >= qi {
						s -= qi
					}
					row[j] = s
				}
				off += 8 * n
			}
		}
	}
	a.seen[d] = true
	a.count++
	return d, nil
}

// Remove subtracts a contribution Add or AddHashed accepted (the same bytes
// and digest) from the aggregate, as if it had never been added: for an
// aggregator that adds contributions as they arrive and only then learns
// that the log rejected one (late, duplicate, replayed). Bytes that were
// not added are ErrMismatch and leave the aggregate unchanged.
func (a *Accumulator) Remove(b []byte, digest [32]byte) error {
	if a.done {
		return fmt.Errorf("remove after Aggregate: %w", ErrMismatch)
	}
	if !a.seen[digest] || len(b) != headerLen+ciphertextLen(a.setup.params, a.k) {
		return fmt.Errorf("remove contribution %x: not added: %w", digest[:8], ErrMismatch)
	}
	body := b[headerLen+digestLen+12:]
	a.rollback(body, len(body))
	delete(a.seen, digest)
	a.count--
	return nil
}

// Count returns the number of contributions added.
func (a *Accumulator) Count() int { return a.count }

// Aggregate ends the accumulation and returns the aggregate (ErrIncomplete
// if no contribution was added). Add fails afterwards.
func (a *Accumulator) Aggregate() (*Ciphertext, error) {
	if a.count == 0 {
		return nil, fmt.Errorf("empty aggregate: %w", ErrIncomplete)
	}
	if a.done {
		return nil, fmt.Errorf("aggregate already taken: %w", ErrMismatch)
	}
	a.done = true
	return &Ciphertext{setup: a.setup, length: a.length, count: a.count, cts: a.acc}, nil
}

// rollback subtracts the first upto bytes' worth of coefficients of body
// (all below their moduli) from the aggregate, undoing a partial Add.
func (a *Accumulator) rollback(body []byte, upto int) {
	q := a.setup.params.params.Q()
	off := 0
	for _, ct := range a.acc {
		for _, p := range ct.Value {
			for i, row := range p.Coeffs {
				qi := q[i]
				for j := range row {
					if off >= upto {
						return
					}
					c := binary.LittleEndian.Uint64(body[off:])
					if row[j] >= c {
						row[j] -= c
					} else {
						row[j] = row[j] + qi - c
					}
					off += 8
				}
			}
		}
	}
}
