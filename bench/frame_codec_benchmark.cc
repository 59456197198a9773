// Micro-benchmarks for src/wire/frame_codec: encoding a ServerFrame carrying a
// chat message into a Buffer or a SharedFrame, and decoding it back, whole or
// fed to the incremental decoder in small fragments. Payload sizes 64 B, 1 KiB,
// 16 KiB; reports frames/s (items) and frame bytes/s.
#include <benchmark/benchmark.h>

#include <string>

#include "proto/muxchat.pb.h"
#include "src/wire/buffer.h"
#include "src/wire/frame_codec.h"

namespace muxchat::wire {
namespace {

v1::ServerFrame MakeChat(size_t payload) {
  v1::ServerFrame f;
  f.set_room_id(42);
  auto* m = f.mutable_chat_message();
  m->set_sender("publisher-0001");
  m->set_text(std::string(payload, 'x'));
  m->set_seq(123456789);
  m->set_timestamp_unix_micros(1764057600000000);
  return f;
}

void BM_EncodeFrame(benchmark::State& state) {
  const v1::ServerFrame msg = MakeChat(static_cast<size_t>(state.range(0)));
  Buffer out(64 * 1024);
  size_t frame_bytes = 0;
  for (auto _ : state) {
    if (!AppendFrame(msg, &out).ok()) state.SkipWithError("encode failed");
    frame_bytes = out.ReadableBytes();
    benchmark::DoNotOptimize(out.Peek());
    out.Clear();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame_bytes));
}
BENCHMARK(BM_EncodeFrame)->Arg(64)->Arg(1024)->Arg(16 * 1024);

void BM_EncodeSharedFrame(benchmark::State& state) {
  const v1::ServerFrame msg = MakeChat(static_cast<size_t>(state.range(0)));
  size_t frame_bytes = 0;
  for (auto _ : state) {
    auto frame = EncodeSharedFrame(msg);
    if (!frame.ok()) state.SkipWithError("encode failed");
    frame_bytes = frame->size();
    benchmark::DoNotOptimize(frame->data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame_bytes));
}
BENCHMARK(BM_EncodeSharedFrame)->Arg(64)->Arg(1024)->Arg(16 * 1024);

// Whole frames already in the buffer: the decoder's best case. The message
// object is reused across iterations, as a connection would reuse it.
void BM_DecodeFrame(benchmark::State& state) {
  const std::string wire = EncodeFrameToString(MakeChat(static_cast<size_t>(state.range(0))));
  FrameDecoder decoder;
  Buffer in(64 * 1024);
  v1::ServerFrame msg;
  for (auto _ : state) {
    in.Append(wire);
    auto got = decoder.Next(&in, &msg);
    if (!got.ok() || !*got) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(msg.chat_message().seq());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_DecodeFrame)->Arg(64)->Arg(1024)->Arg(16 * 1024);

// A stream of frames arriving in fragments of state.range(1) bytes; every
// fragment is appended and the decoder is asked for frames, as a connection
// does after each read. Measures the cost of re-checking partial frames.
void BM_DecodeFragmented(benchmark::State& state) {
  const std::string one = EncodeFrameToString(MakeChat(static_cast<size_t>(state.range(0))));
  const size_t fragment = static_cast<size_t>(state.range(1));
  std::string stream;
  while (stream.size() < 256 * 1024) stream += one;
  const size_t frames_per_stream = stream.size() / one.size();
  FrameDecoder decoder;
  Buffer in(64 * 1024);
  v1::ServerFrame msg;
  size_t frames = 0;
  for (auto _ : state) {
    for (size_t off = 0; off < stream.size(); off += fragment) {
      in.Append(stream.data() + off, std::min(fragment, stream.size() - off));
      for (;;) {
        auto got = decoder.Next(&in, &msg);
        if (!got.ok()) {
          state.SkipWithError("decode failed");
          return;
        }
        if (!*got) break;
        ++frames;
      }
    }
  }
  if (frames != state.iterations() * frames_per_stream) state.SkipWithError("frame count mismatch");
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_DecodeFragmented)
    ->ArgNames({"payload", "fragment"})
    ->Args({64, 7})
    ->Args({64, 64})
    ->Args({1024, 100})
    ->Args({1024, 1460})
    ->Args({16 * 1024, 1460})
    ->Args({16 * 1024, 4096});

}  // namespace
}  // namespace muxchat::wire

BENCHMARK_MAIN();
