#!/usr/bin/env bash
# The main command: installs missing packages, builds Escher (Release) and
# brings up the local stack under .escher-local/: its own PostgreSQL (with
# Escher's migrations applied) and Redis on loopback, escher-sandbox
# simulating a small AWS organization, escher-api and two escher-workers.
# Then it runs the main job: a tenant is bootstrapped (once), the sandbox's
# customer roles trust that tenant's ExternalId, and the organization is
# onboarded through discovery (POST /v1/discovery -> a worker assumes the
# management account's read-only role, lists the accounts, registers each
# and verifies its role); it prints the accounts and their verification
# status. The stack keeps running; .escher-local/env has ESCHER_URL,
# ESCHER_TOKEN (a manager's), ESCHER_SANDBOX_URL, ESCHER_SANDBOX_ADMIN_URL,
# AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE to `source`. Safe to run
# again: what is already running is left as it is.
#
#   deploy/local/demo.sh          then: deploy/local/stack.sh status|stop|logs
#
# ESCHER_PG_PORT (default 54329), ESCHER_REDIS_PORT (63799), ESCHER_API_PORT
# (8080), ESCHER_SANDBOX_PORT (8900) and ESCHER_SANDBOX_ADMIN_PORT (8901)
# choose the ports.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL=$ROOT/.escher-local
PG_PORT=${ESCHER_PG_PORT:-54329}
REDIS_PORT=${ESCHER_REDIS_PORT:-63799}
SANDBOX_PORT=${ESCHER_SANDBOX_PORT:-8900}
SANDBOX_ADMIN_PORT=${ESCHER_SANDBOX_ADMIN_PORT:-8901}
API_PORT=${ESCHER_API_PORT:-8080}
BIN=$LOCAL/build/services

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

# The tenant is made once; its token is shown once, so it is kept (0600).
TENANT_FILE=$LOCAL/tenant
if [ ! -s "$TENANT_FILE" ]; then
  (umask 077 && "$BIN/api/escher-api" --database-url "$DATABASE_URL" \
    bootstrap --tenant demo --email manager@demo.example >"$TENANT_FILE.tmp" 2>/dev/null) ||
    { echo "bootstrap failed" >&2; exit 1; }
  mv "$TENANT_FILE.tmp" "$TENANT_FILE"
fi
TOKEN=$(sed -n 's/^api_token: //p' "$TENANT_FILE")
EXTERNAL_ID=$(sed -n 's/^external_id: //p' "$TENANT_FILE")

# The sandbox's customer roles trust the tenant's ExternalId, as a customer's
# CloudFormation stack would (deploy/aws/customer-role.yaml).
if [ "$(cat "$LOCAL/sandbox/external-id" 2>/dev/null)" != "$EXTERNAL_ID" ]; then
  sandbox_stop "$LOCAL/sandbox"
fi
sandbox_status "$LOCAL/sandbox" >/dev/null 2>&1 || {
  sandbox_start "$LOCAL/sandbox" "$LOCAL/build" "$SANDBOX_PORT" "$SANDBOX_ADMIN_PORT" \
    --accounts 3 --regions us-east-1,eu-west-1 --seed 1 --external-id "$EXTERNAL_ID" || exit 1
  echo "$EXTERNAL_ID" >"$LOCAL/sandbox/external-id"
}
ENDPOINT=http://127.0.0.1:$(cat "$LOCAL/sandbox/port")
ADMIN=http://127.0.0.1:$(cat "$LOCAL/sandbox/admin-port")
export AWS_CONFIG_FILE=$LOCAL/sandbox/aws/config
export AWS_SHARED_CREDENTIALS_FILE=$LOCAL/sandbox/aws/credentials
HUB_ARN=$(/usr/bin/aws --profile hub --endpoint-url "$ENDPOINT" sts get-caller-identity \
  --query Arn --output text)
MGMT_ID=$(/usr/bin/aws --profile mgmt --endpoint-url "$ENDPOINT" sts get-caller-identity \
  --query Account --output text)
REDIS_URL=redis://127.0.0.1:$(cat "$LOCAL/redis/port")/0

