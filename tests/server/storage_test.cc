// Storage on SQLite through its public API with real files: what a batch
// writes comes back from Open after Close, batches group into one
// transaction, faults fail batches and recover, reads run beside writes.
#include "src/server/storage.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/server/sqlite_storage.h"
#include "tests/server/storage_test_util.h"

namespace muxchat::server {
namespace {

using testing::Commit;
using testing::MakeBatch;
using testing::Message;
using testing::Messages;
using testing::MustOpen;
using testing::OptionsFor;
using testing::QueryInt;
using testing::ReadHistory;
using testing::Room;
using testing::RunSql;
using testing::TempDir;
using testing::WaitFor;

NewAccount Account(uint64_t id, std::string name) {
  NewAccount op;
  op.account.id = id;
  op.account.name = std::move(name);
  op.account.password_hash = "$argon2id$v=19$fake";
  op.account.created_unix_micros = 1'700'000'000'000'123;
  return op;
}

NewSession Session(std::string token_hash, uint64_t account_id, absl::Time expires) {
  NewSession op;
  op.session.token_hash = std::move(token_hash);
  op.session.account_id = account_id;
  op.session.expires_unix_micros = absl::ToUnixMicros(expires);
  return op;
}

JoinOp Join(uint64_t account_id, uint64_t room_id) { return JoinOp{{account_id, room_id}}; }
LeaveOp Leave(uint64_t account_id, uint64_t room_id) { return LeaveOp{{account_id, room_id}}; }

// Closes `storage` and opens the same directory again, returning what it loads.
LoadedState Reopen(std::unique_ptr<SqliteStorage>& storage, const StorageOptions& options) {
  storage->Close();
  storage.reset();
  LoadedState state;
  storage = MustOpen(options, &state);
  return state;
}

TEST(Storage, OpenCreatesDataDirWithMode0700) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  struct stat st;
  ASSERT_EQ(stat(dir.data_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(stat(dir.db_path().c_str(), &st), 0);
  EXPECT_TRUE(state.accounts.empty());
  EXPECT_TRUE(state.rooms.empty());
}

TEST(Storage, AccountsRoomsAndMembershipsSurviveReopen) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Account(7, "Alice"), Account(8, "bob"), Room(100, "#General", 7, "Alice"),
                                             Room(101, "guests", 0, "zed"), Join(7, 100), Join(8, 100),
                                             Join(8, 101), Message(100, 1), Message(100, 2)}))
                  .status.ok());

  state = Reopen(storage, options);
  ASSERT_EQ(state.accounts.size(), 2u);
  EXPECT_EQ(state.accounts[0].id, 7u);
  EXPECT_EQ(state.accounts[0].name, "Alice");
  EXPECT_EQ(state.accounts[0].password_hash, "$argon2id$v=19$fake");
  EXPECT_EQ(state.accounts[0].created_unix_micros, 1'700'000'000'000'123);
  EXPECT_EQ(state.accounts[1].name, "bob");
  ASSERT_EQ(state.rooms.size(), 2u);
  EXPECT_EQ(state.rooms[0].id, 100u);
  EXPECT_EQ(state.rooms[0].name, "#General");
  EXPECT_EQ(state.rooms[0].owner_account_id, 7u);
  EXPECT_EQ(state.rooms[0].owner_name, "Alice");
  EXPECT_EQ(state.rooms[0].created_unix_micros, 1'700'000'000'000'000);
  EXPECT_EQ(state.rooms[0].last_seq, 2u);
  EXPECT_EQ(state.rooms[1].owner_account_id, 0u);
  EXPECT_EQ(state.rooms[1].last_seq, 0u);
  ASSERT_EQ(state.memberships.size(), 3u);
  EXPECT_EQ(state.memberships[0].account_id, 7u);
  EXPECT_EQ(state.memberships[0].room_id, 100u);
  EXPECT_EQ(state.memberships[2].account_id, 8u);
  EXPECT_EQ(state.memberships[2].room_id, 101u);
}

TEST(Storage, MessagesSurviveReopenWithEveryField) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  const absl::Time ts = absl::FromUnixMicros(1'700'000'000'000'042);
  AppendMessage m = Message(5, 1, "zoë says\nhi", ts, 99);
  m.message.sender = "Zoë";
  m.message.sender_account_id = 0;
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(5, "r"), m})).status.ok());

  state = Reopen(storage, options);
  ASSERT_EQ(state.recent.size(), 1u);
  const MessageRecord& got = state.recent[0];
  EXPECT_EQ(got.room_id, 5u);
  EXPECT_EQ(got.seq, 1u);
  EXPECT_EQ(got.sender, "Zoë");
  EXPECT_EQ(got.sender_account_id, 0u);
  EXPECT_EQ(got.client_msg_id, 99u);
  EXPECT_EQ(got.timestamp_unix_micros, 1'700'000'000'000'042);
  EXPECT_EQ(got.text, "zoë says\nhi");
  EXPECT_EQ(state.rooms[0].last_seq, 1u);
}

