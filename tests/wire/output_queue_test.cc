#include "src/wire/output_queue.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace muxchat::wire {
namespace {

SharedFrame Frame(const std::string& s) {
  SharedFrame f = SharedFrame::Allocate(s.size());
  std::copy(s.begin(), s.end(), f.MutableData());
  return f;
}

TEST(OutputQueue, SmallFramesAreCopiedContiguously) {
  OutputQueue q;
  SharedFrame f = Frame("abc");
  for (int i = 0; i < 100; ++i) q.Append(f);
  EXPECT_EQ(q.PendingBytes(), 300u);
  EXPECT_EQ(q.SegmentCount(), 1u);
  EXPECT_EQ(f.use_count(), 1u);  // copied, not referenced
}

TEST(OutputQueue, LargeFramesAreSharedNotCopied) {
  OutputQueue q;
  SharedFrame f = Frame(std::string(OutputQueue::kCopyThresholdBytes + 1, 'L'));
  q.Append(f);
  q.Append(f);
  EXPECT_EQ(f.use_count(), 3u);
  EXPECT_EQ(q.SegmentCount(), 2u);
}

TEST(OutputQueue, ConsecutiveSlicesOfABlockMergeIntoOneRange) {
  SharedFrame block = SharedFrame::AllocateBlock(64);
  std::memcpy(block.Extend(5), "hello", 5);
  std::memcpy(block.Extend(6), " world", 6);
  OutputQueue q;
  q.AppendSlice(block, 0, 5);
  q.AppendSlice(block, 5, 11);
  EXPECT_EQ(q.SegmentCount(), 1u);
  EXPECT_EQ(block.use_count(), 2u);
  std::string out;
  q.CopyTo(&out);
  EXPECT_EQ(out, "hello world");
}

TEST(OutputQueue, SlicesThatDoNotContinueStartANewRange) {
  SharedFrame block = SharedFrame::AllocateBlock(64);
  std::memcpy(block.Extend(6), "abcdef", 6);
  OutputQueue q;
  q.AppendSlice(block, 0, 2);
  q.AppendSlice(block, 4, 6);  // a gap: another member's frame sits between
  q.AppendCopy("!");
  q.AppendSlice(block, 2, 4);  // contiguous in the block, but after a copy: must not merge back
  EXPECT_EQ(q.SegmentCount(), 4u);
  std::string out;
  q.CopyTo(&out);
  EXPECT_EQ(out, "abef!cd");
  EXPECT_EQ(q.PendingBytes(), 7u);
}

TEST(OutputQueue, ASliceOfAnotherBlockAtTheSameOffsetStartsANewRange) {
  // Growing a range checks the block, not only the offset: the next block's
  // first frame may start where the last range ended.
  SharedFrame first = SharedFrame::AllocateBlock(8);
  std::memcpy(first.Extend(4), "abcd", 4);
  SharedFrame second = SharedFrame::AllocateBlock(8);
  std::memcpy(second.Extend(8), "wxyzWXYZ", 8);
  OutputQueue q;
  q.AppendSlice(first, 0, 4);
  q.AppendSlice(second, 4, 8);
  EXPECT_EQ(q.SegmentCount(), 2u);
  std::string out;
  q.CopyTo(&out);
  EXPECT_EQ(out, "abcdWXYZ");
}

TEST(OutputQueue, AnEmptySliceQueuesNothing) {
  SharedFrame block = SharedFrame::AllocateBlock(8);
  std::memcpy(block.Extend(4), "abcd", 4);
  OutputQueue q;
  q.AppendSlice(block, 2, 2);
  EXPECT_EQ(q.SegmentCount(), 0u);
  EXPECT_TRUE(q.empty());
  q.AppendSlice(block, 0, 2);
  q.AppendSlice(block, 2, 2);  // continues the range, adds no byte
  q.AppendSlice(block, 3, 3);  // would start a new range, adds no segment
  EXPECT_EQ(q.SegmentCount(), 1u);
  EXPECT_EQ(q.PendingBytes(), 2u);
  EXPECT_EQ(block.use_count(), 2u);
}

TEST(OutputQueue, ThinRangesOfManyBlocksAreCopiedNotPinned) {
  // A reader owed one small frame in each of many blocks must not keep all
  // those blocks alive: past kMaxSliceSegments ranges the bytes are copied.
  std::vector<SharedFrame> blocks;
  OutputQueue q;
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    SharedFrame block = SharedFrame::AllocateBlock(1024);
    const std::string frame = "frame" + std::to_string(i);
    std::memcpy(block.Extend(frame.size()), frame.data(), frame.size());
    q.AppendSlice(block, 0, frame.size());
    expected += frame;
    blocks.push_back(std::move(block));
  }
  EXPECT_EQ(q.SliceSegmentCount(), OutputQueue::kMaxSliceSegments);
  size_t pinned = 0;
  for (const SharedFrame& b : blocks) pinned += b.use_count() > 1 ? 1 : 0;
  EXPECT_EQ(pinned, OutputQueue::kMaxSliceSegments);
  std::string out;
  q.CopyTo(&out);
  EXPECT_EQ(out, expected);
  EXPECT_EQ(q.PendingBytes(), expected.size());
  q.Consume(q.PendingBytes());
  EXPECT_EQ(q.SliceSegmentCount(), 0u);  // drained ranges are counted out again
}

