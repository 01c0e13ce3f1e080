#!/usr/bin/env bash
# Scheduler lag: 100,000 enabled schedules (BENCH_SIZE=small: 2,000) in one
# tenant, cron "* * * * *" in four zones, served by one escher-scheduler
# against a private PostgreSQL with the durability it ships with (fsync on,
# synchronous_commit on), as the queue bench runs it.
#
# The load, and why: each schedule's first fire is spread evenly over one
# minute [M0, M0+60s) (next_fire_at written by the loader), so phase 1 is a
# steady 1/60 of the schedules due every second, the load 100,000 schedules
# with fires spread over the day give at their busiest minute, and what a
# fleet of per-minute schedules would settle into. Then cron moves every one of
# them to the same instant M0+60s: phase 2 is the worst case a table of this
# size can make, every schedule due in the same second (as "0 20 * * 1-5" in
# one zone for all of them would be). Both are measured; the headline is
# phase 1, and phase 2 says how long a burst of N takes to drain.
#
# Lag per fire = the commit time of the transaction that recorded the fire and
# enqueued its job (pg_xact_commit_timestamp, track_commit_timestamp=on: the
# moment a worker could see the job) minus the fire's due time. The
# scheduler's CPU seconds come from /proc/<pid>/stat, its peak RSS from
# VmHWM; the PostgreSQL server's CPU (every backend and helper) likewise.
# Env: ESCHER_BUILD_DIR (with escher-scheduler and escher-api built),
# ESCHER_SOURCE_DIR, BENCH_SIZE=small|full, SCHED_BENCH_BATCH (the
# scheduler's --batch-size; default: its own default).
# Last line: "scheduler: <phase 1 p99 lag> ms (<ratio>x vs 1 s p99 lag target)".
# SCHED_BENCH_KEEP=1 keeps the run's directory (scheduler log, database).
set -euo pipefail
: "${ESCHER_BUILD_DIR:?ESCHER_BUILD_DIR must name the build directory}"
: "${ESCHER_SOURCE_DIR:?ESCHER_SOURCE_DIR must name the source directory}"
case "${BENCH_SIZE:-small}" in
small) n=2000 ;;
full) n=100000 ;;
*)
    echo "BENCH_SIZE must be small or full, not '${BENCH_SIZE}'" >&2
    exit 2
    ;;
esac
sched="$ESCHER_BUILD_DIR/services/scheduler/escher-scheduler"
api="$ESCHER_BUILD_DIR/services/api/escher-api"
for b in "$sched" "$api"; do
    [ -x "$b" ] || { echo "$b is missing: cmake --build \"$ESCHER_BUILD_DIR\"" >&2; exit 1; }
done
cache="$ESCHER_BUILD_DIR/CMakeCache.txt"
if grep -qs '^ESCHER_SANITIZE:BOOL=ON' "$cache" ||
    ! grep -qs '^CMAKE_BUILD_TYPE:STRING=Release' "$cache"; then
    echo "note: $ESCHER_BUILD_DIR is not a Release build without sanitizers; the lag is overstated" >&2
fi

