#!/usr/bin/env bash
# Engine throughput on PostgreSQL: creates N discovery flows against a release
# `flowgate serve --workers 0` (the API alone), then starts a server with WORKERS engine
# workers and times the engine alone until every flow has finished; prints phase
# transitions/s beside pgbench's rates measured in the same run on the same server
# (jsonb inserts, and `pgbench -N` with 8 clients and with as many clients as workers),
# so the figure is read as a ratio to what the database itself does on this machine.
#
# Usage: bench/engine.sh [N=500] [WORKERS=4]
# Env:   PGURL (default postgres://postgres@127.0.0.1:5432/postgres)  admin connection
#        FLOWGATE_BIN (default: builds target/release/flowgate with cargo)
#        PGBENCH_SECONDS (default 10), TIMEOUT_SECONDS (default 300)
#        SERVE_ARGS: more `flowgate serve` flags (e.g. "--tenant-max-running 0": one
#        tenant may use every worker; by default it gets all but one)
# Everything runs on 127.0.0.1; the bench database is dropped at exit.
set -euo pipefail

N=${1:-500}
WORKERS=${2:-4}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-10}
TIMEOUT_SECONDS=${TIMEOUT_SECONDS:-300}
PHASES=6
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

if [[ -z "${FLOWGATE_BIN:-}" ]]; then
    cargo build --release -p flowgate --quiet
    FLOWGATE_BIN="${CARGO_TARGET_DIR:-target}/release/flowgate"
fi

DB="flowgate_bench_$(date +%s)_$$"
DBURL="${PGURL%/*}/$DB"
SERVER_PID=""
WORK=$(mktemp -d)
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

psql -q "$PGURL" -c "CREATE DATABASE $DB" >/dev/null

# --- pgbench: 8 clients inserting one jsonb row per transaction ------------------------
psql -q "$DBURL" -c "CREATE TABLE pgbench_jsonb (id bigserial PRIMARY KEY, doc jsonb NOT NULL)" >/dev/null
cat >"$WORK/insert.sql" <<'SQL'
INSERT INTO pgbench_jsonb (doc) VALUES ('{"flow_type":"discovery","status":"running","phase":"data_import","output":{"records":3,"assets":["web","api","db"]}}');
SQL
PGBENCH_TPS=$(pgbench -n -c 8 -j 2 -T "$PGBENCH_SECONDS" -f "$WORK/insert.sql" "$DBURL" 2>/dev/null \
    | awk '/^tps/ {print $3; exit}')
psql -q "$DBURL" -c "DROP TABLE pgbench_jsonb" >/dev/null
# --- pgbench -N ("simple update": -N skips the branch and teller updates, leaving one
# UPDATE, one SELECT and one INSERT per transaction), 8 clients, scale 1.
pgbench -i -q -s 1 "$DBURL" >/dev/null 2>&1
pgbench_n() { # CLIENTS: pgbench -N's tps
    pgbench -n -N -c "$1" -j "$(( $1 < 2 ? $1 : 2 ))" -T "$PGBENCH_SECONDS" "$DBURL" 2>/dev/null \
        | awk '/^tps/ {print $3; exit}'
}
PGBENCH_N_TPS=$(pgbench_n 8)
# The same with one client per engine worker: the like-for-like concurrency.
PGBENCH_NW_TPS=$(pgbench_n "$WORKERS")
psql -q "$DBURL" -c "DROP TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history" >/dev/null

# --- the server ---------------------------------------------------------------------------
KEY=$("$FLOWGATE_BIN" tenant create --name bench --database-url "$DBURL" | jq -r .api_key)
PORT=$(free_port)
serve() {
    RUST_LOG=warn "$FLOWGATE_BIN" serve --listen "127.0.0.1:$PORT" --database-url "$DBURL" \
        --tenant-create-rate 0 "$@" >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$PORT/health"
}
serve --workers 0

BODY='{"flow_type":"discovery","initial_data":{"raw_data":[
 {"application_name":"web","business_criticality":"high","dependencies":["api"],"technology_stack":["Java"]},
 {"application_name":"api","business_criticality":"critical","dependencies":["db"],"technology_stack":["Java"]},
 {"application_name":"db","business_criticality":"critical","technology_stack":["PostgreSQL"]}]}}'
echo "$BODY" >"$WORK/body.json"

