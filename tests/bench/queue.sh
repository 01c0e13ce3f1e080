#!/usr/bin/env bash
# Job queue throughput: no-op jobs through enqueue -> lease -> complete, with
# 4 worker processes and with 1, against a private PostgreSQL started here on
# a free port under the build dir. Env: ESCHER_BUILD_DIR (with bench_queue
# built), ESCHER_SOURCE_DIR, BENCH_SIZE=small|full.
# Last line: "queue: <rate> jobs/s (<ratio>x vs 1 worker process)".
set -euo pipefail
: "${ESCHER_BUILD_DIR:?ESCHER_BUILD_DIR must name the build directory}"
: "${ESCHER_SOURCE_DIR:?ESCHER_SOURCE_DIR must name the source directory}"
case "${BENCH_SIZE:-small}" in
small) jobs=400 ;;
full) jobs=20000 ;;
*)
    echo "BENCH_SIZE must be small or full, not '${BENCH_SIZE}'" >&2
    exit 2
    ;;
esac

bench="$ESCHER_BUILD_DIR/tests/bench/queue/bench_queue"
if [ ! -x "$bench" ]; then
    echo "$bench is missing: cmake --build \"$ESCHER_BUILD_DIR\" --target bench_queue" >&2
    exit 1
fi
cache="$ESCHER_BUILD_DIR/CMakeCache.txt"
if grep -qs '^ESCHER_SANITIZE:BOOL=ON' "$cache" ||
    ! grep -qs '^CMAKE_BUILD_TYPE:STRING=Release' "$cache"; then
    echo "note: $ESCHER_BUILD_DIR is not a Release build without sanitizers; our rate is understated" >&2
fi

# shellcheck source=../../deploy/local/lib.sh
. "$ESCHER_SOURCE_DIR/deploy/local/lib.sh"
dir="$ESCHER_BUILD_DIR/bench-queue-pg.$$"
trap 'pg_stop "$dir" || true; rm -rf "$dir"' EXIT
port=$(free_port)
pg_start "$dir" "$port"
url="postgresql://escher@127.0.0.1:$port/escher"
migrations="$ESCHER_SOURCE_DIR/migrations"

one=$("$bench" "$url" "$migrations" "$jobs" 1)
four=$("$bench" "$url" "$migrations" "$jobs" 4)
echo "  1 worker process:  $one"
echo "  4 worker processes: $four"
field() { printf '%s\n' "$2" | sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
r1=$(field rate "$one")
r4=$(field rate "$four")
ratio=$(awk -v a="$r4" -v b="$r1" 'BEGIN { printf "%.1f", a / b }')
echo "queue: $r4 jobs/s (${ratio}x vs 1 worker process)"
