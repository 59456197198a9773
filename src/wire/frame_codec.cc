#include "src/wire/frame_codec.h"

#include "absl/strings/str_cat.h"

namespace muxchat::wire {

absl::Status AppendFrame(const google::protobuf::MessageLite& msg, Buffer* out,
                         uint32_t max_frame_bytes) {
  const size_t body = msg.ByteSizeLong();
  if (body > max_frame_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("frame of ", body, " bytes exceeds the limit of ", max_frame_bytes));
  }
  out->EnsureWritable(kLengthPrefixBytes + body);
  char* p = out->BeginWrite();
  EncodeLength(static_cast<uint32_t>(body), p);
  msg.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p + kLengthPrefixBytes));
  out->CommitWrite(kLengthPrefixBytes + body);
  return absl::OkStatus();
}

absl::Status AppendFrame(const google::protobuf::MessageLite& msg, OutputQueue* out,
                         uint32_t max_frame_bytes) {
  const size_t body = msg.ByteSizeLong();
  if (body > max_frame_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("frame of ", body, " bytes exceeds the limit of ", max_frame_bytes));
  }
  char* p = out->AppendUninitialized(kLengthPrefixBytes + body);
  EncodeLength(static_cast<uint32_t>(body), p);
  msg.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p + kLengthPrefixBytes));
  return absl::OkStatus();
}

absl::StatusOr<SharedFrame> EncodeSharedFrame(const google::protobuf::MessageLite& msg,
                                              uint32_t max_frame_bytes) {
  const size_t body = msg.ByteSizeLong();
  if (body > max_frame_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("frame of ", body, " bytes exceeds the limit of ", max_frame_bytes));
  }
  SharedFrame frame = SharedFrame::Allocate(kLengthPrefixBytes + body);
  char* p = frame.MutableData();
  EncodeLength(static_cast<uint32_t>(body), p);
  msg.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p + kLengthPrefixBytes));
  return frame;
}

std::string EncodeFrameToString(const google::protobuf::MessageLite& msg) {
  const size_t body = msg.ByteSizeLong();
  std::string out(kLengthPrefixBytes + body, '\0');
  EncodeLength(static_cast<uint32_t>(body), out.data());
  msg.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out.data() + kLengthPrefixBytes));
  return out;
}

absl::StatusOr<bool> FrameDecoder::Next(Buffer* in, google::protobuf::MessageLite* msg) const {
  if (in->ReadableBytes() < kLengthPrefixBytes) return false;
  const uint32_t length = DecodeLength(in->Peek());
  if (length > max_frame_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "frame length ", length, " exceeds max_frame_bytes ", max_frame_bytes_));
  }
  if (in->ReadableBytes() < kLengthPrefixBytes + length) return false;
  if (!msg->ParseFromArray(in->Peek() + kLengthPrefixBytes, static_cast<int>(length))) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame of ", length, " bytes is not a valid ", msg->GetTypeName()));
  }
  in->Consume(kLengthPrefixBytes + length);
  return true;
}

}  // namespace muxchat::wire
