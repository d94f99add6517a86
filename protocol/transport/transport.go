package transport

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/strata-fed/strata/protocol/wire"
)

// PeerInfo identifies the peer of a stream or connection.
type PeerInfo struct {
	// SiteID is the peer's site, from its verified certificate.
	SiteID string
	// Addr is the peer's UDP address.
	Addr net.Addr
	// Inbound is true when the peer dialed the connection.
	Inbound bool
}

// Transport is a QUIC endpoint: it listens on one UDP socket and dials from
// it. All methods are safe for concurrent use.
type Transport struct {
	cfg       Config
	log       *slog.Logger
	udp       *net.UDPConn
	qt        *quic.Transport
	ln        *quic.Listener
	qconf     *quic.Config
	serverTLS *tls.Config
	clientTLS *tls.Config
	advertise string
	queues    map[StreamKind]chan *Stream

	// life is cancelled by Close; every goroutine the transport starts
	// (tracked by wg) exits when it is done.
	life context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	peers   map[netip.AddrPort]*peerConn // the connection to use, by peer UDP address
	live    map[*peerConn]struct{}       // every connection whose stream loop runs
	dialing map[netip.AddrPort]*dialCall
}

// peerConn is one authorized connection.
type peerConn struct {
	conn    *quic.Conn
	site    string
	key     netip.AddrPort
	inbound bool
}

func (p *peerConn) info() PeerInfo {
	return PeerInfo{SiteID: p.site, Addr: p.conn.RemoteAddr(), Inbound: p.inbound}
}

// dialCall is a dial in progress; concurrent Opens to the same address wait
// for it instead of dialing again.
type dialCall struct {
	done chan struct{}
	pc   *peerConn
	err  error
}

// Listen starts a transport on cfg.ListenAddr. ctx bounds the setup only;
// the transport runs until Close.
func Listen(ctx context.Context, cfg Config) (*Transport, error) {
	cfg, err := cfg.populate()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	laddr, err := net.ResolveUDPAddr("udp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.ListenAddr, err)
	}
	udp, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.ListenAddr, err)
	}
	t := &Transport{
		cfg:     cfg,
		log:     cfg.Logger.With("site", cfg.SiteID),
		udp:     udp,
		queues:  make(map[StreamKind]chan *Stream),
		peers:   make(map[netip.AddrPort]*peerConn),
		live:    make(map[*peerConn]struct{}),
		dialing: make(map[netip.AddrPort]*dialCall),
	}
	t.advertise = cfg.AdvertiseAddr
	if t.advertise == "" {
		t.advertise = udp.LocalAddr().String()
	}
	for _, k := range wire.Kinds() {
		t.queues[k] = make(chan *Stream, cfg.QueueLen)
	}
	t.qt = &quic.Transport{Conn: udp, StatelessResetKey: resetKey(cfg.TLS)}
	t.qconf = &quic.Config{
		HandshakeIdleTimeout:  cfg.HandshakeTimeout,
		MaxIdleTimeout:        cfg.MaxIdleTimeout,
		KeepAlivePeriod:       cfg.KeepAlivePeriod,
		MaxIncomingStreams:    cfg.MaxIncomingStreams,
		MaxIncomingUniStreams: -1,
		Allow0RTT:             false,

		InitialStreamReceiveWindow:     initialStreamWindow,
		MaxStreamReceiveWindow:         maxStreamWindow,
		InitialConnectionReceiveWindow: connectionWindow,
		MaxConnectionReceiveWindow:     connectionWindow,
	}
	t.serverTLS = cfg.TLS.Clone()
	t.serverTLS.SessionTicketsDisabled = true
	if cfg.KeyLogWriter != nil {
		t.serverTLS.KeyLogWriter = cfg.KeyLogWriter
	}
	t.clientTLS = t.serverTLS.Clone()
	// Log TLS-level refusals of inbound peers with their address: quic-go
	// never surfaces failed handshakes to Accept.
	base := t.serverTLS.Clone()
	t.serverTLS.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		remote := "unknown"
		if hi.Conn != nil {
			remote = hi.Conn.RemoteAddr().String()
		}
		c.VerifyConnection = t.logVerify(base.VerifyConnection, remote, "inbound")
		return c, nil
	}
	ln, err := t.qt.Listen(t.serverTLS, t.qconf)
	if err != nil {
		t.qt.Close()
		udp.Close()
		return nil, fmt.Errorf("listen %s: %w", cfg.ListenAddr, err)
	}
	t.ln = ln
	t.life, t.stop = context.WithCancel(context.Background())
	if t.serverTLS.KeyLogWriter != nil {
		t.log.Warn("TLS key logging is ON: session secrets are being written for debugging; all traffic of this node can be decrypted by whoever reads them")
	}
	if cfg.Authorize == nil {
		t.log.Info("no Authorize callback: every site with a federation certificate may connect")
	}
	t.wg.Add(1)
	go t.acceptLoop()
	t.log.Info("QUIC transport listening", "addr", udp.LocalAddr().String(), "advertise", t.advertise)
	return t, nil
}

