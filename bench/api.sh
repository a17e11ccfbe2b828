#!/usr/bin/env bash
# API throughput of the reference server on PostgreSQL beside a bare axum+sqlx baseline,
# measured in the same run on loopback, printed as req/s and ratios.
#
#   bench/api.sh [DURATION_SECONDS] [CONNECTIONS] [ROUNDS]
#
# Needs: wrk, jq, PostgreSQL (BENCH_PG_URL, default the local one, without database name).
# Env:   FLOWGATE_BIN, BARE_BIN  prebuilt release binaries (flowgate, examples/bare_baseline);
#        without both, builds them with cargo. WRK_OUT=FILE keeps the raw wrk outputs.
# Bounded: each wrk run lasts DURATION seconds (default 10) on 127.0.0.1 only; five runs a
# round, ROUNDS rounds (default 3).
set -euo pipefail

DURATION="${1:-10}"
CONNS="${2:-32}"
ROUNDS="${3:-3}"
THREADS=2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_BASE="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
DB_NAME="flowgate_bench_$$"
DB_URL="$PG_BASE/$DB_NAME"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PORT_REF="$(free_port)"
PORT_BARE="$(free_port)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$(mktemp -d)"
PIDS=()

trap 'end_run "$DB_NAME"' EXIT

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 3; }

cd "$ROOT"
# FLOWGATE_BIN / BARE_BIN: prebuilt release binaries (skips the build).
BIN="${FLOWGATE_BIN:-$CARGO_TARGET_DIR/release/flowgate}"
BARE="${BARE_BIN:-$CARGO_TARGET_DIR/release/examples/bare_baseline}"
if [ -z "${FLOWGATE_BIN:-}" ] || [ -z "${BARE_BIN:-}" ]; then
  echo "building (release)..." >&2
  cargo build --release -q -p flowgate --bin flowgate -p flowgate-server --example bare_baseline
fi
command -v jq >/dev/null || { echo "jq is not installed: apt-get install -y jq" >&2; exit 3; }

psql "$PG_BASE/postgres" -qc "CREATE DATABASE $DB_NAME" >/dev/null

# Reference server: API only (no workers), so that the figures measure the HTTP path.
# No create rate limit either: the POST figure is the server's rate, not the limit's.
"$BIN" serve --listen "127.0.0.1:$PORT_REF" --database-url "$DB_URL" --workers 0 \
  --tenant-create-rate 0 >"$WORK/ref.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT_REF/health"
CREDS="$("$BIN" tenant create --name bench --database-url "$DB_URL")"
KEY="$(printf '%s' "$CREDS" | jq -r .api_key)"
FLOW_ID="$(curl -fsS -X POST "http://127.0.0.1:$PORT_REF/api/v1/flows" \
  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"flow_type":"discovery","initial_data":{"raw_data":[{"application_name":"crm"}]}}' |
  jq -r .flow_id)"
[ -n "$FLOW_ID" ] && [ "$FLOW_ID" != null ] || { echo "could not create the flow to read" >&2; exit 3; }

DATABASE_URL="$DB_URL" "$BARE" "127.0.0.1:$PORT_BARE" >"$WORK/bare.out" 2>&1 &
PIDS+=($!)
# The baseline prints the seeded row's id once its table exists, then listens.
for _ in $(seq 1 100); do [ -s "$WORK/bare.out" ] && break; sleep 0.1; done
ROW_ID="$(head -n1 "$WORK/bare.out")"
wait_http "http://127.0.0.1:$PORT_BARE/rows/$ROW_ID"

cat >"$WORK/post_ref.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"flow_type":"discovery","initial_data":{"raw_data":[{"application_name":"crm"}]}}'
LUA
cat >"$WORK/get_ref.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
cat >"$WORK/post_bare.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"flow_type":"discovery","initial_data":{"raw_data":[{"application_name":"crm"}]}}'
LUA

rate() { # name url [script]: prints "req/s p50 p99" and keeps wrk's output
  local name="$1" url="$2" out
  if [ -n "${3:-}" ]; then
    out="$(wrk --latency -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s "$3" "$url")"
  else
    out="$(wrk --latency -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "$url")"
  fi
  printf '== %s: %s\n%s\n' "$name" "$url" "$out" >>"$WORK/wrk.txt"
  if printf '%s' "$out" | grep -q "Non-2xx\|Socket errors"; then
    echo "errors from $url:" >&2
    printf '%s\n' "$out" >&2
    exit 1
  fi
  printf '%s' "$out" | awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print r, p50, p99}'
}

