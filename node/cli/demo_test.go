package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoRefusesBadInvocations: option and --data errors are reported
// before anything starts, usage errors with exit code 2.
func TestDemoRefusesBadInvocations(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte("user_id,order_id,ts,amount\nu1,o1,2024-01-02T03:04:05Z,9.99\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"demo", "--users", "10", "--data", a + "," + a + "," + a}, exitUsage, "exclude each other"},
		{[]string{"demo", "--data", a + "," + a}, exitUsage, "exactly three files"},
		{[]string{"demo", "--k", "12"}, exitUsage, "k 12"},
		{[]string{"demo", "--centralized", "--dp-off"}, exitUsage, "--centralized"},
		{[]string{"demo", "--data", a + "," + b + "," + filepath.Join(dir, "missing.csv")}, exitFailure, "missing.csv"},
		{[]string{"demo", "--data", a + "," + b + "," + a}, exitFailure, "given twice"},
	} {
		var out, errOut bytes.Buffer
		runDir := filepath.Join(t.TempDir(), "run")
		args := append(tc.args, "--dir", runDir)
		if code := run(context.Background(), args, &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("strata %s: exit %d, stderr %q; want exit %d naming %q", strings.Join(args, " "), code, errOut.String(), tc.code, tc.want)
		}
		if _, err := os.Stat(runDir); err == nil {
			t.Errorf("strata %s created %s before refusing", strings.Join(args, " "), runDir)
		}
	}
}