TEST(Storage, ExpiredAndRevokedSessionsAreNotLoaded) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  const std::string live(32, '\x01'), expired(32, '\x02'), revoked(32, '\0');
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Account(7, "alice"), Session(live, 7, absl::Now() + absl::Hours(1)),
                                             Session(expired, 7, absl::Now() - absl::Seconds(1)),
                                             Session(revoked, 7, absl::Now() + absl::Hours(1))}))
                  .status.ok());
  ASSERT_TRUE(Commit(*storage, MakeBatch(2, {RevokeSession{revoked}})).status.ok());

  state = Reopen(storage, options);
  ASSERT_EQ(state.sessions.size(), 1u);
  EXPECT_EQ(state.sessions[0].token_hash, live);
  EXPECT_EQ(state.sessions[0].account_id, 7u);
}

TEST(Storage, LoadKeepsTheNewestRecentPerRoomAscending) {
  TempDir dir;
  StorageOptions options = OptionsFor(dir);
  options.recent_per_room = 3;
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Room(2, "b"), Room(3, "empty")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 10)).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(3, 2, 1, 2)).status.ok());

  state = Reopen(storage, options);
  std::vector<std::pair<uint64_t, uint64_t>> got;
  for (const MessageRecord& m : state.recent) got.emplace_back(m.room_id, m.seq);
  const std::vector<std::pair<uint64_t, uint64_t>> want = {{1, 8}, {1, 9}, {1, 10}, {2, 1}, {2, 2}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(state.rooms[0].last_seq, 10u);
  EXPECT_EQ(state.rooms[2].last_seq, 0u);
}

TEST(Storage, LoadReturnsClientIdsWithinTheDedupeWindowOnly) {
  TempDir dir;
  StorageOptions options = OptionsFor(dir);
  options.recent_per_room = 1;
  options.dedupe_window = absl::Minutes(10);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  const absl::Time now = absl::Now();
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Message(1, 1, "old", now - absl::Minutes(30), 11),
                                             Message(1, 2, "in window", now - absl::Minutes(5), 12),
                                             Message(1, 3, "no id", now - absl::Minutes(4), 0),
                                             Message(1, 4, "newest", now - absl::Minutes(1), 14)}))
                  .status.ok());

  state = Reopen(storage, options);
  ASSERT_EQ(state.recent_client_ids.size(), 2u);
  EXPECT_EQ(state.recent_client_ids[0].client_msg_id, 12u);
  EXPECT_EQ(state.recent_client_ids[0].seq, 2u);
  EXPECT_EQ(state.recent_client_ids[0].sender, "alice");
  EXPECT_EQ(state.recent_client_ids[0].text, "");
  EXPECT_EQ(state.recent_client_ids[1].client_msg_id, 14u);
  ASSERT_EQ(state.recent.size(), 1u);
  EXPECT_EQ(state.recent[0].text, "newest");
}

TEST(Storage, JoinIsIdempotentAndLeavingANonMemberIsANoOp) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Join(7, 1), Join(7, 1), Join(8, 1)})).status.ok());
  EXPECT_TRUE(Commit(*storage, MakeBatch(2, {Join(7, 1), Leave(9, 1), Leave(8, 1), Leave(8, 1)})).status.ok());

  state = Reopen(storage, options);
  ASSERT_EQ(state.memberships.size(), 1u);
  EXPECT_EQ(state.memberships[0].account_id, 7u);
}

