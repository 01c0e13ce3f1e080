#!/usr/bin/env bash
# HTTP transport benchmark: http_async with 256 requests in flight against a
# local evhttp server on 127.0.0.1, compared with the blocking client issuing
# the same requests one after the other. Invoked by tests/bench/run.sh http.
#   BENCH_SIZE=small: 20000 requests (seconds); full: 200000.
set -euo pipefail
: "${ESCHER_BUILD_DIR:?set ESCHER_BUILD_DIR to a configured build tree}"
bin=$ESCHER_BUILD_DIR/tests/bench/http/bench_http
if [ ! -x "$bin" ]; then
  cmake --build "$ESCHER_BUILD_DIR" --target bench_http >/dev/null
fi
case "${BENCH_SIZE:-full}" in
  small) n=20000 ;;
  full) n=200000 ;;
  *) echo "http.sh: BENCH_SIZE must be small or full, got '${BENCH_SIZE}'" >&2; exit 2 ;;
esac
# ASan/LSan builds (ctest's bench entry) report nothing useful here and may
# flag curl's global state at exit; leaks are the unit tests' job.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
exec "$bin" "$n"
