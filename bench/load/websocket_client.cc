// Client side of a WebSocket connection for benchmark adapters. See
// websocket_client.h.
#include "bench/load/websocket_client.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/wire/websocket_codec.h"

namespace muxchat::bench {
namespace {

// Any 16 bytes in base64 ("muxchat-bench-nd") will do for a load generator.
constexpr char kKey[] = "bXV4Y2hhdC1iZW5jaC1uZA==";
// Larger messages than any benchmark payload are a protocol error here.
constexpr uint64_t kMaxMessageBytes = 1 << 24;

}  // namespace

void WebSocketClient::StartUpgrade(absl::string_view path, absl::string_view host, wire::Buffer* out) {
  out->Append(absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", host,
                           "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ",
                           kKey, "\r\n\r\n"));
}

absl::Status WebSocketClient::OnInput(wire::Buffer* in, wire::Buffer* out, MessageFn on_message) {
  if (!open_) {
    const size_t end = in->View().find("\r\n\r\n");
    if (end == absl::string_view::npos) {
      if (in->ReadableBytes() > 16 * 1024) return absl::UnavailableError("no HTTP response head");
      return absl::OkStatus();
    }
    if (!absl::StartsWith(in->View(), "HTTP/1.1 101")) {
      return absl::UnavailableError(
          absl::StrCat("WebSocket upgrade refused: ", in->View().substr(0, in->View().find("\r\n"))));
    }
    in->Consume(end + 4);
    open_ = true;
  }
  for (;;) {
    const absl::string_view v = in->View();
    if (v.size() < 2) return absl::OkStatus();
    const uint8_t b0 = static_cast<uint8_t>(v[0]);
    const uint8_t b1 = static_cast<uint8_t>(v[1]);
    if ((b1 & 0x80) != 0) return absl::InvalidArgumentError("masked frame from the server");
    if ((b0 & 0x70) != 0) return absl::InvalidArgumentError("reserved bits set (no extension was offered)");
    size_t header = 2;
    uint64_t len = b1 & 0x7f;
    if (len == 126 || len == 127) {
      const size_t n = len == 126 ? 2 : 8;
      if (v.size() < 2 + n) return absl::OkStatus();
      len = 0;
      for (size_t i = 0; i < n; ++i) len = (len << 8) | static_cast<uint8_t>(v[2 + i]);
      header += n;
    }
    if (len > kMaxMessageBytes) return absl::InvalidArgumentError("server message too large");
    if (v.size() < header + len) return absl::OkStatus();
    const absl::string_view payload = v.substr(header, static_cast<size_t>(len));
    const bool fin = (b0 & 0x80) != 0;
    const uint8_t opcode = b0 & 0x0f;
    absl::Status st;
    switch (opcode) {
      case 0x0:  // continuation
        if (message_opcode_ == 0) return absl::InvalidArgumentError("continuation outside a message");
        fragments_.append(payload.data(), payload.size());
        if (fin) {
          st = on_message(message_opcode_ == 0x1, fragments_);
          fragments_.clear();
          message_opcode_ = 0;
        }
        break;
      case 0x1:
      case 0x2:
        if (message_opcode_ != 0) return absl::InvalidArgumentError("new message inside a fragmented one");
        if (fin) {
          st = on_message(opcode == 0x1, payload);
        } else {
          message_opcode_ = opcode;
          fragments_.assign(payload.data(), payload.size());
        }
        break;
      case 0x8:
        return absl::UnavailableError(absl::StrCat("server closed the WebSocket: ",
                                                   payload.size() > 2 ? payload.substr(2) : ""));
      case 0x9:
        Append(0xA, payload, out);
        break;
      case 0xA:
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat("unknown opcode ", opcode));
    }
    in->Consume(header + static_cast<size_t>(len));
    if (!st.ok()) return st;
  }
}

void WebSocketClient::Append(uint8_t opcode, absl::string_view payload, wire::Buffer* out) {
  mask_ = mask_ * 1664525u + 1013904223u;
  wire::AppendWsClientFrame(static_cast<wire::WsOpcode>(opcode), payload, mask_, out);
}

}  // namespace muxchat::bench
