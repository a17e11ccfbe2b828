#!/usr/bin/env bash
# Instructions the HTTP server process executes per request, for the reference server and the
# bare axum+sqlx baseline, counted by valgrind's callgrind: the same count on a busy or an
# idle machine, so a change to the server's own code shows even where req/s is too noisy to
# (seen here: the bare GET alone moving 17k-25k req/s from one minute to the next). It does
# not count PostgreSQL's side of a request: bench/api.sh measures the whole.
#
#   bench/instructions.sh [SECONDS]
#
# Needs: valgrind, wrk, jq, PostgreSQL (BENCH_PG_URL, default the local one, without
# database name). Env: FLOWGATE_BIN, BARE_BIN prebuilt release binaries (else built).
# Bounded: per server, a 3 s warm-up and two SECONDS-long (default 8) wrk runs on 127.0.0.1
# with 4 connections; counting starts after the warm-up (callgrind_control --zero).
set -euo pipefail

SECONDS_EACH="${1:-8}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_BASE="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
DB_REF="flowgate_instr_ref_$$"
DB_BARE="flowgate_instr_bare_$$"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
WORK="$(mktemp -d)"
PIDS=()

trap 'end_run "$DB_REF" "$DB_BARE"' EXIT

for tool in valgrind callgrind_control wrk jq; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 3; }
done
BIN="${FLOWGATE_BIN:-$CARGO_TARGET_DIR/release/flowgate}"
BARE="${BARE_BIN:-$CARGO_TARGET_DIR/release/examples/bare_baseline}"
if [ -z "${FLOWGATE_BIN:-}" ] || [ -z "${BARE_BIN:-}" ]; then
  echo "building (release)..." >&2
  (cd "$ROOT" && cargo build --release -q -p flowgate --bin flowgate -p flowgate-server --example bare_baseline)
fi

BODY='{"flow_type":"discovery","initial_data":{"raw_data":[{"application_name":"crm"}]}}'
# count NAME PID DUMP_INDEX URL [SCRIPT]: prints the instructions per request
count() {
  local name="$1" pid="$2" n="$3" url="$4" script="${5:-}" requests total
  callgrind_control --zero "$pid" >/dev/null 2>&1
  if [ -n "$script" ]; then
    requests="$(wrk -t1 -c4 -d"${SECONDS_EACH}s" -s "$script" "$url" | awk '/requests in/ {print $1}')"
  else
    requests="$(wrk -t1 -c4 -d"${SECONDS_EACH}s" "$url" | awk '/requests in/ {print $1}')"
  fi
  callgrind_control --dump "$pid" >/dev/null 2>&1
  for _ in $(seq 1 50); do
    total="$(awk '/^(summary|totals):/ {print $2; exit}' "$WORK"/cg."$pid"."$n" 2>/dev/null || true)"
    [ -n "$total" ] && break
    sleep 0.2
  done
  [ -n "$total" ] && [ -n "$requests" ] && [ "$requests" -gt 0 ] ||
    { echo "no count for $name" >&2; exit 1; }
  echo "$((total / requests))"
}

psql "$PG_BASE/postgres" -qc "CREATE DATABASE $DB_REF" >/dev/null
psql "$PG_BASE/postgres" -qc "CREATE DATABASE $DB_BARE" >/dev/null

PORT_REF="$(free_port)"
valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" "$BIN" serve \
  --listen "127.0.0.1:$PORT_REF" --database-url "$PG_BASE/$DB_REF" --workers 0 \
  --tenant-create-rate 0 >"$WORK/ref.log" 2>&1 &
REF_PID=$!
PIDS+=("$REF_PID")
wait_http "http://127.0.0.1:$PORT_REF/health" 60 # valgrind starts slowly
KEY="$("$BIN" tenant create --name bench --database-url "$PG_BASE/$DB_REF" | jq -r .api_key)"
FLOW_ID="$(curl -fsS -X POST "http://127.0.0.1:$PORT_REF/api/v1/flows" \
  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$BODY" | jq -r .flow_id)"
printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$KEY" >"$WORK/get_ref.lua"
printf 'wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer %s"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' \
  "$KEY" "$BODY" >"$WORK/post_ref.lua"
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' \
  "$BODY" >"$WORK/post_bare.lua"
wrk -t1 -c4 -d3s -s "$WORK/get_ref.lua" "http://127.0.0.1:$PORT_REF/api/v1/flows/$FLOW_ID" >/dev/null
wrk -t1 -c4 -d3s -s "$WORK/post_ref.lua" "http://127.0.0.1:$PORT_REF/api/v1/flows" >/dev/null
REF_GET="$(count "ref GET" "$REF_PID" 1 "http://127.0.0.1:$PORT_REF/api/v1/flows/$FLOW_ID" "$WORK/get_ref.lua")"
REF_POST="$(count "ref POST" "$REF_PID" 2 "http://127.0.0.1:$PORT_REF/api/v1/flows" "$WORK/post_ref.lua")"
kill "$REF_PID" 2>/dev/null || true

PORT_BARE="$(free_port)"
DATABASE_URL="$PG_BASE/$DB_BARE" valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" \
  "$BARE" "127.0.0.1:$PORT_BARE" >"$WORK/bare.out" 2>"$WORK/bare.err" &
BARE_PID=$!
PIDS+=("$BARE_PID")
# The baseline prints the seeded row's id once its table exists, then listens.
for _ in $(seq 1 300); do [ -s "$WORK/bare.out" ] && break; sleep 0.2; done
ROW_ID="$(head -n1 "$WORK/bare.out")"
wait_http "http://127.0.0.1:$PORT_BARE/rows/$ROW_ID" 60 # valgrind starts slowly
wrk -t1 -c4 -d3s "http://127.0.0.1:$PORT_BARE/rows/$ROW_ID" >/dev/null
wrk -t1 -c4 -d3s -s "$WORK/post_bare.lua" "http://127.0.0.1:$PORT_BARE/rows" >/dev/null
BARE_GET="$(count "bare GET" "$BARE_PID" 1 "http://127.0.0.1:$PORT_BARE/rows/$ROW_ID")"
BARE_POST="$(count "bare POST" "$BARE_PID" 2 "http://127.0.0.1:$PORT_BARE/rows" "$WORK/post_bare.lua")"

times() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-26s %14s %14s %8s\n' "server instructions" "reference" "bare" "ref/bare"
printf '%-26s %14s %14s %8s\n' "GET /api/v1/flows/{id}" "$REF_GET" "$BARE_GET" "$(times "$REF_GET" "$BARE_GET")"
printf '%-26s %14s %14s %8s\n' "POST /api/v1/flows" "$REF_POST" "$BARE_POST" "$(times "$REF_POST" "$BARE_POST")"
