#!/usr/bin/env bash
# The main command: installs missing packages, builds Escher (Release) and
# brings up the local stack under .escher-local/: its own PostgreSQL (with
# Escher's migrations applied) and Redis on loopback, escher-sandbox
# simulating a small AWS organization, escher-api, two escher-workers and
# escher-scheduler. Then it runs the main job: a tenant is bootstrapped
# (once), the sandbox's customer roles trust that tenant's ExternalId, and the
# organization is onboarded through discovery (POST /v1/discovery -> a worker
# assumes the management account's read-only role, lists the accounts,
# registers each and verifies its role); it prints the accounts and their
# verification status. Then it makes a schedule a few seconds ahead (stop the
# env=dev instances in us-east-1 and eu-west-1 across the organization), sends
# nothing while it waits for the fire, and prints the run the scheduler and the
# workers made of it, resource by resource. It ends with a short scripted
# `escher chat` as a member account's own user. A run on a stack already up finds
# the dev instances stopped by the previous one ("nothing to do"); after
# `stack.sh stop` the sandbox starts again from its seed, instances running.
# The stack keeps running; .escher-local/env has ESCHER_URL,
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

# The master key seals notification channels' secrets (docs/notifications.md);
# made once, kept (0600), given to escher-api and the workers by environment
# (not argv, which ps shows).
KEY_FILE=$LOCAL/master-key
if [ ! -s "$KEY_FILE" ]; then
  (umask 077 && /usr/bin/python3 -c 'import os; print(os.urandom(32).hex())' >"$KEY_FILE.tmp")
  mv "$KEY_FILE.tmp" "$KEY_FILE"
fi
MASTER_KEY=$(cat "$KEY_FILE")

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
  ESCHER_API_MASTER_KEY=$MASTER_KEY proc_start "$LOCAL/run" escher-api "$BIN/api/escher-api" \
    --database-url "$DATABASE_URL" \
    --redis-url "$REDIS_URL" --port "$API_PORT" --escher-principal-arn "$HUB_ARN"
# The workers act as the hub principal of the sandbox (the default credential
# chain reads the profile), the identity customer roles trust.
for w in 1 2; do
  proc_status "$LOCAL/run" "escher-worker-$w" >/dev/null 2>&1 ||
    AWS_PROFILE=hub ESCHER_WORKER_MASTER_KEY=$MASTER_KEY proc_start "$LOCAL/run" \
      "escher-worker-$w" "$BIN/worker/escher-worker" \
      --database-url "$DATABASE_URL" --redis-url "$REDIS_URL" --endpoint-url "$ENDPOINT" \
      --region us-east-1
done
# The scheduler needs only the database (it takes the escher_worker role).
proc_status "$LOCAL/run" escher-scheduler >/dev/null 2>&1 ||
  proc_start "$LOCAL/run" escher-scheduler "$BIN/scheduler/escher-scheduler" \
    --database-url "$DATABASE_URL"
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

echo
echo "== a schedule a few seconds ahead: POST /v1/schedules"
# A one-off run_at on the real clock (the scheduler reads the database's
# now()); the same works for a cron expression in any zone.
FIRE_IN=6
RUN_AT=$(date -u -d "+$FIRE_IN seconds" +%Y-%m-%dT%H:%M:%SZ)
schedule=$(curl -fsS "${auth[@]}" -X POST "$API/v1/schedules" -d @- <<JSON
{"name": "demo: stop dev instances at $RUN_AT", "run_at": "$RUN_AT", "time_zone": "Europe/Berlin",
 "operation": "ec2.stop", "params": {},
 "target": {"accounts": "all", "regions": ["us-east-1", "eu-west-1"],
            "selector": {"tags": {"env": ["dev"]}}}}
JSON
)
SCHEDULE=$(echo "$schedule" | /usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)['id'])")
echo "$schedule" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
t = s["target"]
print("schedule %s: %s on %s instances, accounts %s, regions %s" % (
    s["id"], s["operation"], ", ".join("%s=%s" % (k, "|".join(v)) for k, v in t["selector"]["tags"].items()),
    t["accounts"], ", ".join(t["regions"])))
print("  fires once at %s (run_at %s, zone %s), by %s" % (s["next_fire_at"], s["run_at"], s["time_zone"], s["created_by"]))'
echo
echo "== no client is running: this script sends nothing until the fire; escher-scheduler"
echo "   turns the schedule into a job at $RUN_AT and the workers run it"
fire=$(date -u -d "$RUN_AT" +%s)
while [ "$(date +%s)" -lt "$fire" ]; do
  [ -t 1 ] && printf '\r   %2d s to go ' $((fire - $(date +%s)))
  sleep 1
