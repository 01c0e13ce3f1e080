#!/usr/bin/env bash
# The test command: installs missing Debian packages, builds the sanitizer
# build with -Werror, starts a private PostgreSQL and Redis on free loopback
# ports (data under the build tree), runs every test through ctest, stops the
# servers and exits non-zero on any failure.
#
#   tests/run.sh [ctest arguments...]     e.g. tests/run.sh -L sigv4
#
# ESCHER_BUILD_DIR overrides the build directory (default: build-ci).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${ESCHER_BUILD_DIR:-$ROOT/build-ci}
JOBS=$(nproc)

"$ROOT/deploy/local/deps.sh"
# shellcheck source=../deploy/local/lib.sh
. "$ROOT/deploy/local/lib.sh"

mkdir -p "$BUILD"
echo "== configure and build ($BUILD: Debug, ASan+UBSan, -Werror)"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DESCHER_SANITIZE=ON -DESCHER_WERROR=ON >"$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS" 2>&1 | grep -v '^\[' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed" >&2; exit 1; }

SERVICES=$BUILD/test-services
cleanup() {
  pg_stop "$SERVICES/pg" || true
  redis_stop "$SERVICES/redis" || true
}
trap cleanup EXIT

echo "== private PostgreSQL and Redis"
rm -rf "$SERVICES"
PG_PORT=$(free_port)
pg_start "$SERVICES/pg" "$PG_PORT"
REDIS_PORT=$(free_port)
redis_start "$SERVICES/redis" "$REDIS_PORT"
pg_status "$SERVICES/pg"
redis_status "$SERVICES/redis"
export ESCHER_TEST_PG_URL="postgresql://escher@127.0.0.1:$PG_PORT/escher"
export ESCHER_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

echo "== ctest"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD"
ctest --output-on-failure -j "$JOBS" "$@"
