#include "src/wire/frame_codec.h"

#include "absl/strings/str_cat.h"

namespace muxchat::wire {
namespace {

// Every encoder: size the message, refuse it above the cap, then write the
// prefix and the body into `n` bytes the caller provides.
template <typename Reserve>
absl::Status EncodeInto(const google::protobuf::MessageLite& msg, uint32_t max_frame_bytes, Reserve reserve) {
  const size_t body = msg.ByteSizeLong();
  if (body > max_frame_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("frame of ", body, " bytes exceeds the limit of ", max_frame_bytes));
  }
  char* p = reserve(kLengthPrefixBytes + body);
  EncodeLength(static_cast<uint32_t>(body), p);
  msg.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p + kLengthPrefixBytes));
  return absl::OkStatus();
}

}  // namespace

absl::Status AppendFrame(const google::protobuf::MessageLite& msg, Buffer* out, uint32_t max_frame_bytes) {
  return EncodeInto(msg, max_frame_bytes, [out](size_t n) {
    out->EnsureWritable(n);
    char* p = out->BeginWrite();
    out->CommitWrite(n);
    return p;
  });
}

absl::Status AppendFrame(const google::protobuf::MessageLite& msg, OutputQueue* out, uint32_t max_frame_bytes) {
  return EncodeInto(msg, max_frame_bytes, [out](size_t n) { return out->AppendUninitialized(n); });
}

absl::StatusOr<SharedFrame> EncodeSharedFrame(const google::protobuf::MessageLite& msg, uint32_t max_frame_bytes) {
  SharedFrame frame;
  absl::Status st = EncodeInto(msg, max_frame_bytes, [&frame](size_t n) {
    frame = SharedFrame::Allocate(n);
    return frame.MutableData();
  });
  if (!st.ok()) return st;
  return frame;
}

std::string EncodeFrameToString(const google::protobuf::MessageLite& msg) {
  std::string out;
  (void)EncodeInto(msg, UINT32_MAX, [&out](size_t n) {
    out.resize(n);
    return out.data();
  });
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
