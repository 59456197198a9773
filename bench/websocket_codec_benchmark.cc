// Micro-benchmarks for src/wire/websocket_codec: decoding (and unmasking in
// place) client messages of typical sizes, building the server header, and
// the per-member cost of queuing one broadcast to WebSocket members with one
// shared header versus a whole frame copied per member.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "src/wire/buffer.h"
#include "src/wire/output_queue.h"
#include "src/wire/shared_frame.h"
#include "src/wire/websocket_codec.h"

namespace muxchat::wire {
namespace {

constexpr int kMessagesPerBatch = 32;  // messages decoded per loop turn

void BM_WsDecodeMessage(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  Buffer frames;
  for (int i = 0; i < kMessagesPerBatch; ++i) {
    AppendWsClientFrame(WsOpcode::kBinary, std::string(size, 'x'), 0x37FA213Du, &frames);
  }
  const std::string bytes(frames.View());
  Buffer in(bytes.size());
  WebSocketDecoder decoder(1 << 20);
  WsEvent ev;
  for (auto _ : state) {
    in.Append(bytes);  // re-masked bytes each turn: unmasking is part of the cost
    for (int i = 0; i < kMessagesPerBatch; ++i) {
      benchmark::DoNotOptimize(decoder.Next(&in, &ev));
      benchmark::DoNotOptimize(ev.payload.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * kMessagesPerBatch);
  state.SetBytesProcessed(state.iterations() * kMessagesPerBatch * static_cast<int64_t>(size));
}
BENCHMARK(BM_WsDecodeMessage)->Arg(64)->Arg(1024)->Arg(16 << 10);

void BM_WsServerHeader(benchmark::State& state) {
  uint64_t n = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    WsHeader h = MakeWsServerHeader(n);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_WsServerHeader)->Arg(100)->Arg(1000)->Arg(100000);

// One broadcast of `size` payload bytes to state.range(1) WebSocket members.
// Shared: the header is built once and each member queues it (a few bytes)
// plus a reference to the payload. Copied: each member gets header + payload
// copied into its own queue.
template <bool kShared>
void BM_WsFanOut(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int members = static_cast<int>(state.range(1));
  SharedFrame block = SharedFrame::AllocateBlock(size);
  char* p = block.Extend(size);
  for (size_t i = 0; i < size; ++i) p[i] = static_cast<char>(i);
  std::vector<OutputQueue> queues(static_cast<size_t>(members));
  for (auto _ : state) {
    const WsHeader h = MakeWsServerHeader(size);
    for (OutputQueue& q : queues) {
      q.AppendCopy(h.view());
      if (kShared) {
        q.AppendSlice(block, 0, size);
      } else {
        q.AppendCopy(block.view());
      }
    }
    for (OutputQueue& q : queues) q.Consume(q.PendingBytes());
  }
  state.SetItemsProcessed(state.iterations() * members);
}
BENCHMARK_TEMPLATE(BM_WsFanOut, true)
    ->Name("BM_WsFanOutSharedHeader")
    ->Args({1024, 100})
    ->Args({16 << 10, 100});
BENCHMARK_TEMPLATE(BM_WsFanOut, false)
    ->Name("BM_WsFanOutCopyPerMember")
    ->Args({1024, 100})
    ->Args({16 << 10, 100});

}  // namespace
}  // namespace muxchat::wire

BENCHMARK_MAIN();
