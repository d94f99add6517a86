package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame constants. See the package documentation for the layout.
const (
	// Magic is the first byte of every frame.
	Magic byte = 0xA7
	// Version is the codec version this package reads and writes.
	Version byte = 1
	// MaxPayload is the largest payload a frame may carry.
	MaxPayload = 64 << 10
	// MaxFrame is the largest frame: header plus MaxPayload.
	MaxFrame = 3 + 3 + MaxPayload // uvarint(64 KiB) takes 3 bytes
)

// AppendFrame appends m as a complete frame to b. A payload over
// [MaxPayload] is an [ErrTooLarge] error and leaves b unchanged.
func AppendFrame(b []byte, m Message) ([]byte, error) {
	start := len(b)
	t := m.Type()
	// Encode the payload after a maximal length slot, then move it down
	// over the unused slot bytes.
	b = append(b, Magic, Version, byte(t))
	lenAt := len(b)
	b = append(b, make([]byte, binary.MaxVarintLen64)...)
	payAt := len(b)
	b = m.Append(b)
	n := len(b) - payAt
	if n > MaxPayload {
		return b[:start], fmt.Errorf("append frame: %w", tooLarge(t, fmt.Sprintf("payload of %d bytes", n)))
	}
	ln := binary.PutUvarint(b[lenAt:], uint64(n))
	copy(b[lenAt+ln:], b[payAt:])
	return b[:lenAt+ln+n], nil
}

// ParseFrame decodes the first frame of b and returns its message and the
// rest of b after the frame. An incomplete frame is an [ErrMalformed] error
// that also matches io.ErrUnexpectedEOF.
func ParseFrame(b []byte) (Message, []byte, error) {
	var h header
	n, err := h.parse(b)
	if err != nil {
		return nil, b, err
	}
	if uint64(len(b)-n) < h.size {
		return nil, b, fmt.Errorf("%w: %w", malformed(h.t, "truncated payload"), io.ErrUnexpectedEOF)
	}
	m, err := decode(h.t, b[n:n+int(h.size)])
	if err != nil {
		return nil, b, err
	}
	return m, b[n+int(h.size):], nil
}

// WriteFrame writes m as one frame with a single Write call.
func WriteFrame(w io.Writer, m Message) error {
	b, err := AppendFrame(make([]byte, 0, 64), m)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write %s frame: %w", m.Type(), err)
	}
	return nil
}

// ReadFrame reads exactly one frame from r, never reading past it (so the
// stream can continue with raw bytes), and returns its message. maxPayload
// bounds the payload (0 or more than [MaxPayload] means MaxPayload); the
// limit is checked before the payload is read or allocated. A clean EOF
// before the first byte is io.EOF; EOF inside a frame is io.ErrUnexpectedEOF
// wrapped in an [ErrMalformed] error.
func ReadFrame(r io.Reader, maxPayload int) (Message, error) {
	t, p, err := readFrame(r, maxPayload)
	if err != nil {
		return nil, err
	}
	return decode(t, p)
}

// ReadMessage reads one frame into m, which must be of the expected type.
// A peer's [Error] frame instead is returned as the error (a *Error); any
// other type is an [ErrUnexpected] error.
func ReadMessage(r io.Reader, m Message) error {
	return ReadMessageLimit(r, m, 0)
}

// ReadMessageLimit is [ReadMessage] with a payload limit, as in [ReadFrame].
func ReadMessageLimit(r io.Reader, m Message, maxPayload int) error {
	t, p, err := readFrame(r, maxPayload)
	if err != nil {
		return err
	}
	switch t {
	case m.Type():
		return m.Parse(p)
	case TypeError:
		e := new(Error)
		if err := e.Parse(p); err != nil {
			return err
		}
		return e
	}
	if _, err := New(t); err != nil {
		return err
	}
	return &FrameError{Type: t, Field: "want " + m.Type().String(), Err: ErrUnexpected}
}

// readFrame reads one frame's type and payload without reading past it.
func readFrame(r io.Reader, maxPayload int) (Type, []byte, error) {
	if maxPayload <= 0 || maxPayload > MaxPayload {
		maxPayload = MaxPayload
	}
	var hb [3 + binary.MaxVarintLen64]byte
	// The fixed part plus the first length byte, then one byte at a time
	// while the varint continues.
	if _, err := io.ReadFull(r, hb[:4]); err != nil {
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		return 0, nil, readErr(err)
	}
	n := 4
	for hb[n-1]&0x80 != 0 && n < len(hb) {
		if _, err := io.ReadFull(r, hb[n:n+1]); err != nil {
			return 0, nil, readErr(err)
		}
		n++
	}
	var h header
	hn, err := h.parse(hb[:n])
	if err != nil {
		return 0, nil, err
	}
	if hn != n {
		return 0, nil, malformed(h.t, "frame length")
	}
	if h.size > uint64(maxPayload) {
		return 0, nil, tooLarge(h.t, fmt.Sprintf("payload of %d bytes exceeds %d", h.size, maxPayload))
	}
	if _, err := New(h.t); err != nil {
		return 0, nil, err
	}
	p := make([]byte, h.size)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, readErr(err)
	}
	return h.t, p, nil
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", malformed(0, "truncated frame"), io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read frame: %w", err)
}

// header is a decoded frame header.
type header struct {
	t    Type
	size uint64
}

// parse decodes a frame header at the start of b and returns its length.
func (h *header) parse(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("%w: %w", malformed(0, "truncated header"), io.ErrUnexpectedEOF)
	}
	if b[0] != Magic {
		return 0, malformed(0, fmt.Sprintf("bad magic 0x%02x", b[0]))
	}
	if b[1] != Version {
		return 0, &FrameError{Field: fmt.Sprintf("codec version %d", b[1]), Err: ErrVersion}
	}
	h.t = Type(b[2])
	v, n := binary.Uvarint(b[3:])
	switch {
	case n == 0:
		return 0, fmt.Errorf("%w: %w", malformed(h.t, "truncated length"), io.ErrUnexpectedEOF)
	case n < 0 || n != uvarintLen(v):
		return 0, malformed(h.t, "frame length")
	case v > MaxPayload:
		return 0, tooLarge(h.t, fmt.Sprintf("payload of %d bytes exceeds %d", v, MaxPayload))
	}
	h.size = v
	return 3 + n, nil
}

func decode(t Type, payload []byte) (Message, error) {
	m, err := New(t)
	if err != nil {
		return nil, err
	}
	if err := m.Parse(payload); err != nil {
		return nil, err
	}
	return m, nil
}
