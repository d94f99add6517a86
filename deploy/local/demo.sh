#!/usr/bin/env bash
# The demo federation: three Strata nodes as separate processes on loopback,
# with a fresh federation CA, mutual-TLS QUIC and a raft group with a
# persistent log. Shows the federation forming, replicating, and electing a
# new leader when the leader is killed; then stops everything.
#
#   bash deploy/local/demo.sh [DIR]      # DIR defaults to a new temp dir
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$(mktemp -d /tmp/strata-demo.XXXXXX)}
export STRATA_BASE_PORT=${STRATA_BASE_PORT:-17400}
admin() { echo "http://127.0.0.1:$((STRATA_BASE_PORT + 100 + $1))"; }
field() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"; }

echo "== building strata"
(cd "$root" && go build -o "$dir/strata" ./node/cmd/strata)
export STRATA_BIN=$dir/strata
trap 'bash "$root/deploy/local/down.sh" "$dir" >/dev/null 2>&1 || true' EXIT

echo "== starting 3 nodes (logs and data under $dir)"
bash "$root/deploy/local/up.sh" 3 "$dir"

show() {
  printf '%-8s %-10s %-8s %-7s %-13s %s\n' SITE STATE LEADER MEMBERS COMMIT_INDEX FSM_DIGEST
  for i in 1 2 3; do
    st=$(curl -fsS "$(admin "$i")/v1/status" 2>/dev/null) || { printf '%-8s %s\n' "site-$i" "(down)"; continue; }
    printf '%-8s %-10s %-8s %-7s %-13s %s\n' "site-$i" "$(echo "$st" | field state)" "$(echo "$st" | field leader)" \
      "$(echo "$st" | grep -c '"voter"')" "$(echo "$st" | field commit_index)" "$(echo "$st" | field fsm_digest | cut -c1-16)"
  done
}

leader=$(curl -fsS "$(admin 1)/v1/status" | field leader)
li=${leader#site-}
echo "== agreeing a federation-wide setting through the leader ($leader)"
curl -fsS -X PUT "$(admin "$li")/v1/settings/min_cell_count" -d '{"value":"10"}' >/dev/null
sleep 0.3
show

echo "== killing the leader ($leader) with SIGKILL"
pid=$(sed -n "s/.*\"$leader\", \"pid\": \([0-9]*\).*/\1/p" "$dir/nodes.json")
start=$(date +%s%N)
kill -9 "$pid"
other=$(( li % 3 + 1 ))
while :; do
  new=$(curl -fsS "$(admin "$other")/v1/status" 2>/dev/null | field leader || true)
  if [ -n "$new" ] && [ "$new" != "$leader" ]; then break; fi
  if [ $(( ($(date +%s%N) - start) / 1000000 )) -gt 10000 ]; then echo "no new leader after 10 s" >&2; exit 1; fi
  sleep 0.02
done
echo "new leader $new after $(( ($(date +%s%N) - start) / 1000000 )) ms"
sleep 0.5
show
echo "== stopping"