TEST(Storage, DeleteRoomRemovesItsMembershipsAndMessages) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "gone"), Room(2, "kept"), Join(7, 1), Join(7, 2),
                                             Message(1, 1), Message(2, 1)}))
                  .status.ok());
  ASSERT_TRUE(Commit(*storage, MakeBatch(2, {DeleteRoomOp{1}})).status.ok());
  EXPECT_EQ(ReadHistory(*storage, {1, 1, 0, 0, 10}).messages.size(), 0u);

  state = Reopen(storage, options);
  ASSERT_EQ(state.rooms.size(), 1u);
  EXPECT_EQ(state.rooms[0].id, 2u);
  ASSERT_EQ(state.memberships.size(), 1u);
  EXPECT_EQ(state.memberships[0].room_id, 2u);
  ASSERT_EQ(state.recent.size(), 1u);
  EXPECT_EQ(state.recent[0].room_id, 2u);
  // The name is free again.
  EXPECT_TRUE(Commit(*storage, MakeBatch(3, {Room(3, "GONE")})).status.ok());
}

TEST(Storage, TheLargestRoomIdOutlivesTheRoomSoIdsAreNeverReused) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(state.max_room_id, 0u);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(4, "a"), Room(9, "b")})).status.ok());
  ASSERT_TRUE(Commit(*storage, MakeBatch(2, {DeleteRoomOp{9}})).status.ok());
  state = Reopen(storage, options);
  ASSERT_EQ(state.rooms.size(), 1u);
  EXPECT_EQ(state.max_room_id, 9u);
}

TEST(Storage, QueuedBatchesCommitInOneTransactionWithOneResultEach) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  const uint64_t before = storage->transactions_committed();

  storage->HoldWritesForTest(true);
  for (uint64_t id = 2; id <= 6; ++id) storage->Submit(Messages(id, 1, id, 1));
  storage->HoldWritesForTest(false);
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  WaitFor(*storage, 5, 0, &commits, &reads);

  ASSERT_EQ(commits.size(), 5u);
  for (size_t i = 0; i < commits.size(); ++i) {
    EXPECT_EQ(commits[i].batch_id, i + 2);
    EXPECT_TRUE(commits[i].status.ok()) << commits[i].status;
  }
  EXPECT_EQ(storage->transactions_committed(), before + 1);
}

TEST(Storage, AGroupStopsAtFourThousandOpsButTakesAtLeastOneBatch) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  const uint64_t before = storage->transactions_committed();

  storage->HoldWritesForTest(true);
  storage->Submit(Messages(2, 1, 1, 3000));
  storage->Submit(Messages(3, 1, 3001, 3000));  // 6,000 ops together: over the cap
  storage->Submit(Messages(4, 1, 6001, 5000));  // over the cap alone
  storage->HoldWritesForTest(false);
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  WaitFor(*storage, 3, 0, &commits, &reads);
  ASSERT_EQ(commits.size(), 3u);
  for (const CommitResult& c : commits) EXPECT_TRUE(c.status.ok()) << c.status;
  EXPECT_EQ(storage->transactions_committed(), before + 3);
}

TEST(Storage, ABatchBreakingAConstraintFailsAndTheBatchesAfterItInItsGroupAreRefused) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  storage->HoldWritesForTest(true);
  storage->Submit(MakeBatch(1, {Account(1, "alice")}));
  storage->Submit(MakeBatch(2, {Account(2, "bob"), Account(3, "ALICE")}));  // same folded name
  storage->Submit(MakeBatch(3, {Account(4, "carol")}));
  storage->HoldWritesForTest(false);
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  WaitFor(*storage, 3, 0, &commits, &reads);
  ASSERT_EQ(commits.size(), 3u);
  EXPECT_TRUE(commits[0].status.ok());
  EXPECT_TRUE(absl::IsAlreadyExists(commits[1].status)) << commits[1].status;
  // Written after batch 2, it might carry the seqs after batch 2's own.
  EXPECT_TRUE(absl::IsAlreadyExists(commits[2].status)) << commits[2].status;
  EXPECT_NE(commits[2].status.message().find("refused"), std::string::npos) << commits[2].status;

  state = Reopen(storage, options);
  std::vector<std::string> names;
  for (const AccountRecord& a : state.accounts) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alice"}));  // nothing of batches 2 and 3
}