# Rounds alternate the two servers (bare GET, ref GET, ref compat, bare POST, ref POST), so
# that a slow spell of the machine (seen here: the bare GET alone moving 17k-25k req/s
# between minutes) lands on both sides of a ratio; the table gives each round's ratios and
# the medians.
ROUND_ROWS=()
GET_RATIOS=() COMPAT_RATIOS=() POST_RATIOS=()
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for round in $(seq 1 "$ROUNDS"); do
  read -r BARE_GET BARE_GET_P50 BARE_GET_P99 < <(rate "bare GET" "http://127.0.0.1:$PORT_BARE/rows/$ROW_ID")
  read -r REF_GET REF_GET_P50 REF_GET_P99 < <(rate "ref GET" "http://127.0.0.1:$PORT_REF/api/v1/flows/$FLOW_ID" "$WORK/get_ref.lua")
  read -r REF_COMPAT REF_COMPAT_P50 REF_COMPAT_P99 < <(rate "ref compat status GET" "http://127.0.0.1:$PORT_REF/api/v1/unified-discovery/flow/$FLOW_ID/status" "$WORK/get_ref.lua")
  read -r BARE_POST BARE_POST_P50 BARE_POST_P99 < <(rate "bare POST" "http://127.0.0.1:$PORT_BARE/rows" "$WORK/post_bare.lua")
  read -r REF_POST REF_POST_P50 REF_POST_P99 < <(rate "ref POST" "http://127.0.0.1:$PORT_REF/api/v1/flows" "$WORK/post_ref.lua")
  for v in "$BARE_GET" "$REF_GET" "$REF_COMPAT" "$BARE_POST" "$REF_POST"; do
    [ -n "$v" ] || { echo "a wrk run failed:" >&2; cat "$WORK/wrk.txt" >&2; exit 1; }
  done
  GET_RATIOS+=("$(ratio "$REF_GET" "$BARE_GET")")
  COMPAT_RATIOS+=("$(ratio "$REF_COMPAT" "$BARE_GET")")
  POST_RATIOS+=("$(ratio "$REF_POST" "$BARE_POST")")
  ROUND_ROWS+=("$(printf '%-26s %10s %9s %9s %10s %9s %9s %7s' "round $round GET" "$REF_GET" "$REF_GET_P50" \
    "$REF_GET_P99" "$BARE_GET" "$BARE_GET_P50" "$BARE_GET_P99" "${GET_RATIOS[-1]}")")
  ROUND_ROWS+=("$(printf '%-26s %10s %9s %9s %10s %9s %9s %7s' "round $round compat" "$REF_COMPAT" \
    "$REF_COMPAT_P50" "$REF_COMPAT_P99" "$BARE_GET" "$BARE_GET_P50" "$BARE_GET_P99" "${COMPAT_RATIOS[-1]}")")
  ROUND_ROWS+=("$(printf '%-26s %10s %9s %9s %10s %9s %9s %7s' "round $round POST" "$REF_POST" "$REF_POST_P50" \
    "$REF_POST_P99" "$BARE_POST" "$BARE_POST_P50" "$BARE_POST_P99" "${POST_RATIOS[-1]}")")
done
if [ -n "${WRK_OUT:-}" ]; then cp "$WORK/wrk.txt" "$WRK_OUT"; fi

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
printf '%-26s %10s %9s %9s %10s %9s %9s %7s\n' "wrk ${THREADS}t/${CONNS}c/${DURATION}s" \
  "req/s" "p50" "p99" "base req/s" "base p50" "base p99" "ratio"
printf '%s\n' "${ROUND_ROWS[@]}"
printf 'median of %s round(s): GET /api/v1/flows/{id} %s, GET compat .../status %s, POST /api/v1/flows %s\n' \
  "$ROUNDS" "$(median "${GET_RATIOS[@]}")" "$(median "${COMPAT_RATIOS[@]}")" "$(median "${POST_RATIOS[@]}")"
