package transport

import (
	"errors"
	"fmt"
	"net"

	"github.com/quic-go/quic-go"
)

// Sentinel errors.
var (
	// ErrClosed is returned by calls on a closed transport. It matches
	// net.ErrClosed too.
	ErrClosed = fmt.Errorf("transport closed: %w", net.ErrClosed)
	// ErrUnauthorized means a peer's site is not authorized, by us or by
	// the peer; see [RefusedError].
	ErrUnauthorized = errors.New("peer not authorized")
	// ErrPreamble means a stream did not start with a valid Hello.
	ErrPreamble = errors.New("bad stream preamble")
	// ErrKind means a stream kind is not defined.
	ErrKind = errors.New("unknown stream kind")
	// ErrConfig means the configuration is invalid.
	ErrConfig = errors.New("invalid transport configuration")
)

// QUIC application error codes on connections.
const (
	// CodeShutdown closes connections when the transport shuts down.
	CodeShutdown quic.ApplicationErrorCode = 0
	// CodeRefused closes a connection whose peer is not authorized; the
	// error message says why.
	CodeRefused quic.ApplicationErrorCode = 0x5101
	// CodeDropped closes a connection dropped by ClosePeer.
	CodeDropped quic.ApplicationErrorCode = 0x5102
	// CodeDuplicate closes the redundant one of two connections between
	// the same nodes (they dialed each other at once).
	CodeDuplicate quic.ApplicationErrorCode = 0x5103
)

// QUIC error codes on streams.
const (
	// StreamCodeClosed cancels the read side in Stream.Close: the reader
	// is done, the peer should stop sending.
	StreamCodeClosed quic.StreamErrorCode = 0
	// StreamCodeAbort resets a stream abandoned by Stream.Abort.
	StreamCodeAbort quic.StreamErrorCode = 0x5201
	// StreamCodePreamble resets a stream without a valid Hello.
	StreamCodePreamble quic.StreamErrorCode = 0x5202
	// StreamCodeBusy resets a stream nobody accepted in time.
	StreamCodeBusy quic.StreamErrorCode = 0x5203
	// StreamCodeShutdown resets queued streams when the transport closes.
	StreamCodeShutdown quic.StreamErrorCode = 0x5204
)

// RefusedError reports an authorization refusal, by this node (Remote false)
// or by the peer (Remote true). It matches [ErrUnauthorized].
type RefusedError struct {
	// SiteID is the refused site, when known.
	SiteID string
	// Addr is the peer's address.
	Addr string
	// Remote is true when the peer refused us.
	Remote bool
	// Reason says why.
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Remote {
		return fmt.Sprintf("refused by peer %s: %s", e.Addr, e.Reason)
	}
	return fmt.Sprintf("refused peer %q at %s: %s", e.SiteID, e.Addr, e.Reason)
}

// Unwrap returns ErrUnauthorized.
func (e *RefusedError) Unwrap() error { return ErrUnauthorized }

// mapErr turns the peer's CodeRefused connection close into a
// *RefusedError; other errors pass unchanged.
func mapErr(err error, addr string) error {
	var ae *quic.ApplicationError
	if err != nil && errors.As(err, &ae) && ae.Remote && ae.ErrorCode == CodeRefused {
		return &RefusedError{Addr: addr, Remote: true, Reason: ae.ErrorMessage}
	}
	return err
}
