#!/usr/bin/env bash
# One GET load, three drivers, one run: wrk, plain goose, and `flowgate load`.
# Same target (load/examples/bench_target.rs, GET /health on a release build), same
# concurrency (wrk 2 threads / 8 connections, 8 goose users, 8 flowgate users) and
# duration. Prints the three request rates and the ratios flowgate/goose, goose/wrk.
#
# Usage: bench/load.sh [SECONDS]   (default 10). Needs wrk (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-10}"
USERS=8
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }

echo "building release binaries (once; several minutes on 2 cores)..." >&2
cargo build --release -q -p flowgate-load --example bench_target --example plain_goose
cargo build --release -q -p flowgate
BIN="$CARGO_TARGET_DIR/release"

LOG="$(mktemp)"
"$BIN/examples/bench_target" 0 >"$LOG" &
TARGET_PID=$!
trap 'kill "$TARGET_PID" 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 50); do [ -s "$LOG" ] && break; sleep 0.1; done
URL="$(head -n1 "$LOG")"
echo "target: $URL/health" >&2

# Warm up the target (page faults, allocator) so the first driver is not penalised.
wrk -t1 -c2 -d2s "$URL/health" >/dev/null

WRK_RPS="$(wrk -t2 -c"$USERS" -d"${SECONDS_EACH}s" "$URL/health" | awk '/Requests\/sec/ {print $2}')"
GOOSE_RPS="$("$BIN/examples/plain_goose" "$URL" "$USERS" "$SECONDS_EACH" | sed -n 's/.*rps=\([0-9.]*\).*/\1/p')"
FLOWGATE_JSON="$(mktemp -d)"
FLOWGATE_BENCH_URL="$URL" "$BIN/flowgate" load bench/load_health.yaml \
    --target bench/load.target.yaml --users "$USERS" --duration "${SECONDS_EACH}s" \
    --out "$FLOWGATE_JSON" >/dev/null
FLOWGATE_RPS="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); l=r["load"][0]; print([q for q in l["requests"] if q["name"]=="all"][0]["rps"])' "$FLOWGATE_JSON/report.json")"
rm -rf "$FLOWGATE_JSON"

printf 'wrk (2 threads, %d connections): %10.1f req/s\n' "$USERS" "$WRK_RPS"
printf 'plain goose (%d users):           %10.1f req/s\n' "$USERS" "$GOOSE_RPS"
printf 'flowgate load (%d users):         %10.1f req/s\n' "$USERS" "$FLOWGATE_RPS"
python3 - "$WRK_RPS" "$GOOSE_RPS" "$FLOWGATE_RPS" <<'PY'
import sys
wrk, goose, fg = map(float, sys.argv[1:])
print(f"flowgate/goose: {fg/goose:.2f}   goose/wrk: {goose/wrk:.2f}   flowgate/wrk: {fg/wrk:.2f}")
PY
