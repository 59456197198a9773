#include "src/server/cluster_fields.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

TEST(ClusterFields, TakesFieldsOfAnyBytesInOrder) {
  std::string bytes = "3:a:b0:";
  bytes += "2:";
  bytes += std::string("\0\n", 2);
  absl::string_view in = bytes, f;
  ASSERT_TRUE(TakeField(&in, &f));
  EXPECT_EQ(f, "a:b");
  ASSERT_TRUE(TakeField(&in, &f));
  EXPECT_EQ(f, "");
  ASSERT_TRUE(TakeField(&in, &f));
  EXPECT_EQ(f, absl::string_view("\0\n", 2));
  EXPECT_TRUE(in.empty());
}

TEST(ClusterFields, RejectsALengthThatIsNotPlainDigits) {
  for (const char* bad : {":x", "+1:x", "-1:x", " 1:x", "1x:x", "1", "", "01a:x"}) {
    absl::string_view in = bad, f;
    EXPECT_FALSE(TakeField(&in, &f)) << bad;
    EXPECT_EQ(in, bad) << "consumed nothing";
  }
}

TEST(ClusterFields, RejectsALengthOfMoreThanTenDigitsOrAboveTheCap) {
  absl::string_view in = "00000000001:x", f;
  EXPECT_FALSE(TakeField(&in, &f));
  in = "0000000001:x";  // ten digits: read
  EXPECT_TRUE(TakeField(&in, &f));
  const std::string over = std::to_string(kMaxClusterFieldBytes + 1) + ":";
  in = over;
  EXPECT_FALSE(TakeField(&in, &f));
}

TEST(ClusterFields, RejectsALengthPastTheEnd) {
  absl::string_view in = "4:abc", f;
  EXPECT_FALSE(TakeField(&in, &f));
}

TEST(ClusterFields, TakesNumbersUpToTheirTypesRange) {
  absl::string_view in = "20:1844674407370955161519:922337203685477580719:9223372036854775808";
  uint64_t u = 0;
  ASSERT_TRUE(TakeNumber(&in, &u));
  EXPECT_EQ(u, UINT64_MAX);
  int64_t s = 0;
  ASSERT_TRUE(TakeNumber(&in, &s));
  EXPECT_EQ(s, INT64_MAX);
  EXPECT_FALSE(TakeNumber(&in, &s));  // one above int64's range
}

TEST(ClusterFields, RejectsANumberThatOverflowsOrIsNotDigits) {
  uint64_t u = 7;
  for (const char* bad : {"20:18446744073709551616", "0:", "2:-1", "2: 1", "3:1e3"}) {
    absl::string_view in = bad;
    EXPECT_FALSE(TakeNumber(&in, &u)) << bad;
  }
  EXPECT_EQ(u, 7u);
  uint32_t small = 0;
  absl::string_view in = "10:4294967296";
  EXPECT_FALSE(TakeNumber(&in, &small));
}

}  // namespace
}  // namespace muxchat::server