# One curl process, 8 requests in flight: spawning a curl per flow capped creation at
# ~80 flows/s on 2 cores, which measured process startup rather than the server.
for _ in $(seq 1 "$N"); do
    printf 'url = "http://127.0.0.1:%s/api/v1/flows"\noutput = "/dev/null"\n' "$PORT"
done >"$WORK/curl.cfg"
CREATE_START=$(date +%s.%N)
curl -sS --no-progress-meter -Z --parallel-max 8 -X POST -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' --data-binary "@$WORK/body.json" \
    -w '%{http_code}\n' -K "$WORK/curl.cfg" >"$WORK/codes.txt"
CREATED=$(date +%s.%N)
BAD=$(grep -vc '^2' "$WORK/codes.txt" || true)
if [[ "$BAD" -ne 0 || $(wc -l <"$WORK/codes.txt") -ne "$N" ]]; then
    echo "flow creation: $BAD of $N requests did not answer 2xx:" >&2
    sort "$WORK/codes.txt" | uniq -c >&2
    exit 1
fi
kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
# Planner statistics for the tables just filled, as `pgbench -i` gives its own tables
# (autovacuum, which would otherwise do it, may be off, as it is on the bench machine).
psql -q "$DBURL" -c "ANALYZE" >/dev/null
# shellcheck disable=SC2086 # SERVE_ARGS is a list of flags
serve --workers "$WORKERS" ${SERVE_ARGS:-}
START=$(date +%s.%N)
DEADLINE=$(( $(date +%s) + TIMEOUT_SECONDS ))
while :; do
    DONE=$(psql -tAq "$DBURL" -c "SELECT COUNT(*) FROM flows WHERE status IN ('completed','failed')")
    [[ "$DONE" -ge "$N" ]] && break
    if [[ $(date +%s) -ge $DEADLINE ]]; then
        echo "timeout: $DONE of $N flows finished within ${TIMEOUT_SECONDS}s" >&2
        exit 1
    fi
    sleep 0.1
done
END=$(date +%s.%N)
FAILED=$(psql -tAq "$DBURL" -c "SELECT COUNT(*) FROM flows WHERE status = 'failed'")
TRANSITIONS=$(psql -tAq "$DBURL" -c "SELECT COUNT(*) FROM flow_events WHERE kind = 'phase_completed'")
# The engine's own window: first phase started to last phase completed (server clock).
ENGINE_WINDOW=$(psql -tAq "$DBURL" -c "SELECT EXTRACT(EPOCH FROM MAX(at) - MIN(at)) FROM flow_events
    WHERE kind IN ('phase_started', 'phase_completed')")

awk -v n="$N" -v cs="$CREATE_START" -v s="$START" -v c="$CREATED" -v e="$END" -v t="$TRANSITIONS" -v p="$PGBENCH_TPS" \
    -v w="$WORKERS" -v f="$FAILED" -v pn="$PGBENCH_N_TPS" -v cores="$(nproc)" -v ew="$ENGINE_WINDOW" -v ph="$PHASES" -v pnw="$PGBENCH_NW_TPS" 'BEGIN {
    el = e - s; fps = n / el; tps = t / el;
    printf "engine bench: %d discovery flows (%d phases each), %d workers, 1 process, %d cores\n", n, ph, w, cores;
    printf "  created in           %8.2f s (%.0f creates/s, engine stopped)\n", c - cs, n / (c - cs);
    printf "  engine started, all finished in %8.2f s (failed: %d)\n", el, f;
    printf "  flows/s              %8.1f\n", fps;
    printf "  phase transitions/s  %8.1f\n", tps;
    printf "  engine window        %8.2f s (first phase start to last phase end): %.1f transitions/s\n", ew, t / ew;
    printf "  pgbench jsonb inserts/s (8 clients) %8.1f\n", p;
    printf "  transitions per pgbench insert      %8.3f\n", tps / p;
    printf "  pgbench -N tps (8 clients, scale 1) %8.1f\n", pn;
    printf "  transitions per pgbench -N tx       %8.3f (engine window: %.3f)\n", tps / pn, (t / ew) / pn;
    printf "  pgbench -N tps (%d clients = workers) %8.1f\n", w, pnw;
    printf "  transitions per pgbench -N tx       %8.3f (engine window: %.3f)\n", tps / pnw, (t / ew) / pnw;
}'
