// Test helpers for the WebSocket benchmark adapters: server frames as a
// server would send them, and the client's masked frames decoded as a server
// would read them (text frames included, which wire::WebSocketDecoder
// refuses). Header-only; tests only.
#ifndef MUXCHAT_TESTS_BENCH_WS_TEST_FRAMES_H_
#define MUXCHAT_TESTS_BENCH_WS_TEST_FRAMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/wire/buffer.h"
#include "src/wire/websocket_codec.h"

namespace muxchat::bench::testing {

inline std::string ServerText(absl::string_view payload) {
  wire::Buffer b;
  wire::AppendWsServerFrame(wire::WsOpcode::kText, payload, &b);
  return std::string(b.View());
}

inline std::string ServerBinary(absl::string_view payload) {
  wire::Buffer b;
  wire::AppendWsServerFrame(wire::WsOpcode::kBinary, payload, &b);
  return std::string(b.View());
}

struct ClientFrame {
  bool fin = false;
  uint8_t opcode = 0;
  bool masked = false;
  std::string payload;  // unmasked
};

// Decodes and consumes every complete client frame in `out`.
inline std::vector<ClientFrame> DecodeClientFrames(wire::Buffer* out) {
  std::vector<ClientFrame> frames;
  for (;;) {
    const absl::string_view v = out->View();
    if (v.size() < 2) break;
    ClientFrame f;
    f.fin = (static_cast<uint8_t>(v[0]) & 0x80) != 0;
    f.opcode = static_cast<uint8_t>(v[0]) & 0x0f;
    f.masked = (static_cast<uint8_t>(v[1]) & 0x80) != 0;
    size_t pos = 2;
    uint64_t len = static_cast<uint8_t>(v[1]) & 0x7f;
    if (len >= 126) {
      const size_t n = len == 126 ? 2 : 8;
      len = 0;
      for (size_t i = 0; i < n; ++i) len = (len << 8) | static_cast<uint8_t>(v[pos + i]);
      pos += n;
    }
    char mask[4] = {0, 0, 0, 0};
    if (f.masked) {
      for (int i = 0; i < 4; ++i) mask[i] = v[pos + static_cast<size_t>(i)];
      pos += 4;
    }
    if (v.size() < pos + len) break;
    f.payload.assign(v.data() + pos, static_cast<size_t>(len));
    for (size_t i = 0; i < f.payload.size(); ++i) f.payload[i] = static_cast<char>(f.payload[i] ^ mask[i % 4]);
    out->Consume(pos + static_cast<size_t>(len));
    frames.push_back(f);
  }
  return frames;
}

}  // namespace muxchat::bench::testing

#endif  // MUXCHAT_TESTS_BENCH_WS_TEST_FRAMES_H_
