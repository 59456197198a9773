// RFC 6455 framing, server side, bytes only (no sockets, no HTTP): a
// decoder for the frames a client sends and encoders for the frames a server
// sends. Single-threaded; a decoder belongs to one connection.
//
// Hand code, not Debian's libwslay: wslay_event owns the I/O through its own
// recv/send callbacks and its own send queue (wslay_event_queue_msg copies
// every message it is given), so a broadcast would be copied once per member
// and bypass our OutputQueue (shared ranges, writev, slow-consumer cap). Its
// lower layer, wslay_frame_recv, still reads through a callback into a
// library-owned buffer and leaves reassembly, close codes and limits to us.
// What we need is small: parse a frame from a Buffer we already filled,
// unmask in place, and build a 2-10 byte header per payload length. That is
// ~300 lines covered by websocket_codec_test.cc (every close code, every
// split point) and the websocket_decoder fuzz target. docs/PROTOCOL.md §17.
#ifndef MUXCHAT_WIRE_WEBSOCKET_CODEC_H_
#define MUXCHAT_WIRE_WEBSOCKET_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/wire/buffer.h"

namespace muxchat::wire {

enum class WsOpcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close status codes used by the server (RFC 6455 §7.4.1).
inline constexpr uint16_t kWsCloseNormal = 1000;
inline constexpr uint16_t kWsCloseGoingAway = 1001;
inline constexpr uint16_t kWsCloseProtocolError = 1002;
inline constexpr uint16_t kWsCloseUnsupportedData = 1003;
inline constexpr uint16_t kWsCloseNoStatus = 1005;  // never on the wire
inline constexpr uint16_t kWsCloseInvalidPayload = 1007;
inline constexpr uint16_t kWsClosePolicyViolation = 1008;
inline constexpr uint16_t kWsCloseMessageTooBig = 1009;
inline constexpr uint16_t kWsCloseInternalError = 1011;

// Control frames carry at most this many payload bytes (§5.5).
inline constexpr size_t kWsMaxControlPayload = 125;
// The longest server frame header: 2 bytes + a 64-bit length, no mask.
inline constexpr size_t kWsMaxServerHeaderBytes = 10;

// Whether `code` may appear in a Close frame received from a peer:
// 1000-1003, 1007-1014 and the 3000-4999 application range.
bool IsValidWsCloseCode(uint16_t code);

// One complete event out of the client's byte stream.
struct WsEvent {
  enum class Kind { kMessage, kPing, kPong, kClose };
  Kind kind = Kind::kMessage;
  // kMessage: the whole binary message, unmasked. kPing/kPong: the payload.
  // kClose: the reason text. Points into the input Buffer or into the
  // decoder; valid until the next Next() call or the next write to the Buffer.
  absl::string_view payload;
  // kClose: the peer's code, kWsCloseNoStatus when the frame had none.
  uint16_t close_code = kWsCloseNoStatus;
};

// Parses client frames from the front of a Buffer. Enforces what a server
// must (§5.1-5.5): every frame masked (unmasked, in Role::kClient), no reserved bits, known opcodes,
// control frames unfragmented and <= 125 bytes, continuations only inside a
// fragmented message, minimal length encodings with the top bit clear, a
// valid close code and a UTF-8 close reason; and what we choose: binary
// messages only, at most max_message_bytes per message (all fragments).
class WebSocketDecoder {
 public:
  // kServer reads a client's frames (each must be masked); kClient reads a
  // server's (none may be masked): tests, benchmarks and tools use kClient.
  enum class Role { kServer, kClient };

  explicit WebSocketDecoder(size_t max_message_bytes, Role role = Role::kServer)
      : max_message_bytes_(max_message_bytes), role_(role) {}

