#include "src/server/cluster_presence.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/server/cluster_fields.h"

namespace muxchat::server {
namespace {

// Shared by the scripts: a field, and a room's member hash and channel.
constexpr char kLuaHelpers[] = R"lua(
local function f(v) v = tostring(v) return string.len(v) .. ':' .. v end
local function tag(p, r) return p .. ':{room:' .. r .. '}:' end
-- Removes every member of node `n` (prefix `p`) with one leave each.
local function forget(p, n, reason)
  local rooms_key = p .. ':node:' .. n .. ':rooms'
  local removed = 0
  for _, r in ipairs(redis.call('SMEMBERS', rooms_key)) do
    local h = tag(p, r) .. 'members'
    local all = redis.call('HGETALL', h)
    for i = 1, #all, 2 do
      local field, nick = all[i], all[i + 1]
      local slash = string.find(field, '/', 1, true)
      if slash and string.sub(field, 1, slash - 1) == n then
        redis.call('HDEL', h, field)
        removed = removed + 1
        redis.call('PUBLISH', tag(p, r) .. 'ch',
                   'pl' .. f(n) .. f(string.sub(field, slash + 1)) .. f(nick) .. f(redis.call('HLEN', h)) .. f(reason))
      end
    end
  end
  redis.call('DEL', rooms_key)
  local nicks_key = p .. ':node:' .. n .. ':nicks'
  for _, folded in ipairs(redis.call('SMEMBERS', nicks_key)) do
    local owner = redis.call('GET', p .. ':nick:' .. folded)
    if owner and string.sub(owner, 1, string.len(n) + 1) == n .. '/' then redis.call('DEL', p .. ':nick:' .. folded) end
  end
  redis.call('DEL', nicks_key)
  return removed
end
)lua";

// ARGV: prefix, node, room, conn, nickname. The node registered itself
// (Sync, Heartbeat) before its first member could join; one taken for dead
// meanwhile learns so at its next heartbeat and syncs again.
constexpr char kJoinBody[] = R"lua(
local p, n, r, c, nick = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local h = tag(p, r) .. 'members'
if redis.call('HEXISTS', p .. ':rooms:data', r) == 0 then return 0 end  -- deleted meanwhile: leave no keys
redis.call('HSET', h, n .. '/' .. c, nick)
redis.call('SADD', p .. ':node:' .. n .. ':rooms', r)
local count = redis.call('HLEN', h)
redis.call('PUBLISH', tag(p, r) .. 'ch', 'pj' .. f(n) .. f(c) .. f(nick) .. f(count))
return count
)lua";

// ARGV: prefix, node, room, conn, nickname, reason.
constexpr char kLeaveBody[] = R"lua(
local p, n, r, c, nick, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local h = tag(p, r) .. 'members'
if redis.call('HDEL', h, n .. '/' .. c) == 0 then return 0 end
redis.call('PUBLISH', tag(p, r) .. 'ch', 'pl' .. f(n) .. f(c) .. f(nick) .. f(redis.call('HLEN', h)) .. f(reason))
return 1
)lua";

// ARGV: prefix, node, folded nickname, conn. Returns 1 if the nickname was
// free (now this connection's) or already this connection's, 0 if another
// guest anywhere has it.
constexpr char kClaimBody[] = R"lua(
local p, n, folded, c = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = p .. ':nick:' .. folded
if not redis.call('SET', k, n .. '/' .. c, 'NX') and redis.call('GET', k) ~= n .. '/' .. c then return 0 end
redis.call('SADD', p .. ':node:' .. n .. ':nicks', folded)
return 1
)lua";

// ARGV: prefix, node, folded nickname, conn.
constexpr char kReleaseBody[] = R"lua(
local p, n, folded, c = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('GET', p .. ':nick:' .. folded) == n .. '/' .. c then redis.call('DEL', p .. ':nick:' .. folded) end
redis.call('SREM', p .. ':node:' .. n .. ':nicks', folded)
return 1
)lua";

// ARGV: prefix, node, ttl ms. Returns 1 if the node was not registered.
constexpr char kHeartbeatBody[] = R"lua(
local p, n = ARGV[1], ARGV[2]
local added = redis.call('SADD', p .. ':nodes', n)
redis.call('SET', p .. ':node:' .. n .. ':alive', '1', 'PX', ARGV[3])
return added
)lua";

