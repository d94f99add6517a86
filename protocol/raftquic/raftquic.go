// Package raftquic carries hashicorp/raft over Strata's QUIC transport.
//
// [StreamLayer] implements raft.StreamLayer on the transport's raft-kind
// streams, so raft's own NetworkTransport (connection pooling, pipelined
// AppendEntries, pre-vote in raft v1.8) runs unchanged over mutually
// authenticated QUIC: every raft RPC comes from a peer whose certificate
// chains to the federation CA and whose site the transport's Authorize
// callback accepted. A peer refused by the transport never reaches raft.
//
// Raft streams share the peer's single QUIC connection with control and
// bulk streams but have their own flow control, so bulk transfers never
// delay heartbeats.
//
// Usage:
//
//	tr, _ := transport.Listen(ctx, cfg)
//	nt := raftquic.NewNetworkTransport(tr, raftquic.Options{Logger: hclogger})
//	r, _ := raft.NewRaft(raftConf, fsm, logs, stable, snaps, nt)
//
// The raft server address of a node is its transport's advertised address
// ([transport.Transport.AdvertiseAddr]); use it in raft.Configuration.
//
// Shut down in this order: raft.Raft.Shutdown, NetworkTransport.Close, then
// transport.Transport.Close. A raft stream whose connection was closed
// gracefully (CodeShutdown, by either side) reads as io.EOF, which raft
// treats as a clean end rather than an error worth logging.
package raftquic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/quic-go/quic-go"

	"github.com/strata-fed/strata/protocol/transport"
)

// ErrClosed is returned by Accept after Close. It matches net.ErrClosed.
var ErrClosed = fmt.Errorf("raft stream layer closed: %w", net.ErrClosed)

// StreamLayer is a raft.StreamLayer over a transport's raft streams. Closing
// it stops Accept; it does not close the shared transport.
type StreamLayer struct {
	t     *transport.Transport
	addr  Addr
	ctx   context.Context // cancelled by Close; unblocks Accept
	stop  context.CancelFunc
	close sync.Once
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// NewStreamLayer returns a stream layer over t.
func NewStreamLayer(t *transport.Transport) *StreamLayer {
	ctx, stop := context.WithCancel(context.Background())
	return &StreamLayer{t: t, addr: Addr(t.AdvertiseAddr()), ctx: ctx, stop: stop}
}

// Accept waits for the next raft stream a peer opened.
func (l *StreamLayer) Accept() (net.Conn, error) {
	c, _, err := l.t.Accept(l.ctx, transport.KindRaft)
	if err != nil {
		if l.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("accept raft stream: %w", err)
	}
	return &conn{c.(*transport.Stream)}, nil
}

// Close stops Accept. The transport stays open.
func (l *StreamLayer) Close() error {
	l.close.Do(l.stop)
	return nil
}

// Addr returns the advertised, dialable address of this node: raft uses it
// as the local server address.
func (l *StreamLayer) Addr() net.Addr { return l.addr }

// Dial opens a raft stream to the node at address within timeout.
func (l *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(l.ctx, timeout)
	defer cancel()
	c, _, err := l.t.Open(ctx, string(address), transport.KindRaft)
	if err != nil {
		if errors.Is(err, context.Canceled) && l.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, err
	}
	return &conn{c.(*transport.Stream)}, nil
}

// conn is a raft stream. It embeds the transport's Stream (so Peer and
// Kind stay available) and reports a graceful connection shutdown as
// io.EOF.
type conn struct {
	*transport.Stream
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Stream.Read(p)
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.ErrorCode == transport.CodeShutdown {
		err = io.EOF
	}
	return n, err
}

// Addr is an advertised raft address (host:port over QUIC).
type Addr string

// Network returns "quic".
func (Addr) Network() string { return "quic" }

func (a Addr) String() string { return string(a) }

// Options configures [NewNetworkTransport]. Zero values mean raft's defaults
// or the documented ones.
type Options struct {
	// MaxPool is how many idle raft streams to keep per peer. Defaults to 3.
	MaxPool int
	// Timeout bounds dials and RPC writes (raft's NetworkTransport timeout;
	// InstallSnapshot scales it with the snapshot size). Defaults to 10s.
	Timeout time.Duration
	// Logger receives raft transport logs. Defaults to a discarding logger.
	Logger hclog.Logger
}

// NewNetworkTransport returns raft's NetworkTransport over t's raft streams,
// with pipelining left enabled.
func NewNetworkTransport(t *transport.Transport, o Options) *raft.NetworkTransport {
	if o.MaxPool == 0 {
		o.MaxPool = 3
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  NewStreamLayer(t),
		MaxPool: o.MaxPool,
		Timeout: o.Timeout,
		Logger:  o.Logger,
	})
}
