#!/usr/bin/env bash
# API throughput of the reference server on PostgreSQL beside a bare axum+sqlx baseline,
# measured in the same run on loopback, printed as req/s and ratios.
#
#   bench/api.sh [DURATION_SECONDS] [CONNECTIONS]
#
# Needs: wrk (apt-get install -y wrk), PostgreSQL (DATABASE_URL, default the local one).
# Bounded: each wrk run lasts DURATION seconds (default 10) on 127.0.0.1 only.
set -euo pipefail

DURATION="${1:-10}"
CONNS="${2:-32}"
THREADS=2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_BASE="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
DB_NAME="flowgate_bench_$$"
DB_URL="$PG_BASE/$DB_NAME"
PORT_REF=18090
PORT_BARE=18091
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 3; }

echo "building (release)..." >&2
cargo build --release -q --bin flowgate
cargo build --release -q -p flowgate-server --example bare_baseline
BIN="$CARGO_TARGET_DIR/release/flowgate"
BARE="$CARGO_TARGET_DIR/release/examples/bare_baseline"

psql "$PG_BASE/postgres" -qc "CREATE DATABASE $DB_NAME" >/dev/null

wait_http() {
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server at $1 did not start" >&2
  exit 3
}

# Reference server: API only (no workers), so that the figures measure the HTTP path.
"$BIN" serve --listen "127.0.0.1:$PORT_REF" --database-url "$DB_URL" --workers 0 \
  >"$WORK/ref.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT_REF/health"
CREDS="$("$BIN" tenant create --name bench --database-url "$DB_URL")"
KEY="$(printf '%s' "$CREDS" | sed -n 's/.*"api_key": "\([^"]*\)".*/\1/p')"
FLOW_ID="$(curl -fsS -X POST "http://127.0.0.1:$PORT_REF/api/v1/flows" \
  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"flow_type":"discovery","initial_data":{"raw_data":[{"application_name":"crm"}]}}' |
  sed -n 's/.*"flow_id":"\([^"]*\)".*/\1/p')"

DATABASE_URL="$DB_URL" "$BARE" "127.0.0.1:$PORT_BARE" >"$WORK/bare.out" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT_BARE/rows/00000000-0000-0000-0000-000000000000" || true
sleep 0.5
ROW_ID="$(head -n1 "$WORK/bare.out")"

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

rate() { # url [script]
  local out
  if [ -n "${2:-}" ]; then
    out="$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s "$2" "$1")"
  else
    out="$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "$1")"
  fi
  if printf '%s' "$out" | grep -q "Non-2xx"; then
    echo "non-2xx responses from $1:" >&2
    printf '%s\n' "$out" >&2
    exit 1
  fi
  printf '%s' "$out" | awk '/Requests\/sec/ {print $2}'
}

BARE_GET="$(rate "http://127.0.0.1:$PORT_BARE/rows/$ROW_ID")"
REF_GET="$(rate "http://127.0.0.1:$PORT_REF/api/v1/flows/$FLOW_ID" "$WORK/get_ref.lua")"
BARE_POST="$(rate "http://127.0.0.1:$PORT_BARE/rows" "$WORK/post_bare.lua")"
REF_POST="$(rate "http://127.0.0.1:$PORT_REF/api/v1/flows" "$WORK/post_ref.lua")"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-34s %12s %12s %8s\n' "endpoint (wrk ${THREADS}t/${CONNS}c/${DURATION}s)" "req/s" "baseline" "ratio"
printf '%-34s %12s %12s %8s\n' "GET /api/v1/flows/{id}" "$REF_GET" "$BARE_GET" "$(ratio "$REF_GET" "$BARE_GET")"
printf '%-34s %12s %12s %8s\n' "POST /api/v1/flows" "$REF_POST" "$BARE_POST" "$(ratio "$REF_POST" "$BARE_POST")"
