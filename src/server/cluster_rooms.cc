#include "src/server/cluster_rooms.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/server/cluster_stream.h"
#include "src/server/redis_reply.h"

namespace muxchat::server {
namespace {

// KEYS: names, data, ids. ARGV: folded name, record tail, max rooms, control channel.
// Returns {1, record} when created, {0, existing id} when the name is taken,
// {2, ''} when the registry is full.
constexpr char kCreateScript[] = R"lua(-- muxchat create room v1
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {0, existing} end
local max = tonumber(ARGV[3])
if max > 0 and redis.call('HLEN', KEYS[1]) >= max then return {2, ''} end
local s = string.format('%d', redis.call('INCR', KEYS[3]))
local rec = 'r1;' .. string.len(s) .. ':' .. s .. ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], s)
redis.call('HSET', KEYS[2], s, rec)
redis.call('PUBLISH', ARGV[4], 'c' .. rec)
return {1, rec}
)lua";

// KEYS: the ID counter, data. Returns {1 if the counter exists else 0, HVALS data}.
constexpr char kLoadScript[] = R"lua(-- muxchat load rooms v1
return {redis.call('EXISTS', KEYS[1]), redis.call('HVALS', KEYS[2])}
)lua";

// KEYS: names, data, ids. ARGV: control channel, then (folded name, id,
// record) triples. Registers each room whose name is free, publishes its
// created event, and raises the counter above every ID.
constexpr char kRestoreScript[] = R"lua(-- muxchat restore rooms v1
local top = tonumber(redis.call('GET', KEYS[3]) or '0')
for i = 2, #ARGV, 3 do
  local folded, id, rec = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HSETNX', KEYS[1], folded, id) == 1 then
    redis.call('HSET', KEYS[2], id, rec)
    redis.call('PUBLISH', ARGV[1], 'c' .. rec)
  end
  if tonumber(id) > top then top = tonumber(id) end
end
redis.call('SET', KEYS[3], string.format('%d', top))
return 1
)lua";

// KEYS: names, data, the room's seq counter, its stream, its members. ARGV: folded name,
// id, control channel, closed_by. Returns 1 if deleted, 0 if already gone.
constexpr char kDeleteScript[] = R"lua(-- muxchat delete room v1
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('PUBLISH', ARGV[3], 'd' .. string.len(ARGV[2]) .. ':' .. ARGV[2] .. string.len(ARGV[4]) .. ':' .. ARGV[4])
return 1
)lua";

}  // namespace

ClusterRooms::ClusterRooms(RedisLink* link, std::string key_prefix) : link_(link), prefix_(std::move(key_prefix)) {}

std::string ClusterRooms::ControlChannel(absl::string_view prefix) { return absl::StrCat(prefix, ":ctl"); }

absl::Status ClusterRooms::Create(const std::string& folded_name, const ClusterRoomRecord& room, size_t max_rooms,
                                  CreateCallback done) {
  std::vector<std::string> args = {"EVAL",
                                   kCreateScript,
                                   "3",
                                   absl::StrCat(prefix_, ":rooms:names"),
                                   absl::StrCat(prefix_, ":rooms:data"),
                                   absl::StrCat(prefix_, ":rooms:ids"),
                                   folded_name,
                                   EncodeRoomRecordTail(room),
                                   absl::StrCat(max_rooms),
                                   ControlChannel(prefix_)};
  return link_->Command(args, [done = std::move(done)](redisReply* reply) mutable {
    if (absl::Status st = ReplyError(reply, "create room"); !st.ok()) {
      done(st);
      return;
    }
    int64_t code = -1;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 && reply->element[0]->type == REDIS_REPLY_INTEGER) {
      code = reply->element[0]->integer;
    }
    const std::string value = code >= 0 ? ReplyText(reply->element[1]) : "";
    if (code == 0) {
      done(absl::AlreadyExistsError(value));
    } else if (code == 2) {
      done(absl::ResourceExhaustedError("the cluster's room registry is full"));
    } else if (code == 1) {
      done(DecodeRoomRecord(value));
    } else {
      done(absl::InternalError("create room: unexpected reply from the script"));
    }
  });
}