// The loop delivers a committed message from the op handed back with its
// result (chat_service_storage.cc), not from a copy of its own.
TEST(Storage, ACommitHandsItsOpsBackInOrderAndAFailedOneNone) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  const CommitResult ok =
      Commit(*storage, MakeBatch(1, {Room(1, "den"), Message(1, 1, "first"), Message(1, 2, "second")}));
  ASSERT_TRUE(ok.status.ok()) << ok.status;
  ASSERT_EQ(ok.ops.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<NewRoom>(ok.ops[0]));
  ASSERT_TRUE(std::holds_alternative<AppendMessage>(ok.ops[1]));
  EXPECT_EQ(std::get<AppendMessage>(ok.ops[1]).message.text, "first");
  EXPECT_EQ(std::get<AppendMessage>(ok.ops[2]).message.seq, 2u);
  EXPECT_EQ(std::get<AppendMessage>(ok.ops[2]).message.text, "second");
  const CommitResult failed = Commit(*storage, MakeBatch(2, {Room(2, "DEN")}));
  ASSERT_FALSE(failed.status.ok());
  EXPECT_TRUE(failed.ops.empty());
}

// A batch committed on its own runs without a savepoint: its failure must
// still undo its own earlier writes, and the transaction must not linger.
TEST(Storage, ABatchAloneInItsGroupBreakingAConstraintLeavesNoTraceAndTheNextCommits) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Account(1, "alice")})).status.ok());
  const CommitResult failed = Commit(*storage, MakeBatch(2, {Account(2, "bob"), Account(3, "ALICE")}));
  EXPECT_EQ(failed.batch_id, 2u);
  EXPECT_TRUE(absl::IsAlreadyExists(failed.status)) << failed.status;
  const CommitResult next = Commit(*storage, MakeBatch(3, {Account(4, "carol")}));
  EXPECT_TRUE(next.status.ok()) << next.status;

  state = Reopen(storage, options);
  std::vector<std::string> names;
  for (const AccountRecord& a : state.accounts) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "carol"}));  // no "bob"
}

// Creates `path` (a fault file: commits fail while it exists).
void Touch(const std::string& path) {
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
}

// Waits until `storage` has a completion to take, without taking it.
bool CompletionPosted(Storage& storage) {
  pollfd pfd = {storage.completion_fd(), POLLIN, 0};
  return poll(&pfd, 1, testing::kWaitMillis) == 1;
}

// Batch 3 is submitted after batch 2 failed but before its result is taken,
// as the loop does with two batches in flight: it carries seq 3 after batch
// 2's seq 2, so it must not commit even though the disk works again.
TEST(Storage, ABatchSubmittedBeforeAFailureIsTakenIsRefusedAndTheNextOneCommits) {
  TempDir dir;
  StorageOptions options = OptionsFor(dir);
  options.fault_file = dir.path() + "/fault";
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Message(1, 1)})).status.ok());

  Touch(options.fault_file);
  storage->Submit(Messages(2, 1, 2, 1));
  ASSERT_TRUE(CompletionPosted(*storage));
  ASSERT_EQ(unlink(options.fault_file.c_str()), 0);
  storage->Submit(Messages(3, 1, 3, 1));
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  WaitFor(*storage, 2, 0, &commits, &reads);
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(commits[0].batch_id, 2u);
  EXPECT_TRUE(absl::IsUnavailable(commits[0].status)) << commits[0].status;
  EXPECT_EQ(commits[1].batch_id, 3u);
  EXPECT_TRUE(absl::IsUnavailable(commits[1].status)) << commits[1].status;

  EXPECT_TRUE(Commit(*storage, Messages(4, 1, 2, 1, absl::Now(), "retried")).status.ok());
  state = Reopen(storage, options);
  ASSERT_EQ(state.rooms.size(), 1u);
  EXPECT_EQ(state.rooms[0].last_seq, 2u);
  ASSERT_EQ(state.recent.size(), 2u);
  EXPECT_EQ(state.recent[1].text, "retried");
}

