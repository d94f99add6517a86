package transport

import (
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Stream is a QUIC stream as a [net.Conn]. Read, Write and the deadline
// setters may be called concurrently with each other (one reader, one
// writer); Close and Abort are safe to call from any goroutine, more than
// once.
type Stream struct {
	qs     *quic.Stream
	peer   PeerInfo
	kind   StreamKind
	local  net.Addr
	remote string
	tap    func(peer string, kind StreamKind, p []byte) // Config.SendTap
	once   sync.Once
}

var _ net.Conn = (*Stream)(nil)

func newStream(qs *quic.Stream, pc *peerConn, kind StreamKind, tap func(string, StreamKind, []byte)) *Stream {
	return &Stream{
		qs:     qs,
		peer:   pc.info(),
		kind:   kind,
		local:  pc.conn.LocalAddr(),
		remote: pc.conn.RemoteAddr().String(),
		tap:    tap,
	}
}

// Peer returns who is on the other end.
func (s *Stream) Peer() PeerInfo { return s.peer }

// Kind returns the stream's kind.
func (s *Stream) Kind() StreamKind { return s.kind }

// Read reads from the stream; io.EOF after the peer's Close. If the peer
// refused us, the error is a *RefusedError.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.qs.Read(p)
	return n, mapErr(err, s.remote)
}

// Write writes to the stream. Every byte written is shown to
// [Config.SendTap], if set, before Write returns.
func (s *Stream) Write(p []byte) (int, error) {
	n, err := s.qs.Write(p)
	if s.tap != nil && n > 0 {
		s.tap(s.peer.SiteID, s.kind, p[:n])
	}
	return n, mapErr(err, s.remote)
}

// Close ends the stream: it sends FIN after the data written so far and
// cancels the read side, telling the peer to stop sending (a bare QUIC
// Close only half-closes, and half-open streams count against the peer's
// stream limit).
func (s *Stream) Close() error {
	var err error
	s.once.Do(func() {
		err = s.qs.Close()
		s.qs.CancelRead(StreamCodeClosed)
	})
	return err
}

// Abort resets both directions at once: unsent data is discarded and the
// peer's Read and Write fail. Use it when a transfer is abandoned, so the
// peer cannot mistake a truncated body for a complete one.
func (s *Stream) Abort() { s.abort(StreamCodeAbort) }

func (s *Stream) abort(code quic.StreamErrorCode) {
	s.once.Do(func() {
		s.qs.CancelWrite(code)
		s.qs.CancelRead(code)
	})
}

// LocalAddr returns the local UDP address.
func (s *Stream) LocalAddr() net.Addr { return s.local }

// RemoteAddr returns the peer's UDP address.
func (s *Stream) RemoteAddr() net.Addr { return s.peer.Addr }

// SetDeadline sets the read and write deadlines.
func (s *Stream) SetDeadline(t time.Time) error { return s.qs.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (s *Stream) SetReadDeadline(t time.Time) error { return s.qs.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (s *Stream) SetWriteDeadline(t time.Time) error { return s.qs.SetWriteDeadline(t) }
