// FuzzConnectionFront: the bytes a new connection sends, through the same
// front end the server runs: the first-byte sniffer, then the HTTP parser and
// a WebSocket upgrade with WebSocketTransport over a scripted inner
// transport, or the muxchat frame decoder. Invariants: the sniffer's verdict
// matches the first byte; every HTTP error is one the server answers; a
// WebSocket connection hands the decoder exactly the frames the client sent
// (each length-prefixed, within max_frame_bytes) and answers what it must;
// frames queued for a WebSocket member (copied, ranges of a block of
// length-prefixed frames, ranges of a block already framed as WebSocket
// messages) leave as one binary message each, whether the inner transport
// takes gathered writes (plain TCP: messages are never copied) or not (TLS:
// they are staged), through writes cut anywhere.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "proto/muxchat.pb.h"
#include "src/server/http_request_parser.h"
#include "src/server/protocol_sniffer.h"
#include "src/server/websocket_handshake.h"
#include "src/server/websocket_transport.h"
#include "src/wire/frame_codec.h"
#include "src/wire/frame_format.h"
#include "src/wire/shared_frame.h"
#include "src/wire/websocket_codec.h"
#include "tests/fuzz/fuzz_targets.h"

namespace muxchat::fuzz {
namespace {

using server::IoResult;

// Hands out the input a few bytes per Read, and keeps what is written; with
// `vectored`, takes gathered writes a few bytes at a time, as TCP would.
class ScriptedTransport final : public server::Transport {
 public:
  ScriptedTransport(std::string in, uint32_t seed, bool vectored)
      : in_(std::move(in)), rng_(seed | 1u), vectored_(vectored) {}
  const char* Name() const override { return "tcp"; }
  IoResult Handshake() override { return IoResult{}; }
  IoResult Read(wire::Buffer* in, size_t max_bytes) override {
    IoResult r;
    if (at_ == in_.size()) {
      r.code = IoResult::kEof;
      return r;
    }
    const size_t n = std::min({in_.size() - at_, max_bytes, static_cast<size_t>(1 + Next() % 97)});
    in->Append(in_.data() + at_, n);
    at_ += n;
    r.bytes = n;
    return r;
  }
  IoResult Write(wire::OutputQueue* out, size_t max_bytes) override {
    const size_t n = std::min(out->PendingBytes(), max_bytes);
    std::string all;
    out->CopyTo(&all);
    written_.append(all, 0, n);
    out->Consume(n);
    IoResult r;
    r.bytes = n;
    return r;
  }
  bool WritesVectors() const override { return vectored_; }
  IoResult WriteVectors(const iovec* vec, size_t count) override {
    IoResult r;
    size_t room = Next() % 300;
    if (room == 0) {
      r.code = IoResult::kWouldBlock;
      return r;
    }
    for (size_t i = 0; i < count && room > 0; ++i) {
      const size_t n = std::min(room, vec[i].iov_len);
      written_.append(static_cast<const char*>(vec[i].iov_base), n);
      room -= n;
      r.bytes += n;
    }
    return r;
  }
  void ShutdownWrite() override {}
  const std::string& written() const { return written_; }

 private:
  uint32_t Next() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    return rng_;
  }

