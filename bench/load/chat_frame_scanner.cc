#include "bench/load/chat_frame_scanner.h"

#include <cstdint>

#include "google/protobuf/io/coded_stream.h"
#include "proto/muxchat.pb.h"

namespace muxchat::bench {
namespace {

using google::protobuf::io::CodedInputStream;

constexpr uint32_t kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

bool SkipField(CodedInputStream* in, uint32_t tag) {
  uint64_t ignored;
  switch (tag & 7) {
    case kVarint: return in->ReadVarint64(&ignored);
    case kFixed64: return in->Skip(8);
    case kFixed32: return in->Skip(4);
    case kLengthDelimited: {
      uint32_t len;
      return in->ReadVarint32(&len) && in->Skip(static_cast<int>(len));
    }
    default: return false;  // groups: not in our protocol
  }
}

// Reads a length-delimited field's bytes as a view into `base`.
bool ReadView(CodedInputStream* in, const char* base, absl::string_view* out) {
  uint32_t len;
  if (!in->ReadVarint32(&len)) return false;
  const int at = in->CurrentPosition();
  if (!in->Skip(static_cast<int>(len))) return false;
  *out = absl::string_view(base + at, len);
  return true;
}

bool ScanChatMessage(absl::string_view chat, ScannedChat* out) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(chat.data()), static_cast<int>(chat.size()));
  *out = ScannedChat();
  while (uint32_t tag = in.ReadTag()) {
    const int field = static_cast<int>(tag >> 3);
    if (field == v1::ChatMessage::kSenderFieldNumber && (tag & 7) == kLengthDelimited) {
      if (!ReadView(&in, chat.data(), &out->sender)) return false;
    } else if (field == v1::ChatMessage::kTextFieldNumber && (tag & 7) == kLengthDelimited) {
      if (!ReadView(&in, chat.data(), &out->text)) return false;
    } else if (field == v1::ChatMessage::kReplayFieldNumber && (tag & 7) == kVarint) {
      uint64_t v;
      if (!in.ReadVarint64(&v)) return false;
      out->replay = v != 0;
    } else if (!SkipField(&in, tag)) {
      return false;
    }
  }
  return in.ConsumedEntireMessage();
}

}  // namespace

bool ScanChatFrame(absl::string_view body, ScannedChat* out) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(body.data()), static_cast<int>(body.size()));
  absl::string_view chat;
  bool found = false;
  while (uint32_t tag = in.ReadTag()) {
    const int field = static_cast<int>(tag >> 3);
    if (field == v1::ServerFrame::kChatMessageFieldNumber && (tag & 7) == kLengthDelimited) {
      if (!ReadView(&in, body.data(), &chat)) return false;
      found = true;
    } else if (field == v1::ServerFrame::kRequestIdFieldNumber || field == v1::ServerFrame::kRoomIdFieldNumber) {
      if (!SkipField(&in, tag)) return false;
    } else {
      return false;  // another body (or an unknown field): let the full parser decide
    }
  }
  return found && in.ConsumedEntireMessage() && ScanChatMessage(chat, out);
}

}  // namespace muxchat::bench
