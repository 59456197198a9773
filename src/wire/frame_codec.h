// Encoding protobuf messages into length-prefixed frames and decoding them
// back out of a byte stream. Stateless functions plus FrameDecoder, which
// copes with any fragmentation: give it whatever bytes have arrived and it
// yields each complete frame, or says it needs more. Single-threaded.
#ifndef MUXCHAT_WIRE_FRAME_CODEC_H_
#define MUXCHAT_WIRE_FRAME_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"
#include "src/wire/buffer.h"
#include "src/wire/frame_format.h"
#include "src/wire/output_queue.h"
#include "src/wire/shared_frame.h"

namespace muxchat::wire {

// Serialises `msg` with its length prefix straight into `out` (no temporary
// string). Fails with kResourceExhausted if the body exceeds max_frame_bytes;
// `out` is then unchanged.
absl::Status AppendFrame(const google::protobuf::MessageLite& msg, Buffer* out,
                         uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

// The same, appended to an output queue's contiguous tail.
absl::Status AppendFrame(const google::protobuf::MessageLite& msg, OutputQueue* out,
                         uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

// Encodes `msg` once into an immutable frame to be shared by many recipients.
absl::StatusOr<SharedFrame> EncodeSharedFrame(const google::protobuf::MessageLite& msg,
                                              uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

// Convenience for tests and tools: the whole frame as a string.
std::string EncodeFrameToString(const google::protobuf::MessageLite& msg);

class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_frame_bytes = kDefaultMaxFrameBytes)
      : max_frame_bytes_(max_frame_bytes) {}

  // Decodes the first complete frame at the front of `in` into `msg` and
  // consumes it. Returns false (and consumes nothing) while the frame is
  // incomplete. Errors, after which the stream cannot be resynchronised:
  //   kResourceExhausted  the length prefix exceeds max_frame_bytes (detected
  //                       from the 4 prefix bytes alone, before any body
  //                       is buffered);
  //   kInvalidArgument    the body is not a valid message.
  absl::StatusOr<bool> Next(Buffer* in, google::protobuf::MessageLite* msg) const;

  uint32_t max_frame_bytes() const { return max_frame_bytes_; }

 private:
  uint32_t max_frame_bytes_;
};

}  // namespace muxchat::wire

#endif  // MUXCHAT_WIRE_FRAME_CODEC_H_
