#!/usr/bin/env bash
# Stop the local federation started by up.sh in DIR (SIGTERM, then SIGKILL
# after 10 s). Data directories are kept; delete DIR to start afresh.
set -euo pipefail
dir=${1:?usage: down.sh DIR}
f=$dir/nodes.json
[ -f "$f" ] || { echo "down.sh: no $f" >&2; exit 1; }
pids=$(sed -n 's/.*"pid": \([0-9]*\).*/\1/p' "$f")
for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
for _ in $(seq 1 100); do
  alive=0
  for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && break
  sleep 0.1
done
for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
mv "$f" "$f.stopped"
echo "stopped $(echo $pids | wc -w) nodes"