TEST(OutputQueue, KeepsOrderAcrossMixedSegments) {
  OutputQueue q;
  std::string big(3000, 'B');
  q.Append(Frame("one"));
  q.Append(Frame(big));
  q.Append(Frame("two"));
  std::string out;
  q.CopyTo(&out);
  EXPECT_EQ(out, "one" + big + "two");
}

TEST(OutputQueue, PartialWritesResumeAtTheRightByte) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  OutputQueue q;
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    std::string s = std::string(i % 2 ? 2000 : 10, static_cast<char>('a' + i % 26));
    expected += s;
    q.Append(Frame(s));
  }
  std::string received;
  while (!q.empty()) {
    ASSERT_GT(q.WriteToFd(fds[0], 777), 0);  // a small budget forces partial writes
    char buf[4096];
    ssize_t n = ::read(fds[1], buf, sizeof buf);
    ASSERT_GT(n, 0);
    received.append(buf, n);
  }
  EXPECT_EQ(received, expected);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(OutputQueue, WriteReportsEagainWhenPeerIsFull) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  OutputQueue q;
  const std::string chunk(1 << 16, 'q');
  for (int i = 0; i < 64; ++i) q.AppendCopy(chunk);
  ssize_t n;
  while ((n = q.WriteToFd(fds[0], 1 << 20)) > 0) {
  }
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_FALSE(q.empty());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(OutputQueue, PeekFrontViewsSegmentsInOrderWithoutConsuming) {
  OutputQueue q;
  q.AppendCopy("head");
  SharedFrame big = Frame(std::string(OutputQueue::kCopyThresholdBytes + 1, 'x'));
  q.Append(big);
  q.AppendCopy("tail");
  q.Consume(2);
  absl::string_view spans[8];
  ASSERT_EQ(q.PeekFront(spans, 8, 1 << 20), 3u);
  EXPECT_EQ(spans[0], "ad");
  EXPECT_EQ(spans[1].data(), big.data());  // the shared bytes themselves
  EXPECT_EQ(spans[2], "tail");
  EXPECT_EQ(q.PendingBytes(), 2 + big.size() + 4);
}

TEST(OutputQueue, PeekFrontStopsAtMaxBytesAndMaxSpans) {
  OutputQueue q;
  q.AppendCopy("abcd");
  q.Append(Frame(std::string(OutputQueue::kCopyThresholdBytes + 1, 'x')));
  q.AppendCopy("efgh");
  absl::string_view spans[8];
  ASSERT_EQ(q.PeekFront(spans, 8, 6), 2u);
  EXPECT_EQ(spans[0], "abcd");
  EXPECT_EQ(spans[1], "xx");
  ASSERT_EQ(q.PeekFront(spans, 1, 1 << 20), 1u);
  EXPECT_EQ(spans[0], "abcd");
}

SharedFrame BlockOf(const std::string& s) {
  SharedFrame block = SharedFrame::AllocateBlock(s.size());
  std::memcpy(block.Extend(s.size()), s.data(), s.size());
  return block;
}

TEST(OutputQueue, ConsecutiveFramedRangesGrowOneSegmentMarkedFramed) {
  OutputQueue q;
  q.AppendCopy("reply");
  SharedFrame block = BlockOf("aaaabbbbcccc");
  q.AppendFramedSlice(block, 0, 4);
  q.AppendFramedSlice(block, 4, 12);
  EXPECT_EQ(q.SegmentCount(), 2u);
  absl::string_view spans[8];
  bool framed[8];
  ASSERT_EQ(q.PeekFront(spans, 8, 1 << 20, framed), 2u);
  EXPECT_EQ(spans[0], "reply");
  EXPECT_FALSE(framed[0]);
  EXPECT_EQ(spans[1].data(), block.data());  // the block's bytes, not a copy
  EXPECT_EQ(spans[1].size(), 12u);
  EXPECT_TRUE(framed[1]);
}

TEST(OutputQueue, FramedAndUnframedBytesNeverShareASegment) {
  // Past the slice limit ranges are copied: framed bytes go into a chunk of
  // their own, and unframed bytes after them into another.
  OutputQueue q;
  std::vector<SharedFrame> blocks;
  for (size_t i = 0; i < OutputQueue::kMaxSliceSegments; ++i) {
    blocks.push_back(BlockOf("s"));
    q.AppendSlice(blocks.back(), 0, 1);
  }
  SharedFrame framed_block = BlockOf("FRAMED");
  q.AppendFramedSlice(framed_block, 0, 6);  // copied
  q.AppendCopy("plain");
  q.AppendFramedSlice(framed_block, 0, 6);  // copied again, not after "plain"
  absl::string_view spans[16];
  bool framed[16];
  const size_t n = q.PeekFront(spans, 16, 1 << 20, framed);
  ASSERT_EQ(n, OutputQueue::kMaxSliceSegments + 3);
  const size_t k = OutputQueue::kMaxSliceSegments;
  EXPECT_EQ(spans[k], "FRAMED");
  EXPECT_TRUE(framed[k]);
  EXPECT_NE(spans[k].data(), framed_block.data());
  EXPECT_EQ(spans[k + 1], "plain");
  EXPECT_FALSE(framed[k + 1]);
  EXPECT_EQ(spans[k + 2], "FRAMED");
  EXPECT_TRUE(framed[k + 2]);
}

}  // namespace
}  // namespace muxchat::wire
