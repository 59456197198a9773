#!/usr/bin/env bash
# Starts the clustered peers (Socket.IO + Redis adapter, a NATS cluster) on
# loopback, checks that a message published on node A reaches node C, and
# stops them by PID. See bench/peers/cluster_peers.py for the options.
exec python3 "$(dirname "$0")/cluster_peers.py" "$@"
