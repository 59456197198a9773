// Test helper: every complete frame in a byte string, decoded as M. Stops at
// the first incomplete or undecodable frame.
#ifndef MUXCHAT_TESTS_WIRE_DECODE_ALL_H_
#define MUXCHAT_TESTS_WIRE_DECODE_ALL_H_

#include <string>
#include <vector>

#include "src/wire/frame_codec.h"

namespace muxchat::wire::testing {

template <typename M>
std::vector<M> DecodeAll(const std::string& bytes, size_t* leftover = nullptr) {
  Buffer buf;
  buf.Append(bytes);
  FrameDecoder dec(UINT32_MAX);
  std::vector<M> out;
  M m;
  while (true) {
    absl::StatusOr<bool> got = dec.Next(&buf, &m);
    if (!got.ok() || !*got) break;
    out.push_back(m);
  }
  if (leftover != nullptr) *leftover = buf.ReadableBytes();
  return out;
}

}  // namespace muxchat::wire::testing

#endif  // MUXCHAT_TESTS_WIRE_DECODE_ALL_H_
