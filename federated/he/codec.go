package he

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"

	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
)

// Wire format. Every encoded object is
//
//	magic "STHE" | version (1 byte) | kind (1 byte) | parameter ID (8 bytes) | body
//
// The body is fixed-layout for its kind: little-endian integers, digests, and
// polynomials written as (level+1)·N little-endian uint64 coefficients, each
// below its modulus. Decoders compute the exact expected length from the
// parameters (and, for vectors, a count in the body) before allocating, so
// garbage cannot trigger large allocations or reach lattigo's own parsers.
// Encoding is canonical: equal objects give equal bytes, and an object's
// digest is the SHA-256 of its encoding.

const (
	wireVersion = 1
	headerLen   = 4 + 1 + 1 + 8
	digestLen   = sha256.Size
)

var wireMagic = [4]byte{'S', 'T', 'H', 'E'}

// kind tags each encoded object type.
type kind byte

const (
	kindPartySecret kind = iota + 1
	kindPublicKeyShare
	kindPublicKey
	kindThresholdShare
	kindKeyShare
	kindCiphertext
	kindDecryptionShare
	kindMask
)

func (k kind) String() string {
	switch k {
	case kindPartySecret:
		return "party secret"
	case kindPublicKeyShare:
		return "public key share"
	case kindPublicKey:
		return "public key"
	case kindThresholdShare:
		return "threshold share"
	case kindKeyShare:
		return "key share"
	case kindCiphertext:
		return "ciphertext"
	case kindDecryptionShare:
		return "decryption share"
	case kindMask:
		return "ciphertext mask"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// guard runs f, turning a panic into ErrInternal. Inputs are validated before
// they reach lattigo, so a panic here is a bug; guard keeps it from taking the
// daemon down.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("lattigo panic: %v: %w", r, ErrInternal)
		}
	}()
	return f()
}

// writer appends to a pre-sized buffer.
type writer struct{ b []byte }

func newWriter(p *Parameters, k kind, bodyLen int) *writer {
	w := &writer{b: make([]byte, 0, headerLen+bodyLen)}
	w.b = append(w.b, wireMagic[:]...)
	w.b = append(w.b, wireVersion, byte(k))
	id := p.ID()
	w.b = append(w.b, id[:]...)
	return w
}

func (w *writer) u32(v uint32)      { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64)      { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *writer) bytes(v []byte)    { w.b = append(w.b, v...) }
func (w *writer) digest(d [32]byte) { w.b = append(w.b, d[:]...) }

// poly writes p's coefficients fully reduced modulo their limb's modulus
// (lattigo leaves some results lazily reduced), so the encoding is canonical.
func (w *writer) poly(p ring.Poly, moduli []uint64) {
	for i, row := range p.Coeffs {
		q := moduli[i]
		off := len(w.b)
		w.b = slices.Grow(w.b, 8*len(row))[:off+8*len(row)]
		dst := w.b[off:]
		if nativeLittleEndian && allBelow(row, q) {
			copy(dst, u64Bytes(row)) // fast path: already canonical
			continue
		}
		for j, c := range row {
			if c >= q {
				c %= q
			}
			binary.LittleEndian.PutUint64(dst[8*j:], c)
		}
	}
}

// allBelow reports whether every coefficient is below q.
func allBelow(row []uint64, q uint64) bool {
	var bad bool
	for _, c := range row {
		bad = bad || c >= q
	}
	return !bad
}

// nativeLittleEndian is true on little-endian machines, where a []uint64 is
// already laid out as its little-endian encoding.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// u64Bytes views a []uint64 as bytes (no copy).
func u64Bytes(v []uint64) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 8*len(v))
}

func (w *writer) polyQP(pp *Parameters, p ringqp.Poly) {
	w.poly(p.Q, pp.params.Q())
	if p.LevelP() >= 0 {
		w.poly(p.P, pp.params.P())
	}
}

// reader consumes a buffer whose total length was checked up front.
type reader struct{ b []byte }

// openReader checks the header and that the whole encoding is exactly
// headerLen+bodyLen bytes long (bodyLen < 0: at least headerLen; the caller
// checks the body length itself).
func openReader(p *Parameters, k kind, b []byte, bodyLen int) (*reader, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("%v: %d bytes, shorter than the header: %w", k, len(b), ErrMalformed)
	}
	if [4]byte(b[:4]) != wireMagic {
		return nil, fmt.Errorf("%v: bad magic %q: %w", k, b[:4], ErrMalformed)
	}
	if b[4] != wireVersion {
		return nil, fmt.Errorf("%v: unsupported version %d: %w", k, b[4], ErrMalformed)
	}
	if kind(b[5]) != k {
		return nil, fmt.Errorf("%v: got a %v: %w", k, kind(b[5]), ErrMalformed)
	}
	if [8]byte(b[6:14]) != p.ID() {
		return nil, fmt.Errorf("%v: made for other parameters (want %s): %w", k, p.Name(), ErrMalformed)
	}
	if bodyLen >= 0 && len(b) != headerLen+bodyLen {
		return nil, fmt.Errorf("%v: %d bytes, want %d: %w", k, len(b), headerLen+bodyLen, ErrMalformed)
	}
	return &reader{b: b[headerLen:]}, nil
}

func (r *reader) u32() uint32 {
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) u64() uint64 {
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) digest() (d [32]byte) {
	copy(d[:], r.b)
	r.b = r.b[digestLen:]
	return d
}

func (r *reader) bytes(n int) []byte {
	v := append([]byte(nil), r.b[:n]...)
	r.b = r.b[n:]
	return v
}

// poly fills p (pre-allocated at the expected level) from the buffer,
// rejecting coefficients not below their modulus.
func (r *reader) poly(p ring.Poly, moduli []uint64) error {
	for i, row := range p.Coeffs {
		q := moduli[i]
		src := r.b[:8*len(row)]
		if nativeLittleEndian {
			copy(u64Bytes(row), src)
		} else {
			for j := range row {
				row[j] = binary.LittleEndian.Uint64(src[8*j:])
			}
		}
		if !allBelow(row, q) {
			for j, c := range row {
				if c >= q {
					return fmt.Errorf("coefficient %d of limb %d is %d ≥ modulus %d: %w", j, i, c, q, ErrMalformed)
				}
			}
		}
		r.b = r.b[8*len(row):]
	}
	return nil
}

func (r *reader) polyQP(p *Parameters, out ringqp.Poly) error {
	if err := r.poly(out.Q, p.params.Q()); err != nil {
		return err
	}
	if out.LevelP() >= 0 {
		return r.poly(out.P, p.params.P())
	}
	return nil
}

// polyLen returns the encoded size of a polynomial over Q (at max level).
func polyLenQ(p *Parameters) int { return p.params.N() * len(p.params.Q()) * 8 }

// polyLenQP returns the encoded size of a polynomial over QP.
func polyLenQP(p *Parameters) int {
	return p.params.N() * (len(p.params.Q()) + len(p.params.P())) * 8
}

// Digest returns the SHA-256 of an encoded object: the hash to put in the
// log in place of the object itself.
func Digest(encoded []byte) [32]byte { return sha256.Sum256(encoded) }
