// The client side of one WebSocket connection for the load generator's
// adapters for WebSocket servers other than muxchatd (Socket.IO, a Node "ws"
// broadcast server): the upgrade request, the server's response head, and the
// server's frames (unmasked; text and binary both, fragmented messages
// reassembled, pings answered), plus masked text/binary messages out. The
// server's Sec-WebSocket-Accept is not checked (loopback benchmark peers);
// no extensions are offered, so no compression. One per connection;
// single-threaded.
#ifndef MUXCHAT_BENCH_LOAD_WEBSOCKET_CLIENT_H_
#define MUXCHAT_BENCH_LOAD_WEBSOCKET_CLIENT_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "src/wire/buffer.h"

namespace muxchat::bench {

class WebSocketClient {
 public:
  // A complete message from the server; `text` tells its opcode. `payload` is
  // valid only during the call.
  using MessageFn = absl::FunctionRef<absl::Status(bool text, absl::string_view payload)>;

  // Appends the GET `path` upgrade request (Host: `host`) to `out`.
  void StartUpgrade(absl::string_view path, absl::string_view host, wire::Buffer* out);

  // Whether the server's 101 has arrived.
  bool open() const { return open_; }

  // Consumes the response head (until open) and every complete frame in
  // `in`, calling `on_message` for each message; pongs for pings go to `out`.
  // An error (refused upgrade, a close frame, a malformed frame, an error
  // from `on_message`) is fatal for the connection.
  absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, MessageFn on_message);

  // Appends one masked text / binary message.
  void AppendText(absl::string_view payload, wire::Buffer* out) { Append(0x1, payload, out); }
  void AppendBinary(absl::string_view payload, wire::Buffer* out) { Append(0x2, payload, out); }

 private:
  void Append(uint8_t opcode, absl::string_view payload, wire::Buffer* out);

  bool open_ = false;
  uint8_t message_opcode_ = 0;  // opcode of a fragmented message in progress (0: none)
  std::string fragments_;
  uint32_t mask_ = 0x9E3779B9u;
};

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_WEBSOCKET_CLIENT_H_
