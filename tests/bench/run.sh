#!/usr/bin/env bash
# Runs one benchmark (tests/bench/NAME.sh) or, with no name, all of them.
# Each prints what it measured and ends with one line
#   NAME: <figure> <unit> (<ratio>x vs <peer or bound>)
#
#   tests/bench/run.sh [NAME]      BENCH_SIZE=small|full (default full)
#
# Builds the Release tree first (ESCHER_BUILD_DIR overrides, default
# build-bench) so figures are not measured on a sanitizer build.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export ESCHER_SOURCE_DIR=$ROOT
export BENCH_SIZE=${BENCH_SIZE:-full}
if [ -z "${ESCHER_BUILD_DIR:-}" ]; then
  export ESCHER_BUILD_DIR=$ROOT/build-bench
  "$ROOT/deploy/local/deps.sh"
  cmake -S "$ROOT" -B "$ESCHER_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$ESCHER_BUILD_DIR" -j "$(nproc)" >/dev/null
fi

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in "$HERE"/*.sh; do
    n=$(basename "$f" .sh)
    [ "$n" = run ] || names+=("$n")
  done
fi

status=0
for n in "${names[@]}"; do
  script=$HERE/$n.sh
  [ -f "$script" ] || { echo "run.sh: no benchmark named '$n' (looked for $script)" >&2; exit 2; }
  echo "== bench $n (BENCH_SIZE=$BENCH_SIZE)"
  out=$(bash "$script") || { echo "$out"; echo "run.sh: benchmark '$n' failed" >&2; status=1; continue; }
  echo "$out"
  last=$(printf '%s\n' "$out" | tail -n 1)
  re='^'"$n"': [0-9.]+ [^ ]+ \([0-9.]+x vs .+\)$'
  if ! [[ $last =~ $re ]]; then
    echo "run.sh: benchmark '$n' must end with '$n: <figure> <unit> (<ratio>x vs <peer>)', got: $last" >&2
    status=1
  fi
done
exit $status
