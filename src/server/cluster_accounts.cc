#include "src/server/cluster_accounts.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/server/name_rules.h"
#include "src/server/redis_reply.h"

namespace muxchat::server {
namespace {

// The scripts are sent whole with EVAL, not loaded for EVALSHA: they are a
// few hundred bytes, run once per registration or login (not per message),
// and Redis caches a script it was sent; EVAL needs no NOSCRIPT recovery.

// KEYS[1] the by-name hash, KEYS[2] the ID counter.
// ARGV: folded name, display name, password hash, created (unix micros), the
//       account key without its ID ("<prefix>:acct:").
// Returns the new ID, or 0 if the name is taken. The account's own key is
// derived from the new ID, so it is not in KEYS: one Redis, not Redis Cluster
// (docs/SCALING.md §2).
constexpr char kRegisterScript[] = R"lua(-- muxchat register v1
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', ARGV[5] .. id, 'name', ARGV[2], 'hash', ARGV[3], 'created', ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], id)
return id
)lua";

// KEYS[1] a string or hash field holding an account ID: the by-name hash
// (ARGV[2] the field) or a session key (no ARGV[2]).
// ARGV[1] the account key without its ID.
// Returns nil if there is no ID, else {id, HGETALL of the account}.
constexpr char kLookupScript[] = R"lua(-- muxchat account lookup v1
local id
if ARGV[2] then id = redis.call('HGET', KEYS[1], ARGV[2]) else id = redis.call('GET', KEYS[1]) end
if not id then return false end
return {id, redis.call('HGETALL', ARGV[1] .. id)}
)lua";


// An HGETALL of an account (field, value, ...); kNotFound when empty.
absl::StatusOr<ClusterAccount> ParseAccount(uint64_t id, const redisReply* fields) {
  const absl::Status bad = absl::InternalError("account: malformed hash in redis");
  if (fields == nullptr || fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0) return bad;
  if (fields->elements == 0) return absl::NotFoundError(absl::StrCat("account ", id, " not found"));
  ClusterAccount a;
  a.id = id;
  int64_t created = 0;
  bool have_name = false, have_hash = false;
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    if (!IsStringReply(fields->element[i]) || !IsStringReply(fields->element[i + 1])) return bad;
    const std::string name = ReplyText(fields->element[i]);
    std::string value = ReplyText(fields->element[i + 1]);
    if (name == "name") {
      a.name = std::move(value);
      have_name = true;
    } else if (name == "hash") {
      a.password_hash = std::move(value);
      have_hash = true;
    } else if (name == "created") {
      if (!absl::SimpleAtoi(value, &created)) return bad;
    }
    // Unknown fields are skipped: a newer node may add some.
  }
  if (!have_name || !have_hash || a.name.empty()) return bad;
  a.created = absl::FromUnixMicros(created);
  return a;
}

// kLookupScript's answer.
absl::StatusOr<ClusterAccount> ParseLookup(const redisReply* reply, absl::string_view what) {
  if (absl::Status st = ReplyError(reply, what); !st.ok()) return st;
  if (reply->type == REDIS_REPLY_NIL) return absl::NotFoundError(absl::StrCat(what, ": not found"));
  uint64_t id = 0;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || !IsStringReply(reply->element[0]) ||
      !absl::SimpleAtoi(ReplyText(reply->element[0]), &id) || id == 0) {
    return absl::InternalError(absl::StrCat(what, ": unexpected reply from the script"));
  }
  return ParseAccount(id, reply->element[1]);
}

absl::Status ParseWrite(const redisReply* reply, absl::string_view what) { return ReplyError(reply, what); }

}  // namespace

ClusterAccounts::ClusterAccounts(RedisLink* link, std::string key_prefix)
    : link_(link), prefix_(std::move(key_prefix)) {}

std::string ClusterAccounts::ByNameKey() const { return absl::StrCat(prefix_, ":acct:byname"); }
std::string ClusterAccounts::IdsKey() const { return absl::StrCat(prefix_, ":acct:ids"); }
std::string ClusterAccounts::AccountKey(uint64_t id) const { return absl::StrCat(prefix_, ":acct:", id); }
std::string ClusterAccounts::SessionKey(absl::string_view token_hash) const {
  return absl::StrCat(prefix_, ":sess:", absl::BytesToHexString(token_hash));
}
std::string ClusterAccounts::MembershipsKey(uint64_t account_id) const {
  return absl::StrCat(prefix_, ":acct:", account_id, ":rooms");
}

absl::Status ClusterAccounts::RegisterAccount(absl::string_view name, absl::string_view password_hash,
                                              absl::Time created, IdCallback done) {
  if (name.empty() || password_hash.empty()) return absl::InvalidArgumentError("register: empty name or hash");
  std::string folded = FoldName(name);
  return link_->Command(
      {"EVAL", kRegisterScript, "2", ByNameKey(), IdsKey(), folded, std::string(name), std::string(password_hash),
       absl::StrCat(absl::ToUnixMicros(created)), absl::StrCat(prefix_, ":acct:")},
      [display = std::string(name), done = std::move(done)](redisReply* reply) mutable {
        if (absl::Status st = ReplyError(reply, "register"); !st.ok()) {
          done(st);
          return;
        }
        if (reply->type != REDIS_REPLY_INTEGER || reply->integer < 0) {
          done(absl::InternalError("register: unexpected reply from the script"));
          return;
        }
        if (reply->integer == 0) {
          done(absl::AlreadyExistsError(absl::StrCat("the name '", display, "' is taken")));
          return;
        }
        done(static_cast<uint64_t>(reply->integer));
      });
}