// The same with batch 3 still queued (writes held) when the failure is
// taken: TakeCompletions refuses it then.
TEST(Storage, ABatchStillQueuedWhenAFailureIsTakenIsRefused) {
  TempDir dir;
  StorageOptions options = OptionsFor(dir);
  options.fault_file = dir.path() + "/fault";
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Message(1, 1)})).status.ok());

  Touch(options.fault_file);
  storage->Submit(Messages(2, 1, 2, 1));
  ASSERT_TRUE(CompletionPosted(*storage));
  ASSERT_EQ(unlink(options.fault_file.c_str()), 0);
  storage->HoldWritesForTest(true);
  storage->Submit(Messages(3, 1, 3, 1));
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  storage->TakeCompletions(&commits, &reads);
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_TRUE(absl::IsUnavailable(commits[0].status)) << commits[0].status;
  EXPECT_EQ(commits[1].batch_id, 3u);
  EXPECT_TRUE(absl::IsUnavailable(commits[1].status)) << commits[1].status;
  storage->HoldWritesForTest(false);

  EXPECT_TRUE(Commit(*storage, Messages(4, 1, 2, 1)).status.ok());
  state = Reopen(storage, options);
  ASSERT_EQ(state.rooms.size(), 1u);
  EXPECT_EQ(state.rooms[0].last_seq, 2u);
}

TEST(Storage, FaultFileFailsTheBatchAndTheNextOneSucceedsOnceItIsGone) {
  TempDir dir;
  StorageOptions options = OptionsFor(dir);
  options.fault_file = dir.path() + "/fault";
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Message(1, 1)})).status.ok());

  const int fd = open(options.fault_file.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  const CommitResult failed = Commit(*storage, MakeBatch(2, {Message(1, 2), Room(2, "b")}));
  EXPECT_TRUE(absl::IsUnavailable(failed.status)) << failed.status;
  EXPECT_EQ(failed.batch_id, 2u);
  // Reads still answer during the fault.
  EXPECT_TRUE(ReadHistory(*storage, {1, 1, 0, 0, 10}).status.ok());

  ASSERT_EQ(unlink(options.fault_file.c_str()), 0);
  EXPECT_TRUE(Commit(*storage, MakeBatch(3, {Message(1, 2, "retried")})).status.ok());

  state = Reopen(storage, options);
  ASSERT_EQ(state.rooms.size(), 1u);  // room 2 of the failed batch is not there
  EXPECT_EQ(state.rooms[0].last_seq, 2u);
  ASSERT_EQ(state.recent.size(), 2u);
  EXPECT_EQ(state.recent[1].text, "retried");
}

TEST(Storage, FullDatabaseFailsWithResourceExhaustedAndRecoversWhenSpaceIsFreed) {
  TempDir dir;
  StorageOptions options = OptionsFor(dir);
  options.max_page_count = 64;  // 512 KiB at kStoragePageSize
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "filler"), Room(2, "small")})).status.ok());

  const std::string text(2000, 'x');
  absl::Status status;
  uint64_t seq = 1;
  for (uint64_t id = 2; id < 200 && status.ok(); ++id, seq += 10) {
    status = Commit(*storage, Messages(id, 1, seq, 10, absl::Now(), text)).status;
  }
  ASSERT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_NE(status.message().find("disk full"), std::string::npos) << status;
  // Still full: the same write to another room fails too; reads go on.
  EXPECT_TRUE(absl::IsResourceExhausted(Commit(*storage, Messages(500, 2, 1, 10, absl::Now(), text)).status));
  EXPECT_TRUE(ReadHistory(*storage, {1, 1, 0, 0, 5}).status.ok());

  ASSERT_TRUE(Commit(*storage, MakeBatch(501, {DeleteRoomOp{1}})).status.ok());
  const absl::Status after = Commit(*storage, Messages(502, 2, 1, 10, absl::Now(), text)).status;
  EXPECT_TRUE(after.ok()) << after;
}

