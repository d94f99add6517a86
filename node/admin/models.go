package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/strata-fed/strata/federated/fsm"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/node/report"
)

// Segment-model endpoints (served when the Backend also implements
// ModelsBackend):
//
//	POST /v1/models           {"model": base64 of segmodel encoding, "rounds": ["id", ...]}: commit
//	                          the next model version (leader only); the model must decode
//	                          (segmodel.Decode) and every round must be done, else 400 and
//	                          nothing is committed. Answers a ModelInfo without the model bytes.
//	                          Committing the latest version's exact bytes and rounds again
//	                          returns that version (a retried request commits once).
//	GET  /v1/models/latest    the newest committed version (ModelInfo, model bytes included);
//	                          404 when none
//	GET  /v1/activation       this site's own labelling status (Activation): local only
//	GET  /report              the cross-channel report of the latest model (HTML)
//	GET  /report.json         the same as JSON (report.Report); 503 before the first model
//
// Errors are JSON {"error", "code"} as for the secure-sum endpoints (the
// report pages answer plain text).

// ModelInfo is one committed version of the cross-channel segment model.
type ModelInfo struct {
	Version     uint64 `json:"version"`
	ContentHash string `json:"content_hash"`
	// Model is the canonical segmodel encoding (base64 in JSON); left out
	// of the answer to a commit.
	Model []byte `json:"model,omitempty"`
	// Rounds are the rounds whose releases built the model.
	Rounds []string `json:"rounds"`
	// BudgetSpent composes the rounds' costs (the log's composition).
	BudgetSpent fsm.Cost `json:"budget_spent"`
	// Index is the model's log index.
	Index uint64 `json:"index"`
}

// CommitModelRequest is the body of POST /v1/models.
type CommitModelRequest struct {
	// Model is segmodel.Model.Encode's output (base64 in JSON). Required.
	Model []byte `json:"model"`
	// Rounds lists the (done) rounds the model was computed from.
	Rounds []string `json:"rounds"`
}

// Data states of a site (Activation.Data).
const (
	DataNone      = "none"      // the config has no data: section
	DataAnalysing = "analysing" // the file is being read and analysed
	DataReady     = "ready"     // the site's data is serving rounds
	DataFailed    = "failed"    // the analysis failed (Activation.Error); the node stops
)

// Activation is one site's local view of its data and of the labelling of
// its users with the committed models. It describes this site only and is
// never sent to other sites.
type Activation struct {
	Site string `json:"site"`
	// Data is DataNone, DataAnalysing, DataReady or DataFailed.
	Data    string `json:"data"`
	File    string `json:"file,omitempty"`
	Channel string `json:"channel,omitempty"`
	// Error explains DataFailed.
	Error string `json:"error,omitempty"`
	// RowsRead counts the data rows read so far; Users the site's users
	// once the data is ready.
	RowsRead int64 `json:"rows_read"`
	Users    int   `json:"users"`
	// AnalysisSeconds is the wall time of reading and analysing the file.
	AnalysisSeconds float64 `json:"analysis_seconds,omitempty"`
	// ModelVersion is the newest model version whose outputs are written
	// (0 = none yet), ContentHash its hash, OutDir its directory.
	ModelVersion uint64 `json:"model_version"`
	ContentHash  string `json:"content_hash,omitempty"`
	OutDir       string `json:"out_dir,omitempty"`
	// Labelled is the number of users labelled with ModelVersion, Segments
	// the local segment sizes and audience files.
	Labelled int           `json:"labelled"`
	Segments []SegmentSize `json:"segments,omitempty"`
	// LabelError is the last labelling failure (retried on the next model
	// or restart).
	LabelError string `json:"label_error,omitempty"`
}

// SegmentSize is one segment's local size and its audience file (relative
// to Activation.OutDir).
type SegmentSize struct {
	Segment string `json:"segment"`
	Users   int    `json:"users"`
	File    string `json:"file"`
}

// ModelsBackend is implemented by the daemon. Methods are called
// concurrently.
type ModelsBackend interface {
	// CommitModel validates and commits the next model version (leader
	// only). Errors wrap ErrBadRequest (bad model or rounds), ErrNotFound
	// (unknown round) or ErrNotLeader.
	CommitModel(ctx context.Context, model []byte, rounds []string) (ModelInfo, error)
	// LatestModel returns the newest committed version, false if none.
	LatestModel() (ModelInfo, bool)
	// Activation returns this site's labelling status.
	Activation() Activation
	// Report builds the report of the latest model from the node's own
	// replicated state; an error wrapping report.ErrNoReport before the
	// first model.
	Report(ctx context.Context) (*report.Report, error)
}

