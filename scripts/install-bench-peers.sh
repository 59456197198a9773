#!/usr/bin/env bash
# Installs the servers muxchat is compared against (bench/compare) and gnuplot
# for its chart: Redis, NATS and ngIRCd from Debian; openssl for the throw-away
# certificate of bench/compare --tls, and libssl-dev, which the load generators
# (muxchat-bench, muxchat-idle-mem) link for TLS; Node.js and npm (Debian's
# nodejs/npm, unless a node/npm is already on PATH) for the WebSocket peers of
# bench/compare --ws and the cluster peers (bench/peers/cluster_peers.py),
# whose npm packages (socket.io, ws, @socket.io/redis-adapter, redis,
# socket.io-client; versions pinned by
# bench/peers/node/package-lock.json) go into bench/peers/node/node_modules
# with `npm ci`. The durable peers of bench/compare --durable are the same
# redis-server (Streams, AOF; Redis >= 5) and nats-server (JetStream; >= 2.2)
# packages. Idempotent: packages that
# are already installed are left alone; the services Debian starts on install
# are stopped and disabled, because bench/compare starts its own instances on
# free loopback ports with the configs in bench/peers/.
set -euo pipefail

pkgs=(redis-server nats-server ngircd gnuplot-nox openssl libssl-dev)
# A node/npm not from Debian (e.g. NodeSource's nodejs, which bundles npm and
# conflicts with Debian's npm package) is used as it is.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update
  # Do not let the packages' init scripts start system-wide daemons in containers.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "already installed: ${pkgs[*]}"
fi

# Debian starts redis-server and ngircd as services; the benchmark does not use them.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  for svc in redis-server ngircd nats-server; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
fi

# The Node peers' packages, exactly as locked (no network if already there).
node_dir="$(cd "$(dirname "$0")/.." && pwd)/bench/peers/node"
if [[ -d "$node_dir/node_modules/socket.io" && -d "$node_dir/node_modules/ws" &&
      -d "$node_dir/node_modules/@socket.io/redis-adapter" && -d "$node_dir/node_modules/redis" &&
      -d "$node_dir/node_modules/socket.io-client" ]]; then
  echo "already installed: $node_dir/node_modules"
else
  (cd "$node_dir" && npm ci --no-audit --no-fund)
fi

for b in redis-server nats-server ngircd gnuplot openssl node npm; do
  printf '%-13s %s\n' "$b" "$(command -v "$b" || echo MISSING)"
done
