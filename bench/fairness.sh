#!/usr/bin/env bash
# Fairness between tenants on PostgreSQL: tenant A floods creates for SECONDS (wrk, 8
# connections) while tenant B creates one flow per second; prints B's time from create to
# its first phase starting (p50/p99/max, server clock) beside A's, and how many of A's
# creates were refused 429 by the create rate limit. Runs twice: with the server's default
# limits, and with the create rate limit off (--tenant-create-rate 0), which shows what
# the scheduler alone does with a backlog of thousands of A's flows.
#
# Usage: bench/fairness.sh [SECONDS=20] [WORKERS=4]
# Env:   PGURL (default postgres://postgres@127.0.0.1:5432/postgres)  admin connection
#        FLOWGATE_BIN (default: builds target/release/flowgate with cargo)
#        BOUND_MS (default 1000): exit 1 if B's p99 is above it in either run.
# Bounded: each flood lasts SECONDS, the wait for B's flows at most 60 s; 127.0.0.1 only;
# the bench databases are dropped at exit.
set -euo pipefail

SECONDS_FLOOD=${1:-20}
WORKERS=${2:-4}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
BOUND_MS=${BOUND_MS:-1000}
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 3; }
command -v jq >/dev/null || { echo "jq is not installed: apt-get install -y jq" >&2; exit 3; }
if [[ -z "${FLOWGATE_BIN:-}" ]]; then
    cargo build --release -p flowgate --quiet
    FLOWGATE_BIN="${CARGO_TARGET_DIR:-target}/release/flowgate"
fi

WORK=$(mktemp -d)
SERVER_PID=""
DBS=()
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    for db in "${DBS[@]:-}"; do
        [[ -n "$db" ]] && psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

BODY='{"flow_type":"discovery","initial_data":{"raw_data":[{"application_name":"web","dependencies":["db"]},{"application_name":"db"}]}}'
FAILED=0

# run LABEL [serve flags...]: one flood, one report.
run() {
    local label="$1"
    shift
    local db="flowgate_fair_$(date +%s)_$$_${#DBS[@]}"
    local dburl="${PGURL%/*}/$db"
    DBS+=("$db")
    psql -q "$PGURL" -c "CREATE DATABASE $db" >/dev/null
    local key_a key_b account_b port
    key_a=$("$FLOWGATE_BIN" tenant create --name flood --database-url "$dburl" | jq -r .api_key)
    local creds_b
    creds_b=$("$FLOWGATE_BIN" tenant create --name quiet --database-url "$dburl")
    key_b=$(jq -r .api_key <<<"$creds_b")
    account_b=$(jq -r .client_account_id <<<"$creds_b")
    port=$(free_port)
    RUST_LOG=warn "$FLOWGATE_BIN" serve --listen "127.0.0.1:$port" --database-url "$dburl" \
        --workers "$WORKERS" "$@" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$port/health"

    cat >"$WORK/flood.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key_a"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
LUA
    wrk -t2 -c8 -d"${SECONDS_FLOOD}s" -s "$WORK/flood.lua" "http://127.0.0.1:$port/api/v1/flows" \
        >"$WORK/wrk.txt" 2>&1 &
    local wrk_pid=$!
    sleep 1 # let A's backlog build first
    local b_sent=0 b_bad=0
    for _ in $(seq 1 $((SECONDS_FLOOD - 2))); do
        code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/v1/flows" \
            -H "Authorization: Bearer $key_b" -H 'Content-Type: application/json' --data-binary "$BODY")
        b_sent=$((b_sent + 1))
        [[ "$code" == 201 ]] || b_bad=$((b_bad + 1))
        sleep 1
    done
    wait "$wrk_pid" || true

    # Wait (at most 60 s) until every flow of B has started a phase.
    local deadline=$(( $(date +%s) + 60 )) waiting
    while :; do
        waiting=$(psql -tAq "$dburl" -c "SELECT COUNT(*) FROM flows f WHERE f.client_account_id = '$account_b'
            AND NOT EXISTS (SELECT 1 FROM flow_events e WHERE e.flow_id = f.id AND e.kind = 'phase_started')")
        [[ "$waiting" -eq 0 || $(date +%s) -ge $deadline ]] && break
        sleep 0.2
    done
    local a_total a_429 a_created a_backlog
    a_total=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
    a_429=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.txt")
    a_created=$(psql -tAq "$dburl" -c "SELECT COUNT(*) FROM flows WHERE client_account_id <> '$account_b'")
    a_backlog=$(psql -tAq "$dburl" -c "SELECT COUNT(*) FROM flows WHERE client_account_id <> '$account_b' AND status IN ('initialized', 'running')")
    # First phase start minus creation, per flow, per tenant (ms, server clock).
    local stats
    stats=$(psql -tAq -F ' ' "$dburl" -c "
        WITH waits AS (
            SELECT f.client_account_id = '$account_b' AS is_b,
                   EXTRACT(EPOCH FROM (MIN(e.at) - f.created_at)) * 1000 AS ms
            FROM flows f JOIN flow_events e ON e.flow_id = f.id AND e.kind = 'phase_started'
            GROUP BY f.id, f.created_at, f.client_account_id)
        SELECT is_b, COUNT(*),
               ROUND(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 0),
               ROUND(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 0),
               ROUND(MAX(ms)::numeric, 0)
        FROM waits GROUP BY is_b ORDER BY is_b DESC")
    kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""

    local b_line a_line
    b_line=$(awk '$1 == "t"' <<<"$stats")
    a_line=$(awk '$1 == "f"' <<<"$stats")
    read -r _ b_n b_p50 b_p99 b_max <<<"$b_line"
    read -r _ a_n a_p50 a_p99 a_max <<<"${a_line:-f 0 - - -}"
    printf '%s (serve %s)\n' "$label" "${*:-with its defaults}"
    printf '  A flood: %s requests in %ss, %s refused 429, %s flows created, %s not finished at the end\n' \
        "${a_total:-?}" "$SECONDS_FLOOD" "${a_429:-0}" "$a_created" "$a_backlog"
    printf '  %-8s %7s %10s %10s %10s\n' tenant flows "p50 ms" "p99 ms" "max ms"
    printf '  %-8s %7s %10s %10s %10s   (time from create to first phase start)\n' A "$a_n" "$a_p50" "$a_p99" "$a_max"
    printf '  %-8s %7s %10s %10s %10s   (%s sent, %s not 201, %s never started)\n' B "${b_n:-0}" \
        "${b_p50:--}" "${b_p99:--}" "${b_max:--}" "$b_sent" "$b_bad" "$waiting"
    if [[ -z "${b_p99:-}" || "$waiting" -ne 0 || "$b_bad" -ne 0 ]] \
        || awk -v p="$b_p99" -v b="$BOUND_MS" 'BEGIN { exit !(p > b) }'; then
        echo "  FAIL: B's p99 time to first phase is above ${BOUND_MS} ms (or B's flows did not all start)"
        FAILED=1
    else
        echo "  ok: B's p99 time to first phase is within ${BOUND_MS} ms"
    fi
}

echo "fairness bench: $WORKERS workers, 1 process, $(nproc) cores, PostgreSQL, ${SECONDS_FLOOD}s flood"
run "defaults"
run "no create rate limit" --tenant-create-rate 0
exit "$FAILED"
