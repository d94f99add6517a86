// Package fedtest2 holds end-to-end tests of threshold-encrypted, DP secure
// sums: in-process daemons (node/daemon) with real QUIC on loopback, real
// raft with raft-wal logs in temporary directories, real lattigo threshold
// keys (the insecure fast parameter set) and the real DP noise, driven
// through the admin API client as an operator would. It has no non-test
// code.
package fedtest2
