#!/bin/bash
# Server instructions (valgrind callgrind) for a fixed fan-out: MSGS messages of 64 B to SUBS subscribers
# of one room, from muxchat-bench. Deterministic where wall-clock A/B on a shared 2-core machine is not.
#   bench/callgrind_ab.sh SIDE SUBS    runs BUILD_ROOT-SIDE/src/server/muxchatd (BUILD_ROOT default: build)
# Per-delivery cost = (Ir with MSGS=2000 - Ir with MSGS=1) / (1999 * SUBS).
# SERVER_FLAGS: extra muxchatd flags (--memory for builds that store by default).
# BENCH_FLAGS=--ws: publisher and subscribers on WebSocket; PAYLOAD (default 64) in bytes.
set -u
side=$1; subs=$2
out=/tmp/cg-$side-$subs${BENCH_FLAGS:+-ws}-${PAYLOAD:-64}
rm -f $out.*
valgrind --tool=callgrind --callgrind-out-file=$out.cg ${BUILD_ROOT:-build}-$side/src/server/muxchatd --listen=127.0.0.1:0 --messages_per_second=0 --log_level=off ${SERVER_FLAGS:-} > $out.srv 2>$out.vg &
pid=$!
for i in $(seq 100); do grep -q listening $out.srv 2>/dev/null && break; sleep 0.2; done
port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' $out.srv)
${BENCH:-build/bench/muxchat-bench} --target=muxchat --port=$port --subscribers=$subs --messages=${MSGS:-2000} --payload=${PAYLOAD:-64} --window=64 ${BENCH_FLAGS:-} > $out.bench 2>&1
kill -INT $pid; wait $pid
grep "^summary" $out.cg
