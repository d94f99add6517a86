package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-fed/strata/node/synth"
)

func TestSynthWritesThreeSites(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"synth", "--users", "500", "--seed", "3", "--out", dir, "--json"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %q", code, errOut.String())
	}
	var truth synth.Truth
	if err := json.Unmarshal(out.Bytes(), &truth); err != nil {
		t.Fatalf("--json output %q: %v", out.String(), err)
	}
	if truth.Users != 500 {
		t.Errorf("truth users %d, want 500", truth.Users)
	}
	for _, s := range synth.Sites {
		b, err := os.ReadFile(filepath.Join(dir, s+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(synth.Header+"\n")) || bytes.Count(b, []byte("\n")) < 2 {
			t.Errorf("%s.csv: want the header and rows, got %d bytes", s, len(b))
		}
	}
}

func TestSynthUsage(t *testing.T) {
	for _, args := range [][]string{
		{"synth"},
		{"synth", "--out", t.TempDir(), "--overlap", "1,2"},
		{"synth", "--out", t.TempDir(), "--start", "yesterday"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit code %d, want %d (usage); stderr %q", args, code, exitUsage, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"synth", "--out", t.TempDir(), "--users", "-4"}, &out, &errOut); code != exitFailure {
		t.Errorf("--users -4: exit code %d, want %d", code, exitFailure)
	}
}
