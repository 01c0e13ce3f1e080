#!/usr/bin/env bash
# escher-sandbox throughput and memory: signed EC2 DescribeInstances pages of
# 50 instances (MaxResults=50) over kept-alive connections, every signature
# verified, throttling off; the sandbox pinned to one core, the load
# generator (tests/bench/sandbox/bench_sandbox) to the other.
#
# What is measured, and how to read it:
# - rate: answers per wall-clock second of the timed run. It is the
#   sandbox's capacity only when the sandbox's core was busy all along, so
#   the sandbox's own CPU time over the run is read from /proc and printed
#   with the client's: CPU-microseconds per request and busy shares. When
#   the sandbox was less than 90% busy (the client, or another process on
#   the machine, was the limit), the figure on the last line is the rate
#   per sandbox CPU-second instead, and the output says so.
# - memory: the sandbox's VmRSS right after it generated the 1,000-account
#   x 4-region world, and after the run on that world (topped up so the
#   benchmark's accounts have full pages) once every region of every
#   account has been described in full, i.e. with the rendering cache
#   holding the whole world.
#   BENCH_SIZE=small: 20 accounts, 2,000 requests (seconds); full: 1,000
#   accounts, 200,000 requests.
# Last line: "sandbox: <rps> req/s (<ratio>x vs 10000 req/s target)".
set -euo pipefail
: "${ESCHER_BUILD_DIR:?set ESCHER_BUILD_DIR to a configured build tree}"
: "${ESCHER_SOURCE_DIR:?set ESCHER_SOURCE_DIR to the source tree}"
sandbox=$ESCHER_BUILD_DIR/services/sandbox/escher-sandbox
bench=$ESCHER_BUILD_DIR/tests/bench/sandbox/bench_sandbox
for t in escher-sandbox bench_sandbox; do
  [ -x "$sandbox" ] && [ -x "$bench" ] || cmake --build "$ESCHER_BUILD_DIR" --target "$t" >/dev/null
done
case "${BENCH_SIZE:-full}" in
  small) accounts=20 bench_accounts=10 requests=2000 ;;
  full) accounts=1000 bench_accounts=200 requests=200000 ;;
  *) echo "sandbox.sh: BENCH_SIZE must be small or full, got '${BENCH_SIZE}'" >&2; exit 2 ;;
esac
regions=us-east-1,eu-west-1,ap-southeast-2,us-west-2
connections=32
target=10000
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

cache="$ESCHER_BUILD_DIR/CMakeCache.txt"
if grep -qs '^ESCHER_SANITIZE:BOOL=ON' "$cache" ||
    ! grep -qs '^CMAKE_BUILD_TYPE:STRING=Release' "$cache"; then
  echo "note: $ESCHER_BUILD_DIR is not a Release build without sanitizers; the rate is understated" >&2
fi

# Two cores: the sandbox on the first this shell may use, the load on another.
pin_server=() pin_client=()
if command -v taskset >/dev/null; then
  cpus=$(taskset -pc $$ | sed 's/.*: *//')
  first=$(echo "$cpus" | sed 's/[,-].*//')
  if [ "$(nproc)" -ge 2 ]; then
    second=$(( first + 1 ))
    pin_server=(taskset -c "$first")
    pin_client=(taskset -c "$second")
  fi
fi

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Starts the sandbox with the given arguments; sets pid and port.
start() {
  : >"$tmp/log"
  "${pin_server[@]}" "$sandbox" --listen 127.0.0.1 --port 0 --admin-port 0 --no-throttle \
    --log-level info --aws-config "$tmp/aws" "$@" 2>"$tmp/log" &
  pid=$!
  for _ in $(seq 1 600); do
    if grep -q '"msg":"listening"' "$tmp/log"; then
      port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/log")
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
    sleep 0.1
  done
  echo "sandbox.sh: the sandbox did not start" >&2
  exit 1
}

stop() {
  kill "$pid"
  wait "$pid" || { echo "sandbox.sh: the sandbox exited with $?" >&2; cat "$tmp/log" >&2; exit 1; }
  pid=
}

rss_mib() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status"; }

# 1. Memory of the generated world, and the world saved for step 2.
start --accounts "$accounts" --regions "$regions" --seed 1 --save-world "$tmp/world.json"
world_ms=$(sed -n 's/.*"world_ms":\([0-9]*\).*/\1/p' "$tmp/log")
stop
start --accounts "$accounts" --regions "$regions" --seed 1
rss_generated=$(rss_mib)
stop
echo "  world: $accounts member accounts x 4 regions, generated in ${world_ms} ms, sandbox VmRSS ${rss_generated} MiB (target < 1024 MiB)"

# 2. Throughput on the same world with full pages in the benchmark's accounts.
/usr/bin/python3 "$ESCHER_SOURCE_DIR/tests/bench/sandbox/topup.py" "$tmp/world.json" \
  "$tmp/full.json" "$tmp/accounts" "$bench_accounts"
start --world "$tmp/full.json"
sed -n 's/^\[acct-\([0-9]*\)\]$/\1/p' "$tmp/aws/credentials" >"$tmp/all_accounts"
"${pin_client[@]}" "$bench" "$port" "$tmp/aws/credentials" "$tmp/accounts" "$regions" \
  "$requests" "$connections" "$pid" "$tmp/all_accounts" >"$tmp/bench"
rss_loaded=$(rss_mib)
stop
sed 's/^/  /' "$tmp/bench"
echo "  sandbox VmRSS after the run, every instance of the world rendered and cached: ${rss_loaded} MiB (target < 1024 MiB)"
val() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$tmp/bench" | tail -n 1; }
rate=$(val rate)
busy=$(val server_busy_pct)
per_cpu=$(val rate_per_server_cpu_second)
echo "  sandbox: $(val server_us_per_request) CPU-us per request, busy ${busy}% of its core;" \
  "client busy $(val client_busy_pct)% of its core"
figure=$rate
if [ -n "$busy" ] && [ "$busy" -lt 90 ]; then
  echo "  note: the sandbox was only ${busy}% busy, so the wall-clock rate ($rate req/s) measures" \
    "the client or a noisy machine; the figure below is requests per sandbox CPU-second"
  figure=$per_cpu
fi
ratio=$(awk -v a="$figure" -v b="$target" 'BEGIN { printf "%.2f", a / b }')
echo "sandbox: $figure req/s (${ratio}x vs $target req/s target)"
