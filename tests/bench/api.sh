#!/usr/bin/env bash
# API throughput: wrk drives GET /v1/accounts (bearer token, row-level
# security, 20 accounts on the page) against escher-api with one loop per
# CPU, PostgreSQL and Redis private to this run. The bound is the same
# server's /healthz, which touches no database. Env: ESCHER_BUILD_DIR (with
# escher-api built), ESCHER_SOURCE_DIR, BENCH_SIZE=small|full.
# Last line: "api: <rate> req/s (<ratio>x vs /healthz, no database)".
set -euo pipefail
: "${ESCHER_BUILD_DIR:?ESCHER_BUILD_DIR must name the build directory}"
: "${ESCHER_SOURCE_DIR:?ESCHER_SOURCE_DIR must name the source directory}"
case "${BENCH_SIZE:-small}" in
small) secs=2 ;;
full) secs=15 ;;
*)
    echo "BENCH_SIZE must be small or full, not '${BENCH_SIZE}'" >&2
    exit 2
    ;;
esac
command -v wrk >/dev/null || { echo "wrk is missing: deploy/local/deps.sh installs it" >&2; exit 1; }
api="$ESCHER_BUILD_DIR/services/api/escher-api"
[ -x "$api" ] || { echo "$api is missing: cmake --build \"$ESCHER_BUILD_DIR\" --target escher-api" >&2; exit 1; }
cache="$ESCHER_BUILD_DIR/CMakeCache.txt"
if grep -qs '^ESCHER_SANITIZE:BOOL=ON' "$cache" ||
    ! grep -qs '^CMAKE_BUILD_TYPE:STRING=Release' "$cache"; then
    echo "note: $ESCHER_BUILD_DIR is not a Release build without sanitizers; our rate is understated" >&2
fi

# shellcheck source=../../deploy/local/lib.sh
. "$ESCHER_SOURCE_DIR/deploy/local/lib.sh"
dir="$ESCHER_BUILD_DIR/bench-api.$$"
api_pid=
cleanup() {
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
    pg_stop "$dir/pg" || true
    redis_stop "$dir/redis" || true
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir"
pg_port=$(free_port)
pg_start "$dir/pg" "$pg_port"
redis_port=$(free_port)
redis_start "$dir/redis" "$redis_port"
url="postgresql://escher@127.0.0.1:$pg_port/escher"
common=(--database-url "$url" --redis-url "redis://127.0.0.1:$redis_port/0"
    --migrations-dir "$ESCHER_SOURCE_DIR/migrations" --log-level warn)
"$api" "${common[@]}" migrate >/dev/null
boot=$("$api" "${common[@]}" bootstrap --tenant bench --email bench@example.com 2>/dev/null)
token=$(printf '%s\n' "$boot" | sed -n 's/^api_token: //p')
tenant=$(printf '%s\n' "$boot" | sed -n 's/^tenant_id: //p')
"$(pg_bindir)/psql" -q -h 127.0.0.1 -p "$pg_port" -U escher -d escher -v ON_ERROR_STOP=1 -c "
    SELECT set_config('escher.tenant_id', '$tenant', false);
    INSERT INTO aws_accounts (tenant_id, account_id, name, role_arn, regions, status)
    SELECT '$tenant', lpad(i::text, 12, '0'), 'bench-' || i,
           'arn:aws:iam::' || lpad(i::text, 12, '0') || ':role/EscherOperator',
           '{us-east-1,eu-west-1}', 'verified'
      FROM generate_series(1, 20) i;" >/dev/null

port=$(free_port)
"$api" "${common[@]}" --port "$port" --token-rate 10000000 --token-burst 10000000 \
    2>"$dir/api.log" &
api_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
page=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/accounts?limit=50") ||
    { echo "escher-api did not answer:" >&2; cat "$dir/api.log" >&2; exit 1; }
n=$(printf "%s\n" "$page" |
    grep -o "\"account_id\"" | wc -l || true)
[ "$n" -eq 20 ] || { echo "GET /v1/accounts returned $n accounts, want 20: $page" >&2; cat "$dir/api.log" >&2; exit 1; }

# wrk's threads share the 2 cores with the server and PostgreSQL: 2 threads,
# 32 connections keeps every loop busy without measuring queueing alone.
run_wrk() { wrk -t2 -c32 -d"${secs}s" --latency "$@"; }
base=$(run_wrk "http://127.0.0.1:$port/healthz")
out=$(run_wrk -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/accounts")
rate() { printf '%s\n' "$1" | awk '/^Requests\/sec:/ { printf "%d", $2 }'; }
p99() { printf '%s\n' "$1" | awk '$1 == "99%" { print $2 }'; }
errors() { printf '%s\n' "$1" | awk '/Non-2xx|Socket errors/ { print }'; }
[ -z "$(errors "$out")" ] || { echo "errors under load: $(errors "$out")" >&2; exit 1; }
r=$(rate "$out")
b=$(rate "$base")
echo "  GET /v1/accounts (20 accounts, auth + RLS): $r req/s, p50 $(printf '%s\n' "$out" | awk '$1 == "50%" { print $2 }'), p99 $(p99 "$out")"
echo "  GET /healthz (no database):                  $b req/s, p99 $(p99 "$base")"
echo "  $(nproc) CPUs shared by wrk (2 threads, 32 connections), escher-api ($(nproc) loops) and PostgreSQL"
ratio=$(awk -v a="$r" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
echo "api: $r req/s (${ratio}x vs /healthz, no database)"
