# Shared by the bench scripts (sourced, not run): a free loopback port, waiting for a
# server to answer, and the end of a run.

# Prints a TCP port free on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (at most SECONDS, default 10) until URL answers 2xx; else says so and exits 3.
wait_http() {
    local tries=$(( ${2:-10} * 10 ))
    for _ in $(seq 1 "$tries"); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server at $1 did not start" >&2
    exit 3
}

# For `trap 'end_run DB...' EXIT`: stops the processes in PIDS, drops the databases named
# (on PG_BASE) and removes WORK.
end_run() {
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    for db in "$@"; do
        psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
