// The muxchat frame format: a 4-byte unsigned big-endian length N, then N bytes
// of one serialized protobuf message. Only constants and the length codec live
// here, so that every reader and writer agrees on them.
#ifndef MUXCHAT_WIRE_FRAME_FORMAT_H_
#define MUXCHAT_WIRE_FRAME_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace muxchat::wire {

inline constexpr size_t kLengthPrefixBytes = 4;
inline constexpr uint32_t kDefaultMaxFrameBytes = 64 * 1024;
inline constexpr uint32_t kProtocolVersion = 1;

// Byte by byte, never through a pointer cast: alignment and endianness free.
inline void EncodeLength(uint32_t n, char* out) {
  out[0] = static_cast<char>((n >> 24) & 0xff);
  out[1] = static_cast<char>((n >> 16) & 0xff);
  out[2] = static_cast<char>((n >> 8) & 0xff);
  out[3] = static_cast<char>(n & 0xff);
}

inline uint32_t DecodeLength(const char* in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) |
         uint32_t{p[3]};
}

}  // namespace muxchat::wire

#endif  // MUXCHAT_WIRE_FRAME_FORMAT_H_