TEST(Storage, WriterCheckpointsKeepTheWalBoundedWhenTheCheckpointerLags) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  storage->HoldCheckpointsForTest(true);  // a checkpointer that never keeps up
  constexpr uint64_t kRooms = 1000;
  Batch rooms = MakeBatch(1, {});
  for (uint64_t r = 1; r <= kRooms; ++r) rooms.ops.push_back(Room(r, "room" + std::to_string(r)));
  ASSERT_TRUE(Commit(*storage, std::move(rooms)).status.ok());

  // 100 batches, each touching every room's leaf page, all queued at once as
  // a busy loop would: ~12,000 WAL pages if the WAL never started over.
  constexpr uint64_t kBatches = 100;
  for (uint64_t b = 0; b < kBatches; ++b) {
    Batch batch = MakeBatch(2 + b, {});
    for (uint64_t r = 1; r <= kRooms; ++r) batch.ops.push_back(Message(r, b + 1));
    storage->Submit(std::move(batch));
  }
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  WaitFor(*storage, kBatches, 0, &commits, &reads);
  for (const CommitResult& c : commits) ASSERT_TRUE(c.status.ok()) << c.status;
  struct stat st;
  ASSERT_EQ(stat((dir.db_path() + "-wal").c_str(), &st), 0);
  // ~19 MiB with the writer's checkpoints, ~47 MiB without.
  EXPECT_LT(st.st_size, 32 << 20);
  EXPECT_GT(storage->writer_checkpoints(), 0u);
}

TEST(Storage, TheCheckpointerCopiesTheWalIntoTheDatabase) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  // ~6 MiB of 1 KiB messages: past the checkpointer's 4 MiB mark, short of
  // the 16 MiB past which the writer checkpoints itself.
  const std::string text(1024, 'x');
  for (uint64_t b = 0; b < 60; ++b) {
    ASSERT_TRUE(Commit(*storage, Messages(2 + b, 1, 1 + b * 100, 100, absl::Now(), text)).status.ok());
  }
  ASSERT_TRUE(storage->WaitForCheckpoints(1, absl::Milliseconds(testing::kWaitMillis)));
  EXPECT_EQ(storage->writer_checkpoints(), 0u);
  // The messages reached the database file itself, not only the WAL.
  struct stat st;
  ASSERT_EQ(stat(dir.db_path().c_str(), &st), 0);
  EXPECT_GT(st.st_size, 2 << 20);
}

TEST(Storage, HistoryPagesNewestBeforeAndAfter) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Room(2, "empty")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 20)).status.ok());
  auto seqs = [](const ReadResult& r) {
    std::vector<uint64_t> out;
    for (const MessageRecord& m : r.messages) out.push_back(m.seq);
    return out;
  };

  ReadResult newest = ReadHistory(*storage, {10, 1, 0, 0, 3});
  EXPECT_EQ(newest.read_id, 10u);
  EXPECT_TRUE(newest.status.ok());
  EXPECT_EQ(seqs(newest), (std::vector<uint64_t>{18, 19, 20}));
  EXPECT_EQ(newest.oldest_seq, 1u);
  EXPECT_EQ(seqs(ReadHistory(*storage, {11, 1, 0, 5, 3})), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(seqs(ReadHistory(*storage, {12, 1, 17, 0, 10})), (std::vector<uint64_t>{18, 19, 20}));
  EXPECT_EQ(seqs(ReadHistory(*storage, {13, 1, 3, 6, 10})), (std::vector<uint64_t>{4, 5}));
  const ReadResult empty = ReadHistory(*storage, {14, 2, 0, 0, 10});
  EXPECT_TRUE(empty.messages.empty());
  EXPECT_EQ(empty.oldest_seq, 0u);
  EXPECT_EQ(ReadHistory(*storage, {15, 1, 0, 0, 0}).oldest_seq, 1u);  // limit 0: only oldest_seq
}

TEST(Storage, ReadsAnswerWhileAnotherConnectionHoldsAWriteTransaction) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 5)).status.ok());

  // A big uncommitted write transaction on another connection to the file.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(dir.db_path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other,
                         "BEGIN IMMEDIATE;"
                         "WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n WHERE i < 20100)"
                         " INSERT INTO message_blocks (room_id, first_seq, last_seq, body)"
                         "  SELECT 1, i, i, zeroblob(64) FROM n;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(other);

  const ReadResult read = ReadHistory(*storage, {1, 1, 0, 0, 10});
  EXPECT_TRUE(read.status.ok()) << read.status;
  ASSERT_EQ(read.messages.size(), 5u);  // the committed ones only
  EXPECT_EQ(read.messages.back().seq, 5u);

  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
}

