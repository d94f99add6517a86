package daemon

import (
	"context"
	"fmt"
	"slices"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
)

// The Daemon serves the segment-model endpoints.
var _ admin.ModelsBackend = (*Daemon)(nil)

// CommitModel commits the next version of the cross-channel segment model
// through the log (leader only): model must be a canonical segmodel
// encoding (segmodel.Decode accepts it) and every round must be done. The
// version is the latest + 1 and the content hash segmodel.Hash(model).
// Committing the latest version's exact bytes and rounds again returns that
// version instead of a new one, so a retried request commits once. Errors
// wrap admin.ErrBadRequest, admin.ErrNotFound (unknown round) or
// admin.ErrNotLeader.
func (d *Daemon) CommitModel(_ context.Context, model []byte, rounds []string) (admin.ModelInfo, error) {
	if _, err := segmodel.Decode(model); err != nil {
		return admin.ModelInfo{}, fmt.Errorf("%w: model: %w", admin.ErrBadRequest, err)
	}
	d.modelMu.Lock()
	defer d.modelMu.Unlock()
	if err := d.requireLeader(); err != nil {
		return admin.ModelInfo{}, err
	}
	if err := d.waitApplied(); err != nil {
		return admin.ModelInfo{}, fmt.Errorf("commit model: %w", err)
	}
	hash := segmodel.Hash(model)
	latest, ok := d.fsm.LatestModel()
	if ok && latest.ContentHash == hash && slices.Equal(latest.Rounds, rounds) {
		return modelInfo(latest, false), nil
	}
	next := latest.Version + 1
	if err := mapFSMError(d.apply(&fsm.CommitModel{Version: next, ContentHash: hash, Model: model, Rounds: rounds})); err != nil {
		return admin.ModelInfo{}, fmt.Errorf("commit model v%d: %w", next, err)
	}
	mv, ok := d.fsm.Model(next)
	if !ok {
		return admin.ModelInfo{}, fmt.Errorf("commit model v%d: applied but not in the state machine", next)
	}
	d.log.Info("segment model committed", "version", next, "content_hash", hash, "rounds", len(rounds),
		"budget_spent_epsilon", mv.BudgetSpent.Epsilon)
	return modelInfo(mv, false), nil
}

// LatestModel returns the newest committed model version.
func (d *Daemon) LatestModel() (admin.ModelInfo, bool) {
	mv, ok := d.fsm.LatestModel()
	if !ok {
		return admin.ModelInfo{}, false
	}
	return modelInfo(mv, true), true
}

func modelInfo(mv fsm.ModelVersion, withModel bool) admin.ModelInfo {
	info := admin.ModelInfo{Version: mv.Version, ContentHash: mv.ContentHash, Rounds: mv.Rounds,
		BudgetSpent: mv.BudgetSpent, Index: mv.Index}
	if info.Rounds == nil {
		info.Rounds = []string{}
	}
	if withModel {
		info.Model = mv.Model
	}
	return info
}

// waitApplied waits until the state machine holds every entry of the log
// this node has (a new leader may not have applied earlier terms' entries
// yet), so state read afterwards is current.
func (d *Daemon) waitApplied() error {
	if d.raft.AppliedIndex() >= d.raft.LastIndex() {
		return nil
	}
	if err := d.raft.Barrier(applyTimeout).Error(); err != nil {
		if lostLeadership(err) {
			return admin.ErrNotLeader
		}
		return fmt.Errorf("wait for the log to be applied: %w", err)
	}
	return nil
}
