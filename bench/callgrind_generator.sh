#!/bin/bash
# Load-generator instructions (valgrind callgrind) for a fixed fan-out: the
# counterpart of callgrind_ab.sh with muxchat-bench under callgrind and
# muxchatd running normally. MSGS messages of PAYLOAD bytes (default 64) to
# SUBS subscribers of one room, window 64.
#   bench/callgrind_generator.sh BENCH SUBS    BENCH: a muxchat-bench binary
# Per-delivery cost = (Ir with MSGS=2000 - Ir with MSGS=1) / (1999 * SUBS).
# SERVER: the muxchatd to run (default build/src/server/muxchatd);
# BENCH_FLAGS=--ws: publisher and subscribers on WebSocket.
set -u
bench=$1; subs=$2
tag=$(echo "$bench" | md5sum | cut -c1-8)
out=/tmp/cg-gen-$tag-$subs${BENCH_FLAGS:+-ws}-${PAYLOAD:-64}-${MSGS:-2000}
rm -f $out.*
${SERVER:-build/src/server/muxchatd} --listen=127.0.0.1:0 --messages_per_second=0 --log_level=off > $out.srv 2>&1 &
pid=$!
for i in $(seq 100); do grep -q listening $out.srv 2>/dev/null && break; sleep 0.2; done
port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' $out.srv)
valgrind --tool=callgrind --callgrind-out-file=$out.cg "$bench" --target=muxchat --port=$port --subscribers=$subs \
  --messages=${MSGS:-2000} --payload=${PAYLOAD:-64} --window=64 ${BENCH_FLAGS:-} > $out.bench 2>$out.vg
kill -INT $pid; wait $pid
grep "^summary" $out.cg
