package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/securesum"
)

// Secure-sum endpoints (served when the Backend also implements
// RoundsBackend):
//
//	POST /v1/keys              {"threshold": t, "he_params"?: name}: t-of-N key set-up (leader only)
//	GET  /v1/keys              key epochs and whether this node holds its share
//	PUT  /v1/stats/{name}      {"values": [...], "dataset"?: name}: set a local statistic (stays on
//	                           this node), bound to the dataset it is computed from (default: the
//	                           statistic's name); the node contributes it only to rounds charged
//	                           to that dataset's ledger
//	GET  /v1/stats             local statistic names
//	POST /v1/rounds            securesum.Spec (incl. "params" JSON, explicit "l1", "l2",
//	                           "max_abs") + "timeout" (Go duration, default 2m): run a secure
//	                           sum and wait for its result (leader only)
//	GET  /v1/rounds/{id}       a round and its result
//	POST /v1/budgets           {"dataset", "epsilon", "delta"}: create a ledger (leader only)
//	GET  /v1/budgets           the ledgers
//	GET  /v1/sum-stats         this node's secure-sum counters
//
// Errors are JSON {"error", "code"}: 421 not the leader (try another node),
// 400 bad request, 403 budget exhausted (no round was created), 404 unknown
// round, 409 the round failed (its reason is in "error"), 503 the round was
// aborted or a key set-up failed because the leader changed (redo it:
// codes round_aborted, leader_changed), or the wait timed out.

// RoundsBackend is implemented by the daemon. Methods are called
// concurrently.
type RoundsBackend interface {
	StartKeySetup(ctx context.Context, threshold int, params string) (securesum.KeyInfo, error)
	Keys() []securesum.KeyInfo
	// SetStatistic sets a local statistic bound to dataset ("" = name).
	SetStatistic(name, dataset string, values []int64) error
	Statistics() []string
	SecureSum(ctx context.Context, spec securesum.Spec) (securesum.Result, error)
	RoundResult(id string) (securesum.Result, bool)
	SetBudget(ctx context.Context, dataset string, epsilon, delta float64) (fsm.Budget, error)
	Budgets() []fsm.Budget
	SumStats() securesum.Stats
}

// SumRequest is the body of POST /v1/rounds.
type SumRequest struct {
	securesum.Spec
	// Timeout bounds the wait for the result (Go duration); default 2m.
	Timeout string `json:"timeout,omitempty"`
}

// ErrorBody is the JSON body of an error response.
type ErrorBody struct {
	Error string `json:"error"`
	// Code is a stable category: not_leader, bad_request, budget_exhausted,
	// no_budget, round_failed, round_aborted, not_found, internal, or an fsm
	// rejection code.
	Code string `json:"code"`
}

func handleRounds(mux *http.ServeMux, b RoundsBackend, log *slog.Logger) {
	mux.HandleFunc("POST /v1/keys", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Threshold int    `json:"threshold"`
			HEParams  string `json:"he_params"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeSumError(w, log, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
		defer cancel()
		k, err := b.StartKeySetup(ctx, req.Threshold, req.HEParams)
		if err != nil {
			writeSumError(w, log, err)
			return
		}
		writeJSON(w, http.StatusOK, k)
	})
	mux.HandleFunc("GET /v1/keys", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Keys())
	})
	mux.HandleFunc("PUT /v1/stats/{name}", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Values  []int64 `json:"values"`
			Dataset string  `json:"dataset"`
		}
		if err := decodeBodyLimit(r, &req, maxStatisticBody); err != nil {
			writeSumError(w, log, err)
			return
		}
		name := r.PathValue("name")
		if err := b.SetStatistic(name, req.Dataset, req.Values); err != nil {
			writeSumError(w, log, err)
			return
		}
		dataset := req.Dataset
		if dataset == "" {
			dataset = name
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "length": len(req.Values), "dataset": dataset})
	})
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Statistics())
	})
	mux.HandleFunc("POST /v1/rounds", func(w http.ResponseWriter, r *http.Request) {
		var req SumRequest
		if err := decodeBody(r, &req); err != nil {
			writeSumError(w, log, err)
			return
		}
		timeout := 2 * time.Minute
		if req.Timeout != "" {
			d, err := time.ParseDuration(req.Timeout)
			if err != nil || d <= 0 {
				writeSumError(w, log, fmt.Errorf("%w: timeout %q", ErrBadRequest, req.Timeout))
				return
			}
			timeout = d
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		res, err := b.SecureSum(ctx, req.Spec)
		if err != nil {
			writeSumError(w, log, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("GET /v1/rounds/{id}", func(w http.ResponseWriter, r *http.Request) {
		res, ok := b.RoundResult(r.PathValue("id"))
		if !ok {
			writeSumError(w, log, fmt.Errorf("round %q: %w", r.PathValue("id"), ErrNotFound))
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /v1/budgets", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Dataset string  `json:"dataset"`
			Epsilon float64 `json:"epsilon"`
			Delta   float64 `json:"delta"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeSumError(w, log, err)
			return
		}
		bud, err := b.SetBudget(r.Context(), req.Dataset, req.Epsilon, req.Delta)
		if err != nil {
			writeSumError(w, log, err)
			return
		}
		writeJSON(w, http.StatusOK, bud)
	})
	mux.HandleFunc("GET /v1/budgets", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Budgets())
	})
	mux.HandleFunc("GET /v1/sum-stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.SumStats())
	})
}

// maxStatisticBody bounds a statistic vector's request body (64 MiB).
const maxStatisticBody = 64 << 20

// sumErrorCode maps an error to its HTTP status and stable code.
func sumErrorCode(err error) (int, string) {
	switch {
	case errors.Is(err, ErrNotLeader), errors.Is(err, securesum.ErrNotLeader):
		return http.StatusMisdirectedRequest, "not_leader"
	case errors.Is(err, fsm.ErrBudgetExhausted):
		return http.StatusForbidden, "budget_exhausted"
	case errors.Is(err, securesum.ErrRoundAborted):
		return http.StatusServiceUnavailable, "round_aborted"
	case errors.Is(err, securesum.ErrLeaderChanged):
		return http.StatusServiceUnavailable, "leader_changed"
	case errors.Is(err, securesum.ErrRoundFailed):
		return http.StatusConflict, "round_failed"
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrBadRequest), errors.Is(err, securesum.ErrBadSpec), errors.Is(err, securesum.ErrUnknownStatistic),
		errors.Is(err, securesum.ErrDPOff),
		errors.Is(err, securesum.ErrNoKey), errors.Is(err, securesum.ErrKeySetup):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "timeout"
	}
	if c := fsm.Code(err); c != "internal" && c != "" {
		return http.StatusBadRequest, c
	}
	return http.StatusInternalServerError, "internal"
}

func writeSumError(w http.ResponseWriter, log *slog.Logger, err error) {
	code, name := sumErrorCode(err)
	if code == http.StatusInternalServerError && log != nil {
		log.Error("admin request failed", "error", err)
	}
	writeJSON(w, code, ErrorBody{Error: err.Error(), Code: name})
}