// ARGV: prefix, node, ttl ms, M, then M triples (room, conn, nickname)
// of the node's members now, then (folded nickname, conn) pairs of its
// guests. Makes Redis hold exactly these for the node: members and
// nicknames it no longer has are removed (a leave each, reason
// "disconnected"), missing ones added (a join each); the rest is left
// alone, so a reconnect announces only real differences. Registers the node.
constexpr char kSyncBody[] = R"lua(
local p, n, m = ARGV[1], ARGV[2], tonumber(ARGV[4])
local want, rooms = {}, {}
for i = 5, 4 + 3 * m, 3 do
  want[ARGV[i] .. ' ' .. n .. '/' .. ARGV[i + 1]] = true
  rooms[ARGV[i]] = true
end
local rooms_key = p .. ':node:' .. n .. ':rooms'
for _, r in ipairs(redis.call('SMEMBERS', rooms_key)) do
  local h = tag(p, r) .. 'members'
  local all = redis.call('HGETALL', h)
  for i = 1, #all, 2 do
    local field, nick = all[i], all[i + 1]
    local slash = string.find(field, '/', 1, true)
    if slash and string.sub(field, 1, slash - 1) == n and not want[r .. ' ' .. field] then
      redis.call('HDEL', h, field)
      redis.call('PUBLISH', tag(p, r) .. 'ch',
                 'pl' .. f(n) .. f(string.sub(field, slash + 1)) .. f(nick) .. f(redis.call('HLEN', h)) .. f('disconnected'))
    end
  end
  if not rooms[r] then redis.call('SREM', rooms_key, r) end
end
for i = 5, 4 + 3 * m, 3 do
  local r, c, nick = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local h = tag(p, r) .. 'members'
  if redis.call('HEXISTS', p .. ':rooms:data', r) == 1 and redis.call('HSETNX', h, n .. '/' .. c, nick) == 1 then
    redis.call('SADD', rooms_key, r)
    redis.call('PUBLISH', tag(p, r) .. 'ch', 'pj' .. f(n) .. f(c) .. f(nick) .. f(redis.call('HLEN', h)))
  end
end
local nicks_key = p .. ':node:' .. n .. ':nicks'
local keep = {}
for i = 5 + 3 * m, #ARGV, 2 do keep[ARGV[i]] = ARGV[i + 1] end
for _, folded in ipairs(redis.call('SMEMBERS', nicks_key)) do
  if not keep[folded] then
    local owner = redis.call('GET', p .. ':nick:' .. folded)
    if owner and string.sub(owner, 1, string.len(n) + 1) == n .. '/' then redis.call('DEL', p .. ':nick:' .. folded) end
    redis.call('SREM', nicks_key, folded)
  end
end
for folded, c in pairs(keep) do
  if redis.call('SET', p .. ':nick:' .. folded, n .. '/' .. c, 'NX') then redis.call('SADD', nicks_key, folded) end
end
redis.call('SADD', p .. ':nodes', n)
redis.call('SET', p .. ':node:' .. n .. ':alive', '1', 'PX', ARGV[3])
return 1
)lua";

// ARGV: prefix. Removes the members of every node whose liveness expired.
constexpr char kReapBody[] = R"lua(
local p = ARGV[1]
local reaped = 0
for _, n in ipairs(redis.call('SMEMBERS', p .. ':nodes')) do
  if redis.call('EXISTS', p .. ':node:' .. n .. ':alive') == 0 then
    redis.call('SREM', p .. ':nodes', n)
    reaped = reaped + forget(p, n, 'node lost')
  end
end
return reaped
)lua";

}  // namespace

absl::StatusOr<PresenceEvent> DecodePresenceEvent(absl::string_view payload) {
  PresenceEvent e;
  if (payload.size() < 2 || payload[0] != 'p' || (payload[1] != 'j' && payload[1] != 'l')) {
    return absl::InvalidArgumentError("presence: unknown kind");
  }
  e.joined = payload[1] == 'j';
  absl::string_view in = payload.substr(2), node, nick, reason;
  if (!TakeField(&in, &node) || !TakeNumber(&in, &e.conn_id) || !TakeField(&in, &nick) ||
      !TakeNumber(&in, &e.member_count) || (!e.joined && !TakeField(&in, &reason)) || !in.empty()) {
    return absl::InvalidArgumentError("presence: malformed field");
  }
  e.node = std::string(node);
  e.nickname = std::string(nick);
  e.reason = std::string(reason);
  return e;
}

