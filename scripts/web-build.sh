#!/usr/bin/env bash
# Builds the web client into web/dist: installs node and npm from Debian if
# missing, `npm ci` (exact versions from web/package-lock.json), generates the
# protobuf code from proto/muxchat.proto and bundles the page with esbuild.
#   scripts/web-build.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "web-build: installing nodejs and npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

cd web
# Reinstall only when the lock file changed since the last install.
if [[ ! -f node_modules/.package-lock.json ]] || ! cmp -s package-lock.json node_modules/.muxchat-lock; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.muxchat-lock
fi
npm run --silent build