# shellcheck source=../../deploy/local/lib.sh
. "$ESCHER_SOURCE_DIR/deploy/local/lib.sh"
dir="$ESCHER_BUILD_DIR/bench-scheduler.$$"
sched_pid=
cleanup() {
    [ -n "$sched_pid" ] && kill "$sched_pid" 2>/dev/null && wait "$sched_pid" 2>/dev/null
    pg_stop "$dir/pg" || true
    [ -n "${SCHED_BENCH_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir"
port=$(free_port)
# pg_start runs the server with fsync off, as the tests want; start it again
# durable, and with commit timestamps, which the lag is measured by.
pg_start "$dir/pg" "$port"
pg_stop "$dir/pg"
bin=$(pg_bindir)
as_run_user "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgresql.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir/pg -c fsync=on -c track_commit_timestamp=on" \
    start >/dev/null
url="postgresql://escher@127.0.0.1:$port/escher"
psql_() { as_run_user "$bin/psql" -h 127.0.0.1 -p "$port" -U escher -d escher -v ON_ERROR_STOP=1 -Atq "$@"; }
"$api" --database-url "$url" --migrations-dir "$ESCHER_SOURCE_DIR/migrations" --log-level warn \
    migrate >/dev/null
echo "  server: $(psql_ -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ': fsync=' ||
    current_setting('fsync') || ' synchronous_commit=' || current_setting('synchronous_commit')"), on $(nproc) cores"

# The loader: one INSERT ... SELECT. Every schedule is what the API would
# store for an ec2.stop of dev instances (the scheduler copies operation,
# params and target into each job's payload, so their size counts).
t0=$(date +%s.%N)
psql_ -c "
    INSERT INTO tenants (name, external_id)
         VALUES ('bench', 'bench-external-id-0123456789abcdef0123456789');
    CREATE TEMP TABLE zones (i int, zone text);
    INSERT INTO zones VALUES (0, 'UTC'), (1, 'Europe/Berlin'), (2, 'America/New_York'),
                             (3, 'Asia/Kolkata');
    INSERT INTO schedules (tenant_id, name, cron, time_zone, operation, params, target,
                           created_by, enabled, next_fire_at)
    SELECT t.id, 'bench-' || g, '* * * * *', z.zone, 'ec2.stop', '{}',
           jsonb_build_object('accounts', jsonb_build_array(lpad((100000000000 + g % 10)::text, 12, '0')),
                              'regions', '[\"us-east-1\", \"eu-west-1\"]'::jsonb,
                              'selector', '{\"tags\": {\"env\": [\"dev\"]}}'::jsonb),
           'bench@example.com', true, 'infinity'
      FROM tenants t, generate_series(1, $n) g JOIN zones z ON z.i = g % 4
     WHERE t.name = 'bench';
    ANALYZE;"
t1=$(date +%s.%N)
echo "  loaded $n enabled schedules (cron '* * * * *', zones UTC, Europe/Berlin, America/New_York, Asia/Kolkata) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

# Phase 1 starts at the first whole minute at least 5 s away (the scheduler
# starts meanwhile and sleeps: nothing is due before M0).
now=$(date +%s)
m0=$(((now + 5 + 59) / 60 * 60))
m1=$((m0 + 60))
psql_ -c "UPDATE schedules SET next_fire_at = to_timestamp($m0 + split_part(name, '-', 2)::int % 60);
           CREATE TABLE bench_due AS SELECT id, next_fire_at AS due FROM schedules;"

batch_opt=()
[ -n "${SCHED_BENCH_BATCH:-}" ] && batch_opt=(--batch-size "$SCHED_BENCH_BATCH")
"$sched" --database-url "$url" --log-level info "${batch_opt[@]}" 2>"$dir/scheduler.log" &
sched_pid=$!
pg_cpu() {
    # The postmaster and all its children: backends, checkpointer, WAL writer.
    local pm
    pm=$(head -n 1 "$dir/pg/data/postmaster.pid")
    for p in $pm $(pgrep -P "$pm"); do
        awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true
    done | awk -v hz="$(getconf CLK_TCK)" '{ s += $1 } END { printf "%.2f", s / hz }'
}
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
pg0=$(pg_cpu)
wal() { psql_ -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"; }
wal0=$(wal)
wal1=
echo "  phase 1: fires spread over [$(date -u -d "@$m0" +%T), $(date -u -d "@$m1" +%T)) UTC; phase 2: all $n due at $(date -u -d "@$m1" +%T)"

# Until every schedule has fired at M0+60s, or the burst has had 3 minutes.
deadline=$((m1 + 180))
while [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 2
    [ -z "$wal1" ] && [ "$(date +%s)" -ge "$m1" ] && wal1=$(wal)
    kill -0 "$sched_pid" 2>/dev/null || { echo "escher-scheduler died:" >&2; tail -n 20 "$dir/scheduler.log" >&2; exit 1; }
    [ "$(psql_ -c "SELECT count(*) FROM schedule_fires WHERE fire_at = to_timestamp($m1)")" -ge "$n" ] && break
done
fires=$(psql_ -c "SELECT count(*) FROM schedule_fires")
wal2=$(wal)
sched_cpu=$(proc_cpu "$sched_pid")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$sched_pid/status")
pg1=$(pg_cpu)
kill "$sched_pid"
wait "$sched_pid" 2>/dev/null || true
sched_pid=
grep -q '"level":"error"' "$dir/scheduler.log" &&
    { echo "escher-scheduler logged errors:" >&2; grep '"level":"error"' "$dir/scheduler.log" | head -n 5 >&2; exit 1; }

# Lag in ms. Phase 1: per schedule, from its first due time to the commit of
# the first fire that served it. That is the fire itself when the scheduler
# kept up; when it fell more than the misfire threshold (1 min) behind, the
# run_once policy folds the late fire into the schedule's next one, which
# then serves it (and the lag says how late the operation really ran).
# Phase 2: every fire due at M0+60s, from then to its commit.
pct() {
    psql_ -F ' ' -c "
        WITH l AS ($1)
        SELECT count(*), coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag)), 0),
               coalesce(round(percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)), 0),
               coalesce(round(max(lag)), 0) FROM l"
}
read -r c1 p50_1 p99_1 max_1 <<<"$(pct "
    SELECT extract(epoch FROM min(pg_xact_commit_timestamp(f.xmin)) - d.due) * 1000 AS lag
      FROM bench_due d JOIN schedule_fires f ON f.schedule_id = d.id AND f.fire_at >= d.due
     GROUP BY d.id, d.due")"
