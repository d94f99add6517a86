#!/usr/bin/env bash
# The main job: `strata demo` — synthetic data for three channels, a
# federation CA and three nodes on loopback (QUIC with mutual TLS, raft with
# a persistent log), a dealerless 2-of-3 threshold key, the federated
# cross-channel segmentation over threshold-encrypted, differentially
# private secure sums, every site's labels and audiences, the report and a
# per-phase timing table. Same as `go run ./node/cmd/strata demo`.
#
#   bash deploy/local/demo.sh [strata demo flags]   # e.g. --users 200000, --dir DIR, --data F1,F2,F3
#
# STRATA_BIN names a prebuilt strata binary; otherwise one is built into a
# temporary directory (removed afterwards). The secure-sum demo with
# separate node processes and a leader failover is securesum-demo.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${STRATA_BIN:-}
if [ -z "$bin" ]; then
  tmp=$(mktemp -d /tmp/strata-bin.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  echo "== building strata" >&2
  go -C "$root" build -o "$tmp/strata" ./node/cmd/strata
  bin=$tmp/strata
fi
"$bin" demo "$@"
