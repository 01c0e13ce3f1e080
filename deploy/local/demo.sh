#!/usr/bin/env bash
# The main command: installs missing packages, builds Escher (Release) and
# brings up the local stack under .escher-local/: its own PostgreSQL and
# Redis on loopback. Later stages add the sandbox AWS organization, the API,
# scheduler and workers, and run the main job. Safe to run again: what is
# already running is left as it is.
#
#   deploy/local/demo.sh          then: deploy/local/stack.sh status|stop|logs
#
# ESCHER_PG_PORT (default 54329) and ESCHER_REDIS_PORT (default 63799) choose the ports.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL=$ROOT/.escher-local
PG_PORT=${ESCHER_PG_PORT:-54329}
REDIS_PORT=${ESCHER_REDIS_PORT:-63799}

"$ROOT/deploy/local/deps.sh"
# shellcheck source=lib.sh
. "$ROOT/deploy/local/lib.sh"

echo "== build (Release) in $LOCAL/build"
mkdir -p "$LOCAL"
cmake -S "$ROOT" -B "$LOCAL/build" -DCMAKE_BUILD_TYPE=Release >"$LOCAL/configure.log" 2>&1 ||
  { cat "$LOCAL/configure.log"; exit 1; }
cmake --build "$LOCAL/build" -j "$(nproc)" >"$LOCAL/build.log" 2>&1 ||
  { tail -n 40 "$LOCAL/build.log"; echo "build failed, full log: $LOCAL/build.log" >&2; exit 1; }

echo "== services"
pg_status "$LOCAL/pg" >/dev/null 2>&1 || pg_start "$LOCAL/pg" "$PG_PORT"
redis_status "$LOCAL/redis" >/dev/null 2>&1 || redis_start "$LOCAL/redis" "$REDIS_PORT"

"$ROOT/deploy/local/stack.sh" status
cat <<MSG

Escher's local stack is up.
  database: postgresql://escher@127.0.0.1:$(cat "$LOCAL/pg/port")/escher
  redis:    redis://127.0.0.1:$(cat "$LOCAL/redis/port")
  programs: $LOCAL/build/services/*/
Manage it with deploy/local/stack.sh status|stop|logs.
MSG
