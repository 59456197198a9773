// RFC 6455 framing, server side. See websocket_codec.h.
#include "src/wire/websocket_codec.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace muxchat::wire {
namespace {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF. Close reasons are the only text the server ever reads.
bool IsValidUtf8(absl::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

bool IsControl(uint8_t opcode) { return (opcode & 0x8) != 0; }

bool IsKnownOpcode(uint8_t opcode) {
  switch (static_cast<WsOpcode>(opcode)) {
    case WsOpcode::kContinuation:
    case WsOpcode::kText:
    case WsOpcode::kBinary:
    case WsOpcode::kClose:
    case WsOpcode::kPing:
    case WsOpcode::kPong:
      return true;
  }
  return false;
}

// XORs eight bytes at a time (the key repeated twice keeps its phase, since 8
// is a multiple of 4), then the tail byte by byte. memcpy, not a pointer
// cast: no alignment assumption, and the byte order in memory is the same
// for the key and the data, so it is endianness free.
void Unmask(char* payload, size_t n, const unsigned char key[4]) {
  const unsigned char key8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  uint64_t k;
  std::memcpy(&k, key8, sizeof(k));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, payload + i, sizeof(w));
    w ^= k;
    std::memcpy(payload + i, &w, sizeof(w));
  }
  for (; i < n; ++i) payload[i] = static_cast<char>(payload[i] ^ key[i & 3]);
}

}  // namespace

bool IsValidWsCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

absl::Status WebSocketDecoder::Fail(uint16_t close_code, absl::StatusCode code,
                                    absl::string_view why) {
  done_ = true;
  close_code_ = close_code;
  return absl::Status(code, absl::StrCat("websocket: ", why));
}

absl::StatusOr<bool> WebSocketDecoder::Next(Buffer* in, WsEvent* event) {
  if (done_) return absl::FailedPreconditionError("websocket: stream already ended");
  // The previous fragmented message has been delivered: release its bytes.
  if (!in_message_ && !fragments_.empty()) std::string().swap(fragments_);

  while (true) {
    const size_t avail = in->ReadableBytes();
    if (avail < 2) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(in->Peek());
    const bool fin = (p[0] & 0x80) != 0;
    const uint8_t rsv = p[0] & 0x70;
    const uint8_t opcode = p[0] & 0x0F;
    const bool masked = (p[1] & 0x80) != 0;
    const uint8_t len7 = p[1] & 0x7F;

    // Everything decidable from the first two bytes, before waiting for more.
    if (rsv != 0) {
      return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                  "reserved bits set without a negotiated extension");
    }
    if (!IsKnownOpcode(opcode)) {
      return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                  absl::StrCat("unknown opcode ", opcode));
    }
    if (masked != (role_ == Role::kServer)) {
      return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                  masked ? "server frame is masked" : "client frame is not masked");
    }
    const bool control = IsControl(opcode);
    if (control) {
      if (!fin) {
        return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                    "fragmented control frame");
      }
      if (len7 > kWsMaxControlPayload) {
        return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                    "control frame payload above 125 bytes");
      }
    } else if (opcode == static_cast<uint8_t>(WsOpcode::kContinuation)) {
      if (!in_message_) {
        return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                    "continuation frame outside a fragmented message");
      }
    } else if (in_message_) {
      return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                  "new data frame inside a fragmented message");
    } else if (opcode == static_cast<uint8_t>(WsOpcode::kText)) {
      return Fail(kWsCloseUnsupportedData, absl::StatusCode::kUnimplemented,
                  "text messages are not accepted; send binary protobuf frames");
    }

    const size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    const size_t header = 2 + ext + (masked ? 4 : 0);
    if (avail < 2 + ext) return false;
    uint64_t len = len7;
    if (ext != 0) {
      len = 0;
      for (size_t i = 0; i < ext; ++i) len = (len << 8) | p[2 + i];
      if (ext == 8 && (len >> 63) != 0) {
        return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                    "64-bit length with the most significant bit set");
      }
      if ((ext == 2 && len < 126) || (ext == 8 && len <= 0xFFFF)) {
        return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                    "payload length not in its minimal encoding");
      }
    }
    if (!control && (fragments_.size() > max_message_bytes_ ||
                     len > max_message_bytes_ - fragments_.size())) {
      return Fail(kWsCloseMessageTooBig, absl::StatusCode::kResourceExhausted,
                  absl::StrCat("message above ", max_message_bytes_, " bytes"));
    }
    if (avail < header || avail - header < len) return false;

    char* payload = in->MutablePeek() + header;
    const size_t n = static_cast<size_t>(len);
    if (masked) {
      unsigned char key[4];
      std::memcpy(key, p + 2 + ext, 4);
      Unmask(payload, n, key);
    }
    const absl::string_view body(payload, n);
    // Consume() does not move bytes, so `body` stays readable until the next
    // write to `in` (the contract of WsEvent::payload).
    in->Consume(header + n);

    switch (static_cast<WsOpcode>(opcode)) {
      case WsOpcode::kPing:
      case WsOpcode::kPong:
        event->kind = opcode == static_cast<uint8_t>(WsOpcode::kPing) ? WsEvent::Kind::kPing
                                                                        : WsEvent::Kind::kPong;
        event->payload = body;
        event->close_code = kWsCloseNoStatus;
        return true;
      case WsOpcode::kClose: {
        if (n == 1) {
          return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                      "close payload of one byte");
        }
        uint16_t code = kWsCloseNoStatus;
        absl::string_view reason;
        if (n >= 2) {
          code = static_cast<uint16_t>((static_cast<unsigned char>(body[0]) << 8) |
                                       static_cast<unsigned char>(body[1]));
          if (!IsValidWsCloseCode(code)) {
            return Fail(kWsCloseProtocolError, absl::StatusCode::kInvalidArgument,
                        absl::StrCat("invalid close code ", code));
          }
          reason = body.substr(2);
          if (!IsValidUtf8(reason)) {
            return Fail(kWsCloseInvalidPayload, absl::StatusCode::kDataLoss,
                        "close reason is not UTF-8");
          }
        }
        done_ = true;
        event->kind = WsEvent::Kind::kClose;
        event->payload = reason;
        event->close_code = code;
        return true;
      }
      case WsOpcode::kBinary:
        if (fin) {
          event->kind = WsEvent::Kind::kMessage;
          event->payload = body;
          event->close_code = kWsCloseNoStatus;
          return true;
        }
        in_message_ = true;
        fragments_.assign(body.data(), body.size());
        continue;
      case WsOpcode::kContinuation:
        fragments_.append(body.data(), body.size());
        if (!fin) continue;
        in_message_ = false;
        event->kind = WsEvent::Kind::kMessage;
        event->payload = fragments_;
        event->close_code = kWsCloseNoStatus;
        return true;
      case WsOpcode::kText:
        break;  // rejected above
    }
    return Fail(kWsCloseInternalError, absl::StatusCode::kInternal, "unreachable opcode");
  }
}

