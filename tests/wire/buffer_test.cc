#include "src/wire/buffer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace muxchat::wire {
namespace {

TEST(Buffer, AppendThenConsumeYieldsBytesInOrder) {
  Buffer buf(4);
  buf.Append("hello ");
  buf.Append("world");
  EXPECT_EQ(buf.View(), "hello world");
  buf.Consume(6);
  EXPECT_EQ(buf.View(), "world");
  buf.Consume(5);
  EXPECT_TRUE(buf.empty());
}

TEST(Buffer, SlidesConsumedSpaceInsteadOfGrowing) {
  Buffer buf(16);
  buf.Append(std::string(12, 'a'));
  buf.Consume(10);
  buf.Append(std::string(12, 'b'));
  EXPECT_EQ(buf.View(), "aa" + std::string(12, 'b'));
  EXPECT_EQ(buf.Capacity(), 16u);
}

TEST(Buffer, ReadFromFdSpillsPastFreeSpace) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const std::string payload(10000, 'x');
  ASSERT_EQ(::write(fds[0], payload.data(), payload.size()), static_cast<ssize_t>(payload.size()));
  Buffer buf(8);
  EXPECT_EQ(buf.ReadFromFd(fds[1], 1 << 20), static_cast<ssize_t>(payload.size()));
  EXPECT_EQ(buf.View(), payload);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Buffer, ReadFromFdHonoursByteBudget) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const std::string payload(1000, 'y');
  ASSERT_EQ(::write(fds[0], payload.data(), payload.size()), 1000);
  Buffer buf(8);
  EXPECT_EQ(buf.ReadFromFd(fds[1], 100), 100);
  EXPECT_EQ(buf.ReadableBytes(), 100u);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Buffer, ShrinkIfEmptyReleasesBurstMemory) {
  Buffer buf(16);
  buf.Append(std::string(100000, 'z'));
  EXPECT_FALSE(buf.empty());
  buf.ShrinkIfEmpty(16);
  EXPECT_GE(buf.Capacity(), 100000u);  // not empty: kept
  buf.Consume(100000);
  buf.ShrinkIfEmpty(16);
  EXPECT_EQ(buf.Capacity(), 16u);
}

// Under UBSan (scripts/test.sh --sanitize) this failed: memcpy from a null
// source into a buffer with no storage, even for zero bytes.
TEST(Buffer, AppendingNothingToABufferWithoutStorageIsANoOp) {
  Buffer buf(0);
  buf.Append(nullptr, 0);
  buf.Append(absl::string_view());
  EXPECT_TRUE(buf.empty());
  buf.Append("ab");
  EXPECT_EQ(buf.View(), "ab");
}

}  // namespace
}  // namespace muxchat::wire
