package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/protocol/transport"
	"github.com/strata-fed/strata/protocol/wire"
)

// controlTimeout bounds one request/response exchange on a control stream.
const controlTimeout = 15 * time.Second

// serveControl accepts control streams and answers their requests.
func (d *Daemon) serveControl(ctx context.Context) error {
	for {
		conn, peer, err := d.tr.Accept(ctx, wire.KindControl)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, transport.ErrClosed) {
				return nil
			}
			d.log.Warn("accept control stream", "error", err)
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer conn.Close()
			d.handleControl(ctx, conn, peer)
		}()
	}
}

func (d *Daemon) handleControl(ctx context.Context, conn net.Conn, peer transport.PeerInfo) {
	_ = conn.SetDeadline(time.Now().Add(controlTimeout))
	msg, err := wire.ReadFrame(conn, 0)
	if err != nil {
		d.log.Warn("bad control request", "peer", peer.SiteID, "error", err)
		_ = wire.WriteFrame(conn, &wire.Error{Code: wire.CodeBadRequest, Text: err.Error()})
		return
	}
	switch m := msg.(type) {
	case *wire.JoinRequest:
		resp := d.handleJoin(ctx, peer, m)
		if err := wire.WriteFrame(conn, resp); err != nil {
			d.log.Warn("answer join request", "peer", peer.SiteID, "error", err)
		}
	default:
		_ = wire.WriteFrame(conn, &wire.Error{Code: wire.CodeUnsupported,
			Text: fmt.Sprintf("unexpected %s on a control stream", msg.Type())})
	}
}

// handleJoin admits a site on the leader, or points the joiner to it.
func (d *Daemon) handleJoin(ctx context.Context, peer transport.PeerInfo, req *wire.JoinRequest) *wire.JoinResponse {
	leaderAddr, leaderID := d.raft.LeaderWithID()
	resp := &wire.JoinResponse{LeaderSite: string(leaderID), LeaderAddr: string(leaderAddr)}
	if req.SiteID != peer.SiteID {
		resp.Error = fmt.Sprintf("join request names site %q but the connection's certificate is for %q", req.SiteID, peer.SiteID)
		d.log.Warn("refused join", "peer", peer.SiteID, "reason", resp.Error)
		return resp
	}
	if d.raft.State() != raft.Leader {
		resp.Error = "not the leader"
		return resp
	}
	// The raft address must be the joiner's own QUIC address (the
	// transport dials from its listening socket), so a site cannot register
	// another member's address under its id.
	if err := sameAddr(req.RaftAddr, peer.Addr); err != nil {
		resp.Error = err.Error()
		d.log.Warn("refused join", "peer", peer.SiteID, "reason", resp.Error)
		return resp
	}
	if err := d.admit(req.SiteID, req.RaftAddr, req.Voter); err != nil {
		resp.Error = err.Error()
		d.log.Warn("join failed", "peer", peer.SiteID, "error", err)
		return resp
	}
	d.log.Info("site joined", "peer", req.SiteID, "raft_addr", req.RaftAddr)
	resp.OK = true
	return resp
}

// admit adds a site to raft and records it in the registry. Only the
// leader calls it.
func (d *Daemon) admit(site, addr string, wantVoter bool) error {
	if err := d.authorize(site); err != nil {
		return err
	}
	role := fsm.RoleVoter
	if !wantVoter || d.voters(site) >= fsm.MaxVoters {
		role = fsm.RoleNonvoter
	}
	if s, known := d.fsm.Site(site); known && s.Allowed() && s.Role == fsm.RoleVoter {
		role = fsm.RoleVoter // its voting seat is already counted
	}
	if s, known := d.fsm.Site(site); !known || !s.Allowed() {
		if err := d.apply(&fsm.AddSite{Site: site, Address: addr, Role: role}); err != nil {
			return fmt.Errorf("register site: %w", err)
		}
	} else if s.Role != role {
		if err := d.apply(&fsm.SetRole{Site: site, Role: role}); err != nil {
			return fmt.Errorf("set role: %w", err)
		}
	}
	var f raft.IndexFuture
	if role == fsm.RoleVoter {
		f = d.raft.AddVoter(raft.ServerID(site), raft.ServerAddress(addr), 0, applyTimeout)
	} else {
		f = d.raft.AddNonvoter(raft.ServerID(site), raft.ServerAddress(addr), 0, applyTimeout)
	}
	if err := f.Error(); err != nil {
		return fmt.Errorf("add %s to raft: %w", role, err)
	}
	if err := d.apply(&fsm.SiteJoined{Site: site, Address: addr}); err != nil {
		return fmt.Errorf("record join: %w", err)
	}
	return nil
}

