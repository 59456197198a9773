#include "src/server/storage_loader.h"

#include <algorithm>
#include <iterator>
#include <vector>
#include <utility>

#include "src/server/message_block.h"

namespace muxchat::server {
namespace {

absl::Status LoadInTransaction(SqliteConnection& db, uint32_t recent_per_room, int64_t now_micros,
                               int64_t dedupe_since_micros, LoadedState* state) {
  absl::StatusOr<SqliteStatement> accounts =
      db.Prepare("SELECT id, name, password_hash, created FROM accounts ORDER BY id");
  if (!accounts.ok()) return accounts.status();
  for (;;) {
    absl::StatusOr<bool> row = accounts->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    AccountRecord& a = state->accounts.emplace_back();
    a.id = accounts->ColumnUint(0);
    a.name = accounts->ColumnString(1);
    a.password_hash = accounts->ColumnString(2);
    a.created_unix_micros = accounts->ColumnInt(3);
  }

  absl::StatusOr<SqliteStatement> sessions =
      db.Prepare("SELECT token_hash, account_id, expires FROM sessions WHERE expires > ?1");
  if (!sessions.ok()) return sessions.status();
  sessions->BindInt(1, now_micros);
  for (;;) {
    absl::StatusOr<bool> row = sessions->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    SessionRecord& s = state->sessions.emplace_back();
    s.token_hash = sessions->ColumnString(0);
    s.account_id = sessions->ColumnUint(1);
    s.expires_unix_micros = sessions->ColumnInt(2);
  }

  absl::StatusOr<SqliteStatement> rooms = db.Prepare(
      "SELECT id, name, owner_account_id, owner_name, created, last_seq FROM rooms ORDER BY id");
  if (!rooms.ok()) return rooms.status();
  for (;;) {
    absl::StatusOr<bool> row = rooms->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    RoomRecord& r = state->rooms.emplace_back();
    r.id = rooms->ColumnUint(0);
    r.name = rooms->ColumnString(1);
    r.owner_account_id = rooms->ColumnUint(2);
    r.owner_name = rooms->ColumnString(3);
    r.created_unix_micros = rooms->ColumnInt(4);
    r.last_seq = rooms->ColumnUint(5);
  }

  absl::StatusOr<int64_t> max_room_id =
      db.QueryInt("SELECT coalesce((SELECT value FROM meta WHERE key = 'max_room_id'), 0)");
  if (!max_room_id.ok()) return max_room_id.status();
  state->max_room_id = static_cast<uint64_t>(*max_room_id);
  for (const RoomRecord& r : state->rooms) state->max_room_id = std::max(state->max_room_id, r.id);

  absl::StatusOr<SqliteStatement> memberships =
      db.Prepare("SELECT account_id, room_id FROM memberships ORDER BY account_id, room_id");
  if (!memberships.ok()) return memberships.status();
  for (;;) {
    absl::StatusOr<bool> row = memberships->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    state->memberships.push_back({memberships->ColumnUint(0), memberships->ColumnUint(1)});
  }

  // Newest block first along (room_id, last_seq); stepping stops as soon as
  // both the recent window and the dedupe window are covered.
  absl::StatusOr<SqliteStatement> newest =
      db.Prepare("SELECT first_seq, last_seq, body FROM message_blocks WHERE room_id = ?1 ORDER BY last_seq DESC");
  if (!newest.ok()) return newest.status();
  std::vector<MessageRecord> block;
  std::vector<MessageRecord> room_recent;
  std::vector<MessageRecord> room_client_ids;
  for (const RoomRecord& room : state->rooms) {
    newest->BindUint(1, room.id);
    room_recent.clear();
    room_client_ids.clear();
    absl::Status status;
    for (bool more = true; more;) {
      absl::StatusOr<bool> row = newest->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      block.clear();
      status = DecodeStoredBlock(room.id, newest->ColumnUint(0), newest->ColumnUint(1), newest->ColumnBytes(2), &block);
      if (!status.ok()) break;
      for (auto m = block.rbegin(); m != block.rend(); ++m) {
        const bool want_recent = room_recent.size() < recent_per_room;
        const bool in_dedupe_window = m->timestamp_unix_micros >= dedupe_since_micros;
        if (!want_recent && !in_dedupe_window) {
          more = false;
          break;
        }
        if (in_dedupe_window && m->client_msg_id != 0) {
          room_client_ids.push_back({m->room_id, m->seq, m->sender, m->sender_account_id, m->client_msg_id,
                                     m->timestamp_unix_micros, /*text=*/""});
        }
        if (want_recent) room_recent.push_back(std::move(*m));
      }
    }
    newest->Reset();
    if (!status.ok()) return status;
    std::move(room_recent.rbegin(), room_recent.rend(), std::back_inserter(state->recent));
    std::move(room_client_ids.rbegin(), room_client_ids.rend(), std::back_inserter(state->recent_client_ids));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadStoredState(SqliteConnection& db, uint32_t recent_per_room, absl::Duration dedupe_window,
                             absl::Time now, LoadedState* state) {
  *state = LoadedState();
  const int64_t now_micros = absl::ToUnixMicros(now);
  const int64_t dedupe_since_micros = absl::ToUnixMicros(now - dedupe_window);
  if (absl::Status s = db.Exec("BEGIN"); !s.ok()) return s;
  absl::Status status = LoadInTransaction(db, recent_per_room, now_micros, dedupe_since_micros, state);
  if (status.ok()) status = db.Exec("COMMIT");
  if (!status.ok()) {
    db.RollbackQuietly();
    *state = LoadedState();
  }
  return status;
}

}  // namespace muxchat::server
