#!/usr/bin/env bash
# Manages what deploy/local/demo.sh started under .escher-local/.
#
#   deploy/local/stack.sh status     what runs, where, on which port (exit 1 if anything is down)
#   deploy/local/stack.sh stop       stops everything (data is kept; demo.sh starts it again)
#   deploy/local/stack.sh logs [N]   last N lines (default 50) of each service's log
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL=$ROOT/.escher-local
# shellcheck source=lib.sh
. "$ROOT/deploy/local/lib.sh"

usage() {
  sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
status)
  rc=0
  pg_status "$LOCAL/pg" || rc=1
  redis_status "$LOCAL/redis" || rc=1
  sandbox_status "$LOCAL/sandbox" || rc=1
  for d in escher-api escher-worker-1 escher-worker-2 escher-scheduler; do
    proc_status "$LOCAL/run" "$d" || rc=1
  done
  exit $rc
  ;;
stop)
  for d in escher-scheduler escher-worker-1 escher-worker-2 escher-api; do
    proc_stop "$LOCAL/run" "$d"
  done
  sandbox_stop "$LOCAL/sandbox"
  pg_stop "$LOCAL/pg"
  redis_stop "$LOCAL/redis"
  echo "stopped (data kept in $LOCAL)"
  ;;
logs)
  n=${2:-50}
  for f in "$LOCAL/pg/postgresql.log" "$LOCAL/redis/redis.log" "$LOCAL/sandbox/sandbox.log" \
    "$LOCAL"/run/*.log; do
    [ -f "$f" ] || continue
    echo "== $f"
    tail -n "$n" "$f"
  done
  ;;
-h | --help | help)
  usage
  ;;
*)
  echo "stack.sh: unknown command '${1:-}'" >&2
  usage >&2
  exit 2
  ;;
esac
