#!/usr/bin/env bash
# Usage: test_api_cli.sh ESCHER_API_BINARY MIGRATIONS_DIR
# Runs `escher-api migrate` and `escher-api bootstrap` against a private
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

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all api_cli checks passed"
