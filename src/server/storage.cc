#include "src/server/storage.h"

#include "src/server/sqlite_storage.h"

namespace muxchat::server {

absl::StatusOr<std::unique_ptr<Storage>> Storage::Open(const StorageOptions& options, LoadedState* state) {
  absl::StatusOr<std::unique_ptr<SqliteStorage>> storage = SqliteStorage::Open(options, state);
  if (!storage.ok()) return storage.status();
  return std::unique_ptr<Storage>(*std::move(storage));
}

}  // namespace muxchat::server
