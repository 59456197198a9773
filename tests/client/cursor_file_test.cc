#include "src/client/cursor_file.h"

#include <string>

#include "gtest/gtest.h"
#include "src/client/atomic_file.h"
#include "tests/client/temp_dir.h"

namespace muxchat::client {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(CursorFile, MissingFileLoadsEmpty) {
  testing::TempDir dir;
  CursorFile c(dir.File("cur"));
  ASSERT_TRUE(c.Load().ok());
  EXPECT_TRUE(c.rooms().empty());
}

TEST(CursorFile, SavedCursorsLoadBackByRoomName) {
  testing::TempDir dir;
  {
    CursorFile c(dir.File("cur"));
    c.Advance("Lobby", 7, 41);
    c.Advance("Lobby", 7, 42);
    c.Advance("dev room", 9, 3);
    ASSERT_TRUE(c.MaybeSave(kT0, /*force=*/true).ok());
  }
  CursorFile c(dir.File("cur"));
  ASSERT_TRUE(c.Load().ok());
  ASSERT_NE(c.Find("lobby"), nullptr);
  EXPECT_EQ(c.Find("lobby")->room_id, 7u);
  EXPECT_EQ(c.Find("lobby")->last_seq, 42u);
  ASSERT_NE(c.Find("dev room"), nullptr);
  EXPECT_EQ(c.Find("dev room")->last_seq, 3u);
  EXPECT_EQ(*ReadWholeFile(dir.File("cur")), "# muxchat cursor v1\n9\t3\tdev room\n7\t42\tLobby\n");
}

TEST(CursorFile, SeqNeverMovesBackwards) {
  testing::TempDir dir;
  CursorFile c(dir.File("cur"));
  c.Advance("r", 1, 10);
  c.Advance("r", 1, 4);  // a replayed older message
  EXPECT_EQ(c.Find("r")->last_seq, 10u);
}

TEST(CursorFile, ANewRoomIdUnderTheSameNameStartsOver) {
  testing::TempDir dir;
  CursorFile c(dir.File("cur"));
  c.Advance("r", 1, 10);
  c.Advance("r", 2, 3);
  EXPECT_EQ(c.Find("r")->room_id, 2u);
  EXPECT_EQ(c.Find("r")->last_seq, 3u);
}

TEST(CursorFile, SavesAreBatchedToTheIntervalUnlessForced) {
  testing::TempDir dir;
  CursorFile c(dir.File("cur"));
  c.Advance("r", 1, 1);
  ASSERT_TRUE(c.MaybeSave(kT0, false).ok());  // first save: nothing written before
  c.Advance("r", 1, 2);
  ASSERT_TRUE(c.MaybeSave(kT0 + absl::Milliseconds(10), false).ok());
  CursorFile early(dir.File("cur"));
  ASSERT_TRUE(early.Load().ok());
  EXPECT_EQ(early.Find("r")->last_seq, 1u) << "saved again within the interval";
  ASSERT_TRUE(c.MaybeSave(kT0 + CursorFile::kSaveInterval, false).ok());
  CursorFile later(dir.File("cur"));
  ASSERT_TRUE(later.Load().ok());
  EXPECT_EQ(later.Find("r")->last_seq, 2u);
  c.Advance("r", 1, 3);
  ASSERT_TRUE(c.MaybeSave(kT0 + CursorFile::kSaveInterval, /*force=*/true).ok());
  CursorFile forced(dir.File("cur"));
  ASSERT_TRUE(forced.Load().ok());
  EXPECT_EQ(forced.Find("r")->last_seq, 3u);
}

TEST(CursorFile, RefusesAFileThatIsNotACursorFile) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("notes"), "my notes\n", 0644).ok());
  CursorFile c(dir.File("notes"));
  EXPECT_TRUE(absl::IsDataLoss(c.Load()));
}

TEST(CursorFile, RefusesAMalformedLine) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("cur"), "# muxchat cursor v1\n7\tx\tlobby\n", 0644).ok());
  CursorFile c(dir.File("cur"));
  EXPECT_TRUE(absl::IsDataLoss(c.Load()));
}

}  // namespace
}  // namespace muxchat::client