// resetKey derives the stateless reset key from the node's private key, so
// it survives restarts: a restarted node then resets its peers' stale
// connections at once instead of letting them idle out.
func resetKey(tc *tls.Config) *quic.StatelessResetKey {
	h := sha256.New()
	h.Write([]byte("strata quic stateless reset key v1\x00"))
	if der, err := x509.MarshalPKCS8PrivateKey(tc.Certificates[0].PrivateKey); err == nil {
		h.Write(der)
	} else {
		return nil // unknown key type: no stateless resets
	}
	var k quic.StatelessResetKey
	copy(k[:], h.Sum(nil))
	return &k
}

// logVerify wraps a VerifyConnection callback to log refusals.
func (t *Transport) logVerify(verify func(tls.ConnectionState) error, remote, dir string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if verify == nil {
			return nil
		}
		err := verify(cs)
		if err != nil {
			subject := ""
			if len(cs.PeerCertificates) > 0 {
				subject = cs.PeerCertificates[0].Subject.String()
			}
			t.log.Warn("peer refused: TLS verification failed",
				"remote", remote, "direction", dir, "subject", subject, "reason", err.Error())
		}
		return err
	}
}

// Addr returns the local UDP address.
func (t *Transport) Addr() net.Addr { return t.udp.LocalAddr() }

// AdvertiseAddr returns the address peers dial to reach this node.
func (t *Transport) AdvertiseAddr() string { return t.advertise }

// SiteID returns this node's site id.
func (t *Transport) SiteID() string { return t.cfg.SiteID }

// Peers lists the live connections.
func (t *Transport) Peers() []PeerInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]PeerInfo, 0, len(t.live))
	for p := range t.live {
		out = append(out, p.info())
	}
	return out
}

// Open opens a stream of the given kind to the node at addr, dialing a
// connection if there is no live one. The returned net.Conn is a *Stream;
// the caller must Close it. The peer sees the stream once Open has written
// the Hello preamble, which it does before returning.
func (t *Transport) Open(ctx context.Context, addr string, kind StreamKind) (net.Conn, PeerInfo, error) {
	if !kind.Valid() {
		return nil, PeerInfo{}, fmt.Errorf("open %s stream to %s: %w", kind, addr, ErrKind)
	}
	key, err := resolve(ctx, addr)
	if err != nil {
		return nil, PeerInfo{}, fmt.Errorf("open %s stream to %s: %w", kind, addr, err)
	}
	// A cached connection may have died without us noticing yet: retry
	// once on a fresh one.
	for attempt := 0; ; attempt++ {
		pc, err := t.peer(ctx, addr, key)
		if err != nil {
			return nil, PeerInfo{}, fmt.Errorf("open %s stream to %s: %w", kind, addr, err)
		}
		s, err := t.openOn(ctx, pc, kind)
		if err == nil {
			return s, pc.info(), nil
		}
		dead := pc.conn.Context().Err() != nil
		if dead {
			t.unmap(pc)
		}
		if !dead || ctx.Err() != nil || attempt > 0 || errors.Is(err, ErrUnauthorized) {
			return nil, PeerInfo{}, fmt.Errorf("open %s stream to %s: %w", kind, addr, err)
		}
	}
}

