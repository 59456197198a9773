// Retention through a running storage: by count and by age per room, on
// start and again every prune_interval; expired sessions go too. Waits on the
// storage's pass counter, never on the clock.
#include "src/server/retention_pruner.h"

#include <sqlite3.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/server/sqlite_storage.h"
#include "tests/server/storage_test_util.h"

namespace muxchat::server {
namespace {

using testing::Commit;
using testing::MakeBatch;
using testing::Messages;
using testing::MustOpen;
using testing::OptionsFor;
using testing::QueryInt;
using testing::ReadHistory;
using testing::Room;
using testing::RunSql;
using testing::TempDir;

constexpr absl::Duration kWait = absl::Seconds(10);

std::vector<uint64_t> Seqs(const ReadResult& r) {
  std::vector<uint64_t> out;
  for (const MessageRecord& m : r.messages) out.push_back(m.seq);
  return out;
}

// Writes `per_room` messages into rooms 1 and 2 with no retention, then closes.
void Fill(const TempDir& dir, uint64_t per_room, absl::Time ts) {
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Room(2, "b")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, per_room, ts)).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(3, 2, 1, per_room, ts)).status.ok());
}

TEST(RetentionPruner, KeepsAtMostRetentionMessagesPerRoomAcrossSeveralChunks) {
  TempDir dir;
  const uint64_t per_room = 2 * RetentionPruner::kRowsPerStep + 500;
  Fill(dir, per_room, absl::Now());
  StorageOptions options = OptionsFor(dir);
  options.retention_messages = 100;
  options.prune_interval = absl::Hours(1);  // only the pass at start
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WaitForPrunePasses(1, kWait));

  EXPECT_EQ(storage->messages_pruned(), 2 * (per_room - 100));
  for (uint64_t room : {1, 2}) {
    const ReadResult r = ReadHistory(*storage, {room, room, 0, 0, 1000});
    EXPECT_EQ(r.messages.size(), 100u);
    EXPECT_EQ(r.oldest_seq, per_room - 99);
    EXPECT_EQ(r.messages.back().seq, per_room);
  }
}

// The pruner's query for a room's oldest block, stepped to its end on an
// emptied room, was not reset: the next room's query then ran with the old
// room's id and that room waited for the next pass.
TEST(RetentionPruner, ARoomPrunedToEmptyDoesNotSkipTheNextRoom) {
  TempDir dir;
  Fill(dir, 10, absl::Now() - absl::Hours(3));
  StorageOptions options = OptionsFor(dir);
  options.retention_age = absl::Hours(1);
  options.prune_interval = absl::Hours(1);  // only the pass at start
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WaitForPrunePasses(1, kWait));
  EXPECT_EQ(storage->messages_pruned(), 20u);
  EXPECT_TRUE(ReadHistory(*storage, {1, 1, 0, 0, 100}).messages.empty());
  EXPECT_TRUE(ReadHistory(*storage, {2, 2, 0, 0, 100}).messages.empty());
}

TEST(RetentionPruner, DropsMessagesOlderThanRetentionAge) {
  TempDir dir;
  {
    LoadedState state;
    auto storage = MustOpen(OptionsFor(dir), &state);
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
    ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 1500, absl::Now() - absl::Hours(3))).status.ok());
    ASSERT_TRUE(Commit(*storage, Messages(3, 1, 1501, 10, absl::Now() - absl::Minutes(1))).status.ok());
  }
  StorageOptions options = OptionsFor(dir);
  options.retention_age = absl::Hours(1);
  options.prune_interval = absl::Hours(1);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WaitForPrunePasses(1, kWait));

  const ReadResult r = ReadHistory(*storage, {1, 1, 0, 0, 100});
  EXPECT_EQ(r.oldest_seq, 1501u);
  EXPECT_EQ(r.messages.size(), 10u);
  EXPECT_EQ(storage->messages_pruned(), 1500u);
}

TEST(RetentionPruner, PrunesAgainEveryInterval) {
  TempDir dir;
  StorageOptions options = OptionsFor(dir);
  options.retention_messages = 5;
  options.prune_interval = absl::Milliseconds(5);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 50)).status.ok());
  // A pass that starts after the commit: two more than now have finished.
  ASSERT_TRUE(storage->WaitForPrunePasses(storage->prune_passes() + 2, kWait));

  const ReadResult r = ReadHistory(*storage, {1, 1, 0, 0, 100});
  EXPECT_EQ(Seqs(r), (std::vector<uint64_t>{46, 47, 48, 49, 50}));
}

TEST(RetentionPruner, NoRetentionKeepsEverything) {
  TempDir dir;
  Fill(dir, 300, absl::Now() - absl::Hours(1000));
  StorageOptions options = OptionsFor(dir);
  options.prune_interval = absl::Hours(1);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WaitForPrunePasses(1, kWait));
  EXPECT_EQ(storage->messages_pruned(), 0u);
  EXPECT_EQ(ReadHistory(*storage, {1, 1, 0, 0, 1000}).messages.size(), 300u);
}

