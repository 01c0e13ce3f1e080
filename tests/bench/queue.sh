#!/usr/bin/env bash
# Job queue throughput: no-op jobs through enqueue -> lease -> complete, with
# 4 worker processes (one connection each), against a private PostgreSQL
# started here on a free port under the build dir with durable settings, the
# server's defaults (fsync on, synchronous_commit on), unlike the test
# servers (fsync off). The bound is the rate of bare "SELECT 1" round trips
# by the same 4 processes. Env: ESCHER_BUILD_DIR (with bench_queue built),
# ESCHER_SOURCE_DIR, BENCH_SIZE=small|full, QUEUE_BENCH_FSYNC=on|off (off:
# measure as the test servers run, for comparison only).
# Last line: "queue: <rate> jobs/s (<ratio>x vs SELECT 1 round trips)", the
# rate with enqueue and complete in batches of 32 (see bench_queue.c).
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
fsync=${QUEUE_BENCH_FSYNC:-on}
case "$fsync" in
on | off) ;;
*)
    echo "QUEUE_BENCH_FSYNC must be on or off, not '$fsync'" >&2
    exit 2
    ;;
esac
workers=4

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
# pg_start initialises the cluster and the database but runs the server with
# fsync off, as the tests want; start it again with the settings measured.
pg_start "$dir" "$port"
pg_stop "$dir"
bin=$(pg_bindir)
as_run_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=$fsync" start >/dev/null
url="postgresql://escher@127.0.0.1:$port/escher"
migrations="$ESCHER_SOURCE_DIR/migrations"
settings=$(as_run_user "$bin/psql" -h 127.0.0.1 -p "$port" -U escher -d escher -Atc \
    "SELECT 'PostgreSQL ' || current_setting('server_version') || ': fsync=' ||
            current_setting('fsync') || ' synchronous_commit=' ||
            current_setting('synchronous_commit') || ' wal_sync_method=' ||
            current_setting('wal_sync_method')")
echo "  server: $settings, on $(nproc) cores"

select1=$("$bench" "$url" "$migrations" "$jobs" "$workers" select1)
single=$("$bench" "$url" "$migrations" "$jobs" "$workers" single)
batch=$("$bench" "$url" "$migrations" "$jobs" "$workers" batch)
echo "  SELECT 1 round trips, the bound:          $select1"
echo "  jobs one per call (enqueue, complete):    $single"
echo "  jobs 32 per call (enqueue, complete):     $batch"
field() { printf '%s\n' "$2" | sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
rb=$(field rate "$select1")
rj=$(field rate "$batch")
ratio=$(awk -v a="$rj" -v b="$rb" 'BEGIN { printf "%.2f", a / b }')
echo "queue: $rj jobs/s (${ratio}x vs SELECT 1 round trips)"