void AppendWsServerFrame(WsOpcode opcode, absl::string_view payload, Buffer* out) {
  const WsHeader h = MakeWsServerHeader(payload.size(), opcode);
  out->EnsureWritable(h.size + payload.size());
  out->Append(h.bytes, h.size);
  out->Append(payload);
}

void AppendWsClose(uint16_t code, absl::string_view reason, Buffer* out) {
  if (code == 0) {
    AppendWsServerFrame(WsOpcode::kClose, {}, out);
    return;
  }
  size_t cut = std::min(reason.size(), kWsMaxControlPayload - 2);
  // Never split a UTF-8 sequence: back up over continuation bytes.
  while (cut > 0 && cut < reason.size() && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  char body[kWsMaxControlPayload];
  body[0] = static_cast<char>(code >> 8);
  body[1] = static_cast<char>(code & 0xFF);
  std::memcpy(body + 2, reason.data(), cut);
  AppendWsServerFrame(WsOpcode::kClose, absl::string_view(body, 2 + cut), out);
}

void AppendWsClientFrameRaw(uint8_t first_byte, absl::string_view payload, uint32_t mask,
                            Buffer* out) {
  char header[14];
  size_t n = 0;
  header[n++] = static_cast<char>(first_byte);
  const uint64_t len = payload.size();
  if (len <= 125) {
    header[n++] = static_cast<char>(0x80 | len);
  } else if (len <= 0xFFFF) {
    header[n++] = static_cast<char>(0x80 | 126);
    header[n++] = static_cast<char>(len >> 8);
    header[n++] = static_cast<char>(len & 0xFF);
  } else {
    header[n++] = static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) header[n++] = static_cast<char>((len >> (8 * i)) & 0xFF);
  }
  unsigned char key[4] = {static_cast<unsigned char>(mask >> 24),
                          static_cast<unsigned char>(mask >> 16),
                          static_cast<unsigned char>(mask >> 8), static_cast<unsigned char>(mask)};
  std::memcpy(header + n, key, 4);
  n += 4;
  out->Append(header, n);
  out->EnsureWritable(payload.size());
  char* dst = out->BeginWrite();
  // Masking is the same XOR as unmasking; eight bytes at a time (the load
  // generator's WebSocket publisher masks every message it sends).
  if (!payload.empty()) std::memcpy(dst, payload.data(), payload.size());
  Unmask(dst, payload.size(), key);
  out->CommitWrite(payload.size());
}

void AppendWsClientFrame(WsOpcode opcode, absl::string_view payload, uint32_t mask, Buffer* out,
                         bool fin, uint8_t rsv) {
  const uint8_t first = static_cast<uint8_t>((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) |
                                             static_cast<uint8_t>(opcode));
  AppendWsClientFrameRaw(first, payload, mask, out);
}

}  // namespace muxchat::wire
