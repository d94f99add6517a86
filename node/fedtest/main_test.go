package fedtest_test

import (
	"os"
	"testing"

	"github.com/strata-fed/strata/node/fedtest"
)

// TestMain lets the harness re-execute this test binary as `strata serve`.
func TestMain(m *testing.M) {
	fedtest.MaybeExec()
	os.Exit(m.Run())
}