ClusterPresence::ClusterPresence(RedisLink* link, std::string key_prefix, std::string node_name, absl::Duration ttl)
    : link_(link), prefix_(std::move(key_prefix)), node_(std::move(node_name)), ttl_(ttl) {}

void ClusterPresence::Join(uint64_t room_id, uint64_t conn_id, const std::string& nickname) {
  (void)link_->Command({"EVAL", absl::StrCat(kLuaHelpers, kJoinBody), "0", prefix_, node_, absl::StrCat(room_id),
                        absl::StrCat(conn_id), nickname, absl::StrCat(absl::ToInt64Milliseconds(ttl_))},
                       [](redisReply*) {});
}

void ClusterPresence::Leave(uint64_t room_id, uint64_t conn_id, const std::string& nickname,
                            const std::string& reason) {
  (void)link_->Command({"EVAL", absl::StrCat(kLuaHelpers, kLeaveBody), "0", prefix_, node_, absl::StrCat(room_id),
                        absl::StrCat(conn_id), nickname, reason},
                       [](redisReply*) {});
}

absl::Status ClusterPresence::ClaimNickname(const std::string& folded, uint64_t conn_id,
                                            absl::AnyInvocable<void(absl::StatusOr<bool>)> done) {
  return link_->Command({"EVAL", kClaimBody, "0", prefix_, node_, folded, absl::StrCat(conn_id),
                         absl::StrCat(absl::ToInt64Milliseconds(ttl_))},
                        [done = std::move(done)](redisReply* reply) mutable {
                          if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
                            done(absl::UnavailableError("nickname: no answer from Redis"));
                            return;
                          }
                          done(reply->integer == 1);
                        });
}

void ClusterPresence::ReleaseNickname(const std::string& folded, uint64_t conn_id) {
  (void)link_->Command({"EVAL", kReleaseBody, "0", prefix_, node_, folded, absl::StrCat(conn_id)}, [](redisReply*) {});
}

void ClusterPresence::Heartbeat(absl::AnyInvocable<void(bool registered)> registered) {
  (void)link_->Command({"EVAL", kHeartbeatBody, "0", prefix_, node_, absl::StrCat(absl::ToInt64Milliseconds(ttl_))},
                       [registered = std::move(registered)](redisReply* reply) mutable {
                         if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER) registered(reply->integer == 1);
                       });
}

void ClusterPresence::Sync(const Snapshot& now) {
  std::vector<std::string> args = {"EVAL", absl::StrCat(kLuaHelpers, kSyncBody), "0", prefix_, node_,
                                   absl::StrCat(absl::ToInt64Milliseconds(ttl_)), absl::StrCat(now.members.size())};
  for (const Snapshot::Member& m : now.members) {
    args.push_back(absl::StrCat(m.room_id));
    args.push_back(absl::StrCat(m.conn_id));
    args.push_back(m.nickname);
  }
  for (const Snapshot::Guest& g : now.guests) {
    args.push_back(g.folded_nickname);
    args.push_back(absl::StrCat(g.conn_id));
  }
  (void)link_->Command(args, [](redisReply*) {});
}

void ClusterPresence::ReapDeadNodes() {
  (void)link_->Command({"EVAL", absl::StrCat(kLuaHelpers, kReapBody), "0", prefix_}, [](redisReply*) {});
}

absl::Status ClusterPresence::Members(uint64_t room_id,
                                      absl::AnyInvocable<void(absl::StatusOr<std::vector<std::string>>)> done) {
  return link_->Command(
      {"HVALS", absl::StrCat(prefix_, ":{room:", room_id, "}:members")}, [done = std::move(done)](redisReply* reply) mutable {
        if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
          done(absl::UnavailableError("members: no answer from Redis"));
          return;
        }
        std::vector<std::string> names;
        names.reserve(reply->elements);
        for (size_t i = 0; i < reply->elements; ++i) {
          const redisReply* e = reply->element[i];
          if (e->type == REDIS_REPLY_STRING) names.emplace_back(e->str, e->len);
        }
        done(std::move(names));
      });
}

}  // namespace muxchat::server
