package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/strata-fed/strata/protocol/pki"
	"github.com/strata-fed/strata/protocol/wire"
)

// maxHello bounds a Hello payload (a version, a site id and a kind).
const maxHello = 128

// maxReasonLen bounds the refusal text sent in a CONNECTION_CLOSE frame.
const maxReasonLen = 512

// goFunc runs f on a goroutine owned by the transport, unless the transport
// is closed (then it returns false and f does not run).
func (t *Transport) goFunc(f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept(t.life)
		if err != nil {
			if t.life.Err() == nil {
				t.log.Error("QUIC accept failed; no more inbound connections", "error", err)
			}
			return
		}
		pc, err := t.admit(conn, true)
		if err != nil {
			continue
		}
		if _, err := t.register(pc); err != nil {
			return
		}
		t.log.Debug("peer connected", "peer", pc.site, "remote", conn.RemoteAddr().String(), "direction", "inbound")
		if !t.goFunc(func() { t.streamLoop(pc) }) {
			return
		}
	}
}

// admit checks an established connection's peer: its certificate's site
// and Authorize. A refused connection is closed with CodeRefused.
func (t *Transport) admit(conn *quic.Conn, inbound bool) (*peerConn, error) {
	remote := conn.RemoteAddr().String()
	site, err := pki.PeerSiteID(conn.ConnectionState().TLS)
	if err != nil {
		return nil, t.refuse(conn, "", remote, inbound, err)
	}
	if err := t.authorize(site); err != nil {
		return nil, t.refuse(conn, site, remote, inbound, err)
	}
	return &peerConn{conn: conn, site: site, key: keyOf(conn.RemoteAddr()), inbound: inbound}, nil
}

func (t *Transport) authorize(site string) error {
	if t.cfg.Authorize == nil {
		return nil
	}
	return t.cfg.Authorize(site)
}

func (t *Transport) refuse(conn *quic.Conn, site, remote string, inbound bool, reason error) error {
	dir := "outbound"
	if inbound {
		dir = "inbound"
	}
	t.log.Warn("peer refused: site not authorized", "peer", site, "remote", remote, "direction", dir, "reason", reason.Error())
	msg := fmt.Sprintf("site %q not authorized by %q: %v", site, t.cfg.SiteID, reason)
	if len(msg) > maxReasonLen {
		msg = msg[:maxReasonLen]
	}
	t.closeConn(&peerConn{conn: conn, site: site}, CodeRefused, msg)
	return &RefusedError{SiteID: site, Addr: remote, Reason: reason.Error()}
}

// closeConn closes pc's connection with code and reason, showing the
// reason (application bytes sent to the peer) to Config.SendTap.
func (t *Transport) closeConn(pc *peerConn, code quic.ApplicationErrorCode, reason string) {
	if t.cfg.SendTap != nil && reason != "" {
		t.cfg.SendTap(pc.site, KindNone, []byte(reason))
	}
	pc.conn.CloseWithError(code, reason)
}

// register records a live connection and returns the connection to use for
// its address; on a closed transport it closes pc.
//
// Two nodes that dial each other at the same moment (raft nodes do when a
// group forms) end up with two connections. Both sides then keep the one
// dialed by the site with the smaller id, so they agree without talking,
// and the other is retired: taken out of the table at once, closed after
// duplicateGrace so streams already on it can finish (raft re-dials its
// pooled streams on the kept connection).
func (t *Transport) register(pc *peerConn) (*peerConn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		t.closeConn(pc, CodeShutdown, "shutting down")
		return nil, ErrClosed
	}
	t.live[pc] = struct{}{}
	old := t.peers[pc.key]
	if old == nil || old.site != pc.site || old.conn.Context().Err() != nil {
		t.peers[pc.key] = pc
		return pc, nil
	}
	keep, drop := pc, old
	if t.dialedBySmaller(old) && !t.dialedBySmaller(pc) {
		keep, drop = old, pc
	}
	t.peers[pc.key] = keep
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		timer := time.NewTimer(duplicateGrace)
		defer timer.Stop()
		select {
		case <-timer.C:
			t.log.Debug("closing duplicate connection", "peer", drop.site, "remote", drop.conn.RemoteAddr().String())
			t.closeConn(drop, CodeDuplicate, "duplicate connection")
		case <-drop.conn.Context().Done():
		case <-t.life.Done():
		}
	}()
	return keep, nil
}

// duplicateGrace is how long a retired duplicate connection stays open.
const duplicateGrace = 2 * time.Second

// dialedBySmaller reports whether pc was dialed by the smaller of the two
// site ids.
func (t *Transport) dialedBySmaller(pc *peerConn) bool {
	dialer, other := t.cfg.SiteID, pc.site
	if pc.inbound {
		dialer, other = pc.site, t.cfg.SiteID
	}
	return dialer <= other
}

// unmap takes pc out of the connection table (if it is there), so the next
// Open to its address dials again.
func (t *Transport) unmap(pc *peerConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.peers[pc.key] == pc {
		delete(t.peers, pc.key)
	}
}

// gone forgets a connection that ended.
func (t *Transport) gone(pc *peerConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.live, pc)
	if t.peers[pc.key] == pc {
		delete(t.peers, pc.key)
	}
}

