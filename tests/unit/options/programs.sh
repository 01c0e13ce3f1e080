#!/bin/sh
# Usage: programs.sh BINARY NAME EXAMPLE_CONF
# Checks one Escher program's standard flags and its honest "not built yet" exit.
set -u
# serves: "serves" when the program has real work (a plain run would serve
# forever), so the "not built yet" check does not apply.
bin=$1 name=$2 example=$3 serves=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL ($name): $*" >&2; exit 1; }

"$bin" --version >"$tmp/out" 2>&1 || fail "--version exited $?"
grep -q "^$name [0-9]" "$tmp/out" || fail "--version printed: $(cat "$tmp/out")"

"$bin" --help >"$tmp/out" 2>&1 || fail "--help exited $?"
grep -q "^Usage: $name \[OPTIONS\]" "$tmp/out" || fail "--help lacks usage"

"$bin" --print-example-config >"$tmp/out" 2>&1 || fail "--print-example-config exited $?"
cmp -s "$tmp/out" "$example" || fail "--print-example-config differs from $example"

"$bin" --check-config >"$tmp/out" 2>&1 || fail "--check-config exited $?: $(cat "$tmp/out")"
grep -q "configuration OK" "$tmp/out" || fail "--check-config did not say OK"

"$bin" --bogus-flag >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "unknown flag exited $rc, want 1"
grep -q "unknown option '--bogus-flag'" "$tmp/out" || fail "unknown flag message: $(cat "$tmp/out")"

if [ "$serves" != serves ]; then
    "$bin" >"$tmp/out" 2>&1
    rc=$?
    [ $rc -eq 2 ] || fail "plain run exited $rc, want 2 (not built yet)"
    grep -q "not built yet" "$tmp/out" || fail "plain run did not say what is missing"
fi

# Secrets in the configuration never reach the --check-config output.
: >"$tmp/secret.conf"
grep -q '^#database-url =' "$example" &&
    echo 'database-url = postgresql://escher:pw-Leak123@db/escher' >>"$tmp/secret.conf"
grep -q '^#api-token =' "$example" && echo 'api-token = tok-Leak456' >>"$tmp/secret.conf"
"$bin" --config "$tmp/secret.conf" --check-config >"$tmp/out" 2>&1 ||
    fail "--check-config with secrets exited $?: $(cat "$tmp/out")"
if grep -q 'Leak' "$tmp/out"; then fail "secret printed: $(grep Leak "$tmp/out")"; fi
if [ -s "$tmp/secret.conf" ]; then
    grep -q 'REDACTED' "$tmp/out" || fail "no [REDACTED] in --check-config output"
fi
exit 0
