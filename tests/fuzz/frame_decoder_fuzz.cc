// FuzzFrameDecoder: the wire decoder must give the same frames and the same
// error however the byte stream is split, consume nothing on error or on a
// partial frame, and round-trip every frame it accepts. See fuzz_targets.h.
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "proto/muxchat.pb.h"
#include "src/wire/buffer.h"
#include "src/wire/frame_codec.h"
#include "tests/fuzz/fuzz_targets.h"

namespace muxchat::fuzz {
namespace {

struct Outcome {
  std::vector<std::string> frames;  // each decoded frame, re-serialised
  bool failed = false;
  int code = 0;
  size_t left = 0;  // bytes still buffered at the end
};

// Feeds `bytes` in pieces whose sizes come from `seed` (0: all at once),
// decoding after every piece exactly as the server does.
Outcome Decode(const std::string& bytes, uint32_t cap, uint32_t seed) {
  wire::FrameDecoder decoder(cap);
  wire::Buffer in(16);
  Outcome out;
  v1::ClientFrame frame;
  size_t fed = 0, consumed = 0;
  uint32_t rng = seed | 1u;
  while (fed < bytes.size() && !out.failed) {
    size_t piece = bytes.size() - fed;
    if (seed != 0) {
      rng ^= rng << 13;
      rng ^= rng >> 17;
      rng ^= rng << 5;
      piece = std::min<size_t>(piece, 1 + rng % 9);
    }
    in.Append(bytes.data() + fed, piece);
    fed += piece;
    while (true) {
      const size_t before = in.ReadableBytes();
      absl::StatusOr<bool> got = decoder.Next(&in, &frame);
      if (!got.ok()) {
        FUZZ_CHECK(in.ReadableBytes() == before);  // an error consumes nothing
        out.failed = true;
        out.code = static_cast<int>(got.status().code());
        break;
      }
      if (!*got) {
        FUZZ_CHECK(in.ReadableBytes() == before);  // waiting consumes nothing
        break;
      }
      const size_t used = before - in.ReadableBytes();
      FUZZ_CHECK(used >= wire::kLengthPrefixBytes && used - wire::kLengthPrefixBytes <= cap);
      consumed += used;
      // Whatever parsed must survive a round trip through our own encoder.
      const std::string encoded = wire::EncodeFrameToString(frame);
      wire::Buffer again;
      again.Append(encoded);
      v1::ClientFrame back;
      absl::StatusOr<bool> round = wire::FrameDecoder(UINT32_MAX).Next(&again, &back);
      FUZZ_CHECK(round.ok() && *round && again.empty());
      FUZZ_CHECK(back.SerializeAsString() == frame.SerializeAsString());
      out.frames.push_back(frame.SerializeAsString());
    }
  }
  FUZZ_CHECK(out.failed || consumed + in.ReadableBytes() == fed);
  out.left = in.ReadableBytes();
  return out;
}

}  // namespace

bool SilenceProtobufLogs() {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}

int FuzzFrameDecoder(const uint8_t* data, size_t size) {
  static const bool quiet = SilenceProtobufLogs();
  (void)quiet;
  if (size < 3) return 0;
  // Caps from tiny to beyond the default, so both sides of the check are hit.
  const uint32_t cap = (uint32_t{data[0]} << 8 | data[1]) % 70000u;
  const uint32_t seed = data[2];
  const std::string bytes(reinterpret_cast<const char*>(data + 3), size - 3);
  const Outcome whole = Decode(bytes, cap, 0);
  const Outcome split = Decode(bytes, cap, seed == 0 ? 1 : seed);
  FUZZ_CHECK(whole.frames == split.frames);
  FUZZ_CHECK(whole.failed == split.failed);
  FUZZ_CHECK(whole.code == split.code);
  if (!whole.failed) FUZZ_CHECK(whole.left == split.left);
  return 0;
}

}  // namespace muxchat::fuzz