read -r c2 p50_2 p99_2 max_2 <<<"$(pct "
    SELECT extract(epoch FROM pg_xact_commit_timestamp(f.xmin) - f.fire_at) * 1000 AS lag
      FROM schedule_fires f WHERE f.fire_at = to_timestamp($m1)")"
on_time=$(psql_ -c "SELECT count(*) FROM bench_due d JOIN schedule_fires f
                     ON f.schedule_id = d.id AND f.fire_at = d.due")
jobs=$(psql_ -c "SELECT count(*) FROM jobs WHERE kind = 'ops.run'")
dups=$(psql_ -c "SELECT count(*) FROM (SELECT payload->>'schedule', payload->>'fire_at' FROM jobs
                  GROUP BY 1, 2 HAVING count(*) > 1) d")
nojob=$(psql_ -c "SELECT count(*) FROM schedule_fires WHERE job_id IS NULL")
[ "$dups" -eq 0 ] || { echo "$dups fires made more than one job" >&2; exit 1; }
if [ "$jobs" -ne "$fires" ] || [ "$nojob" -ne 0 ]; then
    echo "$jobs jobs for $fires fires ($nojob fires without a job)" >&2
    exit 1
fi
[ "$c1" -eq "$n" ] || { echo "only $c1 of $n schedules fired in phase 1 or after" >&2; exit 1; }
echo "  phase 1, $n fires spread over 60 s ($((n / 60))/s): $on_time fired at their own time ($((n - on_time)) folded into a later fire by run_once after > 1 min), lag p50 ${p50_1} ms, p99 ${p99_1} ms, max ${max_1} ms"
if [ "$c2" -eq "$n" ]; then
    echo "  phase 2, $n fires due in the same second: lag p50 ${p50_2} ms, p99 ${p99_2} ms, max ${max_2} ms (drained at $(awk -v m="$max_2" -v n="$n" 'BEGIN { printf "%d", n / (m / 1000) }') fires/s)"
else
    echo "  phase 2, $n fires due in the same second: only $c2 made jobs within 3 minutes; p99 of those ${p99_2} ms"
fi
echo "  jobs: $jobs for $fires fires, none twice; WAL written: $(((wal1 - wal0) / n)) bytes per fire until M0+60s, $(((wal2 - wal1) / n)) after"
echo "  escher-scheduler: cpu $sched_cpu s for $fires fires ($(awk -v c="$sched_cpu" -v f="$fires" 'BEGIN { printf "%.0f", c * 1e6 / f }') us/fire), peak RSS (VmHWM) $((hwm / 1024)) MiB; PostgreSQL: cpu $(awk -v a="$pg0" -v b="$pg1" 'BEGIN { printf "%.2f", b - a }') s ($(awk -v a="$pg0" -v b="$pg1" -v f="$fires" 'BEGIN { printf "%.0f", (b - a) * 1e6 / f }') us/fire)"
echo "  batches: $(grep -c '"schedules fired"' "$dir/scheduler.log" || true) (batch-size ${SCHED_BENCH_BATCH:-default})"
ratio=$(awk -v p="$p99_1" 'BEGIN { printf "%.2f", p / 1000 }')
echo "scheduler: $p99_1 ms (${ratio}x vs 1 s p99 lag target)"
