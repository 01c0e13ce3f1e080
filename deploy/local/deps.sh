#!/usr/bin/env bash
# Installs the Debian packages Escher needs to build, test and run, and only
# those missing. Idempotent and silent when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libcurl4-openssl-dev libssl-dev libpq-dev libevent-dev libjansson-dev libhiredis-dev
  libexpat1-dev libsqlite3-dev libedit-dev libcmocka-dev libinih-dev
  postgresql redis-server
  python3 python3-botocore python3-boto3 python3-yaml awscli
  clang-format gcovr curl procps iproute2 util-linux passwd wrk tzdata
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
