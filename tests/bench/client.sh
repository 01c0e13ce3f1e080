#!/usr/bin/env bash
# The escher client (issue 6): start-up of `escher chat` to its first prompt
# on a pseudo-terminal (target <= 50 ms), and the time to list every instance
# of one account in 4 regions with `escher ask ... --output json` against
# escher-sandbox answering each call 20 ms late, next to the peer: a loop of
# Debian's `aws ec2 describe-instances --region R` over the same regions with
# the same profile (target: faster than the peer). Every round checks that
# both listed exactly the instance ids of the sandbox's GET /state; a
# difference fails the benchmark. tests/bench/client/bench_client.py does the
# work (/usr/bin/python3, standard library).
#   BENCH_SIZE=small: 400 instances, 1 timed round, 5 start-ups (seconds);
#   full: 5,000 instances, 5 timed rounds, 21 start-ups, and a round without
#   the added latency.
# Last line: "client: <ms> ms (<ratio>x vs aws ec2 describe-instances loop, ...)".
set -euo pipefail
: "${ESCHER_BUILD_DIR:?set ESCHER_BUILD_DIR to a configured build tree}"
: "${ESCHER_SOURCE_DIR:?set ESCHER_SOURCE_DIR to the source tree}"
escher=$ESCHER_BUILD_DIR/services/client/escher
sandbox=$ESCHER_BUILD_DIR/services/sandbox/escher-sandbox
for t in escher escher-sandbox; do
  [ -x "$escher" ] && [ -x "$sandbox" ] || cmake --build "$ESCHER_BUILD_DIR" --target "$t" >/dev/null
done
case "${BENCH_SIZE:-full}" in
  small) args=(400 1 5 --no-latency-round) ;;
  full) args=(5000 5 21) ;;
  *) echo "client.sh: BENCH_SIZE must be small or full, got '${BENCH_SIZE}'" >&2; exit 2 ;;
esac
[ -x /usr/bin/aws ] || { echo "client.sh: /usr/bin/aws is missing: deploy/local/deps.sh installs awscli" >&2; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

cache="$ESCHER_BUILD_DIR/CMakeCache.txt"
if grep -qs '^ESCHER_SANITIZE:BOOL=ON' "$cache" ||
    ! grep -qs '^CMAKE_BUILD_TYPE:STRING=Release' "$cache"; then
  echo "note: $ESCHER_BUILD_DIR is not a Release build without sanitizers; escher's times are overstated" >&2
fi

exec /usr/bin/python3 "$ESCHER_SOURCE_DIR/tests/bench/client/bench_client.py" "$escher" "$sandbox" "${args[@]}"
