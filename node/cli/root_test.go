package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestUnknownCommandFails(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"no-such-command"}, &out, &errOut)
	if code == exitOK {
		t.Fatalf("exit code = %d, want non-zero", code)
	}
	if !strings.Contains(errOut.String(), "no-such-command") {
		t.Errorf("stderr = %q, want it to name the unknown command", errOut.String())
	}
}

func TestBadFlagIsUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"version", "--no-such-flag"}, &out, &errOut); code != exitUsage {
		t.Fatalf("exit code = %d, want %d (usage)", code, exitUsage)
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit code = %d, stderr %q", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "strata ") {
		t.Errorf("version output = %q, want prefix %q", out.String(), "strata ")
	}
}
