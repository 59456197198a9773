// muxchat-storage-restart: measures the SQLite storage through its own API.
//   --mode=restart: fills --dir with --messages in --rooms (batches of
//     --batch, interleaved over the rooms as a busy server would write them),
//     then times Storage::Open (check, migrate, load) --opens times and prints
//     the median: the "start to serving" cost of issue 9.
//   --mode=commit: commit throughput into a fresh --dir: batches of --batch
//     messages, --pipeline batches in flight (1 = each waits for the previous
//     commit, one transaction per batch), sync NORMAL or --sync_full.
// One thread drives the storage as the event loop would (Submit, poll the
// completion fd, TakeCompletions).
#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "src/server/sqlite_storage.h"
#include "src/server/storage.h"

ABSL_FLAG(std::string, mode, "restart", "restart | commit");
ABSL_FLAG(std::string, dir, "/tmp/muxchat-storage-bench", "data directory (restart: filled unless it holds a database)");
ABSL_FLAG(uint64_t, messages, 1'000'000, "messages to write");
ABSL_FLAG(uint64_t, rooms, 1000, "rooms to spread them over");
ABSL_FLAG(uint64_t, batch, 1000, "messages per batch");
ABSL_FLAG(uint64_t, pipeline, 1, "commit mode: batches in flight");
ABSL_FLAG(uint64_t, text_bytes, 64, "bytes of text per message");
ABSL_FLAG(absl::Duration, span, absl::Hours(24),
          "restart mode: the messages' timestamps spread evenly over this much time up to now");
ABSL_FLAG(int, opens, 3, "restart mode: timed opens (the median is reported)");
ABSL_FLAG(bool, sync_full, false, "PRAGMA synchronous=FULL instead of NORMAL");
ABSL_FLAG(uint32_t, recent_per_room, 100, "StorageOptions::recent_per_room for the timed opens");