proc_status "$LOCAL/run" escher-api >/dev/null 2>&1 ||
  proc_start "$LOCAL/run" escher-api "$BIN/api/escher-api" --database-url "$DATABASE_URL" \
    --redis-url "$REDIS_URL" --port "$API_PORT" --escher-principal-arn "$HUB_ARN"
# The workers act as the hub principal of the sandbox (the default credential
# chain reads the profile), the identity customer roles trust.
for w in 1 2; do
  proc_status "$LOCAL/run" "escher-worker-$w" >/dev/null 2>&1 ||
    AWS_PROFILE=hub proc_start "$LOCAL/run" "escher-worker-$w" "$BIN/worker/escher-worker" \
      --database-url "$DATABASE_URL" --redis-url "$REDIS_URL" --endpoint-url "$ENDPOINT" \
      --region us-east-1
done
API=http://127.0.0.1:$API_PORT
for _ in $(seq 1 100); do
  curl -fs "$API/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$API/readyz" >/dev/null || { echo "escher-api is not ready, see $LOCAL/run/escher-api.log" >&2; exit 1; }

(umask 077 && cat >"$LOCAL/env" <<ENV
# Written by deploy/local/demo.sh: source it to use escher, curl and aws on the local stack.
export ESCHER_URL=$API
export ESCHER_TOKEN=$TOKEN
export ESCHER_SANDBOX_URL=$ENDPOINT
export ESCHER_SANDBOX_ADMIN_URL=$ADMIN
export AWS_CONFIG_FILE=$AWS_CONFIG_FILE
export AWS_SHARED_CREDENTIALS_FILE=$AWS_SHARED_CREDENTIALS_FILE
ENV
)

"$ROOT/deploy/local/stack.sh" status

echo
echo "== onboarding the sandbox organization: POST /v1/discovery"
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
job=$(curl -fsS "${auth[@]}" -X POST "$API/v1/discovery" \
  -d "{\"management_role_arn\": \"arn:aws:iam::$MGMT_ID:role/EscherReadOnly\"}" |
  /usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)['job'])")
state=queued
for _ in $(seq 1 300); do
  state=$(curl -fsS "${auth[@]}" "$API/v1/jobs/$job" |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')
  case $state in succeeded | failed | cancelled) break ;; esac
  sleep 0.2
done
echo "discovery job $job: $state"
curl -fsS "${auth[@]}" "$API/v1/jobs/$job" | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
r = j.get("result") or {}
print("  members found: %s, registered: %d, verified: %d, failed: %d" % (
    r.get("members"), len(r.get("registered", [])), len(r.get("verified", [])),
    len(r.get("failed", []))))
for f in r.get("failed", []):
    print("  could not assume %s: %s" % (f.get("role_arn"), f.get("error", {}).get("message")))
if j.get("last_error"):
    print("  last error: " + j["last_error"])'
echo
echo "== GET /v1/accounts"
curl -fsS "${auth[@]}" "$API/v1/accounts?limit=100" | /usr/bin/python3 -c '
import json, sys
rows = json.load(sys.stdin)["items"]
fmt = "%-14s %-24s %-9s %-20s %s"
print(fmt % ("ACCOUNT", "NAME", "STATUS", "VERIFIED AT", "LAST ERROR"))
for a in rows:
    print(fmt % (a["account_id"], a["name"][:24], a["status"], a["verified_at"] or "-",
                 a["last_error"] or ""))'
[ "$state" = succeeded ] || { echo "discovery did not succeed; see deploy/local/stack.sh logs" >&2; exit 1; }

cat <<MSG

Escher's local stack is up and the sandbox organization is onboarded.
  api:      $API (token of manager@demo.example in $LOCAL/env)
  database: $DATABASE_URL
  redis:    $REDIS_URL
  sandbox:  $ENDPOINT (admin $ADMIN)
  programs: $BIN/*/
Use it:
  source $LOCAL/env
  curl -H "Authorization: Bearer \$ESCHER_TOKEN" \$ESCHER_URL/v1/accounts
  aws --profile mgmt --endpoint-url \$ESCHER_SANDBOX_URL ec2 describe-instances
Manage it with deploy/local/stack.sh status|stop|logs.
MSG
