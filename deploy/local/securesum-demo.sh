#!/usr/bin/env bash
# The secure-sum demo: three Strata nodes as separate processes on loopback,
# with a fresh federation CA, mutual-TLS QUIC and a raft group with a
# persistent log. Shows the federation forming and replicating, a dealerless
# 2-of-3 threshold key set-up, a differentially private secure sum paid from
# a privacy budget agreed in the log, a new leader when the leader is
# killed, and a second secure sum with that site down; then stops everything.
#
#   bash deploy/local/securesum-demo.sh [DIR]   # DIR defaults to a new temp dir
#
# (The main job, the federated segmentation end to end, is deploy/local/demo.sh.)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$(mktemp -d /tmp/strata-demo.XXXXXX)}
export STRATA_BASE_PORT=${STRATA_BASE_PORT:-17400}
admin() { echo "http://127.0.0.1:$((STRATA_BASE_PORT + 100 + $1))"; }
field() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"; }

if [ -z "${STRATA_BIN:-}" ]; then
  echo "== building strata"
  (cd "$root" && go build -o "$dir/strata" ./node/cmd/strata)
  export STRATA_BIN=$dir/strata
fi
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

admins="$(admin 1),$(admin 2),$(admin 3)"
echo "== dealerless 2-of-3 threshold key set-up (lattigo BGV; private shares over QUIC, never in the log)"
"$STRATA_BIN" keys init --threshold 2 --admin "$admins" | sed 's/^/   /'

echo "== each site sets a private statistic: its revenue (cents) in 4 regions; it never leaves the site"
vals=("[120000, 80000, 45000, 9000]" "[99000, 150000, 30000, 12000]" "[60000, 70000, 88000, 41000]")
for i in 1 2 3; do
  curl -fsS -X PUT "$(admin "$i")/v1/stats/revenue" -d "{\"values\": ${vals[$((i-1))]}}" >/dev/null
  echo "   site-$i: ${vals[$((i-1))]}"
done
echo "   exact total (for comparison only; no node ever sees it): [279000, 300000, 163000, 62000]"

echo "== privacy budget for dataset 'revenue': ε = 2, δ = 1e-5 (in the raft log; never reset)"
"$STRATA_BIN" budget set --dataset revenue --epsilon 2 --delta 1e-5 --admin "$admins" | sed 's/^/   /'

echo "== secure sum with DP noise (ε = 1, δ = 1e-6; contributions clamped to [0, 200000])"
echo "   (here one contribution is a whole site's vector, so the noise hides any one site entirely:"
echo "    with three sites it dwarfs the total. Per-user bounding, with noise of a few units, is what"
echo "    the federated segmentation builds on this sum.)"
"$STRATA_BIN" sum --statistic revenue --lo 0 --hi 200000 --epsilon 1 --delta 1e-6 --admin "$admins" | sed 's/^/   /'

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

echo "== secure sum again with $leader down: any 2 of the 3 key holders decrypt"
# The ledger pays for this one too. It composes in zCDP and converts at the
# budget's δ = 1e-5: after these two sums it has spent ε ≈ 1.24 of 2.
"$STRATA_BIN" sum --statistic revenue --lo 0 --hi 200000 --epsilon 0.9 --delta 1e-6 --admin "$admins" | sed 's/^/   /'
echo "== a third sum at ε = 2 would bring the ledger to ε ≈ 2.24 > 2: refused before any decryption share exists:"
if "$STRATA_BIN" sum --statistic revenue --lo 0 --hi 200000 --epsilon 2 --delta 1e-6 --admin "$admins" 2>&1 | sed 's/^/   /'; then
  echo "   (unexpected: the round was not refused)" >&2; exit 1
fi
echo "== stopping"
bash "$root/deploy/local/down.sh" "$dir"
trap - EXIT
