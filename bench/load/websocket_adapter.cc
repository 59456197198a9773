// muxchat over WebSocket for the load generator. See websocket_adapter.h.
#include "bench/load/websocket_adapter.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/wire/frame_format.h"
#include "src/wire/websocket_codec.h"

namespace muxchat::bench {
namespace {

// Any 16 bytes in base64 will do for a load generator.
constexpr char kKey[] = "bXV4Y2hhdC1iZW5jaC13cw==";

class WebSocketAdapter final : public ProtocolAdapter {
 public:
  WebSocketAdapter(std::unique_ptr<ProtocolAdapter> inner, std::string host)
      : inner_(std::move(inner)), host_(std::move(host)),
        decoder_(1 << 24, wire::WebSocketDecoder::Role::kClient) {}

  void Start(wire::Buffer* out) override {
    out->Append(absl::StrCat("GET /ws HTTP/1.1\r\nHost: ", host_,
                             "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ",
                             kKey, "\r\n\r\n"));
    inner_->Start(&held_);  // sent once the server has switched protocols
  }

  absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, AdapterEvents* events) override {
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
      Wrap(&held_, out);
    }
    for (;;) {
      absl::string_view message;
      if (TakePlainMessage(in, &message)) {
        // In place: `message` lies in `in` (server frames are not masked, so
        // not even XORed) and is read before `in` is written again. No
        // prefix is restored, no copy made.
        absl::Status st = inner_->OnMessage(message, &inner_out_, events);
        if (!st.ok()) return st;
        continue;
      }
      wire::WsEvent ev;
      absl::StatusOr<bool> got = decoder_.Next(in, &ev);
      if (!got.ok()) return got.status();
      if (!*got) break;
      switch (ev.kind) {
        case wire::WsEvent::Kind::kMessage: {
          // In place too (a fragmented message: in the decoder's buffer).
          absl::Status st = inner_->OnMessage(ev.payload, &inner_out_, events);
          if (!st.ok()) return st;
          break;
        }
        case wire::WsEvent::Kind::kPing:
          wire::AppendWsClientFrame(wire::WsOpcode::kPong, ev.payload, NextMask(), out);
          break;
        case wire::WsEvent::Kind::kPong:
          break;
        case wire::WsEvent::Kind::kClose:
          return absl::UnavailableError(
              absl::StrCat("server closed the WebSocket: ", ev.close_code, " ", ev.payload));
      }
    }
    Wrap(&inner_out_, out);
    return absl::OkStatus();
  }

  void AppendPublish(absl::string_view payload, wire::Buffer* out) override {
    inner_->AppendPublish(payload, &inner_out_);
    Wrap(&inner_out_, out);
  }

 private:
  // Nearly every frame from muxchatd is one whole binary message of up to
  // 64 KiB (FIN, no reserved bits, no mask, a 7- or 16-bit length): that case
  // is read here from the header in place and consumed, ~10 instructions
  // against ~120 for a round through the decoder per delivery (callgrind,
  // docs/BENCHMARKS.md §7.2). Anything else (control frames, fragments,
  // 64-bit lengths, a frame not yet complete, and every malformed header)
  // is left in `in` for the decoder, which checks it all.
  bool TakePlainMessage(wire::Buffer* in, absl::string_view* message) {
    const size_t avail = in->ReadableBytes();
    if (avail < 2 || decoder_.in_fragmented_message()) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(in->Peek());
    if (p[0] != 0x82) return false;  // FIN + binary, nothing else set
    size_t len = p[1];               // the mask bit set: > 127, to the decoder
    size_t header = 2;
    if (len == 126) {
      if (avail < 4) return false;
      len = (static_cast<size_t>(p[2]) << 8) | p[3];
      if (len < 126) return false;  // not minimal: the decoder fails it
      header = 4;
    } else if (len > 126) {
      return false;
    }
    if (avail - header < len || len > decoder_.max_message_bytes()) return false;
    *message = absl::string_view(in->Peek() + header, len);
    in->Consume(header + len);  // moves no bytes: `message` stays readable
    return true;
  }

  // Moves each length-prefixed frame in `framed` to `out` as one masked
  // binary message without its prefix.
  void Wrap(wire::Buffer* framed, wire::Buffer* out) {
    while (framed->ReadableBytes() >= wire::kLengthPrefixBytes) {
      const uint32_t n = wire::DecodeLength(framed->Peek());
      if (framed->ReadableBytes() < wire::kLengthPrefixBytes + n) break;
      wire::AppendWsClientFrame(wire::WsOpcode::kBinary,
                                absl::string_view(framed->Peek() + wire::kLengthPrefixBytes, n),
                                NextMask(), out);
      framed->Consume(wire::kLengthPrefixBytes + n);
    }
  }

  uint32_t NextMask() {
    mask_ = mask_ * 1664525u + 1013904223u;
    return mask_;
  }

  std::unique_ptr<ProtocolAdapter> inner_;
  std::string host_;
  wire::WebSocketDecoder decoder_;
  bool open_ = false;
  wire::Buffer held_;       // the inner adapter's frames from before the 101
  wire::Buffer inner_out_;  // the inner adapter's length-prefixed frames
  uint32_t mask_ = 0x2545F491u;
};

}  // namespace

std::unique_ptr<ProtocolAdapter> MakeWebSocketAdapter(std::unique_ptr<ProtocolAdapter> inner,
                                                      const std::string& host) {
  return std::make_unique<WebSocketAdapter>(std::move(inner), host);
}

}  // namespace muxchat::bench
