package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnalyzeEdgeFile(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"analyze", "../engine/testdata/edge.csv", "--out", out, "--only", "rfm"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got, _ := os.ReadFile(filepath.Join(out, "users.csv"))
	want, _ := os.ReadFile("../engine/testdata/edge.expected.csv")
	if !bytes.Equal(got, want) {
		t.Errorf("users.csv =\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(stdout.String(), "rows read") || !strings.Contains(stdout.String(), "13") {
		t.Errorf("summary table = %q", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, "summary.json")); err != nil {
		t.Error(err)
	}
}

func TestAnalyzeFullWithThresholds(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"analyze", "../engine/testdata/edge.csv", "--out", out, "--rules", "rfm11",
		"--r-cuts", "2,30,60,90", "--f-cuts", "2,3,4,5", "--m-cuts", "1,10.50,100,1000", "--k", "2", "--quiet"}
	if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, _ := os.ReadFile(filepath.Join(out, "users.csv"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	// user 7: recency 1 (< 2: R 5), 1 order (F 1), 999999.99 (>= 1000: M 5)
	if len(lines) != 8 || !strings.HasPrefix(lines[7], "7,1,1,999999.99,5,1,5,") {
		t.Errorf("users.csv = %q", lines)
	}
	if stdout.Len() != 0 {
		t.Errorf("--quiet printed %q", stdout.String())
	}
}

func TestAnalyzeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"analyze", "--out", "x"},                                // no input
		{"analyze", "a.csv", "--source", "s.yaml", "--out", "x"}, // both
		{"analyze", "a.csv"},                                     // no --out
		{"analyze", "a.csv", "--out", "x", "--only", "abc"},
		{"analyze", "a.csv", "--out", "x", "--f-cuts", "5,2"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d (%s), want %d", args, code, stderr.String(), exitUsage)
		}
	}
}

func TestAnalyzeMalformedFails(t *testing.T) {
	in := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(in, []byte("user_id,order_id,ts,amount\n1,1,2024-01-01,1x\n"), 0o644)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"analyze", in, "--out", t.TempDir()}, &stdout, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), in+":2: amount:") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	out := t.TempDir()
	code = run(context.Background(), []string{"analyze", in, "--out", out, "--rejects", "skip"}, &stdout, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), "none accepted") {
		t.Errorf("skip: exit %d, stderr %q", code, stderr.String())
	}
	if b, err := os.ReadFile(filepath.Join(out, "rejects.csv")); err != nil || !strings.Contains(string(b), "1,1,2024-01-01,1x") {
		t.Errorf("rejects.csv = %q, %v", b, err)
	}
}

func TestCheckSource(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"check-source", "../../deploy/examples/cdnow_sample.yaml", "--rows", "10"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "dry run: read 10, accepted 10") {
		t.Errorf("output %q", stdout.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("path: x.csv\ncolumns: {user: a, timestamp: b, amount: c}\ncolour: red\n"), 0o644)
	stderr.Reset()
	if code := run(context.Background(), []string{"check-source", bad}, &stdout, &stderr); code != exitFailure ||
		!strings.Contains(stderr.String(), "colour") {
		t.Errorf("unknown key: exit %d, stderr %q", code, stderr.String())
	}
}