// peer returns a live connection to key, dialing one if needed.
func (t *Transport) peer(ctx context.Context, addr string, key netip.AddrPort) (*peerConn, error) {
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil, ErrClosed
		}
		if pc := t.peers[key]; pc != nil {
			if pc.conn.Context().Err() == nil {
				t.mu.Unlock()
				return pc, nil
			}
			delete(t.peers, key) // dead: dial again
		}
		if call := t.dialing[key]; call != nil {
			t.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if call.err == nil {
				return call.pc, nil
			}
			if ctx.Err() == nil && (errors.Is(call.err, context.Canceled) || errors.Is(call.err, context.DeadlineExceeded)) {
				continue // the other caller gave up; try ourselves
			}
			return nil, call.err
		}
		call := &dialCall{done: make(chan struct{})}
		t.dialing[key] = call
		t.mu.Unlock()

		keep, err := t.dialAndRegister(ctx, addr, key)
		t.mu.Lock()
		delete(t.dialing, key)
		t.mu.Unlock()
		call.pc, call.err = keep, err
		close(call.done)
		return keep, err
	}
}

func (t *Transport) dialAndRegister(ctx context.Context, addr string, key netip.AddrPort) (*peerConn, error) {
	pc, err := t.dial(ctx, addr, key)
	if err != nil {
		return nil, err
	}
	keep, err := t.register(pc)
	if err != nil {
		return nil, err
	}
	if !t.goFunc(func() { t.streamLoop(pc) }) {
		t.closeConn(pc, CodeShutdown, "shutting down")
		return nil, ErrClosed
	}
	return keep, nil
}

func (t *Transport) dial(ctx context.Context, addr string, key netip.AddrPort) (*peerConn, error) {
	tc := t.clientTLS.Clone()
	tc.VerifyConnection = t.logVerify(t.clientTLS.VerifyConnection, addr, "outbound")
	conn, err := t.qt.Dial(ctx, net.UDPAddrFromAddrPort(key), tc, t.qconf)
	if err != nil {
		if errors.Is(err, quic.ErrTransportClosed) {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	pc, err := t.admit(conn, false)
	if err != nil {
		return nil, err
	}
	t.log.Debug("peer connected", "peer", pc.site, "remote", addr, "direction", "outbound")
	return pc, nil
}

// streamLoop accepts the streams a peer opens on one connection until the
// connection ends.
func (t *Transport) streamLoop(pc *peerConn) {
	remote := pc.conn.RemoteAddr().String()
	for {
		qs, err := pc.conn.AcceptStream(t.life)
		if err != nil {
			t.gone(pc)
			var re *RefusedError
			switch err = mapErr(err, remote); {
			case t.life.Err() != nil:
			case errors.As(err, &re):
				t.log.Warn("refused by peer", "peer", pc.site, "remote", remote, "reason", re.Reason)
			default:
				t.log.Debug("connection ended", "peer", pc.site, "remote", remote, "error", err)
			}
			return
		}
		if !t.goFunc(func() { t.handleStream(pc, qs) }) {
			qs.CancelWrite(StreamCodeShutdown)
			qs.CancelRead(StreamCodeShutdown)
			return
		}
	}
}

// handleStream reads an accepted stream's Hello and queues it by kind.
func (t *Transport) handleStream(pc *peerConn, qs *quic.Stream) {
	qs.SetReadDeadline(time.Now().Add(t.cfg.HelloTimeout))
	var h wire.Hello
	err := wire.ReadMessageLimit(qs, &h, maxHello)
	qs.SetReadDeadline(time.Time{})
	switch {
	case err != nil:
	case h.SiteID != pc.site:
		err = fmt.Errorf("hello from site %q on a connection of site %q", h.SiteID, pc.site)
	case h.ProtocolVersion != wire.ProtocolVersion:
		err = fmt.Errorf("protocol version %d, want %d", h.ProtocolVersion, wire.ProtocolVersion)
	case !h.Kind.Valid():
		err = fmt.Errorf("%w %d", ErrKind, h.Kind)
	}
	if err != nil {
		t.log.Warn("stream rejected: bad preamble", "peer", pc.site, "remote", pc.conn.RemoteAddr().String(),
			"stream", qs.StreamID(), "reason", fmt.Errorf("%w: %w", ErrPreamble, err).Error())
		qs.CancelWrite(StreamCodePreamble)
		qs.CancelRead(StreamCodePreamble)
		return
	}
	if err := t.authorize(pc.site); err != nil {
		// Membership changed since the connection was admitted.
		t.unmap(pc)
		t.refuse(pc.conn, pc.site, pc.conn.RemoteAddr().String(), pc.inbound, err)
		return
	}
	qs.SetPriority(priority(h.Kind))
	s := newStream(qs, pc, h.Kind, t.cfg.SendTap)
	timer := time.NewTimer(t.cfg.AcceptTimeout)
	defer timer.Stop()
	select {
	case t.queues[h.Kind] <- s:
	case <-timer.C:
		t.log.Warn("stream reset: nobody accepted it in time", "peer", pc.site, "kind", h.Kind.String(),
			"wait", t.cfg.AcceptTimeout.String())
		s.abort(StreamCodeBusy)
	case <-t.life.Done():
		s.abort(StreamCodeShutdown)
	}
}
