package wire

import "fmt"

// ErrorCode classifies an [Error] message. Values are part of the protocol.
type ErrorCode uint64

// Error codes.
const (
	CodeInternal     ErrorCode = 1 // the receiver failed; retrying may help
	CodeBadRequest   ErrorCode = 2 // the request was malformed or invalid
	CodeUnauthorized ErrorCode = 3 // the sender's site may not do this
	CodeNotLeader    ErrorCode = 4 // ask the raft leader instead
	CodeUnsupported  ErrorCode = 5 // unknown message, kind or version
)

func (c ErrorCode) String() string {
	switch c {
	case CodeInternal:
		return "internal"
	case CodeBadRequest:
		return "bad request"
	case CodeUnauthorized:
		return "unauthorized"
	case CodeNotLeader:
		return "not leader"
	case CodeUnsupported:
		return "unsupported"
	}
	return fmt.Sprintf("code %d", uint64(c))
}

// Error reports a failure to the peer in place of a response. *Error is
// also a Go error, returned by [ReadMessage] when the peer sent one.
//
// Payload: Code uvarint | Text string(≤4096).
type Error struct {
	Code ErrorCode
	Text string
}

// Type implements [Message].
func (*Error) Type() Type { return TypeError }

// Append implements [Message].
func (m *Error) Append(b []byte) []byte {
	b = appendUvarint(b, uint64(m.Code))
	return appendString(b, m.Text)
}

// Parse implements [Message].
func (m *Error) Parse(b []byte) error {
	d := decoder{t: TypeError, b: b}
	code := d.uvarint("code")
	text := d.string("text", MaxErrorText)
	if err := d.finish(); err != nil {
		return err
	}
	*m = Error{Code: ErrorCode(code), Text: text}
	return nil
}

// Error implements error.
func (m *Error) Error() string {
	return fmt.Sprintf("peer error (%s): %s", m.Code, m.Text)
}
