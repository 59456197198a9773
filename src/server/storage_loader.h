// Reads what the server needs at start (LoadedState) from the database, in
// one read transaction. Called by Storage::Open before its threads start.
#ifndef MUXCHAT_SERVER_STORAGE_LOADER_H_
#define MUXCHAT_SERVER_STORAGE_LOADER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/server/sqlite_connection.h"
#include "src/server/storage.h"

namespace muxchat::server {

// Fills `state` (cleared first). Sessions that expire at or before `now` are
// left out. Each room's messages are read newest first along the primary key,
// and the scan stops once it has the newest `recent_per_room` and has reached
// a message older than `now - dedupe_window`, so a restart costs O(rooms *
// recent) rather than O(all messages). A room's messages are taken to be in
// time order by seq (the server stamps them so).
absl::Status LoadStoredState(SqliteConnection& db, uint32_t recent_per_room, absl::Duration dedupe_window,
                             absl::Time now, LoadedState* state);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_STORAGE_LOADER_H_
