#!/usr/bin/env bash
# The web client's browser test: builds web/dist (scripts/web-build.sh), makes
# sure Debian's chromium is installed, and runs web/test/browser.test.mjs with
# node's test runner (headless Chromium driven by playwright-core).
#   scripts/web-test.sh                  against the test's mock server
#   MUXCHATD=build/src/server/muxchatd scripts/web-test.sh   against muxchatd
# A muxchat CLI user joins the browsers when MUXCHAT_CLI names the binary
# (default: build/src/client/muxchat when it has been built).
#   scripts/web-test.sh --screenshots    also refresh docs/web-*.png
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--screenshots" ]]; then
  export MUXCHAT_SCREENSHOT_DIR="$PWD/docs"
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  echo "web-test: installing chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi

if [[ -z "${MUXCHAT_CLI:-}" && -x build/src/client/muxchat ]]; then
  export MUXCHAT_CLI="$PWD/build/src/client/muxchat"
fi

bash scripts/web-build.sh
cd web
npm test
