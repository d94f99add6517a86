package fedtest

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/strata-fed/strata/node/cli"
)

// ExecEnv is the environment variable that makes [MaybeExec] run the strata
// command line instead of the tests. The harness sets it on every node
// process it starts; deploy tests set it for up.sh.
const ExecEnv = "STRATA_FEDTEST_EXEC"

// BinEnv names a prebuilt strata binary to run nodes from instead of the
// re-executed test binary.
const BinEnv = "STRATA_FEDTEST_BIN"

// execInstalled records that this test binary's TestMain called MaybeExec,
// so re-executing it runs strata and not the tests again.
var execInstalled atomic.Bool

// ErrNoMain means the test binary cannot be re-executed as strata because
// its TestMain does not call MaybeExec.
var ErrNoMain = errors.New("fedtest: TestMain must call fedtest.MaybeExec() before m.Run() (or set " + BinEnv + ")")

// MaybeExec must be called first in TestMain. If ExecEnv is set, this
// process is a node started by the harness: it runs the strata command line
// with the process arguments and exits with its exit code. Otherwise it
// returns and the tests run.
//
//	func TestMain(m *testing.M) {
//		fedtest.MaybeExec()
//		os.Exit(m.Run())
//	}
func MaybeExec() {
	if os.Getenv(ExecEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:]))
	}
	execInstalled.Store(true)
}

// Binary returns the program that runs `strata` and the extra environment
// it needs: the binary named by BinEnv if set, else this test binary with
// ExecEnv=1.
func Binary() (path string, env []string, err error) {
	if p := os.Getenv(BinEnv); p != "" {
		return p, nil, nil
	}
	if os.Getenv(ExecEnv) != "" {
		// A node process must never start nodes of its own.
		return "", nil, fmt.Errorf("fedtest: %s is set in a test process: refusing to re-execute recursively", ExecEnv)
	}
	if !execInstalled.Load() {
		return "", nil, ErrNoMain
	}
	p, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("fedtest: locate the test binary: %w", err)
	}
	env = []string{ExecEnv + "=1"}
	if _, set := os.LookupEnv("GORACE"); !set {
		// Under -race a process sleeps 1 s at exit by default, which would
		// count as shutdown time; reports are printed when races happen.
		env = append(env, "GORACE=atexit_sleep_ms=50")
	}
	return p, env, nil
}
