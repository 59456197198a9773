#include "bench/load/payload.h"

#include <time.h>

namespace muxchat::bench {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void PutHex(uint64_t v, int digits, char* out) {
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

bool GetHex(const char* in, int digits, uint64_t* v) {
  uint64_t r = 0;
  for (int i = 0; i < digits; ++i) {
    const char c = in[i];
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return false;
    }
    r = (r << 4) | d;
  }
  *v = r;
  return true;
}

}  // namespace

void EncodePayload(const PayloadStamp& stamp, size_t size, std::string* out) {
  if (size < kPayloadHeaderBytes) size = kPayloadHeaderBytes;
  out->assign(size, 'x');
  char* p = out->data();
  p[0] = 'M';
  PutHex(stamp.publisher, 8, p + 1);
  PutHex(stamp.seq, 16, p + 9);
  PutHex(static_cast<uint64_t>(stamp.send_ns), 16, p + 25);
}

bool DecodePayload(absl::string_view payload, PayloadStamp* stamp) {
  if (payload.size() < kPayloadHeaderBytes || payload[0] != 'M') return false;
  uint64_t pub, seq, ns;
  if (!GetHex(payload.data() + 1, 8, &pub) || !GetHex(payload.data() + 9, 16, &seq) ||
      !GetHex(payload.data() + 25, 16, &ns)) {
    return false;
  }
  stamp->publisher = static_cast<uint32_t>(pub);
  stamp->seq = seq;
  stamp->send_ns = static_cast<int64_t>(ns);
  return true;
}

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace muxchat::bench