// voters counts the voting seats other than site's: raft voters, and
// registry sites invited or joined as voters (the FSM enforces MaxVoters
// over the registry, so both must be counted the same way).
func (d *Daemon) voters(except string) int {
	seats := map[string]bool{}
	if f := d.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				seats[string(s.ID)] = true
			}
		}
	}
	for _, s := range d.fsm.Sites() {
		if s.Allowed() && s.Role == fsm.RoleVoter {
			seats[s.ID] = true
		}
	}
	delete(seats, except)
	return len(seats)
}

// sameAddr checks that a claimed address resolves to the peer's address.
func sameAddr(claimed string, peer net.Addr) error {
	ua, err := net.ResolveUDPAddr("udp", claimed)
	if err != nil {
		return fmt.Errorf("raft address %q: %v", claimed, err)
	}
	pa, ok := peer.(*net.UDPAddr)
	if !ok {
		return fmt.Errorf("peer address %v is not UDP", peer)
	}
	if !ua.IP.Equal(pa.IP) || ua.Port != pa.Port {
		return fmt.Errorf("raft address %s is not the address this connection comes from (%s)", claimed, pa)
	}
	return nil
}

// joinLoop asks the configured join addresses (and the leaders they name)
// to admit this node, until one does or ctx ends.
func (d *Daemon) joinLoop(ctx context.Context) error {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		for _, addr := range d.cfg.Federation.Join {
			err := d.joinVia(ctx, addr, 3)
			if err == nil {
				d.log.Info("joined the federation", "via", addr)
				return nil
			}
			if ctx.Err() != nil {
				return nil
			}
			lvl := d.log.Debug
			if attempt%10 == 1 {
				lvl = d.log.Warn
			}
			lvl("join attempt failed", "via", addr, "attempt", attempt, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 3*time.Second)
	}
}

// joinVia sends a JoinRequest to addr, following leader hints up to hops times.
func (d *Daemon) joinVia(ctx context.Context, addr string, hops int) error {
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	conn, _, err := d.tr.Open(ctx, addr, wire.KindControl)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req := &wire.JoinRequest{SiteID: d.cfg.Site, RaftAddr: d.tr.AdvertiseAddr(), Voter: !d.cfg.Federation.NonVoter}
	if err := wire.WriteFrame(conn, req); err != nil {
		return err
	}
	var resp wire.JoinResponse
	if err := wire.ReadMessage(conn, &resp); err != nil {
		return err
	}
	if resp.OK {
		return nil
	}
	if resp.LeaderAddr != "" && resp.LeaderAddr != addr && hops > 0 {
		return d.joinVia(ctx, resp.LeaderAddr, hops-1)
	}
	return fmt.Errorf("join refused by %s: %s", addr, resp.Error)
}

// watchLeadership records the founding node in the site registry when it
// first leads. Other sites enter the registry when they join.
func (d *Daemon) watchLeadership(ctx context.Context) error {
	ch := d.raft.LeaderCh()
	for {
		select {
		case <-ctx.Done():
			return nil
		case isLeader := <-ch:
			if !isLeader {
				continue
			}
			d.log.Info("became leader")
			if err := d.raft.Barrier(applyTimeout).Error(); err != nil {
				d.log.Warn("barrier after election", "error", err)
				continue
			}
			if err := d.registerFounders(); err != nil {
				d.log.Warn("register founding sites", "error", err)
			}
		}
	}
}

func (d *Daemon) registerFounders() error {
	if _, known := d.fsm.Site(d.cfg.Site); known || !d.cfg.Federation.Bootstrap {
		return nil
	}
	addr := d.tr.AdvertiseAddr()
	if err := d.apply(&fsm.AddSite{Site: d.cfg.Site, Address: addr, Role: fsm.RoleVoter}); err != nil {
		return err
	}
	return d.apply(&fsm.SiteJoined{Site: d.cfg.Site, Address: addr})
}
