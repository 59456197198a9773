// FuzzWebSocketDecoder: the WebSocket decoder must give the same events and
// the same close code however the byte stream is split, never hand out a
// message above its cap, fail only with the close codes its header lists, and
// accept again every message it produced once re-framed. See fuzz_targets.h.
#include <string>
#include <vector>

#include "src/wire/buffer.h"
#include "src/wire/websocket_codec.h"
#include "tests/fuzz/fuzz_targets.h"

namespace muxchat::fuzz {
namespace {

struct Outcome {
  std::vector<std::string> events;  // kind byte + payload (+ close code)
  uint16_t close_code = 0;          // 0: no error
};

Outcome Decode(const std::string& bytes, size_t cap, uint32_t seed, wire::WebSocketDecoder::Role role) {
  wire::WebSocketDecoder decoder(cap, role);
  wire::Buffer in(16);
  Outcome out;
  size_t fed = 0;
  uint32_t rng = seed | 1u;
  bool ended = false;
  while (fed < bytes.size() && !ended) {
    size_t piece = bytes.size() - fed;
    if (seed != 0) {
      rng ^= rng << 13;
      rng ^= rng >> 17;
      rng ^= rng << 5;
      piece = std::min<size_t>(piece, 1 + rng % 13);
    }
    in.Append(bytes.data() + fed, piece);
    fed += piece;
    while (true) {
      wire::WsEvent ev;
      absl::StatusOr<bool> got = decoder.Next(&in, &ev);
      if (!got.ok()) {
        const uint16_t c = decoder.close_code();
        FUZZ_CHECK(c == wire::kWsCloseProtocolError || c == wire::kWsCloseUnsupportedData ||
                   c == wire::kWsCloseInvalidPayload || c == wire::kWsCloseMessageTooBig);
        FUZZ_CHECK(decoder.Next(&in, &ev).status().code() == absl::StatusCode::kFailedPrecondition);
        out.close_code = c;
        ended = true;
        break;
      }
      if (!*got) break;
      std::string e(1, static_cast<char>(ev.kind));
      e.append(ev.payload.data(), ev.payload.size());
      switch (ev.kind) {
        case wire::WsEvent::Kind::kMessage: {
          FUZZ_CHECK(ev.payload.size() <= cap);
          // Re-framed as one frame of the same side, the message must decode unchanged.
          const std::string payload(ev.payload);
          wire::Buffer again;
          if (role == wire::WebSocketDecoder::Role::kServer) {
            wire::AppendWsClientFrame(wire::WsOpcode::kBinary, payload, 0x01020304u, &again);
          } else {
            wire::AppendWsServerFrame(wire::WsOpcode::kBinary, payload, &again);
          }
          wire::WebSocketDecoder fresh(cap, role);
          wire::WsEvent back;
          absl::StatusOr<bool> round = fresh.Next(&again, &back);
          FUZZ_CHECK(round.ok() && *round && again.empty());
          FUZZ_CHECK(back.payload == payload);
          break;
        }
        case wire::WsEvent::Kind::kPing:
        case wire::WsEvent::Kind::kPong:
          FUZZ_CHECK(ev.payload.size() <= wire::kWsMaxControlPayload);
          break;
        case wire::WsEvent::Kind::kClose:
          FUZZ_CHECK(ev.close_code == wire::kWsCloseNoStatus || wire::IsValidWsCloseCode(ev.close_code));
          e += std::to_string(ev.close_code);
          ended = true;
          break;
      }
      out.events.push_back(std::move(e));
      if (ended) break;
    }
  }
  return out;
}

}  // namespace

int FuzzWebSocketDecoder(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  // Caps from tiny to beyond the default, so both sides of every check are hit.
  const size_t cap = (size_t{data[0]} << 8 | data[1]) % 70000u;
  // Top bit of the third byte: read as a client (server frames, unmasked).
  const auto role = (data[2] & 0x80) != 0 ? wire::WebSocketDecoder::Role::kClient
                                          : wire::WebSocketDecoder::Role::kServer;
  const uint32_t seed = data[2] & 0x7F;
  const std::string bytes(reinterpret_cast<const char*>(data + 3), size - 3);
  const Outcome whole = Decode(bytes, cap, 0, role);
  const Outcome split = Decode(bytes, cap, seed == 0 ? 1 : seed, role);
  FUZZ_CHECK(whole.events == split.events);
  FUZZ_CHECK(whole.close_code == split.close_code);
  return 0;
}

}  // namespace muxchat::fuzz
