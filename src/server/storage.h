// Durable state in an embedded SQLite database (--data_dir): accounts,
// sessions, rooms, account memberships and messages.
//
// The event loop never touches SQLite. It hands the writer thread one Batch
// per turn (Submit); the writer applies queued batches in one transaction
// (group commit) and posts a CommitResult per batch. History reads go to a
// reader thread with its own connection (WAL lets it read while the writer
// writes), so replay never waits behind a commit. Both post their results and
// make completion_fd() readable; the loop drains them with TakeCompletions.
//
// A failed batch fails the batches submitted after it until the caller has
// taken its result: those are refused unapplied (same code), since they were
// written behind it and may carry the seqs that follow its own. Batches
// submitted once the failure has been taken commit again.
//
// Thread-safety: Submit, Read, TakeCompletions and completion_fd are for the
// loop thread only; everything else is internal.
#ifndef MUXCHAT_SERVER_STORAGE_H_
#define MUXCHAT_SERVER_STORAGE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace muxchat::server {

struct AccountRecord {
  uint64_t id = 0;
  std::string name;           // as registered (display form)
  std::string password_hash;  // crypto_pwhash_str output
  int64_t created_unix_micros = 0;
};

struct SessionRecord {
  std::string token_hash;  // SHA-256 of the token, raw 32 bytes
  uint64_t account_id = 0;
  int64_t expires_unix_micros = 0;
};

struct RoomRecord {
  uint64_t id = 0;
  std::string name;
  uint64_t owner_account_id = 0;  // 0: created by a guest (no durable owner)
  std::string owner_name;         // display only
  int64_t created_unix_micros = 0;
  uint64_t last_seq = 0;          // filled by Load; ignored in a Batch
};

struct MembershipRecord {
  uint64_t account_id = 0;
  uint64_t room_id = 0;
};

struct MessageRecord {
  uint64_t room_id = 0;
  uint64_t seq = 0;
  std::string sender;              // display name
  uint64_t sender_account_id = 0;  // 0 = guest
  uint64_t client_msg_id = 0;      // 0 = none
  int64_t timestamp_unix_micros = 0;
  std::string text;
};

// Writes, applied in order within one transaction.
struct NewAccount { AccountRecord account; };
struct NewSession { SessionRecord session; };
struct RevokeSession { std::string token_hash; };
struct NewRoom { RoomRecord room; };
struct DeleteRoomOp { uint64_t room_id = 0; };  // with its memberships and messages
struct JoinOp { MembershipRecord membership; };
struct LeaveOp { MembershipRecord membership; };
// A room's appends must ascend by seq and come after the room's stored
// last_seq; one that does not fails its batch with kAlreadyExists (a seq is
// never stored twice). A batch's appends to one room are stored as one row
// of up to 256 messages (schema version 2: src/server/message_block.h).
struct AppendMessage { MessageRecord message; };
using StorageOp =
    std::variant<NewAccount, NewSession, RevokeSession, NewRoom, DeleteRoomOp, JoinOp, LeaveOp, AppendMessage>;

struct Batch {
  uint64_t id = 0;  // increasing; echoed in its CommitResult
  std::vector<StorageOp> ops;
};

struct CommitResult {
  uint64_t batch_id = 0;
  absl::Status status;  // kResourceExhausted (disk full) or kUnavailable (I/O error) on failure
  // On success, the batch's ops handed back in order, so that the caller
  // moves a message's text into its history instead of having kept a copy
  // of every message it stored. Empty on failure.
  std::vector<StorageOp> ops;
};

struct HistoryRead {
  uint64_t id = 0;  // chosen by the caller, echoed in its ReadResult
  uint64_t room_id = 0;
  uint64_t after_seq = 0;   // > 0 (or forward): the oldest `limit` messages with seq > after_seq
  uint64_t before_seq = 0;  // > 0: the newest `limit` with seq < before_seq
  uint32_t limit = 0;       // both 0: the newest `limit`
  bool forward = false;     // page forward from after_seq even when it is 0 (from the oldest)
};

struct ReadResult {
  uint64_t read_id = 0;
  absl::Status status;
  std::vector<MessageRecord> messages;  // ascending seq
  uint64_t oldest_seq = 0;              // the room's oldest stored seq, 0 = none
};

// What the server needs at start.
struct LoadedState {
  std::vector<AccountRecord> accounts;
  std::vector<SessionRecord> sessions;  // unexpired only
  std::vector<RoomRecord> rooms;        // with last_seq
  std::vector<MembershipRecord> memberships;
  // The newest `recent_per_room` messages of every room, ascending by (room_id, seq).
  std::vector<MessageRecord> recent;
  // Messages with a client_msg_id not older than dedupe_window, for resend dedupe.
  std::vector<MessageRecord> recent_client_ids;  // text left empty
  // The largest room ID ever stored, deleted rooms included: IDs are never reused.
  uint64_t max_room_id = 0;
};

struct StorageOptions {
  std::string data_dir;          // created if missing; holds muxchat.db (+ -wal, -shm)
  bool sync_full = false;        // PRAGMA synchronous=FULL (power-loss safe) instead of NORMAL (process-crash safe)
  uint32_t recent_per_room = 100;
  absl::Duration dedupe_window = absl::Minutes(10);
  uint64_t retention_messages = 0;          // per room; 0 = keep all
  absl::Duration retention_age = absl::ZeroDuration();  // 0 = keep all
  absl::Duration prune_interval = absl::Seconds(30);
  // Test hook: while this file exists, commits fail with kUnavailable ("I/O error").
  std::string fault_file;
  // Test hook: > 0 caps the database at this many pages (PRAGMA
  // max_page_count, kStoragePageSize each), so a test can fill it: commits then fail
  // with kResourceExhausted as on a full disk.
  uint32_t max_page_count = 0;
};

class Storage {
 public:
  // Opens (creating or migrating) the database and loads `state`. A corrupt
  // database or one with a newer schema is an error (kFailedPrecondition /
  // kDataLoss), never an empty start.
  static absl::StatusOr<std::unique_ptr<Storage>> Open(const StorageOptions& options, LoadedState* state);
  virtual ~Storage() = default;

  // Readable (eventfd) when results wait; drained by TakeCompletions.
  virtual int completion_fd() const = 0;
  virtual void Submit(Batch batch) = 0;
  virtual void Read(HistoryRead read) = 0;
  virtual void TakeCompletions(std::vector<CommitResult>* commits, std::vector<ReadResult>* reads) = 0;
  // Finishes queued batches and stops the threads (also done by the destructor).
  virtual void Close() = 0;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_STORAGE_H_
