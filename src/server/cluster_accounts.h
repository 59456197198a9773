// Accounts, sessions and account memberships shared by every node through
// Redis (docs/SCALING.md §2): a name registered on one node is reserved on
// all, and a session token issued by one node works on any. Redis is the
// truth; a node may cache what it read. Each call is one Redis round trip
// (registration and the lookups are small Lua scripts, so they are atomic).
// Single-threaded: methods and callbacks run on the loop's thread. Borrows
// `link`, which must outlive this object; the callbacks do not reference
// this object, so it may be destroyed while some are pending (they still
// run, from the link).
#ifndef MUXCHAT_SERVER_CLUSTER_ACCOUNTS_H_
#define MUXCHAT_SERVER_CLUSTER_ACCOUNTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/server/redis_link.h"

namespace muxchat::server {

// An account as Redis holds it.
struct ClusterAccount {
  uint64_t id = 0;
  std::string name;           // display form
  std::string password_hash;  // argon2id (crypto_pwhash_str)
  absl::Time created;
};

class ClusterAccounts {
 public:
  using IdCallback = absl::AnyInvocable<void(absl::StatusOr<uint64_t>)>;
  using AccountCallback = absl::AnyInvocable<void(absl::StatusOr<ClusterAccount>)>;
  using DoneCallback = absl::AnyInvocable<void(absl::Status)>;
  using RoomsCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<uint64_t>>)>;

  // `link` is borrowed (see above); `key_prefix` is ClusterOptions::key_prefix.
  ClusterAccounts(RedisLink* link, std::string key_prefix);
  ClusterAccounts(const ClusterAccounts&) = delete;
  ClusterAccounts& operator=(const ClusterAccounts&) = delete;

  // Whether calls are sent now (false: they are refused with kUnavailable).
  bool up() const { return link_->up(); }

  // Every method has RedisLink::Command's contract: not OK (kUnavailable
  // while Redis is down, kInvalidArgument for a bad argument) and `done` is
  // not called; OK and `done` runs exactly once, later, on the loop thread —
  // with kUnavailable if the connection went before the reply (the command
  // may or may not have run), kInternal for an error or a malformed answer
  // from Redis.

  // Reserves `name` (case folded with FoldName) for a new account and stores
  // it, in one atomic step: the new account's ID, or kAlreadyExists if any
  // node registered the name first.
  absl::Status RegisterAccount(absl::string_view name, absl::string_view password_hash, absl::Time created,
                               IdCallback done);
  // kNotFound for an unknown name or ID.
  absl::Status LookupAccountByName(absl::string_view name, AccountCallback done);
  absl::Status LookupAccountById(uint64_t id, AccountCallback done);

  // Stores a session (the token's hash, raw bytes) for `ttl`: Redis expires
  // it by itself. kInvalidArgument for a ttl under 1 ms or an empty hash.
  absl::Status CreateSession(absl::string_view token_hash, uint64_t account_id, absl::Duration ttl,
                             DoneCallback done);
  // The session's account; kNotFound if the session is unknown, expired or
  // revoked (or its account is gone).
  absl::Status LookupSession(absl::string_view token_hash, AccountCallback done);
  // OK also when there was no such session.
  absl::Status RevokeSession(absl::string_view token_hash, DoneCallback done);

  // The rooms an account is a member of (restored by Resume on any node).
  // `done` may be null for the two writes: a membership is not waited for.
  absl::Status AddMembership(uint64_t account_id, uint64_t room_id, DoneCallback done);
  absl::Status RemoveMembership(uint64_t account_id, uint64_t room_id, DoneCallback done);
  // Ascending room IDs.
  absl::Status ListMemberships(uint64_t account_id, RoomsCallback done);

  // The keys, for docs, tests and operators.
  std::string ByNameKey() const;                          // hash: folded name -> account ID
  std::string IdsKey() const;                             // counter: the last account ID
  std::string AccountKey(uint64_t id) const;              // hash: name, hash, created
  std::string SessionKey(absl::string_view token_hash) const;  // string with TTL: account ID
  std::string MembershipsKey(uint64_t account_id) const;  // set of room IDs

 private:
  RedisLink* const link_;
  const std::string prefix_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_ACCOUNTS_H_
