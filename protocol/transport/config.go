package transport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/strata-fed/strata/protocol/pki"
	"github.com/strata-fed/strata/protocol/wire"
)

// Defaults for zero Config fields.
const (
	DefaultMaxIdleTimeout     = 15 * time.Second
	DefaultHandshakeTimeout   = 5 * time.Second
	DefaultHelloTimeout       = 5 * time.Second
	DefaultAcceptTimeout      = 10 * time.Second
	DefaultQueueLen           = 64
	DefaultMaxIncomingStreams = 100
)

// Flow-control windows. QUIC flow control is per stream AND per connection;
// with quic-go's defaults (512 KiB initial connection window) a single bulk
// stream whose data is not read yet blocks every other stream of the
// connection, raft included. The connection window is therefore made large
// enough for DefaultMaxIncomingStreams unread streams at their initial
// window (100 × 512 KiB) or about ten stalled bulk streams at their largest
// window: before that, raft and control streams keep flowing. Memory is only
// used for data a peer actually sent and the application has not read.
const (
	initialStreamWindow = 512 << 10
	maxStreamWindow     = 6 << 20
	connectionWindow    = 64 << 20
)

// priority is the send priority of a stream kind (RFC 9218 urgency, lower
// first; incremental streams of one urgency share the link round-robin):
// raft before control before bulk, so a large transfer never delays a
// heartbeat on the sending side either.
func priority(k StreamKind) (urgency int8, incremental bool) {
	switch k {
	case KindRaft:
		return 0, true
	case KindControl:
		return 1, true
	}
	return 4, true
}

// Config configures a [Transport]. Zero values mean the documented defaults.
type Config struct {
	// SiteID is this node's site id. Required; it must be the site of the
	// TLS certificate.
	SiteID string
	// TLS is the mutual-TLS configuration, built by pki.MutualTLSConfig
	// (TLS 1.3, ALPN strata/1, both sides verified against the federation
	// CA). Required. The transport clones it and never modifies it.
	TLS *tls.Config
	// ListenAddr is the UDP address to listen on, host:port. Port 0 picks a
	// free port. Required.
	ListenAddr string
	// AdvertiseAddr is the dialable address peers use for this node (raft
	// uses it as the node's address). Empty means the actual listening
	// address (with the port chosen for port 0); it is then required when
	// ListenAddr has no specific host (":7000", "0.0.0.0:7000").
	AdvertiseAddr string
	// Authorize decides whether a peer's site, taken from its verified
	// certificate, may connect. It is called on every accepted and dialed
	// connection and every accepted stream, from many goroutines, and must
	// be fast. A non-nil error refuses the peer; its text is logged and sent
	// to the peer. Nil allows every site holding a federation certificate.
	Authorize func(siteID string) error
	// Logger receives structured logs. Nil discards them.
	Logger *slog.Logger
	// KeyLogWriter, if set, receives the TLS secrets of every connection
	// (both directions) in SSLKEYLOGFILE format so tools like Wireshark can
	// decrypt captures. DEBUGGING ONLY: it defeats the encryption of all
	// traffic to whoever reads it. Must be safe for concurrent writes.
	KeyLogWriter io.Writer

	// MaxIdleTimeout closes a connection after this long without packets.
	// Defaults to DefaultMaxIdleTimeout.
	MaxIdleTimeout time.Duration
	// KeepAlivePeriod is how often an otherwise idle connection sends a
	// keep-alive. It must be below MaxIdleTimeout/2. Defaults to
	// MaxIdleTimeout/3.
	KeepAlivePeriod time.Duration
	// HandshakeTimeout bounds a connection attempt without progress.
	// Defaults to DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// HelloTimeout bounds how long an accepted stream may take to deliver
	// its Hello frame. Defaults to DefaultHelloTimeout.
	HelloTimeout time.Duration
	// AcceptTimeout is how long an accepted stream may wait in its kind's
	// full queue before it is reset. Defaults to DefaultAcceptTimeout.
	AcceptTimeout time.Duration
	// QueueLen is the capacity of each kind's accept queue. Defaults to
	// DefaultQueueLen.
	QueueLen int
	// MaxIncomingStreams is how many streams a peer may have open at once
	// on its connection. Defaults to DefaultMaxIncomingStreams.
	MaxIncomingStreams int64

	// SendTap, if set, is shown every application-layer byte this node
	// sends to a peer, before QUIC encrypts it. FOR TESTS AND DEBUGGING
	// (Strata's canary test uses it to check that no user data ever leaves
	// a node); nil, the default, costs nothing.
	//
	// It sees every Write on every stream, opened or accepted, of every
	// kind — the Hello preamble the transport writes itself included, and
	// raft's RPCs, which raftquic writes through these streams — with the
	// stream's kind, and the reason text of every CONNECTION_CLOSE this
	// node sends, with kind [KindNone]. peer is the peer's site id from its
	// certificate ("" when a connection is refused before its site is
	// known). p is what the writer passed (only the prefix QUIC accepted,
	// if the write failed part-way); a reason may be truncated further by
	// QUIC to fit a packet. p is read-only and valid only during the call:
	// copy it to keep it. Calls are synchronous, in write order per stream,
	// from many goroutines at once (some holding the transport's lock): the
	// tap must be safe for concurrent use and must not call the Transport,
	// and it delays the writer.
	//
	// Not shown, as they carry no application data: the TLS handshake
	// (certificates), and QUIC's own frames (acknowledgements, flow
	// control, keep-alives, the numeric codes of stream resets and
	// connection closes). The transport sends no datagrams.
	SendTap func(peer string, kind StreamKind, p []byte)
}