TEST(RetentionPruner, PassDeletesExpiredSessions) {
  TempDir dir;
  StorageOptions options = OptionsFor(dir);
  options.prune_interval = absl::Hours(1);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WaitForPrunePasses(1, kWait));
  NewSession expired;
  expired.session.token_hash = std::string(32, 'e');
  expired.session.account_id = 1;
  expired.session.expires_unix_micros = absl::ToUnixMicros(absl::Now() - absl::Seconds(1));
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {expired})).status.ok());
  storage.reset();

  // Reopen: the pass at start deletes the row. Load skips expired sessions
  // either way, so the table itself is counted, with SQLite directly.
  storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WaitForPrunePasses(1, kWait));
  storage.reset();
  EXPECT_EQ(QueryInt(dir.db_path(), "SELECT count(*) FROM sessions"), 0);
}

// Pruning only shortens history from its start: an old message after a
// young one (a clock that stepped back) stays, so a page never has holes.
TEST(RetentionPruner, AgePruningStopsAtTheFirstMessageYoungEnoughToKeep) {
  TempDir dir;
  {
    LoadedState state;
    auto storage = MustOpen(OptionsFor(dir), &state);
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
    ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 30, absl::Now() - absl::Hours(3))).status.ok());
    ASSERT_TRUE(Commit(*storage, Messages(3, 1, 31, 5, absl::Now())).status.ok());
    ASSERT_TRUE(Commit(*storage, Messages(4, 1, 36, 5, absl::Now() - absl::Hours(3))).status.ok());
  }
  StorageOptions options = OptionsFor(dir);
  options.retention_age = absl::Hours(1);
  options.prune_interval = absl::Hours(1);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WaitForPrunePasses(1, kWait));

  const ReadResult r = ReadHistory(*storage, {1, 1, 0, 0, 100});
  EXPECT_EQ(r.oldest_seq, 31u);
  EXPECT_EQ(r.messages.size(), 10u);
  EXPECT_EQ(storage->messages_pruned(), 30u);
}

// The oldest kept message may sit inside a stored block: that block keeps
// its tail, and pages from inside it read as before.
TEST(RetentionPruner, ARoomWithADamagedBlockIsSkippedAndTheRoomsAfterItArePruned) {
  TempDir dir;
  const absl::Time old = absl::Now() - absl::Hours(1);  // outside the dedupe window: Load reads newest blocks only
  {
    LoadedState state;
    auto storage = MustOpen(OptionsFor(dir), &state);
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Room(2, "b")})).status.ok());
    for (uint64_t b = 0; b < 3; ++b) ASSERT_TRUE(Commit(*storage, Messages(2 + b, 1, 1 + 10 * b, 10, old)).status.ok());
    ASSERT_TRUE(Commit(*storage, Messages(5, 2, 1, 30, old)).status.ok());
  }
  ASSERT_NO_FATAL_FAILURE(RunSql(dir.db_path(),
                                 "UPDATE message_blocks SET body = substr(body, 1, length(body) - 2) "
                                 "WHERE room_id = 1 AND first_seq = 1"));
  StorageOptions options = OptionsFor(dir);
  options.retention_messages = 5;
  options.recent_per_room = 5;
  options.dedupe_window = absl::Minutes(1);
  options.prune_interval = absl::Hours(1);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WaitForPrunePasses(1, kWait));

  EXPECT_EQ(Seqs(ReadHistory(*storage, {1, 2, 0, 0, 100})), (std::vector<uint64_t>{26, 27, 28, 29, 30}));
  EXPECT_EQ(storage->messages_pruned(), 25u);
  EXPECT_TRUE(absl::IsDataLoss(ReadHistory(*storage, {2, 1, 0, 0, 100}).status));  // room 1 kept, damage and all
}

TEST(RetentionPruner, CountPruningKeepsTheTailOfTheBlockWhereKeptMessagesBegin) {
  TempDir dir;
  {
    LoadedState state;
    auto storage = MustOpen(OptionsFor(dir), &state);
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
    for (uint64_t b = 0; b < 4; ++b) ASSERT_TRUE(Commit(*storage, Messages(2 + b, 1, 1 + 10 * b, 10)).status.ok());
  }
  StorageOptions options = OptionsFor(dir);
  options.retention_messages = 15;
  options.prune_interval = absl::Hours(1);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WaitForPrunePasses(1, kWait));

  EXPECT_EQ(storage->messages_pruned(), 25u);
  const ReadResult r = ReadHistory(*storage, {1, 1, 0, 0, 100});
  EXPECT_EQ(r.oldest_seq, 26u);
  ASSERT_EQ(r.messages.size(), 15u);
  EXPECT_EQ(r.messages.front().seq, 26u);
  EXPECT_EQ(Seqs(ReadHistory(*storage, {2, 1, 0, 29, 100})), (std::vector<uint64_t>{26, 27, 28}));
}

}  // namespace
}  // namespace muxchat::server
