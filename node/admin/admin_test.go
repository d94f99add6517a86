package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type fakeBackend struct {
	invited []string
	err     error
}

func (f *fakeBackend) Status() Status {
	return Status{Site: "site-a", State: "Leader", Leader: "site-a", CommitIndex: 7,
		Members: []Member{{Site: "site-a", Address: "127.0.0.1:1", Voter: true}}}
}
func (f *fakeBackend) InviteSite(_ context.Context, s string) error {
	if f.err != nil {
		return f.err
	}
	f.invited = append(f.invited, s)
	return nil
}
func (f *fakeBackend) RemoveMember(_ context.Context, s string) error { return f.err }
func (f *fakeBackend) SetSetting(_ context.Context, k, v string) error {
	return f.err
}

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestStatus(t *testing.T) {
	h := Handler(&fakeBackend{}, nil, nil)
	rec := do(t, h, "GET", "/v1/status", "")
	if rec.Code != 200 {
		t.Fatalf("GET /v1/status = %d", rec.Code)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"site", "leader", "members", "commit_index"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status lacks %q: %s", k, rec.Body)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{nil, 200},
		{fmt.Errorf("wrapped: %w", ErrNotLeader), http.StatusMisdirectedRequest},
		{ErrNotFound, 404},
		{ErrBadRequest, 400},
		{fmt.Errorf("boom"), 500},
	}
	for _, tc := range cases {
		h := Handler(&fakeBackend{err: tc.err}, nil, nil)
		if rec := do(t, h, "POST", "/v1/sites", `{"site":"site-b"}`); rec.Code != tc.code {
			t.Errorf("err %v: code %d, want %d", tc.err, rec.Code, tc.code)
		}
	}
}

func TestBadBody(t *testing.T) {
	b := &fakeBackend{}
	h := Handler(b, nil, nil)
	for _, body := range []string{`{`, `{"site":"x","extra":1}`, ``} {
		if rec := do(t, h, "POST", "/v1/sites", body); rec.Code != 400 {
			t.Errorf("body %q: code %d, want 400", body, rec.Code)
		}
	}
	if len(b.invited) != 0 {
		t.Errorf("backend called on bad body: %v", b.invited)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "strata_test_total", Help: "t"})
	reg.MustRegister(c)
	c.Inc()
	rec := do(t, Handler(&fakeBackend{}, reg, nil), "GET", "/metrics", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "strata_test_total 1") {
		t.Errorf("GET /metrics = %d %q", rec.Code, rec.Body)
	}
}
