package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeAdmin answers the secure-sum endpoints like a leader, after one
// follower-style 421.
func fakeAdmin(t *testing.T) (follower, leader *httptest.Server, got *map[string]any) {
	t.Helper()
	var body map[string]any
	follower = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMisdirectedRequest)
		_, _ = w.Write([]byte(`{"error":"the leader is site-b","code":"not_leader"}`))
	}))
	leader = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&body)
		switch r.URL.Path {
		case "/v1/rounds":
			if body["statistic"] == "spent" {
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"error":"ledger default/spent exhausted","code":"budget_exhausted"}`))
				return
			}
			_, _ = w.Write([]byte(`{"round_id":"4","statistic":"revenue","state":"done","values":[12,-3],
				"noise":{"mechanism":"skellam","sigma":2.5,"sensitivity":1.4},"charged":{"epsilon":0.5,"delta":1e-6},
				"budget_left":{"epsilon":1.5,"delta":0.001},"dataset":"revenue","contributors":["a","b","c"],"decryptors":["a","c"]}`))
		case "/v1/keys":
			_, _ = w.Write([]byte(`{"epoch":1,"status":"active","participants":["a","b","c"],"threshold":2,"he_params":"PN13QP120","public_key_hash":"ab"}`))
		case "/v1/budgets":
			_, _ = w.Write([]byte(`{"federation":"default","dataset":"revenue","composition":"basic","total":{"epsilon":2,"delta":0.001}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(follower.Close)
	t.Cleanup(leader.Close)
	return follower, leader, &body
}

func TestSumCommand(t *testing.T) {
	f, l, body := fakeAdmin(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"sum", "--admin", f.URL + "," + l.URL, "--statistic", "revenue",
		"--lo", "-5", "--hi", "5", "--epsilon", "0.5", "--delta", "1e-6"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("strata sum: exit %d, stderr %q", code, errOut.String())
	}
	for _, want := range []string{"result: [12 -3]", "mechanism=skellam sigma=2.5", "budget left (revenue): epsilon=1.5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	if (*body)["lo"] != -5.0 || (*body)["hi"] != 5.0 || (*body)["epsilon"] != 0.5 {
		t.Errorf("request body %v", *body)
	}
	// Params and explicit per-user sensitivities reach the request.
	out.Reset()
	code = run(context.Background(), []string{"sum", "--admin", l.URL, "--statistic", "km.step", "--params", `{"c": [1, 2]}`,
		"--lo", "-5", "--hi", "5", "--l1", "20", "--l2", "10", "--max-abs", "1000", "--epsilon", "0.5", "--delta", "1e-6"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("strata sum --params: exit %d, stderr %q", code, errOut.String())
	}
	if p, ok := (*body)["params"].(map[string]any); !ok || len(p["c"].([]any)) != 2 || (*body)["l1"] != 20.0 || (*body)["l2"] != 10.0 || (*body)["max_abs"] != 1000.0 {
		t.Errorf("request body %v", *body)
	}
	if code := run(context.Background(), []string{"sum", "--admin", l.URL, "--statistic", "x", "--params", "{bad"}, &out, &errOut); code == exitOK {
		t.Error("strata sum --params '{bad': exit OK, want a failure")
	}
	out.Reset()
	errOut.Reset()
	code = run(context.Background(), []string{"sum", "--admin", l.URL, "--statistic", "spent", "--epsilon", "1"}, &out, &errOut)
	if code != exitFailure || !strings.Contains(errOut.String(), "budget_exhausted") {
		t.Errorf("exhausted: exit %d, stderr %q", code, errOut.String())
	}
}

func TestKeysAndBudgetCommands(t *testing.T) {
	f, l, body := fakeAdmin(t)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"keys", "init", "--admin", f.URL + "," + l.URL, "--threshold", "2"}, &out, &errOut); code != exitOK {
		t.Fatalf("keys init: exit %d, stderr %q", code, errOut.String())
	}
	if !strings.Contains(out.String(), "key epoch 1 active: 2-of-3") || (*body)["threshold"] != 2.0 {
		t.Errorf("keys init: output %q, body %v", out.String(), *body)
	}
	out.Reset()
	if code := run(context.Background(), []string{"budget", "set", "--admin", l.URL, "--dataset", "revenue", "--epsilon", "2", "--delta", "1e-3"}, &out, &errOut); code != exitOK {
		t.Fatalf("budget set: exit %d, stderr %q", code, errOut.String())
	}
	if !strings.Contains(out.String(), "budget default/revenue: epsilon=2") || (*body)["dataset"] != "revenue" {
		t.Errorf("budget set: output %q, body %v", out.String(), *body)
	}
}
