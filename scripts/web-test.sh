#!/usr/bin/env bash
# The web client's browser test: builds web/dist (scripts/web-build.sh), makes
# sure Debian's chromium is installed, and runs web/test/browser.test.mjs with
# node's test runner (headless Chromium driven by playwright-core).
#   scripts/web-test.sh                  against build/src/server/muxchatd when it
#                                        has been built (it serves the page with
#                                        --web_root and /ws on one port, same origin,
#                                        default --allowed_origins), else the mock
#   MUXCHATD=path/to/muxchatd scripts/web-test.sh   against that muxchatd
#   scripts/web-test.sh --mock           against the test's mock server
# A muxchat CLI user joins the browsers when MUXCHAT_CLI names the binary
# (default: build/src/client/muxchat when it has been built).
#   scripts/web-test.sh --screenshots    also refresh docs/web-*.png
set -euo pipefail
cd "$(dirname "$0")/.."

use_mock=0
for arg in "$@"; do
  case "$arg" in
    --screenshots) export MUXCHAT_SCREENSHOT_DIR="$PWD/docs" ;;
    --mock) use_mock=1 ;;
    *) echo "usage: scripts/web-test.sh [--screenshots] [--mock]" >&2; exit 2 ;;
  esac
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  echo "web-test: installing chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi

# Against the real server when it has been built (a muxchatd with
# --allowed_origins serves /ws); the test's mock server otherwise. A muxchatd
# with --web_root serves the page itself (test/backend.mjs), so the browsers
# load it from the same origin as /ws and no --allowed_origins is passed.
if ((use_mock)); then
  unset MUXCHATD
elif [[ -z "${MUXCHATD:-}" && -x build/src/server/muxchatd ]]; then
  # --helpfull exits non-zero by design: read its text, not its status.
  help="$(build/src/server/muxchatd --helpfull 2>&1 || true)"
  if [[ "$help" == *--allowed_origins* ]]; then export MUXCHATD="$PWD/build/src/server/muxchatd"; fi
fi
if [[ -n "${MUXCHATD:-}" ]]; then
  help="$("$MUXCHATD" --helpfull 2>&1 || true)"
  if [[ "$help" == *--web_root* ]]; then echo "web-test: against $MUXCHATD (page and /ws from it, same origin)"
  else echo "web-test: against $MUXCHATD (page from the test, --allowed_origins)"; fi
else
  echo "web-test: against the mock server"
fi
if [[ -z "${MUXCHAT_CLI:-}" && -x build/src/client/muxchat ]]; then
  export MUXCHAT_CLI="$PWD/build/src/client/muxchat"
fi

bash scripts/web-build.sh
cd web
npm test