func (t *Transport) openOn(ctx context.Context, pc *peerConn, kind StreamKind) (*Stream, error) {
	qs, err := pc.conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, mapErr(err, pc.conn.RemoteAddr().String())
	}
	qs.SetPriority(priority(kind))
	s := newStream(qs, pc, kind, t.cfg.SendTap)
	if dl, ok := ctx.Deadline(); ok {
		qs.SetWriteDeadline(dl)
	}
	err = wire.WriteFrame(s, &wire.Hello{ProtocolVersion: wire.ProtocolVersion, SiteID: t.cfg.SiteID, Kind: kind})
	qs.SetWriteDeadline(time.Time{})
	if err != nil {
		s.Abort()
		return nil, err
	}
	return s, nil
}

// Accept returns the next stream of the given kind that a peer opened. The
// returned net.Conn is a *Stream; the caller must Close it.
func (t *Transport) Accept(ctx context.Context, kind StreamKind) (net.Conn, PeerInfo, error) {
	q, ok := t.queues[kind]
	if !ok {
		return nil, PeerInfo{}, fmt.Errorf("accept %s stream: %w", kind, ErrKind)
	}
	select {
	case s := <-q:
		return s, s.peer, nil
	case <-ctx.Done():
		return nil, PeerInfo{}, ctx.Err()
	case <-t.life.Done():
		return nil, PeerInfo{}, ErrClosed
	}
}

// ClosePeer closes every connection to siteID (for example after the site
// was removed from the federation) and returns how many it closed. The
// reason is sent to the peer.
func (t *Transport) ClosePeer(siteID, reason string) int {
	t.mu.Lock()
	var victims []*peerConn
	for p := range t.live {
		if p.site == siteID {
			victims = append(victims, p)
			delete(t.live, p)
			if t.peers[p.key] == p {
				delete(t.peers, p.key)
			}
		}
	}
	t.mu.Unlock()
	for _, p := range victims {
		t.closeConn(p, CodeDropped, reason)
	}
	if len(victims) > 0 {
		t.log.Info("dropped peer", "peer", siteID, "connections", len(victims), "reason", reason)
	}
	return len(victims)
}

// Close closes every connection and the socket, resets streams still
// waiting to be accepted, and waits for the transport's goroutines to exit.
// Streams already returned by Open or Accept fail from then on.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	live := t.live
	t.live = map[*peerConn]struct{}{}
	t.peers = map[netip.AddrPort]*peerConn{}
	t.mu.Unlock()

	t.stop()
	errs := []error{t.ln.Close()}
	for p := range live {
		t.closeConn(p, CodeShutdown, "shutting down")
	}
	errs = append(errs, t.qt.Close())
	t.wg.Wait()
	errs = append(errs, t.udp.Close())
	for _, q := range t.queues {
	drain:
		for {
			select {
			case s := <-q:
				s.abort(StreamCodeShutdown)
			default:
				break drain
			}
		}
	}
	t.log.Info("QUIC transport closed")
	for _, err := range errs {
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("close transport: %w", err)
		}
	}
	return nil
}

// resolve turns host:port into a canonical UDP address (IPv4-mapped IPv6
// addresses unmapped), the key of the connection table.
func resolve(ctx context.Context, addr string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", addr, err)
	}
	p, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", addr, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q: %w", addr, err)
		}
		if len(ips) == 0 {
			return netip.AddrPort{}, fmt.Errorf("address %q: no IP address", addr)
		}
		ip = ips[0]
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

func keyOf(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
