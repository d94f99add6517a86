package wire

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
)

// Blob limits.
const (
	// MaxBlobKind is the longest blob kind label.
	MaxBlobKind = 64
	// MaxBlobLength is the largest blob body (1 TiB).
	MaxBlobLength = 1 << 40
)

// BlobHeader announces a bulk transfer on a bulk stream: the raw body of
// exactly Length bytes follows the frame on the same stream, unframed.
// Receivers read it through [NewBlobReader], which checks Length and SHA256.
// The raft log carries only (RoundID, Kind, SHA256), never the body.
//
// Payload: RoundID uvarint | Kind string(≤64, [a-z0-9._-]+) |
// SHA256 32 bytes | Length uvarint (≤ 2^40).
type BlobHeader struct {
	// RoundID is the federated round the blob belongs to.
	RoundID uint64
	// Kind labels the content, e.g. "ciphertext" or "decryption-share".
	Kind string
	// SHA256 is the digest of the body.
	SHA256 [sha256.Size]byte
	// Length is the body's size in bytes.
	Length uint64
}

// NewBlobHeader returns the header describing body.
func NewBlobHeader(roundID uint64, kind string, body []byte) BlobHeader {
	return BlobHeader{RoundID: roundID, Kind: kind, SHA256: sha256.Sum256(body), Length: uint64(len(body))}
}

// Type implements [Message].
func (*BlobHeader) Type() Type { return TypeBlobHeader }

// Append implements [Message].
func (m *BlobHeader) Append(b []byte) []byte {
	b = appendUvarint(b, m.RoundID)
	b = appendString(b, m.Kind)
	b = append(b, m.SHA256[:]...)
	return appendUvarint(b, m.Length)
}

// Parse implements [Message].
func (m *BlobHeader) Parse(b []byte) error {
	d := decoder{t: TypeBlobHeader, b: b}
	round := d.uvarint("round id")
	kind := d.string("kind", MaxBlobKind)
	if d.err == nil && !validBlobKind(kind) {
		d.fail(malformed(TypeBlobHeader, "kind"))
	}
	var sum [sha256.Size]byte
	d.fixed("sha256", sum[:])
	n := d.bounded("length", MaxBlobLength)
	if err := d.finish(); err != nil {
		return err
	}
	*m = BlobHeader{RoundID: round, Kind: kind, SHA256: sum, Length: n}
	return nil
}

func validBlobKind(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// WriteBlob writes h as a frame, then exactly h.Length bytes copied from
// body. The caller computed h.SHA256 beforehand; the receiver verifies it.
// A body shorter than h.Length is an error (the stream should then be
// aborted, not closed).
//
// A body held in memory (a *bytes.Reader of exactly h.Length bytes) goes out
// in a single Write, with no intermediate copy: a QUIC stream then
// packetizes it continuously rather than in io.Copy's 32 KiB steps.
func WriteBlob(w io.Writer, h *BlobHeader, body io.Reader) error {
	if err := WriteFrame(w, h); err != nil {
		return err
	}
	if br, ok := body.(*bytes.Reader); ok && uint64(br.Len()) == h.Length {
		if _, err := br.WriteTo(w); err != nil {
			return fmt.Errorf("write blob body: %w", err)
		}
		return nil
	}
	n, err := io.Copy(w, io.LimitReader(body, int64(h.Length)))
	if err != nil {
		return fmt.Errorf("write blob body: %w", err)
	}
	if uint64(n) != h.Length {
		return fmt.Errorf("write blob body: %w: body has %d of %d bytes", ErrBlobIntegrity, n, h.Length)
	}
	return nil
}

// ReadBlobHeader reads a [BlobHeader] frame from r and returns it with a
// reader of its verified body (see [NewBlobReader]). maxLength bounds the
// announced body size (an [ErrTooLarge] error), 0 means [MaxBlobLength].
func ReadBlobHeader(r io.Reader, maxLength uint64) (*BlobHeader, io.Reader, error) {
	h := new(BlobHeader)
	if err := ReadMessage(r, h); err != nil {
		return nil, nil, err
	}
	if maxLength == 0 {
		maxLength = MaxBlobLength
	}
	if h.Length > maxLength {
		return nil, nil, tooLarge(TypeBlobHeader, fmt.Sprintf("blob of %d bytes exceeds %d", h.Length, maxLength))
	}
	return h, NewBlobReader(r, h), nil
}

// NewBlobReader returns a reader of h's body from r: exactly h.Length bytes.
// At the end it checks the SHA-256; a short body or a digest mismatch is an
// [ErrBlobIntegrity] error instead of io.EOF, so a consumer that reads to EOF
// never accepts a corrupt blob.
func NewBlobReader(r io.Reader, h *BlobHeader) io.Reader {
	return &blobReader{r: r, left: h.Length, want: h.SHA256, h: sha256.New()}
}

type blobReader struct {
	r    io.Reader
	left uint64
	want [sha256.Size]byte
	h    hash.Hash
	err  error
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		b.err = b.check()
		return 0, b.err
	}
	if uint64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	b.left -= uint64(n)
	if err == io.EOF {
		if b.left != 0 {
			b.err = fmt.Errorf("%w: body ended %d bytes short", ErrBlobIntegrity, b.left)
			return n, b.err
		}
		err = nil
	}
	if err != nil {
		b.err = fmt.Errorf("read blob body: %w", err)
		return n, b.err
	}
	if b.left == 0 {
		if b.err = b.check(); b.err != io.EOF {
			return n, b.err
		}
		return n, nil
	}
	return n, nil
}

func (b *blobReader) check() error {
	var got [sha256.Size]byte
	b.h.Sum(got[:0])
	if subtle.ConstantTimeCompare(got[:], b.want[:]) != 1 {
		return fmt.Errorf("%w: sha256 %x, header says %x", ErrBlobIntegrity, got, b.want)
	}
	return io.EOF
}
