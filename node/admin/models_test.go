package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/node/report"
)

// fakeModels is a Backend and ModelsBackend: commits append versions,
// unless the queued errors say otherwise; models must start with "{".
type fakeModels struct {
	fakeBackend
	mu       sync.Mutex
	errs     []error
	versions []ModelInfo
	rep      *report.Report
}

func (f *fakeModels) CommitModel(_ context.Context, model []byte, rounds []string) (ModelInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return ModelInfo{}, err
	}
	if !bytes.HasPrefix(model, []byte("{")) {
		return ModelInfo{}, fmt.Errorf("%w: model: not a segment model", ErrBadRequest)
	}
	info := ModelInfo{Version: uint64(len(f.versions)) + 1, ContentHash: "abc", Model: model, Rounds: rounds}
	f.versions = append(f.versions, info)
	return info, nil
}

func (f *fakeModels) LatestModel() (ModelInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.versions) == 0 {
		return ModelInfo{}, false
	}
	return f.versions[len(f.versions)-1], true
}

func (f *fakeModels) Activation() Activation {
	return Activation{Site: "site-a", Data: DataReady, Users: 3, ModelVersion: uint64(len(f.versions))}
}

func (f *fakeModels) Report(context.Context) (*report.Report, error) {
	if f.rep == nil {
		return nil, fmt.Errorf("nothing yet: %w", report.ErrNoReport)
	}
	return f.rep, nil
}

// fakeKeys adds the key list a client reads through GET /v1/keys.
type fakeKeys struct{ fakeRounds }

func (f *fakeKeys) Keys() []securesum.KeyInfo {
	return []securesum.KeyInfo{{Epoch: 1, Status: "active", Participants: []string{"a", "b"}, Threshold: 2}}
}

func TestModelsHandlers(t *testing.T) {
	f := &fakeModels{}
	h := Handler(f, nil, nil)
	if rec := do(t, h, "GET", "/v1/models/latest", ""); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"not_found"`) {
		t.Errorf("GET latest with no model = %d %s, want 404 not_found", rec.Code, rec.Body)
	}
	if rec := do(t, h, "GET", "/report.json", ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /report.json with no model = %d, want 503", rec.Code)
	}
	bad := map[string]string{
		"not json":       `{`,
		"not base64":     `{"model": "%%%", "rounds": []}`,
		"no model":       `{"rounds": ["1"]}`,
		"unknown field":  `{"model": "e30=", "version": 3}`,
		"not a model":    `{"model": "aGVsbG8=", "rounds": []}`,
		"trailing bytes": `{"model": "e30="} x`,
	}
	for name, body := range bad {
		rec := do(t, h, "POST", "/v1/models", body)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"bad_request"`) {
			t.Errorf("POST /v1/models (%s) = %d %s, want 400 bad_request", name, rec.Code, rec.Body)
		}
	}
	if len(f.versions) != 0 {
		t.Fatalf("malformed requests committed %d versions", len(f.versions))
	}
	rec := do(t, h, "POST", "/v1/models", `{"model": "e30=", "rounds": ["1", "2"]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /v1/models = %d %s", rec.Code, rec.Body)
	}
	var info ModelInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil || info.Version != 1 || info.Model != nil || !slices.Equal(info.Rounds, []string{"1", "2"}) {
		t.Errorf("commit answer %s (%v), want version 1 without the model bytes", rec.Body, err)
	}
	rec = do(t, h, "GET", "/v1/models/latest", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil || rec.Code != 200 || string(info.Model) != "{}" {
		t.Errorf("GET latest = %d %s, want the model {}", rec.Code, rec.Body)
	}
	rec = do(t, h, "GET", "/v1/activation", "")
	var a Activation
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.Data != DataReady || a.ModelVersion != 1 {
		t.Errorf("GET /v1/activation = %s", rec.Body)
	}
	f.rep = &report.Report{Federation: "default/segmentation", Model: report.Model{Version: 1}}
	if rec := do(t, h, "GET", "/report.json", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"federation": "default/segmentation"`) {
		t.Errorf("GET /report.json = %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, h, "GET", "/report", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), "<html") {
		t.Errorf("GET /report = %d", rec.Code)
	}
	if rec := do(t, h, "POST", "/report.json", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /report.json = %d, want 405", rec.Code)
	}
	f.errs = []error{fmt.Errorf("the leader is b: %w", ErrNotLeader)}
	if rec := do(t, h, "POST", "/v1/models", `{"model": "e30="}`); rec.Code != http.StatusMisdirectedRequest || !strings.Contains(rec.Body.String(), `"not_leader"`) {
		t.Errorf("POST /v1/models on a follower = %d %s, want 421 not_leader", rec.Code, rec.Body)
	}
}

// TestClientModels: CommitModel finds the leader past a follower; the read
// methods take the first node that answers.
func TestClientModels(t *testing.T) {
	follower := &fakeModels{errs: []error{ErrNotLeader, ErrNotLeader, ErrNotLeader}}
	leader := &fakeModels{}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // unreachable
	fs := httptest.NewServer(Handler(follower, nil, nil))
	defer fs.Close()
	ls := httptest.NewServer(Handler(leader, nil, nil))
	defer ls.Close()
	c := &Client{Addrs: []string{down.URL, fs.URL, ls.URL}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, hash, err := c.CommitModel(ctx, []byte("{}"), nil)
	if err != nil || v != 1 || hash != "abc" || len(leader.versions) != 1 || len(follower.versions) != 0 {
		t.Fatalf("CommitModel = %d, %q, %v; leader %d versions", v, hash, err, len(leader.versions))
	}
	_, _, err = c.CommitModel(ctx, []byte("junk"), nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "not a segment model") {
		t.Errorf("CommitModel(junk) = %v, want a 400 naming the problem", err)
	}
	// Reads skip the unreachable node; the follower answers first.
	if _, err := c.LatestModel(ctx); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("LatestModel from the follower = %v, want 404", err)
	}
	lc := &Client{Addrs: []string{down.URL, ls.URL}}
	info, err := lc.LatestModel(ctx)
	if err != nil || info.Version != 1 || string(info.Model) != "{}" {
		t.Errorf("LatestModel = %+v, %v", info, err)
	}
	if _, err := (&Client{Addrs: []string{ls.URL}}).Activation(ctx); err != nil {
		t.Errorf("Activation: %v", err)
	}
	if _, err := lc.Report(ctx); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Errorf("Report before any = %v, want 503", err)
	}
	ks := httptest.NewServer(Handler(&fakeKeys{}, nil, nil))
	defer ks.Close()
	keys, err := (&Client{Addrs: []string{down.URL, ks.URL}}).Keys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Status != "active" {
		t.Errorf("Keys = %+v, %v", keys, err)
	}
	if _, err := (&Client{}).Keys(ctx); err == nil {
		t.Error("Keys with no addresses succeeded")
	}
}