  std::string in_;
  size_t at_ = 0;
  uint32_t rng_;
  const bool vectored_;
  std::string written_;
};

void RunWebSocket(const std::string& early, const std::string& rest, uint32_t max_frame, uint32_t seed) {
  auto inner = std::make_unique<ScriptedTransport>(rest, seed, (seed & 1) != 0);
  ScriptedTransport* raw = inner.get();
  server::WebSocketTransport ws(std::move(inner), max_frame, early, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
  wire::Buffer in(0);
  wire::FrameDecoder decoder(max_frame);
  v1::ClientFrame frame;
  bool ended = false;
  for (int turns = 0; turns < 10000 && !ended; ++turns) {
    const IoResult r = ws.Read(&in, 4096);
    // Every message the transport produced is one whole, length-prefixed frame.
    while (in.ReadableBytes() >= wire::kLengthPrefixBytes) {
      const uint32_t len = wire::DecodeLength(in.Peek());
      FUZZ_CHECK(len <= max_frame);
      FUZZ_CHECK(in.ReadableBytes() >= wire::kLengthPrefixBytes + len);
      absl::StatusOr<bool> got = decoder.Next(&in, &frame);
      if (!got.ok()) {
        in.Consume(in.ReadableBytes());  // not a ClientFrame: the server would close
        break;
      }
      FUZZ_CHECK(*got);
    }
    FUZZ_CHECK(in.ReadableBytes() == 0);
    if (r.code == IoResult::kError) FUZZ_CHECK(ws.HasPendingOutput() && ws.close_sent() != 0);
    ended = r.code == IoResult::kError || r.code == IoResult::kEof;
  }
  FUZZ_CHECK(ended);
  const bool closed_before_writing = ws.close_sent() != 0;  // answered the peer's Close, or refused its bytes

  // The way out: a few frames queued as the server queues them: copied (a
  // reply), a range of a block of length-prefixed frames (a broadcast to a
  // TCP member), or a range of a block of WebSocket messages (a broadcast,
  // framed once for every WebSocket member of its room).
  wire::OutputQueue out;
  std::vector<std::string> bodies;
  wire::SharedFrame prefixed = wire::SharedFrame::AllocateBlock(8192);
  wire::SharedFrame framed = wire::SharedFrame::AllocateBlock(8192);
  for (size_t i = 0; i < 3; ++i) {
    v1::ServerFrame f;
    f.set_room_id(seed + i);
    f.mutable_chat_message()->set_text(std::string(i * 700 + (seed % 50), 'x'));
    bodies.push_back(f.SerializeAsString());
    const std::string& body = bodies.back();
    switch ((seed >> (2 * i + 1)) % 3) {
      case 0:
        FUZZ_CHECK(wire::AppendFrame(f, &out, UINT32_MAX).ok());
        break;
      case 1: {
        char* at = prefixed.Extend(wire::kLengthPrefixBytes + body.size());
        wire::EncodeLength(static_cast<uint32_t>(body.size()), at);
        std::memcpy(at + wire::kLengthPrefixBytes, body.data(), body.size());
        const size_t begin = static_cast<size_t>(at - prefixed.data());
        out.AppendSlice(prefixed, begin, begin + wire::kLengthPrefixBytes + body.size());
        break;
      }
      default: {
        const wire::WsHeader header = wire::MakeWsServerHeader(body.size());
        char* at = framed.Extend(header.size + body.size());
        std::memcpy(at, header.bytes, header.size);
        std::memcpy(at + header.size, body.data(), body.size());
        const size_t begin = static_cast<size_t>(at - framed.data());
        out.AppendFramedSlice(framed, begin, begin + header.size + body.size());
        break;
      }
    }
  }
  for (int turns = 0; turns < 10000 && (!out.empty() || ws.HasPendingOutput()); ++turns) ws.Write(&out, 1 + seed % 5000);
  FUZZ_CHECK(out.empty() && !ws.HasPendingOutput());
  ws.ShutdownWrite();
  // Read back as a client: the 101, then (unless we had to close) one binary
  // message per frame, and a Close last.
  const std::string& wire_bytes = raw->written();
  const std::string preamble = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
  FUZZ_CHECK(wire_bytes.compare(0, preamble.size(), preamble) == 0);
  wire::Buffer back(0);
  back.Append(absl::string_view(wire_bytes).substr(preamble.size()));
  wire::WebSocketDecoder client(1 << 20, wire::WebSocketDecoder::Role::kClient);
  wire::WsEvent event;
  size_t messages = 0;
  bool closed = false;
  while (!closed) {
    absl::StatusOr<bool> got = client.Next(&back, &event);
    FUZZ_CHECK(got.ok());
    if (!*got) break;
    if (event.kind == wire::WsEvent::Kind::kMessage) {
      FUZZ_CHECK(messages < bodies.size());
      FUZZ_CHECK(event.payload == bodies[messages]);
      ++messages;
    }
    closed = event.kind == wire::WsEvent::Kind::kClose;
  }
  FUZZ_CHECK(closed);
  // Nothing follows a Close; without one every frame goes out, whole.
  FUZZ_CHECK(messages == (closed_before_writing ? 0 : bodies.size()));
}

}  // namespace

int FuzzConnectionFront(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint32_t max_frame = 256u << (data[0] % 8);  // 256 B .. 32 KiB
  const uint32_t seed = data[1];
  const std::string bytes(reinterpret_cast<const char*>(data + 2), size - 2);
  const unsigned char first = static_cast<unsigned char>(bytes[0]);
  switch (server::SniffProtocol(first)) {
    case server::SniffedProtocol::kTls:
      FUZZ_CHECK(first == 0x16);
      return 0;  // the handshake is OpenSSL's, fuzzed by its own project
    case server::SniffedProtocol::kMuxchat: {
      FUZZ_CHECK(first != 0x16 && !server::StartsHttpMethod(first));
      wire::Buffer in(0);
      in.Append(bytes);
      wire::FrameDecoder decoder(max_frame);
      v1::ClientFrame frame;
      for (;;) {
        absl::StatusOr<bool> got = decoder.Next(&in, &frame);
        if (!got.ok()) {
          FUZZ_CHECK(got.status().code() == absl::StatusCode::kResourceExhausted ||
                     got.status().code() == absl::StatusCode::kInvalidArgument);
          break;
        }
        if (!*got) break;
      }
      return 0;
    }
    case server::SniffedProtocol::kHttp:
      break;
  }
  FUZZ_CHECK(server::StartsHttpMethod(first));
  server::HttpRequestParser parser;
  wire::Buffer in(0);
  in.Append(bytes);
  const server::HttpRequestParser::Result result = parser.Feed(&in);
  if (result == server::HttpRequestParser::Result::kError) {
    const int status = server::HttpStatusCode(parser.error_status());
    FUZZ_CHECK(status == 400 || status == 405 || status == 413 || status == 431);
    return 0;
  }
  if (result != server::HttpRequestParser::Result::kComplete) return 0;
  const server::HttpRequest& request = parser.request();
  if (request.path != "/ws") return 0;
  absl::StatusOr<std::string> accepted =
      server::AcceptWebSocketUpgrade(server::UpgradeRequestFrom(request), server::OriginPolicy{});
  if (!accepted.ok()) {
    const int status = server::UpgradeErrorHttpStatus(accepted.status());
    FUZZ_CHECK(status == 400 || status == 403 || status == 405 || status == 426);
    return 0;
  }
  // What followed the head: some already read with it, the rest from the socket.
  const std::string after(in.View());
  const size_t split = after.empty() ? 0 : seed % (after.size() + 1);
  RunWebSocket(after.substr(0, split), after.substr(split), max_frame, seed);
  return 0;
}

}  // namespace muxchat::fuzz