absl::Status ClusterRooms::Delete(uint64_t id, const std::string& folded_name, const std::string& closed_by,
                                  DeleteCallback done) {
  std::vector<std::string> args = {"EVAL",
                                   kDeleteScript,
                                   "5",
                                   absl::StrCat(prefix_, ":rooms:names"),
                                   absl::StrCat(prefix_, ":rooms:data"),
                                   RoomSeqKey(prefix_, id),
                                   RoomLogKey(prefix_, id),
                                   absl::StrCat(prefix_, ":{room:", id, "}:members"),
                                   folded_name,
                                   absl::StrCat(id),
                                   ControlChannel(prefix_),
                                   closed_by};
  return link_->Command(args, [done = std::move(done)](redisReply* reply) mutable {
    if (absl::Status st = ReplyError(reply, "delete room"); !st.ok()) {
      done(st);
      return;
    }
    if (reply->type != REDIS_REPLY_INTEGER) {
      done(absl::InternalError("delete room: unexpected reply from the script"));
      return;
    }
    done(reply->integer == 1);
  });
}

absl::Status ClusterRooms::LoadAll(LoadCallback done) {
  return link_->Command(
      {"EVAL", kLoadScript, "2", absl::StrCat(prefix_, ":rooms:ids"), absl::StrCat(prefix_, ":rooms:data")},
      [done = std::move(done)](redisReply* reply) mutable {
        if (absl::Status st = ReplyError(reply, "load rooms"); !st.ok()) {
          done(st);
          return;
        }
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[1]->type != REDIS_REPLY_ARRAY) {
          done(absl::InternalError("load rooms: unexpected reply from the script"));
          return;
        }
        Registry out;
        out.counter_present = reply->element[0]->type == REDIS_REPLY_INTEGER && reply->element[0]->integer == 1;
        const redisReply* values = reply->element[1];
        out.rooms.reserve(values->elements);
        for (size_t i = 0; i < values->elements; ++i) {
          // A record this node cannot read (corrupt, or from a newer
          // version) is left out, not a failed load.
          absl::StatusOr<ClusterRoomRecord> r = DecodeRoomRecord(ReplyText(values->element[i]));
          if (r.ok()) out.rooms.push_back(std::move(*r));
        }
        std::sort(out.rooms.begin(), out.rooms.end(),
                  [](const ClusterRoomRecord& a, const ClusterRoomRecord& b) { return a.id < b.id; });
        done(std::move(out));
      });
}

void ClusterRooms::Restore(const std::vector<std::pair<std::string, ClusterRoomRecord>>& folded_and_rooms) {
  std::vector<std::string> args = {"EVAL",
                                   kRestoreScript,
                                   "3",
                                   absl::StrCat(prefix_, ":rooms:names"),
                                   absl::StrCat(prefix_, ":rooms:data"),
                                   absl::StrCat(prefix_, ":rooms:ids"),
                                   ControlChannel(prefix_)};
  for (const auto& [folded, room] : folded_and_rooms) {
    args.push_back(folded);
    args.push_back(absl::StrCat(room.id));
    args.push_back(EncodeRoomRecord(room));
  }
  (void)link_->Command(args, [](redisReply*) {});
}

absl::Status ClusterRooms::Latest(uint64_t room_id, uint32_t limit, ReadCallback done) {
  return Before(room_id, 0, limit, std::move(done));
}

absl::Status ClusterRooms::Before(uint64_t room_id, uint64_t before_seq, uint32_t limit, ReadCallback done) {
  if (room_id == 0 || limit == 0) return absl::InvalidArgumentError("read: room 0 or limit 0");
  return link_->Command(StreamReadBeforeCommand(prefix_, room_id, before_seq, limit),
                        [room_id, before_seq, limit, done = std::move(done)](redisReply* reply) mutable {
                          done(ParseStreamReadBefore(room_id, before_seq, limit, reply));
                        });
}

}  // namespace muxchat::server