TEST(Storage, CloseFinishesQueuedBatches) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  storage->HoldWritesForTest(true);
  storage->Submit(MakeBatch(1, {Room(1, "a")}));
  storage->Submit(Messages(2, 1, 1, 3));
  storage->Close();
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  storage->TakeCompletions(&commits, &reads);
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_TRUE(commits[1].status.ok());

  state = Reopen(storage, options);
  ASSERT_EQ(state.rooms.size(), 1u);
  EXPECT_EQ(state.rooms[0].last_seq, 3u);
}

TEST(Storage, SubmitAfterCloseIsRefused) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  storage->Close();
  storage->Submit(MakeBatch(1, {Room(1, "a")}));
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  storage->TakeCompletions(&commits, &reads);
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_TRUE(absl::IsFailedPrecondition(commits[0].status));
}

// Schema version 2 stores a batch's messages for one room as one row.
TEST(Storage, ABatchOfMessagesIsStoredAsOneRowPerRoom) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Room(2, "b")})).status.ok());
  Batch batch = Messages(2, 1, 1, 64);
  for (uint64_t seq = 1; seq <= 3; ++seq) batch.ops.push_back(Message(2, seq));
  ASSERT_TRUE(Commit(*storage, std::move(batch)).status.ok());
  storage->Close();
  EXPECT_EQ(QueryInt(dir.db_path(), "SELECT count(*) FROM message_blocks"), 2);
  EXPECT_EQ(QueryInt(dir.db_path(), "SELECT last_seq - first_seq FROM message_blocks WHERE room_id = 1"), 63);
}

// A block holds at most a bounded number of messages (a bigger batch is
// split), so a read decodes little more than it returns; it reads back whole.
TEST(Storage, ABatchLongerThanABlockIsSplitAndReadsBackWhole) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 1000)).status.ok());
  const ReadResult all = ReadHistory(*storage, {1, 1, 0, 0, 1000});
  ASSERT_EQ(all.messages.size(), 1000u);
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(all.messages[i].seq, i + 1);
  storage->Close();
  EXPECT_GT(QueryInt(dir.db_path(), "SELECT count(*) FROM message_blocks"), 1);
  EXPECT_EQ(QueryInt(dir.db_path(), "SELECT max(last_seq - first_seq) FROM message_blocks"), 255);
}

// The primary key (room_id, seq) refused a stored seq in version 1; blocks
// are refused unless they come after the room's last stored seq.
TEST(Storage, ABatchRepeatingAStoredSeqIsRefusedAndLeavesNoTrace) {
  TempDir dir;
  const StorageOptions options = OptionsFor(dir);
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 10)).status.ok());
  const CommitResult repeated = Commit(*storage, Messages(3, 1, 10, 5, absl::Now(), "again"));
  EXPECT_TRUE(absl::IsAlreadyExists(repeated.status)) << repeated.status;
  EXPECT_TRUE(Commit(*storage, Messages(4, 1, 11, 2)).status.ok());

  state = Reopen(storage, options);
  EXPECT_EQ(state.rooms[0].last_seq, 12u);
  const ReadResult all = ReadHistory(*storage, {1, 1, 0, 0, 100});
  ASSERT_EQ(all.messages.size(), 12u);
  for (const MessageRecord& m : all.messages) EXPECT_EQ(m.text, "hello") << m.seq;
}

// Seqs that go back within one batch are refused as well.
TEST(Storage, ABatchWhoseSeqsDoNotAscendIsRefused) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  const CommitResult result = Commit(*storage, MakeBatch(2, {Message(1, 1), Message(1, 2), Message(1, 2)}));
  EXPECT_TRUE(absl::IsAlreadyExists(result.status)) << result.status;
  EXPECT_TRUE(ReadHistory(*storage, {1, 1, 0, 0, 10}).messages.empty());
}

