#!/usr/bin/env bash
# Runs the load scenarios (scenarios/load/) against the reference server on PostgreSQL:
# a fresh database, two provisioned tenants, `flowgate serve`, then `flowgate load`.
#
# Usage: bench/load_reference.sh [SCENARIO] [-- extra `flowgate load` args]
#   default SCENARIO: scenarios/load/concurrent_flows.yaml
#   e.g. bench/load_reference.sh scenarios/load/sustained_load.yaml -- --duration 60s
# Env: FLOWGATE_BIN (default: target/debug/flowgate, built if missing), PGURL
#   (default postgres://postgres@127.0.0.1:5432), WORKERS (engine workers, default 4),
#   OUT (report folder, default a temp folder).
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO="${1:-scenarios/load/concurrent_flows.yaml}"
shift || true
[ "${1:-}" = "--" ] && shift
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
BIN="${FLOWGATE_BIN:-${CARGO_TARGET_DIR:-target}/debug/flowgate}"
[ -x "$BIN" ] || cargo build -q -p flowgate
DB="flowgate_load_$$"
psql "$PGURL/postgres" -qc "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL="$PGURL/$DB"
# shellcheck source=bench/lib.sh
. bench/lib.sh
PORT="$(free_port)"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"

A="$("$BIN" tenant create --name load-tenant-a --engagement default --engagement second)"
B="$("$BIN" tenant create --name load-tenant-b)"
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
export FLOWGATE_BASE_URL="http://127.0.0.1:$PORT"
export FLOWGATE_TENANT_A_KEY="$(field "$A" 'd["api_key"]')"
export FLOWGATE_TENANT_A_ACCOUNT="$(field "$A" 'd["client_account_id"]')"
export FLOWGATE_TENANT_A_ENGAGEMENT="$(field "$A" 'd["engagements"][0]["id"]')"
export FLOWGATE_TENANT_A_OTHER_ENGAGEMENT="$(field "$A" 'd["engagements"][1]["id"]')"
export FLOWGATE_TENANT_B_KEY="$(field "$B" 'd["api_key"]')"
export FLOWGATE_TENANT_B_ACCOUNT="$(field "$B" 'd["client_account_id"]')"
export FLOWGATE_TENANT_B_ENGAGEMENT="$(field "$B" 'd["engagements"][0]["id"]')"

"$BIN" serve --listen "127.0.0.1:$PORT" --workers "${WORKERS:-4}" >"$OUT/server.log" 2>&1 &
SERVER=$!
cleanup() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT
wait_http "$FLOWGATE_BASE_URL/health"

set +e
"$BIN" load "$SCENARIO" --target scenarios/reference.target.yaml --out "$OUT" "$@"
CODE=$?
set -e
echo "reports in $OUT (exit $CODE)"
exit "$CODE"
