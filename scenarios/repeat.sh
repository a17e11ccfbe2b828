#!/usr/bin/env bash
# Runs the conformance suite N times in a row (default 20) against a fresh in-process
# reference server each time (`flowgate validate`), and reports the failures and the wall
# time of every run. Exit status 1 if any run did not pass.
#
#   scenarios/repeat.sh [N] [extra `flowgate validate` options...]
#   scenarios/repeat.sh 20 --database-url postgres://postgres@127.0.0.1:5432/postgres
#
# FLOWGATE_BIN names the flowgate binary (default: built once with cargo, release profile
# unless FLOWGATE_PROFILE=dev).
set -euo pipefail

runs="${1:-20}"
shift || true
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

if [[ -z "${FLOWGATE_BIN:-}" ]]; then
    profile="${FLOWGATE_PROFILE:-release}"
    flag=(); [[ "$profile" == release ]] && flag=(--release)
    (cd "$repo" && cargo build -q "${flag[@]}" --bin flowgate)
    target_dir="${CARGO_TARGET_DIR:-$repo/target}"
    FLOWGATE_BIN="$target_dir/$([[ $profile == release ]] && echo release || echo debug)/flowgate"
fi

out_root="$(mktemp -d -t flowgate-repeat-XXXXXX)"
failed_runs=0
total_start=$(date +%s.%N)
printf '%-5s %-6s %-9s %s\n' run exit seconds failures
for i in $(seq 1 "$runs"); do
    start=$(date +%s.%N)
    set +e
    "$FLOWGATE_BIN" validate --quiet --out "$out_root/run-$i" --suite "$here" "$@" \
        > "$out_root/run-$i.log" 2>&1
    code=$?
    set -e
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    failures=$(grep -E '^(FAIL|ERROR) ' "$out_root/run-$i.log" | awk '{print $2}' | paste -sd, - || true)
    printf '%-5s %-6s %-9.1f %s\n' "$i" "$code" "$secs" "${failures:--}"
    if [[ $code -ne 0 ]]; then
        failed_runs=$((failed_runs + 1))
    fi
done
total=$(echo "$(date +%s.%N) - $total_start" | bc)
printf 'runs: %d, failed runs: %d, wall time: %.1f s (%.1f s per run); logs in %s\n' \
    "$runs" "$failed_runs" "$total" "$(echo "$total / $runs" | bc -l)" "$out_root"
[[ $failed_runs -eq 0 ]]
