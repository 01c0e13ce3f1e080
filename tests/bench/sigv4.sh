#!/usr/bin/env bash
# SigV4 signing rate, ours against botocore, same requests, one core each.
# Env: ESCHER_BUILD_DIR (with bench_sigv4 built), ESCHER_SOURCE_DIR,
# BENCH_SIZE=small|full. Last line: "sigv4: <rate> req/s (<ratio>x vs botocore)".
set -euo pipefail
: "${ESCHER_BUILD_DIR:?ESCHER_BUILD_DIR must name the build directory}"
: "${ESCHER_SOURCE_DIR:?ESCHER_SOURCE_DIR must name the source directory}"
case "${BENCH_SIZE:-small}" in
small) count=500 seconds=0.3 ;;
full) count=10000 seconds=3 ;;
*)
    echo "BENCH_SIZE must be small or full, not '${BENCH_SIZE}'" >&2
    exit 2
    ;;
esac

bench="$ESCHER_BUILD_DIR/tests/bench/sigv4/bench_sigv4"
if [ ! -x "$bench" ]; then
    echo "$bench is missing: cmake --build \"$ESCHER_BUILD_DIR\" --target bench_sigv4" >&2
    exit 1
fi
cache="$ESCHER_BUILD_DIR/CMakeCache.txt"
if grep -qs '^ESCHER_SANITIZE:BOOL=ON' "$cache" ||
    ! grep -qs '^CMAKE_BUILD_TYPE:STRING=Release' "$cache"; then
    echo "note: $ESCHER_BUILD_DIR is not a Release build without sanitizers; our rate is understated" >&2
fi

# One core for both, the same one, so neither gets help from the other core.
pin=()
if command -v taskset >/dev/null; then
    pin=(taskset -c "$(taskset -pc $$ | sed 's/.*: *//; s/[,-].*//')")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${pin[@]}" /usr/bin/python3 "$ESCHER_SOURCE_DIR/tests/bench/sigv4/botocore_bench.py" \
    --count "$count" --min-seconds "$seconds" --write "$tmp/requests.jsonl" >"$tmp/botocore"
"${pin[@]}" "$bench" "$tmp/requests.jsonl" "$seconds" >"$tmp/escher"

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$2"; }
boto=$(field rate "$tmp/botocore")
ours=$(field rate "$tmp/escher")
echo "  botocore $(/usr/bin/python3 -c 'import botocore; print(botocore.__version__)'): $(cat "$tmp/botocore")"
echo "  escher sigv4:    $(cat "$tmp/escher")"
ratio=$(awk -v a="$ours" -v b="$boto" 'BEGIN { printf "%.1f", a / b }')
echo "sigv4: $ours req/s (${ratio}x vs botocore)"