done
[ -t 1 ] && printf '\r'
echo "   $RUN_AT: due"
# The scheduler's own word, from its log (reading a file is not a client).
for _ in $(seq 1 100); do
  line=$(grep '"msg":"schedules fired"' "$LOCAL/run/escher-scheduler.log" 2>/dev/null | tail -n 1 || true)
  [ -n "$line" ] && [[ "$line" > "{\"ts\":\"${RUN_AT%Z}" ]] && break
  line=
  sleep 0.1
done
[ -n "$line" ] || { echo "escher-scheduler did not fire; see $LOCAL/run/escher-scheduler.log" >&2; exit 1; }
echo "   escher-scheduler: $line"
echo
echo "== the run: GET /v1/jobs?kind=ops.run, then GET /v1/jobs/{id}"
run=
for _ in $(seq 1 300); do
  run=$(curl -fsS "${auth[@]}" "$API/v1/jobs?kind=ops.run&limit=20" | SCHEDULE=$SCHEDULE /usr/bin/python3 -c '
import json, os, sys
for j in json.load(sys.stdin)["items"]:
    if (j.get("payload") or {}).get("schedule") == os.environ["SCHEDULE"]:
        print(j["id"], j["state"])
        break')
  case $run in *" succeeded" | *" failed" | *" cancelled") break ;; esac
  sleep 0.2
done
[ -n "$run" ] || { echo "no job for schedule $SCHEDULE; see deploy/local/stack.sh logs" >&2; exit 1; }
RUN_JOB=${run%% *}
curl -fsS "${auth[@]}" "$API/v1/jobs/$RUN_JOB" | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
r = j.get("result") or {}
print("run %s (%s): %s, created %s by %s, finished %s, %d steps" % (
    j["id"], j["kind"], j["state"], j["created_at"], j["created_by"], j["finished_at"], len(j["steps"])))
print("  counts: %s" % json.dumps(r.get("counts"), sort_keys=True))
fmt = "  %-13s %-10s %-20s %-24s %s"
print(fmt % ("ACCOUNT", "REGION", "INSTANCE", "BEFORE -> AFTER", "OUTCOME"))
for x in sorted(r.get("resources", []), key=lambda x: (x["account"], x["region"], x["id"])):
    why = x.get("reason") or x.get("error")
    print(fmt % (x["account"], x["region"], x["id"],
                 "%s -> %s" % (x.get("before"), x.get("after") or x.get("before")),
                 x["outcome"] + (" (%s)" % why if why else "")))
for e in r.get("errors", []):
    print("  error in %s %s: %s" % (e.get("account"), e.get("region"), e.get("error")))
print("  (after = what EC2 answered: a stopping instance is stopped a few seconds later)")'
[ "${run#* }" = succeeded ] || { echo "the run did not succeed; see deploy/local/stack.sh logs" >&2; exit 1; }

cat <<MSG

Escher's local stack is up, the sandbox organization is onboarded, and schedule
$SCHEDULE fired and ran with no client (run $RUN_JOB).
  api:      $API (token of manager@demo.example in $LOCAL/env)
  database: $DATABASE_URL
  redis:    $REDIS_URL
  sandbox:  $ENDPOINT (admin $ADMIN)
  programs: $BIN/*/
Use it:
  source $LOCAL/env
  curl -H "Authorization: Bearer \$ESCHER_TOKEN" \$ESCHER_URL/v1/accounts
  curl -H "Authorization: Bearer \$ESCHER_TOKEN" \$ESCHER_URL/v1/jobs/$RUN_JOB
  aws --profile mgmt --endpoint-url \$ESCHER_SANDBOX_URL ec2 describe-instances
Manage it with deploy/local/stack.sh status|stop|logs.
MSG

# The Executor's side: a short scripted chat with the escher client, as a
# member account's own user (the sandbox's profile, local credentials: the
# server never sees them). The sentences go to the API's POST /v1/chat; the
# operation runs here after the typed confirmation.
MEMBER=$(curl -fsS "$ADMIN/state" | /usr/bin/python3 -c '
import json, sys
print(next(a["id"] for a in json.load(sys.stdin)["accounts"] if not a["is_management"]))')
echo
echo "== escher chat, as acct-$MEMBER's own user (a script types the lines)"
sleep 2 # the sandbox's state delay: the run's stopping instances settle to stopped
printf '%s\n' \
  "how many running dev instances are in eu-west-1" \
  "start the dev instances in eu-west-1" \
  "y" \
  "list dev instances in eu-west-1" \
  "what's my biggest cost driver this month" |
  XDG_DATA_HOME=$LOCAL/client ESCHER_URL=$API ESCHER_TOKEN=$TOKEN \
    "$BIN/client/escher" --profile "acct-$MEMBER" --endpoint-url "$ENDPOINT" chat
cat <<MSG

Chat yourself: source $LOCAL/env, then
  $BIN/client/escher --profile acct-$MEMBER --endpoint-url \$ESCHER_SANDBOX_URL chat
MSG
