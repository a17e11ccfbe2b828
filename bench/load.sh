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

BIN="$CARGO_TARGET_DIR/release"
# SKIP_BUILD=1: use the release binaries already in $CARGO_TARGET_DIR/release (built e.g. with
# `cargo build --release -p flowgate --bin flowgate -p flowgate-load --example bench_target
# --example plain_goose --example flowgate_load`). FLOWGATE_BIN overrides the flowgate binary.
# FLOWGATE_ENGINE_ONLY=1: drive the flowgate arm with load/examples/flowgate_load.rs (the
# same loader, plan and engine as `flowgate load`, without building the reference server).
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "building release binaries (once; several minutes on 2 cores)..." >&2
    if [ "${FLOWGATE_ENGINE_ONLY:-0}" = 1 ]; then
        cargo build --release -q -p flowgate-load --example bench_target --example plain_goose \
            --example flowgate_load
    else
        cargo build --release -q -p flowgate-load --example bench_target --example plain_goose \
            -p flowgate --bin flowgate
    fi
fi
FLOWGATE="${FLOWGATE_BIN:-$BIN/flowgate}"

LOG="$(mktemp)"
"$BIN/examples/bench_target" 0 >"$LOG" &
TARGET_PID=$!
trap 'kill "$TARGET_PID" 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 50); do [ -s "$LOG" ] && break; sleep 0.1; done
URL="$(head -n1 "$LOG")"
echo "target: $URL/health" >&2

# Warm up the target (page faults, allocator) so the first driver is not penalised.
wrk -t1 -c2 -d2s "$URL/health" >/dev/null

WRK_OUT="$(wrk --latency -t2 -c"$USERS" -d"${SECONDS_EACH}s" "$URL/health")"
printf '%s\n' "$WRK_OUT" >&2
WRK_RPS="$(printf '%s\n' "$WRK_OUT" | awk '/Requests\/sec/ {print $2}')"
GOOSE_RPS="$("$BIN/examples/plain_goose" "$URL" "$USERS" "$SECONDS_EACH" | sed -n 's/.*rps=\([0-9.]*\).*/\1/p')"
if [ "${FLOWGATE_ENGINE_ONLY:-0}" = 1 ]; then
    FLOWGATE_RPS="$(FLOWGATE_BENCH_URL="$URL" "$BIN/examples/flowgate_load" bench/load_health.yaml \
        bench/load.target.yaml "$USERS" "$SECONDS_EACH" | sed -n 's/^rps=//p')"
else
    FLOWGATE_JSON="$(mktemp)"
    FLOWGATE_BENCH_URL="$URL" "$FLOWGATE" load bench/load_health.yaml -q \
        --target bench/load.target.yaml --users "$USERS" --duration "${SECONDS_EACH}s" \
        --json "$FLOWGATE_JSON" >&2 || true
    FLOWGATE_RPS="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); l=r["load"][0]; print([q for q in l["requests"] if q["name"]=="all"][0]["rps"])' "$FLOWGATE_JSON")"
    rm -f "$FLOWGATE_JSON"
fi

printf 'wrk (2 threads, %d connections): %10.1f req/s\n' "$USERS" "$WRK_RPS"
printf 'plain goose (%d users):           %10.1f req/s\n' "$USERS" "$GOOSE_RPS"
printf 'flowgate load (%d users):         %10.1f req/s\n' "$USERS" "$FLOWGATE_RPS"
python3 - "$WRK_RPS" "$GOOSE_RPS" "$FLOWGATE_RPS" <<'PY'
import sys
wrk, goose, fg = map(float, sys.argv[1:])
print(f"flowgate/goose: {fg/goose:.2f}   goose/wrk: {goose/wrk:.2f}   flowgate/wrk: {fg/wrk:.2f}")
PY
