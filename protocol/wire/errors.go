package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors; every decoding error wraps one of them.
var (
	// ErrMalformed means a frame or payload is not a valid encoding: bad
	// magic, truncated, non-canonical, trailing bytes, a field out of range.
	ErrMalformed = errors.New("wire: malformed message")
	// ErrTooLarge means a frame or field exceeds its size limit.
	ErrTooLarge = errors.New("wire: message too large")
	// ErrVersion means the frame's codec version is not supported.
	ErrVersion = errors.New("wire: unsupported codec version")
	// ErrUnknownType means the frame's message type is not known.
	ErrUnknownType = errors.New("wire: unknown message type")
	// ErrUnexpected means a valid message of another type than expected.
	ErrUnexpected = errors.New("wire: unexpected message type")
	// ErrBlobIntegrity means a blob body's length or SHA-256 differs from
	// its header.
	ErrBlobIntegrity = errors.New("wire: blob body does not match header")
)

// FrameError describes why a frame or payload was rejected. It unwraps to
// one of the sentinel errors above.
type FrameError struct {
	Type  Type   // message type, 0 if not known yet
	Field string // the offending field or frame part
	Err   error  // a sentinel error
}

func (e *FrameError) Error() string {
	if e.Type != 0 {
		return fmt.Sprintf("%v: %s: %s", e.Err, e.Type, e.Field)
	}
	return fmt.Sprintf("%v: %s", e.Err, e.Field)
}

func (e *FrameError) Unwrap() error { return e.Err }

func malformed(t Type, field string) error {
	return &FrameError{Type: t, Field: field, Err: ErrMalformed}
}

func tooLarge(t Type, field string) error {
	return &FrameError{Type: t, Field: field, Err: ErrTooLarge}
}
