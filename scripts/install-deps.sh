#!/usr/bin/env bash
# Installs what muxchat needs to build and test, from Debian's packages.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  g++ cmake make pkg-config   # toolchain
  libprotobuf-dev protobuf-compiler  # wire protocol (proto/muxchat.proto)
  libabsl-dev                 # flags, status, strings, containers, time
  libgtest-dev libgmock-dev   # unit and integration tests
  libbenchmark-dev            # micro-benchmarks (bench/)
  libncurses-dev              # ncursesw: the interactive client's full-screen mode
  tmux                        # tests: drives the full-screen client in a real terminal emulator
  libutf8proc-dev             # display width of Unicode text (CJK, emoji) in the client
  libhttp-parser-dev          # HTTP requests on the chat port (/metrics, /healthz)
  prometheus                  # tests: promtool checks /metrics; a real Prometheus scrapes muxchatd
  libssl-dev                  # OpenSSL 3: TLS in muxchatd, the client and bench/'s load generators; SHA-1 for the WebSocket handshake
  openssl                     # scripts/make-dev-cert.sh (and its test)
  libhiredis-dev              # hiredis 0.14 async API: nodes share rooms through Redis (issue 12, docs/SCALING.md)
  redis-server                # tests: the cluster tests start a real redis-server on a free loopback port
  libsodium-dev               # accounts: argon2id password hashing, random session tokens and their SHA-256
  libsqlite3-dev              # durable accounts, rooms and history under --data_dir (embedded SQLite, WAL)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
