// WebSocket framing (RFC 6455) over another transport, TCP or TLS, after the
// upgrade on GET /ws. Everything above the seam keeps speaking length-
// prefixed muxchat frames: on the way in, each binary message becomes one
// frame (its 4-byte length added); on the way out, each queued frame becomes
// one binary message (its length prefix dropped, a WebSocket header put in
// front). So the decoder, ChatService and the shared fan-out blocks are the
// same for every member. Broadcasts are the exception: ChatService frames
// each one once as a WebSocket message for all WebSocket members of a room,
// and their queues hold ranges of that block marked framed, written here as
// they lie (one vector per range, many messages each, as on TCP). Over plain
// TCP the way out copies nothing: one sendmsg gathers the framed ranges and,
// per length-prefixed frame, a header built here and the body where it lies
// in the queue; over TLS the messages are copied into a staging queue (the
// record is a copy anyway). Pings are answered and the close handshake is
// done here, between messages. Single-threaded; owned by its Connection,
// owns the inner transport.
#ifndef MUXCHAT_SERVER_WEBSOCKET_TRANSPORT_H_
#define MUXCHAT_SERVER_WEBSOCKET_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "src/server/transport.h"
#include "src/wire/buffer.h"
#include "src/wire/output_queue.h"
#include "src/wire/websocket_codec.h"

namespace muxchat::server {

class WebSocketTransport final : public Transport {
 public:
  // `max_message_bytes`: the largest binary message a client may send (the
  // server's max_frame_bytes; above it: close 1009). `early` holds bytes the
  // client sent after its upgrade request, already read from the socket;
  // `preamble` goes out raw before any frame (the 101 answer).
  WebSocketTransport(std::unique_ptr<Transport> inner, size_t max_message_bytes, absl::string_view early,
                     absl::string_view preamble);

  const char* Name() const override { return inner_->Name()[1] == 'l' ? "wss" : "ws"; }
  IoResult Handshake() override { return IoResult{}; }
  IoResult Read(wire::Buffer* in, size_t max_bytes) override;
  IoResult Write(wire::OutputQueue* out, size_t max_bytes) override;
  bool HasBufferedInput() const override;
  bool HasPendingOutput() const override {
    return !staged_.empty() || !control_.empty() || InFrame() || inner_->HasPendingOutput();
  }
  void SetCloseReason(CloseReason reason) override { reason_ = reason; }
  void ShutdownWrite() override;
  absl::string_view alpn() const override { return inner_->alpn(); }
  void ReleaseIdleBuffers() override;

  // The close code sent, or 0 (tests).
  uint16_t close_sent() const { return close_sent_; }

 private:
  struct WritePlan;  // websocket_transport.cc
  static WritePlan& ScratchPlan();

  // A message has begun going out (its header, at least in part) and not
  // ended: nothing else (a pong, our Close) may go before its last byte.
  bool InFrame() const { return header_sent_ < header_.size || frame_left_ > 0; }
  // Lays out, without consuming anything, up to `max_bytes` of WebSocket
  // messages from the front of `out`: the rest of the current message, then
  // (if `start_messages`) whole queued frames, each as its header and its
  // body with the length prefix skipped, and framed segments as they lie.
  // The queue holds whole frames (every append is one or more), so each
  // prefix says where the next one starts, and a framed segment ends where
  // a message does.
  void BuildPlan(const wire::OutputQueue& out, size_t max_bytes, bool start_messages, WritePlan* plan) const;
  // Accounts for the first `n` bytes of `plan` having gone out: moves the
  // current-message state on and consumes the prefixes, bodies and framed
  // messages they covered from `out` (a partial write walks them).
  void Advance(const WritePlan& plan, size_t n, wire::OutputQueue* out);
  // TLS: copies messages from `out` into staged_ up to about kStageBytes.
  void Stage(wire::OutputQueue* out);
  void QueueClose(uint16_t code, absl::string_view reason);

  // Staging bounds the copy per member over TLS: bytes move from the
  // connection's queue (counted against max_output_bytes) into this one
  // only as the socket takes them.
  static constexpr size_t kStageBytes = 64 * 1024;

  std::unique_ptr<Transport> inner_;
  const bool vectored_;  // inner_->WritesVectors(): messages go out uncopied
  wire::WebSocketDecoder decoder_;
  wire::Buffer raw_;          // bytes from the socket, not yet whole frames
  wire::OutputQueue staged_;  // raw bytes for the inner transport: the 101, control frames; TLS: messages too
  wire::Buffer control_;      // pongs and our Close, sent at the next message boundary
  uint16_t close_sent_ = 0;
  bool peer_closed_ = false;
  bool early_unparsed_ = false;  // raw_ holds bytes no Read has looked at yet
  CloseReason reason_ = CloseReason::kNone;
  // The message going out (written, or staged over TLS) when the last write
  // stopped inside it; its length prefix is already consumed from the queue.
  // A framed message's header is in the queue: header_ is then empty.
  wire::WsHeader header_;
  uint8_t header_sent_ = 0;  // bytes of header_ already out
  size_t frame_left_ = 0;    // its bytes still at the front of the queue
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_WEBSOCKET_TRANSPORT_H_
