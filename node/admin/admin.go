// Package admin serves a node's HTTP admin API: status, membership changes,
// federation settings, and Prometheus metrics.
//
// The API is meant for the operator of one node and binds to loopback by
// default. Handlers call a Backend that the daemon implements; domain
// errors are mapped to HTTP status codes at this boundary only.
//
//	GET    /v1/status            node status (JSON, see Status)
//	POST   /v1/sites             {"site": "id"}: allow a new site to join (leader only)
//	DELETE /v1/members/{site}    remove a member from the federation (leader only)
//	PUT    /v1/settings/{key}    {"value": "..."}: set a federation-wide setting (leader only;
//	                             dp_disabled "true" is refused with 400 unless the leader's config
//	                             sets federation.allow_dp_off)
//	GET    /metrics              Prometheus metrics
//
// Secure-sum endpoints are listed in rounds.go, segment-model, activation
// and report endpoints in models.go.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is what GET /v1/status returns.
type Status struct {
	Site         string   `json:"site"`
	State        string   `json:"state"`
	Leader       string   `json:"leader"`
	LeaderAddr   string   `json:"leader_addr"`
	Term         uint64   `json:"term"`
	Members      []Member `json:"members"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	LastLogIndex uint64   `json:"last_log_index"`
	// FSMDigest is a hash of the replicated state; equal digests at equal
	// applied indexes mean identical state.
	FSMDigest string `json:"fsm_digest"`
	// Sites is the federation's site registry.
	Sites []string `json:"sites"`
	// Settings are the federation-wide settings agreed in the log.
	Settings map[string]string `json:"settings"`
	// Rounds summarises federated rounds, newest last.
	Rounds []Round `json:"rounds"`
}

// Member is one raft server.
type Member struct {
	Site    string `json:"site"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
}

// Round is a short summary of a federated round.
type Round struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"`
}

// Backend is implemented by the daemon. Methods are called concurrently.
type Backend interface {
	Status() Status
	InviteSite(ctx context.Context, site string) error
	RemoveMember(ctx context.Context, site string) error
	SetSetting(ctx context.Context, key, value string) error
}

// Errors a Backend returns that the API maps to specific status codes.
var (
	// ErrNotLeader: the request must go to the leader (421, with the
	// leader's site in the response when known).
	ErrNotLeader = errors.New("not the leader")
	// ErrNotFound: the named site or member does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrBadRequest: the request is malformed or invalid (400).
	ErrBadRequest = errors.New("bad request")
)

// Handler returns the API's handler. reg may be nil for no /metrics.
func Handler(b Backend, reg *prometheus.Registry, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Status())
	})
	mux.HandleFunc("POST /v1/sites", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Site string `json:"site"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeError(w, log, err)
			return
		}
		writeResult(w, log, b.InviteSite(r.Context(), req.Site))
	})
	mux.HandleFunc("DELETE /v1/members/{site}", func(w http.ResponseWriter, r *http.Request) {
		writeResult(w, log, b.RemoveMember(r.Context(), r.PathValue("site")))
	})
	mux.HandleFunc("PUT /v1/settings/{key}", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Value string `json:"value"`
		}
		if err := decodeBody(r, &req); err != nil {
			writeError(w, log, err)
			return
		}
		writeResult(w, log, b.SetSetting(r.Context(), r.PathValue("key"), req.Value))
	})
	if rb, ok := b.(RoundsBackend); ok {
		handleRounds(mux, rb, log) // secure-sum endpoints: see rounds.go
	}
	if mb, ok := b.(ModelsBackend); ok {
		handleModels(mux, mb, log) // segment model, activation and report: see models.go
	}
	if reg != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	}
	return mux
}

const maxBody = 1 << 16

func decodeBody(r *http.Request, v any) error { return decodeBodyLimit(r, v, maxBody) }

// decodeBodyLimit decodes a strict JSON body of at most limit bytes.
func decodeBodyLimit(r *http.Request, v any, limit int64) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %v", ErrBadRequest, err)
	}
	return nil
}

func writeResult(w http.ResponseWriter, log *slog.Logger, err error) {
	if err != nil {
		writeError(w, log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrNotLeader):
		code = http.StatusMisdirectedRequest
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		code = http.StatusServiceUnavailable
	}
	if code == http.StatusInternalServerError && log != nil {
		log.Error("admin request failed", "error", err)
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