// Pages start and end inside blocks, across blocks, and between them.
TEST(Storage, HistoryPagesCrossBlockBoundaries) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  // Blocks 1-10, 11-20, 21-30.
  for (uint64_t b = 0; b < 3; ++b) ASSERT_TRUE(Commit(*storage, Messages(2 + b, 1, 1 + 10 * b, 10)).status.ok());
  auto seqs = [&](HistoryRead read) {
    std::vector<uint64_t> out;
    for (const MessageRecord& m : ReadHistory(*storage, read).messages) out.push_back(m.seq);
    return out;
  };
  auto range = [](uint64_t first, uint64_t last) {
    std::vector<uint64_t> out;
    for (uint64_t s = first; s <= last; ++s) out.push_back(s);
    return out;
  };
  EXPECT_EQ(seqs({1, 1, 0, 0, 15}), range(16, 30));   // newest, across two blocks
  EXPECT_EQ(seqs({2, 1, 0, 16, 8}), range(8, 15));    // before, from inside a block
  EXPECT_EQ(seqs({3, 1, 0, 21, 3}), range(18, 20));   // before a block's first seq
  EXPECT_EQ(seqs({4, 1, 0, 11, 100}), range(1, 10));  // before, up to the oldest
  EXPECT_EQ(seqs({5, 1, 5, 0, 12}), range(6, 17));    // after, from inside a block
  EXPECT_EQ(seqs({6, 1, 10, 0, 3}), range(11, 13));   // after a block's last seq
  EXPECT_EQ(seqs({7, 1, 8, 24, 100}), range(9, 23));  // between, across three blocks
  EXPECT_EQ(seqs({8, 1, 30, 0, 10}), range(1, 0));    // after the newest: nothing
  EXPECT_EQ(seqs({9, 1, 0, 1, 10}), range(1, 0));     // before the oldest: nothing
  HistoryRead from_oldest = {10, 1, 0, 0, 4};
  from_oldest.forward = true;
  EXPECT_EQ(seqs(from_oldest), range(1, 4));
}

// A body that decodes cleanly but holds other seqs than its row says (cut
// at a record boundary) is damage too, not a short page.
TEST(Storage, ABlockHoldingOtherSeqsThanItsRowSaysFailsTheReadWithDataLoss) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a"), Room(2, "b")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 10)).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(3, 2, 1, 5)).status.ok());
  ASSERT_NO_FATAL_FAILURE(RunSql(dir.db_path(),
                                 "UPDATE message_blocks SET body = (SELECT body FROM message_blocks WHERE room_id = 2) "
                                 "WHERE room_id = 1"));
  const ReadResult read = ReadHistory(*storage, {1, 1, 0, 0, 10});
  EXPECT_TRUE(absl::IsDataLoss(read.status)) << read.status;
  EXPECT_TRUE(read.messages.empty());
}

// Seqs are SQLite's signed integers; a client's bound past them is clamped.
TEST(Storage, HistoryBoundsPastTheLargestSeqAreClamped) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  for (uint64_t b = 0; b < 3; ++b) ASSERT_TRUE(Commit(*storage, Messages(2 + b, 1, 1 + 10 * b, 10)).status.ok());
  auto seqs = [](const ReadResult& r) {
    std::vector<uint64_t> out;
    for (const MessageRecord& m : r.messages) out.push_back(m.seq);
    return out;
  };
  const uint64_t kMax = ~uint64_t{0};
  const std::vector<uint64_t> newest = {26, 27, 28, 29, 30};
  const ReadResult before_max = ReadHistory(*storage, {1, 1, 0, kMax, 5});
  ASSERT_TRUE(before_max.status.ok()) << before_max.status;
  EXPECT_EQ(seqs(before_max), newest);
  EXPECT_EQ(seqs(ReadHistory(*storage, {2, 1, 0, uint64_t{1} << 63, 5})), newest);
  const ReadResult after_max = ReadHistory(*storage, {3, 1, kMax, 0, 5});
  ASSERT_TRUE(after_max.status.ok()) << after_max.status;
  EXPECT_TRUE(after_max.messages.empty());
}

// A damaged block body is an error of the read, not a short page.
TEST(Storage, ACorruptBlockFailsTheReadWithDataLoss) {
  TempDir dir;
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 10)).status.ok());
  ASSERT_NO_FATAL_FAILURE(RunSql(dir.db_path(), "UPDATE message_blocks SET body = substr(body, 1, length(body) - 2)"));
  const ReadResult read = ReadHistory(*storage, {1, 1, 0, 0, 10});
  EXPECT_TRUE(absl::IsDataLoss(read.status)) << read.status;
  EXPECT_TRUE(read.messages.empty());
}

}  // namespace
}  // namespace muxchat::server
