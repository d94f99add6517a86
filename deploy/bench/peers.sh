#!/usr/bin/env bash
# Reproducible comparison of `strata analyze` with the RFM peers (pandas, DuckDB,
# PostgreSQL) on the 10M-row file of ../shared/peers/gen.py.
#
# Usage: deploy/bench/peers.sh            (from the repository root)
# Env:   RUNS=5 WARMUP=1                  timed runs and discarded warm-up runs per mode
#        DATA=/tmp/tx_10m.csv             input (generated with gen.py if absent, ~42 s)
#        PEERS=/work/shared/peers         the peers directory (gen.py, compare.py, rfm_*.py)
#        DUCKDB_DIR=DIR                   a copy of the peers directory with node_modules installed
#                                         (npm install): DuckDB is then also run in this session
#        PANDAS=1                         also run the pandas peer once for the agreement check
#                                         (else only the recorded md5 of the peers' output is checked)
#        OUT=/tmp/strata_bench            work directory
#
# It prints a markdown table: median wall time [min-max], median peak RSS and CPU of
# `strata analyze --only rfm` (like-for-like with the peers: parse + aggregate + score + write
# users.csv) and of the full analysis (plus segments, lifecycle, k-means, BG/NBD + Gamma-Gamma),
# with ratios to the peers' medians recorded in ../shared/peers/README.md (2026-11-23, same
# machine type) and, with DUCKDB_DIR, to DuckDB measured in this session.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
DATA=${DATA:-/tmp/tx_10m.csv}
PEERS=${PEERS:-$ROOT/../shared/peers}
OUT=${OUT:-/tmp/strata_bench}
PY=/usr/bin/python3
REF_MD5=09f281fbb050acb8bf08a9561319ddd0 # users.csv of all three peers on the 10M file (peers README)

mkdir -p "$OUT"
if [ ! -f "$DATA" ]; then
  echo "generating $DATA (about 42 s, 2 GiB RSS)" >&2
  "$PY" "$PEERS/gen.py" --rows 10000000 --users 1000000 --seed 1 --out "$DATA.part"
  mv "$DATA.part" "$DATA"
fi
echo "building strata" >&2
(cd "$ROOT" && go build -o "$OUT/strata" ./node/cmd/strata)

# run_once LABEL CMD...: one run under /usr/bin/time -v; appends "label wall_s rss_mib cpu_s" to
# runs.txt unless WARM=1.
run_once() {
  local label=$1; shift
  /usr/bin/time -v "$@" >"$OUT/$label.stdout" 2>"$OUT/$label.time" || { cat "$OUT/$label.time" >&2; exit 1; }
  [ "${WARM:-0}" = 1 ] && return 0
  awk -v l="$label" '
    /Elapsed \(wall clock\)/ { n = split($NF, p, ":"); w = (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
    /Maximum resident set size/ { r = $NF / 1024 }
    /User time/ { u = $NF } /System time/ { s = $NF }
    END { printf "%s %.2f %.0f %.2f\n", l, w, r, u + s }' "$OUT/$label.time" >>"$OUT/runs.txt"
}

# The measured commands run interleaved (one of each per round), so that load from other
# processes on a shared machine hits all of them alike.
round() {
  run_once strata_rfm "$OUT/strata" analyze "$DATA" --out "$OUT/rfm" --only rfm --quiet
  run_once strata_full "$OUT/strata" analyze "$DATA" --out "$OUT/full" --quiet
  if [ -n "${DUCKDB_DIR:-}" ]; then
    run_once duckdb node "$DUCKDB_DIR/rfm_duckdb.mjs" "$DATA" "$OUT/duckdb.csv"
  fi
}

: >"$OUT/runs.txt"
echo "timing: $WARMUP warm-up + $RUNS interleaved rounds of strata --only rfm, strata (full)${DUCKDB_DIR:+, DuckDB}" >&2
for ((i = 0; i < WARMUP; i++)); do WARM=1 round; done
for ((i = 0; i < RUNS; i++)); do round; echo "  round $((i + 1))/$RUNS done" >&2; done

# Agreement: R/F/M columns of both strata outputs against the peers.
got_md5=$(md5sum <"$OUT/rfm/users.csv" | cut -d' ' -f1)
cut -d, -f1-7 "$OUT/full/users.csv" >"$OUT/full_rfm.csv"
full_md5=$(md5sum <"$OUT/full_rfm.csv" | cut -d' ' -f1)
agree="users.csv md5 $got_md5 (--only rfm), $full_md5 (full, first 7 columns); peers' recorded md5 $REF_MD5"
if [ "$got_md5" = "$REF_MD5" ] && [ "$full_md5" = "$REF_MD5" ]; then agree="IDENTICAL to the peers: $agree"; else agree="DIFFERENT: $agree"; fi
if [ -f "$OUT/duckdb.csv" ]; then
  "$PY" "$PEERS/compare.py" "$OUT/duckdb.csv" "$OUT/rfm/users.csv" "$OUT/full_rfm.csv" >"$OUT/compare.txt" || true
fi
if [ "${PANDAS:-0}" = 1 ]; then
  [ -f "$OUT/pandas.csv" ] || "$PY" "$PEERS/rfm_pandas.py" "$DATA" "$OUT/pandas.csv" 2>/dev/null
  "$PY" "$PEERS/compare.py" "$OUT/pandas.csv" "$OUT/rfm/users.csv" "$OUT/full_rfm.csv" >>"$OUT/compare.txt" || true
fi

"$PY" - "$OUT/runs.txt" "$agree" "$RUNS" <<'EOF'
import statistics, sys
runs, agree, n = sys.argv[1], sys.argv[2], sys.argv[3]
rows = {}
for line in open(runs):
    l, w, r, c = line.split()
    rows.setdefault(l, []).append((float(w), float(r), float(c)))
# Recorded medians of the peers (../shared/peers/README.md, 10M rows / 1M users).
peers = {"DuckDB (recorded)": (6.68, 778), "pandas (recorded)": (26.67, 1119), "PostgreSQL (recorded)": (36.94, 1609)}
names = {"strata_rfm": "strata analyze --only rfm", "strata_full": "strata analyze (full)", "duckdb": "DuckDB (this session)"}
med = {l: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for l, v in rows.items()}
duck = med.get("duckdb", peers["DuckDB (recorded)"])
print(f"| run (10M rows, 1M users; {n} timed runs) | wall s (median) | [min–max] | peak RSS MiB | CPU s | wall / DuckDB | RSS / DuckDB |")
print("|---|---:|---|---:|---:|---:|---:|")
for l, v in rows.items():
    w, r = med[l]
    c = statistics.median(x[2] for x in v)
    lo, hi = min(x[0] for x in v), max(x[0] for x in v)
    print(f"| {names.get(l, l)} | {w:.2f} | {lo:.2f}–{hi:.2f} | {r:.0f} | {c:.2f} | {w / duck[0]:.2f} | {r / duck[1]:.2f} |")
for l, (w, r) in peers.items():
    print(f"| {l} | {w:.2f} | | {r:.0f} | | {w / duck[0]:.2f} | {r / duck[1]:.2f} |")
print()
print("Ratios are against DuckDB measured in this session (interleaved runs)" if "duckdb" in med else "Ratios are against DuckDB's recorded median")
print(f"Load average at the end: {open('/proc/loadavg').read().split()[:3]}")
print(f"Agreement: {agree}")
EOF
[ -f "$OUT/compare.txt" ] && cat "$OUT/compare.txt"
exit 0