  // Consumes the next complete frame(s) at the front of `in` and returns true
  // with `*event` set when one yields an event; a fragment of an unfinished
  // message is consumed (its payload kept by the decoder) and parsing goes on.
  // Returns false when more bytes are needed; the incomplete frame stays in
  // `in`. Limits are judged from the frame header alone, before the payload
  // is buffered. Payloads are unmasked in place inside `in`.
  // On error the connection must be failed: send a Close with close_code()
  // and stop reading. Error codes (close code in brackets):
  //   kInvalidArgument    protocol violation (1002)
  //   kUnimplemented      a text message (1003)
  //   kResourceExhausted  message above max_message_bytes (1009)
  //   kDataLoss           close reason not UTF-8 (1007)
  //   kFailedPrecondition Next() after an error or after a Close event
  absl::StatusOr<bool> Next(Buffer* in, WsEvent* event);

  // The code to close with after Next() failed; 0 before any failure.
  uint16_t close_code() const { return close_code_; }
  size_t max_message_bytes() const { return max_message_bytes_; }
  // A fragmented message has begun and not ended: the next data frame must
  // be a continuation (lets a caller that parses plain binary frames itself
  // know when it must leave them to Next()).
  bool in_fragmented_message() const { return in_message_; }

 private:
  absl::Status Fail(uint16_t close_code, absl::StatusCode code, absl::string_view why);

  size_t max_message_bytes_;
  Role role_;
  bool in_message_ = false;  // a fragmented message has begun
  bool done_ = false;        // a Close arrived or an error happened
  uint16_t close_code_ = 0;
  // The fragments of an unfinished message (unfragmented messages, which is
  // what browsers send, are never copied: they are handed out in place).
  std::string fragments_;
};

// A server frame header (FIN set, no mask) for a payload of a given length.
// It depends on nothing but the length, so a broadcast is framed once with
// it for every WebSocket member of a room (ChatService), and the server's
// WebSocketTransport builds it per write for a member's own length-prefixed
// frames, gathered in front of the payload (one sendmsg).
struct WsHeader {
  char bytes[kWsMaxServerHeaderBytes];
  uint8_t size = 0;
  absl::string_view view() const { return {bytes, size}; }
};
// Inline: it runs once per message per WebSocket member.
inline WsHeader MakeWsServerHeader(uint64_t payload_bytes, WsOpcode opcode = WsOpcode::kBinary) {
  WsHeader h{};  // all bytes set: copies of it never read indeterminate ones
  h.bytes[0] = static_cast<char>(0x80 | static_cast<uint8_t>(opcode));
  if (payload_bytes <= 125) {
    h.bytes[1] = static_cast<char>(payload_bytes);
    h.size = 2;
  } else if (payload_bytes <= 0xFFFF) {
    h.bytes[1] = 126;
    h.bytes[2] = static_cast<char>((payload_bytes >> 8) & 0xFF);
    h.bytes[3] = static_cast<char>(payload_bytes & 0xFF);
    h.size = 4;
  } else {
    h.bytes[1] = 127;
    for (int i = 0; i < 8; ++i) h.bytes[2 + i] = static_cast<char>((payload_bytes >> (8 * (7 - i))) & 0xFF);
    h.size = 10;
  }
  return h;
}

// Appends a whole unmasked server frame (header + payload) to `out`.
void AppendWsServerFrame(WsOpcode opcode, absl::string_view payload, Buffer* out);
// Appends a Close frame with `code` and `reason` (cut to fit 125 bytes at a
// UTF-8 boundary). code 0 sends an empty Close.
void AppendWsClose(uint16_t code, absl::string_view reason, Buffer* out);

// Client side, for tests, benchmarks and hostile-client tools: a masked
// frame (mask key `mask`), with FIN and reserved bits as given.
void AppendWsClientFrame(WsOpcode opcode, absl::string_view payload, uint32_t mask, Buffer* out,
                         bool fin = true, uint8_t rsv = 0);
// The same, with an explicit opcode nibble (for unknown opcodes).
void AppendWsClientFrameRaw(uint8_t first_byte, absl::string_view payload, uint32_t mask,
                            Buffer* out);

}  // namespace muxchat::wire

#endif  // MUXCHAT_WIRE_WEBSOCKET_CODEC_H_
