// WebSocket framing (RFC 6455) over another transport, TCP or TLS, after the
// upgrade on GET /ws. Everything above the seam keeps speaking length-
// prefixed muxchat frames: on the way in, each binary message becomes one
// frame (its 4-byte length added); on the way out, each queued frame becomes
// one binary message (its length prefix dropped, a WebSocket header put in
// front). So the decoder, ChatService and the shared fan-out blocks are the
// same for every member. Pings are answered and the close handshake is done
// here. Single-threaded; owned by its Connection, owns the inner transport.
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
  bool HasPendingOutput() const override { return !staged_.empty() || !control_.empty(); }
  void SetCloseReason(CloseReason reason) override { reason_ = reason; }
  void ShutdownWrite() override;
  absl::string_view alpn() const override { return inner_->alpn(); }
  void ReleaseIdleBuffers() override;

  // The close code sent, or 0 (tests).
  uint16_t close_sent() const { return close_sent_; }

 private:
  // Moves whole frames from `out` into staged_ as WebSocket messages, up to
  // about kStageBytes, control frames first (they may go between messages).
  void Stage(wire::OutputQueue* out);
  void QueueClose(uint16_t code, absl::string_view reason);

  // Staging bounds the copy per member: bytes move from the connection's
  // queue (counted against max_output_bytes) into this one only as the
  // socket takes them.
  static constexpr size_t kStageBytes = 64 * 1024;

  std::unique_ptr<Transport> inner_;
  wire::WebSocketDecoder decoder_;
  wire::Buffer raw_;          // bytes from the socket, not yet whole frames
  wire::OutputQueue staged_;  // WebSocket frames ready for the inner transport
  wire::Buffer control_;      // pongs and our Close, sent at the next message boundary
  uint16_t close_sent_ = 0;
  bool peer_closed_ = false;
  bool early_unparsed_ = false;
  CloseReason reason_ = CloseReason::kNone;  // raw_ holds bytes no Read has looked at yet
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_WEBSOCKET_TRANSPORT_H_
