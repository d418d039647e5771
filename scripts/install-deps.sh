#!/usr/bin/env bash
# Installs every Debian 12 package mhguard needs to build, test and run.
# Idempotent; needs root (or sudo). Used by setup.sh and test.sh.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(build-essential cmake pkg-config git ca-certificates
      libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libyaml-dev libutf8proc-dev
      libvectorscan-dev libstemmer-dev liblinear-dev libsodium-dev libsqlite3-dev libpq-dev
      libcmocka-dev sqlite3 python3 curl)
# Test-only extras (end-to-end tests, load benchmark, browser checks).
if [ "${1:-}" = "--test" ]; then
  PKGS+=(postgresql wrk chromium)
  # Node.js + npm run the official OpenAI client in the gateway tests. Machines
  # that already have a Node.js with its own npm (e.g. from NodeSource, which
  # conflicts with Debian's npm package) keep it.
  command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
  command -v npm >/dev/null 2>&1 || PKGS+=(npm)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