// populate returns a copy of c with defaults filled in, or an error.
func (c Config) populate() (Config, error) {
	if err := pki.ValidateSiteID(c.SiteID); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.TLS == nil {
		return c, fmt.Errorf("%w: no TLS configuration", ErrConfig)
	}
	if err := checkTLS(c.TLS, c.SiteID); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.ListenAddr == "" {
		return c, fmt.Errorf("%w: no listen address", ErrConfig)
	}
	if c.AdvertiseAddr == "" {
		host, _, err := net.SplitHostPort(c.ListenAddr)
		if err != nil {
			return c, fmt.Errorf("%w: listen address: %w", ErrConfig, err)
		}
		if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
			return c, fmt.Errorf("%w: listening on %q needs an AdvertiseAddr peers can dial", ErrConfig, c.ListenAddr)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxIdleTimeout == 0 {
		c.MaxIdleTimeout = DefaultMaxIdleTimeout
	}
	if c.KeepAlivePeriod == 0 {
		c.KeepAlivePeriod = c.MaxIdleTimeout / 3
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.HelloTimeout == 0 {
		c.HelloTimeout = DefaultHelloTimeout
	}
	if c.AcceptTimeout == 0 {
		c.AcceptTimeout = DefaultAcceptTimeout
	}
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.MaxIncomingStreams == 0 {
		c.MaxIncomingStreams = DefaultMaxIncomingStreams
	}
	switch {
	case c.MaxIdleTimeout < 0, c.KeepAlivePeriod < 0, c.HandshakeTimeout < 0, c.HelloTimeout < 0,
		c.AcceptTimeout < 0, c.QueueLen < 0, c.MaxIncomingStreams < 0:
		return c, fmt.Errorf("%w: negative timeout or size", ErrConfig)
	case c.KeepAlivePeriod >= c.MaxIdleTimeout/2:
		return c, fmt.Errorf("%w: keep-alive period %v must be below half the idle timeout %v",
			ErrConfig, c.KeepAlivePeriod, c.MaxIdleTimeout)
	}
	return c, nil
}

// checkTLS rejects configurations that would not authenticate peers the way
// this package promises.
func checkTLS(tc *tls.Config, site string) error {
	if tc.MinVersion < tls.VersionTLS13 {
		return fmt.Errorf("TLS configuration allows versions below 1.3")
	}
	if tc.VerifyConnection == nil && (tc.InsecureSkipVerify || tc.ClientAuth != tls.RequireAndVerifyClientCert) {
		return fmt.Errorf("TLS configuration does not verify peers (build it with pki.MutualTLSConfig)")
	}
	alpn := false
	for _, p := range tc.NextProtos {
		alpn = alpn || p == pki.ALPN
	}
	if !alpn {
		return fmt.Errorf("TLS configuration lacks ALPN %q", pki.ALPN)
	}
	if len(tc.Certificates) != 1 || len(tc.Certificates[0].Certificate) == 0 {
		return fmt.Errorf("TLS configuration must hold exactly one node certificate")
	}
	leaf := tc.Certificates[0].Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(tc.Certificates[0].Certificate[0]); err != nil {
			return fmt.Errorf("node certificate: %w", err)
		}
	}
	got, err := pki.SiteID(leaf)
	if err != nil {
		return fmt.Errorf("node certificate: %w", err)
	}
	if got != site {
		return fmt.Errorf("node certificate is for site %q, config says %q", got, site)
	}
	return nil
}

// StreamKind says what a stream carries; see the wire package.
type StreamKind = wire.StreamKind

// Stream kinds.
const (
	KindRaft    = wire.KindRaft
	KindControl = wire.KindControl
	KindBulk    = wire.KindBulk

	// KindNone is no stream: [Config.SendTap] reports the bytes a node
	// sends on the connection itself (CONNECTION_CLOSE reasons) with it.
	KindNone StreamKind = 0
)