absl::Status ClusterAccounts::LookupAccountByName(absl::string_view name, AccountCallback done) {
  if (name.empty()) return absl::InvalidArgumentError("lookup: empty name");
  return link_->Command({"EVAL", kLookupScript, "1", ByNameKey(), absl::StrCat(prefix_, ":acct:"), FoldName(name)},
                        [done = std::move(done)](redisReply* reply) mutable { done(ParseLookup(reply, "account")); });
}

absl::Status ClusterAccounts::LookupAccountById(uint64_t id, AccountCallback done) {
  if (id == 0) return absl::InvalidArgumentError("lookup: account 0");
  return link_->Command({"HGETALL", AccountKey(id)}, [id, done = std::move(done)](redisReply* reply) mutable {
    if (absl::Status st = ReplyError(reply, "account"); !st.ok()) {
      done(st);
      return;
    }
    done(ParseAccount(id, reply));
  });
}

absl::Status ClusterAccounts::CreateSession(absl::string_view token_hash, uint64_t account_id, absl::Duration ttl,
                                            DoneCallback done) {
  const int64_t ttl_ms = absl::ToInt64Milliseconds(ttl);
  if (token_hash.empty() || account_id == 0 || ttl_ms < 1) {
    return absl::InvalidArgumentError("session: empty hash, account 0 or a ttl under 1 ms");
  }
  // A relative TTL (PX, not PXAT): the nodes' clocks need not agree with
  // Redis's for a session to last as long as Welcome said.
  return link_->Command({"SET", SessionKey(token_hash), absl::StrCat(account_id), "PX", absl::StrCat(ttl_ms)},
                        [done = std::move(done)](redisReply* reply) mutable { done(ParseWrite(reply, "session")); });
}

absl::Status ClusterAccounts::LookupSession(absl::string_view token_hash, AccountCallback done) {
  if (token_hash.empty()) return absl::InvalidArgumentError("session: empty hash");
  return link_->Command({"EVAL", kLookupScript, "1", SessionKey(token_hash), absl::StrCat(prefix_, ":acct:")},
                        [done = std::move(done)](redisReply* reply) mutable { done(ParseLookup(reply, "session")); });
}

absl::Status ClusterAccounts::RevokeSession(absl::string_view token_hash, DoneCallback done) {
  if (token_hash.empty()) return absl::InvalidArgumentError("session: empty hash");
  return link_->Command({"DEL", SessionKey(token_hash)},
                        [done = std::move(done)](redisReply* reply) mutable { done(ParseWrite(reply, "revoke")); });
}

absl::Status ClusterAccounts::AddMembership(uint64_t account_id, uint64_t room_id, DoneCallback done) {
  if (account_id == 0 || room_id == 0) return absl::InvalidArgumentError("membership: account or room 0");
  return link_->Command({"SADD", MembershipsKey(account_id), absl::StrCat(room_id)},
                        [done = std::move(done)](redisReply* reply) mutable {
                          if (done) done(ParseWrite(reply, "membership"));
                        });
}

absl::Status ClusterAccounts::RemoveMembership(uint64_t account_id, uint64_t room_id, DoneCallback done) {
  if (account_id == 0 || room_id == 0) return absl::InvalidArgumentError("membership: account or room 0");
  return link_->Command({"SREM", MembershipsKey(account_id), absl::StrCat(room_id)},
                        [done = std::move(done)](redisReply* reply) mutable {
                          if (done) done(ParseWrite(reply, "membership"));
                        });
}

absl::Status ClusterAccounts::ListMemberships(uint64_t account_id, RoomsCallback done) {
  if (account_id == 0) return absl::InvalidArgumentError("memberships: account 0");
  return link_->Command({"SMEMBERS", MembershipsKey(account_id)}, [done = std::move(done)](redisReply* reply) mutable {
    if (absl::Status st = ReplyError(reply, "memberships"); !st.ok()) {
      done(st);
      return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
      done(absl::InternalError("memberships: SMEMBERS did not answer an array"));
      return;
    }
    std::vector<uint64_t> rooms;
    rooms.reserve(reply->elements);
    for (size_t i = 0; i < reply->elements; ++i) {
      uint64_t id = 0;
      if (!IsStringReply(reply->element[i]) || !absl::SimpleAtoi(ReplyText(reply->element[i]), &id)) {
        done(absl::InternalError("memberships: a member is not a room ID"));
        return;
      }
      rooms.push_back(id);
    }
    std::sort(rooms.begin(), rooms.end());
    done(std::move(rooms));
  });
}

}  // namespace muxchat::server
