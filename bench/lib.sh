# Shared by the bench scripts (sourced, not run): a free loopback port, and waiting for a
# server to answer.

# Prints a TCP port free on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (at most 10 s) until URL answers 2xx; else says so and exits 3.
wait_http() {
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server at $1 did not start" >&2
    exit 3
}
