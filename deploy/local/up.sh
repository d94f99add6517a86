#!/usr/bin/env bash
# Start a local Strata federation of N nodes on loopback, each a separate
# process with its own certificate and data directory under DIR.
#
#   deploy/local/up.sh N DIR      # N in 1..10
#   deploy/local/down.sh DIR
#
# Writes DIR/nodes.json: per node its site id, pid, admin URL, QUIC address,
# config, and log file. Node 1 founds the federation; the others join
# through it. Ports: QUIC on STRATA_BASE_PORT+i (UDP), admin API on
# STRATA_BASE_PORT+100+i (TCP); STRATA_BASE_PORT defaults to 17400.
# STRATA_BIN names a prebuilt strata binary; otherwise one is built into DIR.
set -euo pipefail
n=${1:?usage: up.sh N DIR}
dir=${2:?usage: up.sh N DIR}
case "$n" in ''|*[!0-9]*) echo "up.sh: N must be a number, got '$n'" >&2; exit 2;; esac
if [ "$n" -lt 1 ] || [ "$n" -gt 10 ]; then echo "up.sh: N must be 1..10" >&2; exit 2; fi
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
base=${STRATA_BASE_PORT:-17400}

if [ -f "$dir/nodes.json" ] && grep -q '"pid"' "$dir/nodes.json"; then
  echo "up.sh: $dir/nodes.json exists; run deploy/local/down.sh $dir first" >&2
  exit 1
fi

bin=${STRATA_BIN:-$dir/strata}
if [ -z "${STRATA_BIN:-}" ]; then
  echo "building strata -> $bin"
  (cd "$root" && go build -o "$bin" ./node/cmd/strata)
fi

certs=$dir/certs
if [ ! -f "$certs/ca.pem" ]; then
  "$bin" certs init-ca --dir "$certs" --name local >/dev/null
fi
sites=()
for i in $(seq 1 "$n"); do sites+=("site-$i"); done
site_list=$(IFS=,; echo "${sites[*]}")

for i in $(seq 1 "$n"); do
  site=site-$i
  [ -f "$certs/$site.pem" ] || "$bin" certs issue "$site" --dir "$certs" >/dev/null
  quic=127.0.0.1:$((base + i))
  admin=127.0.0.1:$((base + 100 + i))
  {
    echo "site: $site"
    echo "data_dir: $dir/$site"
    echo "listen: $quic"
    echo "admin: $admin"
    echo "tls:"
    echo "  ca: $certs/ca.pem"
    echo "  cert: $certs/$site.pem"
    echo "  key: $certs/$site-key.pem"
    echo "federation:"
    if [ "$i" -eq 1 ]; then
      echo "  bootstrap: true"
    else
      echo "  join: [127.0.0.1:$((base + 1))]"
    fi
    echo "  sites: [$site_list]"
  } >"$dir/$site.yaml"
done

pids=()
for i in $(seq 1 "$n"); do
  site=site-$i
  "$bin" serve --config "$dir/$site.yaml" >"$dir/$site.log" 2>&1 &
  pids+=($!)
done

{
  echo "["
  for i in $(seq 1 "$n"); do
    site=site-$i
    sep=","; [ "$i" -eq "$n" ] && sep=""
    printf '  {"site": "%s", "pid": %d, "admin": "http://127.0.0.1:%d", "addr": "127.0.0.1:%d", "config": "%s", "log": "%s"}%s\n' \
      "$site" "${pids[$((i-1))]}" $((base + 100 + i)) $((base + i)) "$dir/$site.yaml" "$dir/$site.log" "$sep"
  done
  echo "]"
} >"$dir/nodes.json"

# Wait until every node answers and reports the same leader and all N members.
deadline=$((SECONDS + ${STRATA_UP_TIMEOUT:-60}))
while :; do
  ok=0
  leaders=""
  for i in $(seq 1 "$n"); do
    if ! kill -0 "${pids[$((i-1))]}" 2>/dev/null; then
      echo "up.sh: site-$i exited; its log ($dir/site-$i.log) ends:" >&2
      tail -20 "$dir/site-$i.log" >&2
      exit 1
    fi
    st=$(curl -fsS "http://127.0.0.1:$((base + 100 + i))/v1/status" 2>/dev/null || true)
    leader=$(printf '%s' "$st" | sed -n 's/^  "leader": "\(.*\)",$/\1/p')
    members=$(printf '%s' "$st" | grep -c '"voter":' || true)
    if [ -n "$leader" ] && [ "$members" -eq "$n" ]; then
      ok=$((ok + 1))
      leaders="$leaders $leader"
    fi
  done
  uniq_leaders=$(echo "$leaders" | tr ' ' '\n' | sed '/^$/d' | sort -u | wc -l)
  if [ "$ok" -eq "$n" ] && [ "$uniq_leaders" -eq 1 ]; then break; fi
  if [ $SECONDS -ge $deadline ]; then
    echo "up.sh: federation did not form in time ($ok of $n nodes ready); logs in $dir" >&2
    exit 1
  fi
  sleep 0.2
done
echo "federation of $n nodes formed; leader:$(echo "$leaders" | awk '{print $1}')"
echo "nodes: $dir/nodes.json    stop with: deploy/local/down.sh $dir"
