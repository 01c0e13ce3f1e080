#!/usr/bin/env bash
# Usage: test_api_cli.sh ESCHER_API_BINARY MIGRATIONS_DIR
# Runs `escher-api migrate`, `bootstrap` and `audit verify` against a private
# database on the server named by ESCHER_TEST_PG_URL (created here, dropped at
# exit) and checks their output, exit status and what the database holds.
set -u
bin=$1 migrations=$2
if [ -z "${ESCHER_TEST_PG_URL:-}" ]; then
    echo "SKIP: ESCHER_TEST_PG_URL is not set (tests/run.sh sets it when it starts PostgreSQL)"
    exit 77
fi
server=${ESCHER_TEST_PG_URL%%\?*}
db=escher_api_cli_$$
role=escher_api_cli_$$
url=${server%/*}/$db
role_url=$(printf '%s' "$url" | sed -E "s#^(postgres(ql)?://)[^@/]*@#\\1$role@#")
tmp=$(mktemp -d)
failures=0

cleanup() {
    psql "$ESCHER_TEST_PG_URL" -qAt -v ON_ERROR_STOP=0 \
        -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
# run NAME ARGS...: runs escher-api, keeping NAME.out, NAME.err and NAME.rc.
run() {
    local name=$1
    shift
    "$bin" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    echo $? >"$tmp/$name.rc"
}
rc() { cat "$tmp/$1.rc"; }
sql() { psql "$url" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

psql "$ESCHER_TEST_PG_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null ||
    { echo "FAIL: cannot create database $db on $ESCHER_TEST_PG_URL"; exit 1; }
nfiles=$(ls "$migrations"/[0-9][0-9][0-9][0-9]_*.sql | wc -l)
[ "$nfiles" -ge 1 ] || { echo "FAIL: no migrations in $migrations"; exit 1; }
G=(--database-url "$url" --migrations-dir "$migrations")

# Bootstrap before migrate: refused, saying why.
run early "${G[@]}" bootstrap --tenant acme --email ops@acme.example
if [ "$(rc early)" = 1 ] && grep -q "migrations are not applied" "$tmp/early.err"; then
    ok "bootstrap before migrate refused"
else fail "bootstrap before migrate: rc=$(rc early) err=$(cat "$tmp/early.err")"; fi

# audit verify before migrate: exit 1 (an error, not 3), saying why.
zero=00000000-0000-0000-0000-000000000000
run aearly "${G[@]}" audit verify --tenant $zero
if [ "$(rc aearly)" = 1 ] && grep -q "migrations are not applied" "$tmp/aearly.err"; then
    ok "audit verify before migrate: exit 1"
else fail "audit verify before migrate: rc=$(rc aearly) err=$(cat "$tmp/aearly.err")"; fi

# A malformed tenant id: exit 1 quoting it, before any connection (the
# unreachable URL would otherwise fail differently); usage errors exit 2.
run abad --database-url "postgresql://escher@127.0.0.1:1/nothing" audit verify --tenant not-a-uuid
if [ "$(rc abad)" = 1 ] && grep -q "escher-api: audit verify: tenant id 'not-a-uuid' is not a uuid" "$tmp/abad.err"; then
    ok "audit verify: malformed tenant id, exit 1"
else fail "audit verify malformed id: rc=$(rc abad) err=$(cat "$tmp/abad.err")"; fi
run ause "${G[@]}" audit
run ause2 "${G[@]}" audit verify
if [ "$(rc ause)" = 2 ] && [ "$(rc ause2)" = 2 ] && grep -q "usage: escher-api audit verify --tenant TENANT_ID" "$tmp/ause2.err"; then
    ok "audit usage errors: exit 2"
else fail "audit usage: rc=$(rc ause)/$(rc ause2) err=$(cat "$tmp/ause.err" "$tmp/ause2.err")"; fi
"$bin" --help >"$tmp/help.out" 2>&1
grep -q "^  audit verify --tenant TENANT_ID$" "$tmp/help.out" && ok "--help lists audit verify" ||
    fail "--help does not list audit verify: $(cat "$tmp/help.out")"

# Unreachable database: exit 1 with the error.
run down --database-url "postgresql://escher@127.0.0.1:1/nothing" --migrations-dir "$migrations" migrate
if [ "$(rc down)" = 1 ] && grep -q "escher-api: migrate:" "$tmp/down.err"; then
    ok "unreachable database: exit 1"
else fail "unreachable database: rc=$(rc down) err=$(cat "$tmp/down.err")"; fi

# migrate applies every file, one line each, then a summary.
run m1 "${G[@]}" migrate
lines=$(grep -c '^applied [0-9]\{4\}_.*\.sql$' "$tmp/m1.out")
if [ "$(rc m1)" = 0 ] && [ "$lines" = "$nfiles" ] && grep -q "^$nfiles migrations applied" "$tmp/m1.out"; then
    ok "migrate applied $nfiles files"
else fail "first migrate: rc=$(rc m1) out=$(cat "$tmp/m1.out") err=$(cat "$tmp/m1.err")"; fi
applied_rows=$(sql "SELECT count(*) FROM schema_migrations")
[ "$applied_rows" = "$nfiles" ] || fail "schema_migrations has $applied_rows rows, want $nfiles"

# A second migrate applies nothing.
run m2 "${G[@]}" migrate
if [ "$(rc m2)" = 0 ] && grep -q "^0 migrations applied" "$tmp/m2.out" &&
    ! grep -q '^applied ' "$tmp/m2.out"; then
    ok "second migrate applied 0"
else fail "second migrate: rc=$(rc m2) out=$(cat "$tmp/m2.out")"; fi

# Status lists each file as applied; 'status' and '--status' both work, and the
# default directory is ./migrations.
run st "${G[@]}" migrate --status
(cd "$migrations/.." && "$bin" --database-url "$url" migrate status >"$tmp/st2.out" 2>&1)
st2=$?
if [ "$(rc st)" = 0 ] && [ "$(grep -c ' applied ' "$tmp/st.out")" = "$nfiles" ] &&
    [ $st2 = 0 ] && cmp -s "$tmp/st.out" "$tmp/st2.out"; then
    ok "migrate --status lists $nfiles applied"
else fail "status: rc=$(rc st)/$st2 out=$(cat "$tmp/st.out") default-dir=$(cat "$tmp/st2.out")"; fi

# An edited applied file: status says so, migrate refuses.
cp -r "$migrations" "$tmp/edited"
first=$(ls "$tmp/edited" | head -n 1)
echo "-- edited" >>"$tmp/edited/$first"
run ed "${G[@]:0:2}" --migrations-dir "$tmp/edited" migrate
run eds "${G[@]:0:2}" --migrations-dir "$tmp/edited" migrate --status
if [ "$(rc ed)" = 1 ] && grep -q "escher-api: migrate:" "$tmp/ed.err" && [ "$(rc eds)" = 1 ] &&
    grep -q "$first *edited" "$tmp/eds.out"; then
    ok "edited migration refused and reported"
else fail "edited: rc=$(rc ed)/$(rc eds) err=$(cat "$tmp/ed.err") status=$(cat "$tmp/eds.out")"; fi

# Bootstrap: the token appears once, on its own line; the database has its
# SHA-256 and never the token.
run b1 "${G[@]}" bootstrap --tenant acme --email ops@acme.example
token=$(sed -n 's/^api_token: \(esk_[0-9a-f]\{64\}\)$/\1/p' "$tmp/b1.out")
if [ "$(rc b1)" = 0 ] && [ -n "$token" ]; then
    ok "bootstrap printed a token"
else fail "bootstrap: rc=$(rc b1) out=$(cat "$tmp/b1.out") err=$(cat "$tmp/b1.err")"; token=esk_none; fi
count=$(cat "$tmp/b1.out" "$tmp/b1.err" | grep -c -F "$token")
[ "$count" = 1 ] || fail "the token appears on $count output lines, want exactly 1"
grep -q -F "$token" "$tmp/b1.err" && fail "the token reached stderr"
grep -q '"msg":"tenant bootstrapped"' "$tmp/b1.err" || fail "no JSON log line: $(cat "$tmp/b1.err")"
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
pg_dump "$url" >"$tmp/dump.sql" || fail "pg_dump failed"
grep -q -F "${token#esk_}" "$tmp/dump.sql" && fail "the token (or its hex part) is in the database"
if grep -q -F "$hash" "$tmp/dump.sql"; then ok "database holds the token's SHA-256, not the token"
else fail "SHA-256 $hash of the token not in the database"; fi
tenant_id=$(sed -n 's/^tenant_id: //p' "$tmp/b1.out")
row=$(sql "SELECT length(t.external_id) >= 32, u.role, u.email, encode(k.token_sha256, 'hex')
             FROM tenants t JOIN users u ON u.tenant_id = t.id JOIN api_tokens k ON k.user_id = u.id
            WHERE t.id = '$tenant_id' AND t.name = 'acme'")
if [ "$row" = "t|manager|ops@acme.example|$hash" ]; then ok "tenant, manager and token rows"
else fail "rows for tenant '$tenant_id': '$row'"; fi
ext=$(sed -n 's/^external_id: //p' "$tmp/b1.out")
[ "${#ext}" -ge 32 ] && [ "$(sql "SELECT external_id FROM tenants WHERE id = '$tenant_id'")" = "$ext" ] ||
    fail "external_id '$ext' printed does not match the database or is short"

# bootstrap audited itself in its transaction: one row, and the chain verifies.
arow=$(sql "SELECT seq, action, target, actor, detail->>'name' FROM audit_log WHERE tenant_id = '$tenant_id'")
if [ "$arow" = "1|tenant.bootstrap|$tenant_id|cli:escher-api bootstrap|acme" ]; then ok "bootstrap wrote its audit row"
else fail "audit rows of '$tenant_id': '$arow'"; fi
grep -q -F "${token#esk_}" <<<"$(sql "SELECT detail::text FROM audit_log")" && fail "the token is in the audit log"
run av1 "${G[@]}" audit verify --tenant "$tenant_id"
if [ "$(rc av1)" = 0 ] && [ "$(cat "$tmp/av1.out")" = "audit chain of tenant $tenant_id: intact, 1 rows (last seq 1)" ]; then
    ok "audit verify: intact, 1 rows"
else fail "audit verify: rc=$(rc av1) out=$(cat "$tmp/av1.out") err=$(cat "$tmp/av1.err")"; fi
# Upper case is accepted and printed canonical.
run av1u "${G[@]}" audit verify --tenant="$(tr a-f A-F <<<"$tenant_id")"
[ "$(rc av1u)" = 0 ] && cmp -s "$tmp/av1.out" "$tmp/av1u.out" || fail "upper-case tenant id: rc=$(rc av1u) $(cat "$tmp/av1u.out" "$tmp/av1u.err")"
# A well-formed id of no tenant is an error, not an intact empty chain.
run anone "${G[@]}" audit verify --tenant $zero
if [ "$(rc anone)" = 1 ] && grep -q "no tenant with id '$zero'" "$tmp/anone.err"; then
    ok "audit verify: unknown tenant, exit 1"
else fail "audit verify unknown tenant: rc=$(rc anone) out=$(cat "$tmp/anone.out") err=$(cat "$tmp/anone.err")"; fi
run adown --database-url "postgresql://escher@127.0.0.1:1/nothing" audit verify --tenant "$tenant_id"
if [ "$(rc adown)" = 1 ] && grep -q "escher-api: audit verify:" "$tmp/adown.err"; then
    ok "audit verify: unreachable database, exit 1"
else fail "audit verify unreachable: rc=$(rc adown) err=$(cat "$tmp/adown.err")"; fi

# The same tenant again: refused, nothing added.
run b2 "${G[@]}" bootstrap --tenant acme --email other@acme.example
if [ "$(rc b2)" = 1 ] && grep -q "a tenant named 'acme' already exists" "$tmp/b2.err" &&
    ! grep -q '^api_token:' "$tmp/b2.out" && [ "$(sql "SELECT count(*) FROM users")" = 1 ]; then
    ok "duplicate tenant refused"
else fail "duplicate tenant: rc=$(rc b2) err=$(cat "$tmp/b2.err")"; fi

# Malformed email: refused before touching the database.
for bad in "no-at-sign" "two@@example.com" "x@nodot" "sp ace@example.com" "@example.com"; do
    run be "${G[@]}" bootstrap --tenant "bad $bad" --email "$bad"
    if [ "$(rc be)" != 1 ] || ! grep -q "is not an email address" "$tmp/be.err"; then
        fail "email '$bad': rc=$(rc be) err=$(cat "$tmp/be.err")"
    fi
done
[ "$(sql "SELECT count(*) FROM tenants")" = 1 ] || fail "a bad email created a tenant"
ok "malformed emails refused"

# As a login role that is only a member of escher_api (no superuser, row-level
# security applies), bootstrap still works: it sets the tenant first.
psql "$ESCHER_TEST_PG_URL" -qAt -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE $role LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE escher_api" >/dev/null ||
    fail "cannot create role $role"
sql "GRANT CONNECT ON DATABASE $db TO $role" >/dev/null
run b3 --database-url "$role_url" bootstrap --tenant "beta corp" --email=admin@beta.example
if [ "$(rc b3)" = 0 ] && grep -q '^api_token: esk_' "$tmp/b3.out" &&
    [ "$(sql "SELECT count(*) FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.name = 'beta corp'")" = 1 ]; then
    ok "bootstrap under row-level security (role in escher_api)"
else fail "bootstrap as $role: rc=$(rc b3) err=$(cat "$tmp/b3.err")"; fi
beta_id=$(sed -n 's/^tenant_id: //p' "$tmp/b3.out")

# audit verify under row-level security (as $role) sees each tenant's own row.
run av2 --database-url "$role_url" audit verify --tenant "$beta_id"
if [ "$(rc av2)" = 0 ] && [ "$(cat "$tmp/av2.out")" = "audit chain of tenant $beta_id: intact, 1 rows (last seq 1)" ]; then
    ok "audit verify under row-level security"
else fail "audit verify as $role: rc=$(rc av2) out=$(cat "$tmp/av2.out") err=$(cat "$tmp/av2.err")"; fi

# Tampering with acme's row (as superuser: the app roles cannot UPDATE) is
# caught at seq 1 with exit 3, as superuser and under RLS; beta is untouched.
sql "UPDATE audit_log SET detail = jsonb_set(detail, '{name}', '\"evil\"') WHERE tenant_id = '$tenant_id' AND seq = 1" >/dev/null ||
    fail "cannot tamper with the audit row"
run av3 "${G[@]}" audit verify --tenant "$tenant_id"
run av4 --database-url "$role_url" audit verify --tenant "$tenant_id"
run av5 --database-url "$role_url" audit verify --tenant "$beta_id"
if [ "$(rc av3)" = 3 ] && grep -q "^audit chain of tenant $tenant_id: broken at seq 1: [a-z]" "$tmp/av3.out" && ! grep -q "seq 1: seq 1" "$tmp/av3.out" &&
    [ "$(rc av4)" = 3 ] && cmp -s "$tmp/av3.out" "$tmp/av4.out" && [ "$(rc av5)" = 0 ]; then
    ok "tampered audit row: exit 3 at seq 1 ($(cat "$tmp/av3.out"))"
else fail "tampered: rc=$(rc av3)/$(rc av4)/$(rc av5) out=$(cat "$tmp/av3.out" "$tmp/av4.out" "$tmp/av5.out") err=$(cat "$tmp/av3.err" "$tmp/av4.err")"; fi
sql "UPDATE audit_log SET detail = jsonb_set(detail, '{name}', '\"acme\"') WHERE tenant_id = '$tenant_id' AND seq = 1" >/dev/null
run av6 "${G[@]}" audit verify --tenant "$tenant_id"
[ "$(rc av6)" = 0 ] || fail "restored row does not verify: rc=$(rc av6) $(cat "$tmp/av6.out")"

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all api_cli checks passed"