namespace muxchat::server {
namespace {

absl::StatusOr<std::unique_ptr<SqliteStorage>> OpenAt(const std::string& dir, LoadedState* state) {
  StorageOptions options;
  options.data_dir = dir;
  options.sync_full = absl::GetFlag(FLAGS_sync_full);
  options.recent_per_room = absl::GetFlag(FLAGS_recent_per_room);
  options.prune_interval = absl::ZeroDuration();
  return SqliteStorage::Open(options, state);
}

// Waits for commit results until `*in_flight` <= `target`; exits on a failed commit.
void Drain(SqliteStorage& storage, uint64_t* in_flight, uint64_t target) {
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  while (*in_flight > target) {
    pollfd pfd = {storage.completion_fd(), POLLIN, 0};
    if (poll(&pfd, 1, 60'000) <= 0) {
      std::fprintf(stderr, "no commit within 60 s\n");
      std::exit(1);
    }
    commits.clear();
    storage.TakeCompletions(&commits, &reads);
    for (const CommitResult& c : commits) {
      if (!c.status.ok()) {
        std::fprintf(stderr, "batch %llu: %s\n", static_cast<unsigned long long>(c.batch_id),
                     c.status.ToString().c_str());
        std::exit(1);
      }
    }
    *in_flight -= commits.size();
  }
}

// Writes the rooms, then `messages` round-robin over them; returns the time taken.
absl::Duration Fill(SqliteStorage& storage, uint64_t messages, uint64_t rooms, uint64_t batch_size,
                    uint64_t pipeline) {
  const std::string text(absl::GetFlag(FLAGS_text_bytes), 't');
  uint64_t next_batch = 1;
  uint64_t in_flight = 0;
  Batch setup{next_batch++, {}};
  for (uint64_t r = 1; r <= rooms; ++r) {
    NewRoom room;
    room.room.id = r;
    room.room.name = absl::StrFormat("room%llu", static_cast<unsigned long long>(r));
    room.room.owner_name = "bench";
    room.room.created_unix_micros = absl::ToUnixMicros(absl::Now());
    setup.ops.push_back(std::move(room));
  }
  storage.Submit(std::move(setup));
  in_flight = 1;
  Drain(storage, &in_flight, 0);

  const absl::Time start = absl::Now();
  for (uint64_t i = 0; i < messages;) {
    Batch batch{next_batch++, {}};
    batch.ops.reserve(batch_size);
    // Timestamps rise evenly from now - span to now, as if written over that time.
    const absl::Duration span = absl::GetFlag(FLAGS_span);
    const int64_t now = absl::ToUnixMicros(absl::Now() - span + span * (static_cast<double>(i) / messages));
    for (uint64_t k = 0; k < batch_size && i < messages; ++k, ++i) {
      AppendMessage m;
      m.message.room_id = i % rooms + 1;
      m.message.seq = i / rooms + 1;
      m.message.sender = "bench";
      m.message.sender_account_id = 1;
      m.message.client_msg_id = i + 1;
      m.message.timestamp_unix_micros = now;
      m.message.text = text;
      batch.ops.push_back(std::move(m));
    }
    storage.Submit(std::move(batch));
    ++in_flight;
    Drain(storage, &in_flight, pipeline - 1);
  }
  Drain(storage, &in_flight, 0);
  return absl::Now() - start;
}

uint64_t FileBytes(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

int RunRestart() {
  const std::string dir = absl::GetFlag(FLAGS_dir);
  const std::string db = dir + "/" + SqliteStorage::kDatabaseFileName;
  if (FileBytes(db) == 0) {
    LoadedState state;
    auto storage = OpenAt(dir, &state);
    if (!storage.ok()) {
      std::fprintf(stderr, "%s\n", storage.status().ToString().c_str());
      return 1;
    }
    const uint64_t messages = absl::GetFlag(FLAGS_messages);
    const absl::Duration took = Fill(**storage, messages, absl::GetFlag(FLAGS_rooms), absl::GetFlag(FLAGS_batch), 64);
    const absl::Time close_start = absl::Now();
    (*storage)->Close();
    std::printf("filled %s: %llu messages in %.1f s (%.0f msg/s, %llu transactions), close %.0f ms\n", db.c_str(),
                static_cast<unsigned long long>(messages), absl::ToDoubleSeconds(took),
                messages / absl::ToDoubleSeconds(took),
                static_cast<unsigned long long>((*storage)->transactions_committed()),
                absl::ToDoubleMilliseconds(absl::Now() - close_start));
  }
  std::printf("database: %.1f MiB\n", FileBytes(db) / 1048576.0);
  std::vector<double> millis;
  for (int i = 0; i < absl::GetFlag(FLAGS_opens); ++i) {
    LoadedState state;
    const absl::Time start = absl::Now();
    auto storage = OpenAt(dir, &state);
    const absl::Duration took = absl::Now() - start;
    if (!storage.ok()) {
      std::fprintf(stderr, "%s\n", storage.status().ToString().c_str());
      return 1;
    }
    millis.push_back(absl::ToDoubleMilliseconds(took));
    std::printf("open %d: %.0f ms (%zu rooms, %zu recent messages, %zu recent client ids)\n", i + 1, millis.back(),
                state.rooms.size(), state.recent.size(), state.recent_client_ids.size());
  }
  std::sort(millis.begin(), millis.end());
  std::printf("median open: %.0f ms\n", millis[millis.size() / 2]);
  return 0;
}

int RunCommit() {
  const std::string dir = absl::GetFlag(FLAGS_dir);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  LoadedState state;
  auto storage = OpenAt(dir, &state);
  if (!storage.ok()) {
    std::fprintf(stderr, "%s\n", storage.status().ToString().c_str());
    return 1;
  }
  const uint64_t messages = absl::GetFlag(FLAGS_messages);
  const uint64_t batch = absl::GetFlag(FLAGS_batch);
  const uint64_t pipeline = std::max<uint64_t>(1, absl::GetFlag(FLAGS_pipeline));
  const absl::Duration took = Fill(**storage, messages, absl::GetFlag(FLAGS_rooms), batch, pipeline);
  const uint64_t transactions = (*storage)->transactions_committed() - 1;  // less the rooms' batch
  std::printf("commit: sync=%s batch=%llu pipeline=%llu: %llu messages in %.2f s = %.0f msg/s, %llu transactions "
              "(%.0f us each)\n",
              absl::GetFlag(FLAGS_sync_full) ? "FULL" : "NORMAL", static_cast<unsigned long long>(batch),
              static_cast<unsigned long long>(pipeline), static_cast<unsigned long long>(messages),
              absl::ToDoubleSeconds(took), messages / absl::ToDoubleSeconds(took),
              static_cast<unsigned long long>(transactions), absl::ToDoubleMicroseconds(took) / transactions);
  struct stat st;
  const std::string wal = dir + "/" + SqliteStorage::kDatabaseFileName + "-wal";
  std::printf("  checkpoints: %llu by the checkpointer, %llu by the writer; WAL file %.1f MiB\n",
              static_cast<unsigned long long>((*storage)->checkpoints()),
              static_cast<unsigned long long>((*storage)->writer_checkpoints()),
              stat(wal.c_str(), &st) == 0 ? st.st_size / 1048576.0 : 0.0);
  (*storage)->Close();
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace
}  // namespace muxchat::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("muxchat-storage-restart --mode=restart|commit [flags]: SQLite storage figures");
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "restart") return muxchat::server::RunRestart();
  if (mode == "commit") return muxchat::server::RunCommit();
  std::fprintf(stderr, "--mode must be restart or commit\n");
  return 2;
}
