#include "bench/load/payload.h"

#include <gtest/gtest.h>

#include <string>

namespace muxchat::bench {
namespace {

TEST(Payload, RoundTripsStampAtRequestedSize) {
  std::string p;
  EncodePayload({0xabcdef01, 123456789012345ull, 987654321098765ll}, 1024, &p);
  EXPECT_EQ(p.size(), 1024u);
  PayloadStamp s;
  ASSERT_TRUE(DecodePayload(p, &s));
  EXPECT_EQ(s.publisher, 0xabcdef01u);
  EXPECT_EQ(s.seq, 123456789012345ull);
  EXPECT_EQ(s.send_ns, 987654321098765ll);
}

TEST(Payload, NeverShorterThanItsHeader) {
  std::string p;
  EncodePayload({1, 1, 1}, 8, &p);
  EXPECT_EQ(p.size(), kPayloadHeaderBytes);
}

TEST(Payload, RejectsForeignText) {
  PayloadStamp s;
  EXPECT_FALSE(DecodePayload("hello world", &s));
  EXPECT_FALSE(DecodePayload(std::string(64, 'M'), &s));
}

}  // namespace
}  // namespace muxchat::bench
