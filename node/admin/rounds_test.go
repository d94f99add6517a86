package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/securesum"
)

// fakeRounds is a Backend and RoundsBackend whose SecureSum returns the
// queued errors first, then a result.
type fakeRounds struct {
	fakeBackend
	mu    sync.Mutex
	errs  []error
	calls int
	stats map[string][]int64
	sets  map[string]string // statistic → dataset
}

func (f *fakeRounds) StartKeySetup(context.Context, int, string) (securesum.KeyInfo, error) {
	return securesum.KeyInfo{Epoch: 1, Status: "active"}, f.next()
}
func (f *fakeRounds) Keys() []securesum.KeyInfo { return nil }
func (f *fakeRounds) SetStatistic(name, dataset string, v []int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stats == nil {
		f.stats, f.sets = map[string][]int64{}, map[string]string{}
	}
	f.stats[name] = v
	f.sets[name] = dataset
	return nil
}
func (f *fakeRounds) Statistics() []string { return nil }
func (f *fakeRounds) next() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}
func (f *fakeRounds) SecureSum(_ context.Context, s securesum.Spec) (securesum.Result, error) {
	if err := f.next(); err != nil {
		return securesum.Result{}, err
	}
	return securesum.Result{RoundID: "7", Statistic: s.Statistic, Values: []int64{1, -2}}, nil
}
func (f *fakeRounds) RoundResult(id string) (securesum.Result, bool) {
	return securesum.Result{RoundID: id}, id == "7"
}
func (f *fakeRounds) SetBudget(context.Context, string, float64, float64) (fsm.Budget, error) {
	return fsm.Budget{}, f.next()
}
func (f *fakeRounds) Budgets() []fsm.Budget     { return nil }
func (f *fakeRounds) SumStats() securesum.Stats { return securesum.Stats{} }

func TestSumErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		name string
	}{
		{fmt.Errorf("x: %w", securesum.ErrNotLeader), 421, "not_leader"},
		{fmt.Errorf("start round: %w", fsm.ErrBudgetExhausted), 403, "budget_exhausted"},
		{fmt.Errorf("round 3: too few live sites: %w", securesum.ErrRoundFailed), 409, "round_failed"},
		{fmt.Errorf("round 3: %w", securesum.ErrRoundAborted), 503, "round_aborted"},
		{fmt.Errorf("keys: %w: %w", securesum.ErrKeySetup, securesum.ErrLeaderChanged), 503, "leader_changed"},
		{fmt.Errorf("clamp: %w", securesum.ErrBadSpec), 400, "bad_request"},
		{fmt.Errorf("start round: %w", fsm.ErrNoBudget), 400, "no_budget"},
		{errors.New("disk on fire"), 500, "internal"},
	} {
		h := Handler(&fakeRounds{errs: []error{tc.err}}, nil, nil)
		rec := do(t, h, "POST", "/v1/rounds", `{"statistic":"x","lo":0,"hi":1}`)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), `"code": "`+tc.name+`"`) {
			t.Errorf("POST /v1/rounds with %v = %d %s, want %d %s", tc.err, rec.Code, rec.Body, tc.code, tc.name)
		}
	}
	h := Handler(&fakeRounds{}, nil, nil)
	if rec := do(t, h, "GET", "/v1/rounds/8", ""); rec.Code != 404 {
		t.Errorf("GET unknown round = %d, want 404", rec.Code)
	}
	if rec := do(t, h, "POST", "/v1/rounds", `{"statistic":"x","bogus":1}`); rec.Code != 400 {
		t.Errorf("unknown field = %d, want 400", rec.Code)
	}
	if rec := do(t, h, "POST", "/v1/rounds", `{"statistic":"x","timeout":"soon"}`); rec.Code != 400 {
		t.Errorf("bad timeout = %d, want 400", rec.Code)
	}
}

// TestClientFindsLeaderAndRedoes: the client skips followers (421) and
// redoes a round aborted by a leader change, but does not retry a refusal.
func TestClientFindsLeaderAndRedoes(t *testing.T) {
	follower := &fakeRounds{errs: []error{securesum.ErrNotLeader, securesum.ErrNotLeader, securesum.ErrNotLeader}}
	leader := &fakeRounds{errs: []error{fmt.Errorf("round 6: %w", securesum.ErrRoundAborted)}}
	fs := httptest.NewServer(Handler(follower, nil, nil))
	defer fs.Close()
	ls := httptest.NewServer(Handler(leader, nil, nil))
	defer ls.Close()
	c := &Client{Addrs: []string{fs.URL, ls.URL}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.SecureSum(ctx, securesum.Spec{Statistic: "x"}, time.Minute)
	if err != nil || res.RoundID != "7" || len(res.Values) != 2 {
		t.Fatalf("SecureSum = %+v, %v", res, err)
	}
	if leader.calls != 2 {
		t.Errorf("leader called %d times, want 2 (one aborted round, one redo)", leader.calls)
	}
	leader.errs = []error{fmt.Errorf("start: %w", fsm.ErrBudgetExhausted)}
	leader.calls = 0
	_, err = c.SecureSum(ctx, securesum.Spec{Statistic: "x"}, time.Minute)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "budget_exhausted" || ae.Status != 403 || leader.calls != 1 {
		t.Fatalf("refused round: err = %v after %d calls, want one budget_exhausted", err, leader.calls)
	}
	if err := (&Client{Addrs: []string{ls.URL}}).SetStatistic(ctx, "y", "", []int64{4}); err != nil || leader.stats["y"][0] != 4 || leader.sets["y"] != "" {
		t.Fatalf("SetStatistic: %v, stored %v %v", err, leader.stats, leader.sets)
	}
	// The statistic's dataset binding reaches the backend.
	if err := (&Client{Addrs: []string{ls.URL}}).SetStatistic(ctx, "z", "orders", []int64{5}); err != nil || leader.sets["z"] != "orders" {
		t.Fatalf("SetStatistic(dataset orders): %v, stored %v", err, leader.sets)
	}
	// Explicit sensitivities and params travel in the round request.
	var got SumRequest
	if err := json.Unmarshal([]byte(`{"statistic":"km.step","params":{"c":[1,2]},"lo":-5,"hi":5,"l1":20,"l2":10,"max_abs":1000}`), &got); err != nil ||
		string(got.Params) != `{"c":[1,2]}` || got.L1 != 20 || got.L2 != 10 || got.MaxAbs != 1000 {
		t.Fatalf("SumRequest decoding = %+v, %v", got, err)
	}
}