// maxModelBody bounds a POST /v1/models body: a model of at most
// fsm.MaxModelSize bytes in base64, plus the round ids.
const maxModelBody = 2*fsm.MaxModelSize + 1<<20

func handleModels(mux *http.ServeMux, b ModelsBackend, log *slog.Logger) {
	mux.HandleFunc("POST /v1/models", func(w http.ResponseWriter, r *http.Request) {
		var req CommitModelRequest
		if err := decodeBodyStrict(r, &req, maxModelBody); err != nil {
			writeSumError(w, log, err)
			return
		}
		if len(req.Model) == 0 {
			writeSumError(w, log, fmt.Errorf("%w: model: missing (want the base64 of a segmodel encoding)", ErrBadRequest))
			return
		}
		info, err := b.CommitModel(r.Context(), req.Model, req.Rounds)
		if err != nil {
			writeSumError(w, log, err)
			return
		}
		info.Model = nil
		writeJSON(w, http.StatusOK, info)
	})
	mux.HandleFunc("GET /v1/models/latest", func(w http.ResponseWriter, r *http.Request) {
		info, ok := b.LatestModel()
		if !ok {
			writeSumError(w, log, fmt.Errorf("no model has been committed yet: %w", ErrNotFound))
			return
		}
		writeJSON(w, http.StatusOK, info)
	})
	mux.HandleFunc("GET /v1/activation", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Activation())
	})
	rh := report.Handler(b.Report)
	mux.Handle("GET /report", rh)
	mux.Handle("GET /report.json", rh)
}

// decodeBodyStrict is decodeBodyLimit that also refuses data after the
// JSON value.
func decodeBodyStrict(r *http.Request, v any, limit int64) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: request body: data after the JSON object", ErrBadRequest)
	}
	return nil
}

// CommitModel commits the next version of the segment model (model is
// segmodel's canonical encoding) computed from the given rounds, on the
// leader, and returns its version and content hash. A request retried
// after a lost answer does not commit twice (see POST /v1/models).
func (c *Client) CommitModel(ctx context.Context, model []byte, rounds []string) (version uint64, hash string, err error) {
	var info ModelInfo
	if rounds == nil {
		rounds = []string{}
	}
	err = c.leader(ctx, http.MethodPost, "/v1/models", CommitModelRequest{Model: model, Rounds: rounds}, &info)
	if err != nil {
		return 0, "", fmt.Errorf("commit model: %w", err)
	}
	return info.Version, info.ContentHash, nil
}

// LatestModel fetches the newest committed model version from the first
// node that answers. With no model yet the error is an *APIError with
// status 404.
func (c *Client) LatestModel(ctx context.Context) (ModelInfo, error) {
	var info ModelInfo
	err := c.any(ctx, http.MethodGet, "/v1/models/latest", &info)
	return info, err
}

// Activation fetches the labelling status of the node at Addrs[0] (each
// site's status is its own).
func (c *Client) Activation(ctx context.Context) (Activation, error) {
	var a Activation
	if len(c.Addrs) == 0 {
		return a, errors.New("admin client: no addresses")
	}
	err := c.do(ctx, http.MethodGet, c.Addrs[0], "/v1/activation", nil, &a)
	return a, err
}

// Report fetches the report of the latest model (GET /report.json) from the
// first node that answers.
func (c *Client) Report(ctx context.Context) (*report.Report, error) {
	r := new(report.Report)
	if err := c.any(ctx, http.MethodGet, "/report.json", r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return r, nil
}

// Keys lists the federation's key epochs as the first node that answers
// sees them.
func (c *Client) Keys(ctx context.Context) ([]securesum.KeyInfo, error) {
	var k []securesum.KeyInfo
	err := c.any(ctx, http.MethodGet, "/v1/keys", &k)
	return k, err
}

// any sends a read-only request to each of Addrs in turn and returns the
// first answer that is not a transport failure (an HTTP error status is an
// answer).
func (c *Client) any(ctx context.Context, method, path string, out any) error {
	if len(c.Addrs) == 0 {
		return errors.New("admin client: no addresses")
	}
	var last error
	for _, a := range c.Addrs {
		last = c.do(ctx, method, a, path, nil, out)
		var ae *APIError
		if last == nil || errors.As(last, &ae) || ctx.Err() != nil {
			return last
		}
	}
	return last
}
