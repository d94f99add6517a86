package wire

import "fmt"

// Type identifies a message in a frame.
type Type uint8

// Message types. Values are part of the protocol: never renumber.
const (
	TypeHello        Type = 0x01
	TypeError        Type = 0x02
	TypeJoinRequest  Type = 0x10
	TypeJoinResponse Type = 0x11
	TypeBlobHeader   Type = 0x20
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "Hello"
	case TypeError:
		return "Error"
	case TypeJoinRequest:
		return "JoinRequest"
	case TypeJoinResponse:
		return "JoinResponse"
	case TypeBlobHeader:
		return "BlobHeader"
	}
	return fmt.Sprintf("Type(0x%02x)", uint8(t))
}

// Message is implemented by every message struct (as a pointer).
type Message interface {
	// Type returns the message's frame type.
	Type() Type
	// Append appends the encoded payload (not the frame header) to b.
	// It encodes what it is given: call Validate first for outgoing
	// messages built from untrusted input.
	Append(b []byte) []byte
	// Parse decodes a complete payload into the receiver, overwriting it.
	Parse(b []byte) error
}

// New returns an empty message of type t, or an [ErrUnknownType] error.
func New(t Type) (Message, error) {
	switch t {
	case TypeHello:
		return new(Hello), nil
	case TypeError:
		return new(Error), nil
	case TypeJoinRequest:
		return new(JoinRequest), nil
	case TypeJoinResponse:
		return new(JoinResponse), nil
	case TypeBlobHeader:
		return new(BlobHeader), nil
	}
	return nil, &FrameError{Type: t, Field: "type", Err: ErrUnknownType}
}

// StreamKind says what a stream carries; it is announced in the stream's
// first frame, a [Hello]. Values are part of the protocol.
type StreamKind uint8

// Stream kinds.
const (
	// KindRaft streams carry raft RPCs (hashicorp/raft's own encoding).
	KindRaft StreamKind = 1
	// KindControl streams carry request/response messages of this package
	// (join, errors, later round coordination).
	KindControl StreamKind = 2
	// KindBulk streams carry one BlobHeader and its body.
	KindBulk StreamKind = 3

	// maxKind is the largest defined kind.
	maxKind = KindBulk
)

// Valid reports whether k is a defined stream kind.
func (k StreamKind) Valid() bool { return k >= 1 && k <= maxKind }

func (k StreamKind) String() string {
	switch k {
	case KindRaft:
		return "raft"
	case KindControl:
		return "control"
	case KindBulk:
		return "bulk"
	}
	return fmt.Sprintf("StreamKind(%d)", uint8(k))
}

// Kinds lists the defined stream kinds.
func Kinds() []StreamKind { return []StreamKind{KindRaft, KindControl, KindBulk} }
