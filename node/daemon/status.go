package daemon

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/raft"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/protocol/pki"
)

// The Daemon is the admin API's backend.
var _ admin.Backend = (*Daemon)(nil)

// Status reports the node's view of the federation.
func (d *Daemon) Status() admin.Status {
	stats := d.raft.Stats()
	leaderAddr, leaderID := d.raft.LeaderWithID()
	st := admin.Status{
		Site:         d.cfg.Site,
		State:        d.raft.State().String(),
		Leader:       string(leaderID),
		LeaderAddr:   string(leaderAddr),
		Term:         parseUint(stats["term"]),
		CommitIndex:  d.raft.CommitIndex(),
		AppliedIndex: d.raft.AppliedIndex(),
		LastLogIndex: d.raft.LastIndex(),
		FSMDigest:    d.Digest(),
		Members:      []admin.Member{},
		Sites:        []string{},
		Rounds:       []admin.Round{},
		Settings:     map[string]string{},
	}
	if f := d.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			st.Members = append(st.Members, admin.Member{
				Site: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == raft.Voter,
			})
		}
	}
	for _, s := range d.fsm.Sites() {
		if s.Allowed() {
			st.Sites = append(st.Sites, s.ID)
		}
	}
	for _, r := range d.fsm.Rounds() {
		st.Rounds = append(st.Rounds, admin.Round{ID: r.ID, Kind: r.Kind, State: string(r.State)})
	}
	set := d.fsm.Settings()
	st.Settings["dp_disabled"] = strconv.FormatBool(set.DPDisabled)
	st.Settings["he_params"] = set.HEParams
	st.Settings["threshold"] = strconv.Itoa(set.Threshold)
	st.Settings["min_cell_count"] = strconv.Itoa(set.MinCellCount)
	return st
}

func parseUint(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

func (d *Daemon) requireLeader() error {
	if d.raft.State() != raft.Leader {
		_, id := d.raft.LeaderWithID()
		if id == "" {
			return fmt.Errorf("no leader is known yet: %w", admin.ErrNotLeader)
		}
		return fmt.Errorf("the leader is %s: %w", id, admin.ErrNotLeader)
	}
	return nil
}

// InviteSite allows a new site to connect and join.
func (d *Daemon) InviteSite(_ context.Context, site string) error {
	if err := d.requireLeader(); err != nil {
		return err
	}
	if err := pki.ValidateSiteID(site); err != nil {
		return fmt.Errorf("%w: %w", admin.ErrBadRequest, err)
	}
	role := fsm.RoleVoter
	if d.voters(site) >= fsm.MaxVoters {
		role = fsm.RoleNonvoter
	}
	return mapFSMError(d.apply(&fsm.AddSite{Site: site, Role: role}))
}

// RemoveMember removes a site from the registry and from raft: from then on
// its certificate is refused and its connections are closed on every node.
func (d *Daemon) RemoveMember(_ context.Context, site string) error {
	if err := d.requireLeader(); err != nil {
		return err
	}
	if _, known := d.fsm.Site(site); !known {
		return fmt.Errorf("site %q: %w", site, admin.ErrNotFound)
	}
	if site == d.cfg.Site {
		return fmt.Errorf("the leader cannot remove itself; remove it from another node after a leadership transfer: %w", admin.ErrBadRequest)
	}
	// Idempotent, so a removal interrupted after the registry change (say,
	// by a leadership change) can be retried to completion.
	if s, _ := d.fsm.Site(site); s.Status != fsm.StatusRemoved {
		if err := mapFSMError(d.apply(&fsm.RemoveSite{Site: site, Reason: "removed by operator"})); err != nil {
			return err
		}
	}
	if err := d.raft.RemoveServer(raft.ServerID(site), 0, applyTimeout).Error(); err != nil {
		return fmt.Errorf("remove %s from raft: %w", site, err)
	}
	// Every node, this one included, drops the site's connections when it
	// applies the removal (see applied in rounds.go).
	d.log.Info("site removed", "peer", site)
	return nil
}

// SetSetting changes one federation-wide setting through the log (leader
// only). dp_disabled=true is refused unless this node's config sets
// federation.allow_dp_off.
func (d *Daemon) SetSetting(_ context.Context, key, value string) error {
	d.settingsMu.Lock()
	defer d.settingsMu.Unlock()
	if err := d.requireLeader(); err != nil {
		return err
	}
	// A new leader may not have applied the entries of earlier terms yet:
	// wait until the state machine holds everything in the log, so the
	// settings read below are current.
	if d.raft.AppliedIndex() < d.raft.LastIndex() {
		if err := d.raft.Barrier(applyTimeout).Error(); err != nil {
			if lostLeadership(err) {
				return fmt.Errorf("settings: %w", admin.ErrNotLeader)
			}
			return fmt.Errorf("settings: wait for the log to be applied: %w", err)
		}
	}
	s := d.fsm.Settings()
	var err error
	switch key {
	case "dp_disabled":
		s.DPDisabled, err = strconv.ParseBool(value)
		if err == nil && s.DPDisabled && !d.cfg.Federation.AllowDPOff {
			return fmt.Errorf("setting dp_disabled: this leader's config does not set federation.allow_dp_off, "+
				"so it will not turn differential privacy off for the federation (and each site must allow it too): %w", admin.ErrBadRequest)
		}
	case "he_params":
		s.HEParams = value
	case "threshold":
		s.Threshold, err = strconv.Atoi(value)
	case "min_cell_count":
		s.MinCellCount, err = strconv.Atoi(value)
	default:
		return fmt.Errorf("unknown setting %q (known: dp_disabled, he_params, threshold, min_cell_count): %w", key, admin.ErrBadRequest)
	}
	if err != nil {
		return fmt.Errorf("setting %s: %v: %w", key, err, admin.ErrBadRequest)
	}
	return mapFSMError(d.apply(&fsm.SetSettings{Settings: s}))
}

// mapFSMError turns command rejections into admin API categories.
func mapFSMError(err error) error {
	switch fsm.Code(err) {
	case "":
		return nil
	case "internal":
		return err
	case "unknown_site", "unknown_round":
		return fmt.Errorf("%w: %w", admin.ErrNotFound, err)
	default:
		return fmt.Errorf("%w: %w", admin.ErrBadRequest, err)
	}
}
