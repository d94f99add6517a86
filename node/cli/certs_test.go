package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestCertsLifecycle(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := runCLI(t, "certs", "init-ca", "--dir", dir, "--name", "test"); code != 0 {
		t.Fatalf("init-ca: code %d: %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "certs", "issue", "site-a", "--dir", dir); code != 0 {
		t.Fatalf("issue: code %d: %s", code, errOut)
	}
	for _, f := range []string{"ca-key.pem", "site-a-key.pem"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", f, st.Mode().Perm())
		}
	}
	out, errOut, code := runCLI(t, "certs", "list", "--dir", dir)
	if code != 0 {
		t.Fatalf("list: code %d: %s", code, errOut)
	}
	if !strings.Contains(out, "site-a.pem") || !strings.Contains(out, "site-a") || !strings.Contains(out, "ca.pem") {
		t.Errorf("list output lacks the files:\n%s", out)
	}
	out, _, code = runCLI(t, "certs", "inspect", filepath.Join(dir, "site-a.pem"))
	if code != 0 || !strings.Contains(out, "site:        site-a") {
		t.Errorf("inspect: code %d, output:\n%s", code, out)
	}
	// Issuing again without --force must not overwrite the key.
	if _, errOut, code := runCLI(t, "certs", "issue", "site-a", "--dir", dir); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("re-issue without --force: code %d, stderr %q; want an 'exists' error", code, errOut)
	}
	// An invalid site id is refused.
	if _, errOut, code := runCLI(t, "certs", "issue", "Bad_Site", "--dir", dir); code == 0 {
		t.Errorf("issue Bad_Site succeeded; stderr %q", errOut)
	}
}
