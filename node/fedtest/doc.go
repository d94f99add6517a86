// Package fedtest starts real Strata federations for end-to-end tests: N
// nodes, each a separate `strata serve` process on loopback, with
// certificates from a fresh federation CA (protocol/pki) and data
// directories under t.TempDir().
//
// # Processes
//
// A node process is the test binary itself, re-executed (the Prometheus
// `-test.main` pattern): the package's TestMain must call [MaybeExec] first,
// which turns the process into `strata` (cli.Main) when the harness set
// [ExecEnv]. No toolchain is needed at test time, and under `go test -race`
// the nodes run with the race detector too: a race reported by any node,
// like a panic in any node, fails the test. Set STRATA_FEDTEST_BIN to a
// prebuilt strata binary to run the nodes from it instead (for example to
// measure latency without the race detector).
//
// # What a test gets
//
//	c := fedtest.Start(t, 3, fedtest.Options{})
//	leader, _ := c.WaitLeader(10 * time.Second)
//	_ = leader.SetSetting("threshold", "5")   // one raft log entry
//	st, _ := c.WaitConverged(10 * time.Second) // same applied index and fsm_digest everywhere
//	_, _ = c.Stop(2)                           // SIGTERM, waits for the exit
//	_ = c.Kill(1)                              // SIGKILL
//	_ = c.Restart(1)                           // same config, ports and data directory
//
// Node i (0-based) is site "site-<i+1>"; node 0 founds the federation and
// the others join through it. Ports are found by binding port 0 (UDP for
// QUIC, TCP for the admin API); a node that still loses a port race is
// started again on fresh ports (first start) or retried on the same ports
// (restart, because raft knows a node by its address).
//
// # Cleanup and logs
//
// Every process is killed in t.Cleanup, on success and on failure, and on
// Linux also when the test binary itself dies (Pdeathsig). Each node's
// stdout and stderr go to a log file in its directory (one file across
// restarts, each start marked by a "=== fedtest:" line); when the test has
// failed, the harness dumps the logs through t.Log.
package fedtest
