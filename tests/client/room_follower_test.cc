#include "src/client/room_follower.h"

#include <vector>

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

v1::ChatMessage Msg(uint64_t seq) {
  v1::ChatMessage m;
  m.set_seq(seq);
  m.set_text("m" + std::to_string(seq));
  return m;
}

std::vector<uint64_t> Seqs(const std::vector<v1::ChatMessage>& ms) {
  std::vector<uint64_t> out;
  for (const auto& m : ms) out.push_back(m.seq());
  return out;
}

TEST(RoomFollower, InOrderMessagesAreDueAtOnce) {
  RoomFollower f(10);
  EXPECT_EQ(Seqs(f.Offer(Msg(11))), std::vector<uint64_t>({11}));
  EXPECT_EQ(Seqs(f.Offer(Msg(12))), std::vector<uint64_t>({12}));
  EXPECT_EQ(f.last(), 12u);
  EXPECT_FALSE(f.HasHole());
}

TEST(RoomFollower, DuplicatesAndOldMessagesAreDropped) {
  RoomFollower f(10);
  EXPECT_TRUE(f.Offer(Msg(9)).empty());
  EXPECT_TRUE(f.Offer(Msg(10)).empty());
  f.Offer(Msg(11));
  EXPECT_TRUE(f.Offer(Msg(11)).empty());
}

TEST(RoomFollower, ALaterMessageWaitsUntilTheHoleIsFilled) {
  RoomFollower f(10);
  EXPECT_TRUE(f.Offer(Msg(13)).empty());
  EXPECT_TRUE(f.HasHole());
  EXPECT_EQ(f.HoleEnd(), 12u);
  EXPECT_EQ(Seqs(f.Offer(Msg(11))), std::vector<uint64_t>({11}));
  EXPECT_EQ(Seqs(f.Offer(Msg(12))), std::vector<uint64_t>({12, 13}));
  EXPECT_FALSE(f.HasHole());
}

TEST(RoomFollower, ANewerLastSeqIsAHoleEvenWithNothingBuffered) {
  RoomFollower f(10);
  f.NoteLastSeq(15);
  EXPECT_TRUE(f.HasHole());
  EXPECT_EQ(f.HoleEnd(), 15u);
}

TEST(RoomFollower, SkipThroughGivesUpOnTheHoleAndCountsOnlyWhatNeverCame) {
  RoomFollower f(10);
  f.Offer(Msg(14));
  f.Offer(Msg(16));
  EXPECT_EQ(Seqs(f.SkipThrough(13)), std::vector<uint64_t>({14}));
  EXPECT_EQ(f.skipped(), 3u);  // 11, 12, 13
  EXPECT_EQ(f.HoleEnd(), 15u);
  EXPECT_EQ(Seqs(f.SkipThrough(15)), std::vector<uint64_t>({16}));
  EXPECT_EQ(f.skipped(), 4u);
  EXPECT_FALSE(f.HasHole());
}

TEST(RoomFollower, ReplayAfterAReconnectPrintsOnlyWhatWasMissed) {
  // Printed up to 20; a Resume replays 18..25 then live 26 arrives.
  RoomFollower f(20);
  std::vector<uint64_t> printed;
  for (uint64_t s : {18, 19, 20, 21, 22, 23, 24, 25, 26}) {
    for (uint64_t p : Seqs(f.Offer(Msg(s)))) printed.push_back(p);
  }
  EXPECT_EQ(printed, std::vector<uint64_t>({21, 22, 23, 24, 25, 26}));
}

}  // namespace
}  // namespace muxchat::client
