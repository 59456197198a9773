// The accounts, their live sessions and their room memberships, in memory:
// the loop's view of what storage keeps (loaded at start, kept in step by
// the ChatService, which also writes each change to storage). Knows nothing
// of connections or the protocol. Single-threaded (the event-loop thread).
#ifndef MUXCHAT_SERVER_ACCOUNT_REGISTRY_H_
#define MUXCHAT_SERVER_ACCOUNT_REGISTRY_H_

#include <cstdint>
#include <string>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace muxchat::server {

struct Account {
  uint64_t id = 0;
  std::string name;           // display form
  std::string password_hash;  // argon2id (crypto_pwhash_str)
  absl::Time created;
  absl::btree_set<uint64_t> rooms;  // durable memberships, by room ID
};

struct Session {
  uint64_t account_id = 0;
  absl::Time expires;
};

class AccountRegistry {
 public:
  // Null if the (folded) name or the ID is taken.
  Account* Add(uint64_t id, std::string name, std::string password_hash, absl::Time created);
  // The next unused account ID.
  uint64_t NextId() const { return next_id_; }
  Account* FindByName(absl::string_view name);
  Account* FindById(uint64_t id);
  const Account* FindById(uint64_t id) const;
  void Remove(uint64_t id);
  size_t size() const { return by_id_.size(); }

  void AddSession(std::string token_hash, Session s) { sessions_[std::move(token_hash)] = s; }
  // The account of an unexpired session (an expired one is forgotten here).
  Account* FindSession(const std::string& token_hash, absl::Time now);
  void RemoveSession(const std::string& token_hash) { sessions_.erase(token_hash); }
  size_t session_count() const { return sessions_.size(); }

  // Forgets every membership of a deleted room (a walk over all accounts:
  // deletion is rare, an index per room would cost on every join).
  void ForgetRoom(uint64_t room_id);

 private:
  uint64_t next_id_ = 1;
  absl::flat_hash_map<uint64_t, Account> by_id_;
  absl::flat_hash_map<std::string, uint64_t> by_folded_name_;
  absl::flat_hash_map<std::string, Session> sessions_;  // SHA-256 of the token -> session
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_ACCOUNT_REGISTRY_H_
