#!/usr/bin/env bash
# The main command: installs missing packages, builds Escher (Release) and
# brings up the local stack under .escher-local/: its own PostgreSQL (with
# Escher's migrations applied) and Redis on loopback, and escher-sandbox
# simulating a small AWS organization,
# then lists that organization's accounts with the real AWS CLI. Later stages
# add the API, scheduler and workers, and run the main job. Safe to run again:
# what is already running is left as it is.
#
#   deploy/local/demo.sh          then: deploy/local/stack.sh status|stop|logs
#
# ESCHER_PG_PORT (default 54329), ESCHER_REDIS_PORT (63799),
# ESCHER_SANDBOX_PORT (8900) and ESCHER_SANDBOX_ADMIN_PORT (8901) choose the ports.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL=$ROOT/.escher-local
PG_PORT=${ESCHER_PG_PORT:-54329}
REDIS_PORT=${ESCHER_REDIS_PORT:-63799}
SANDBOX_PORT=${ESCHER_SANDBOX_PORT:-8900}
SANDBOX_ADMIN_PORT=${ESCHER_SANDBOX_ADMIN_PORT:-8901}

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
DATABASE_URL="postgresql://escher@127.0.0.1:$(cat "$LOCAL/pg/port")/escher"
"$LOCAL/build/services/api/escher-api" --database-url "$DATABASE_URL" \
  --migrations-dir "$ROOT/migrations" migrate
sandbox_status "$LOCAL/sandbox" >/dev/null 2>&1 ||
  sandbox_start "$LOCAL/sandbox" "$LOCAL/build" "$SANDBOX_PORT" "$SANDBOX_ADMIN_PORT" \
    --accounts 3 --regions us-east-1,eu-west-1 --seed 1 --external-id escher-demo-external-id-0001

"$ROOT/deploy/local/stack.sh" status

ENDPOINT=http://127.0.0.1:$(cat "$LOCAL/sandbox/port")
export AWS_CONFIG_FILE=$LOCAL/sandbox/aws/config
export AWS_SHARED_CREDENTIALS_FILE=$LOCAL/sandbox/aws/credentials
echo
echo "== aws --profile mgmt --endpoint-url $ENDPOINT organizations list-accounts"
/usr/bin/aws --profile mgmt --endpoint-url "$ENDPOINT" organizations list-accounts \
  --query 'Accounts[].[Id,Name,Email,Status]' --output table

cat <<MSG

Escher's local stack is up.
  database: $DATABASE_URL (migrated)
  redis:    redis://127.0.0.1:$(cat "$LOCAL/redis/port")
  sandbox:  $ENDPOINT (admin http://127.0.0.1:$(cat "$LOCAL/sandbox/admin-port"))
  programs: $LOCAL/build/services/*/
Try the simulated organization with the AWS CLI:
  export AWS_CONFIG_FILE=$AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE=$AWS_SHARED_CREDENTIALS_FILE
  aws --profile mgmt --endpoint-url $ENDPOINT ec2 describe-instances
Manage it with deploy/local/stack.sh status|stop|logs.
MSG
