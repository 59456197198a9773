#include "src/server/cluster_publisher.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/server/redis_reply.h"

namespace muxchat::server {
namespace {

// KEYS[1] the room's seq counter, KEYS[2] its stream, KEYS[3] (only with a
// client_msg_id) the dedupe key.
// ARGV: channel, maxlen, sender, sender_account_id, client_msg_id, text,
//       seq floor, dedupe TTL in seconds, and optionally the room registry
//       hash and the room ID: then a room no longer in it (deleted while
//       the publish was on its way) gets {0, 0, 2} and nothing is written.
// Returns {seq, timestamp micros, 1 if a resend else 0}, numbers as strings
// (Lua numbers are doubles; text keeps them exact).
// Everything the script writes (counter, stream, dedupe key, publish) happens
// in one atomic step: no other client's command runs in between, so the seq
// order, the stream order and the channel order are the same for every node.
constexpr char kPublishScript[] = R"lua(-- muxchat publish v1
if ARGV[9] and redis.call('HEXISTS', ARGV[9], ARGV[10]) == 0 then return {'0', '0', 2} end
local dd = KEYS[3]
if dd then
  local prev = redis.call('GET', dd)
  if prev then
    local s, t = string.match(prev, '^(%d+):(%d+)$')
    return {s, t, 1}
  end
end
local seq
if redis.call('EXISTS', KEYS[1]) == 1 then
  seq = redis.call('INCR', KEYS[1])
else
  -- The counter is gone (Redis restarted without persistence, or evicted
  -- it): continue above the stream's tail and the caller's floor.
  seq = tonumber(ARGV[7])
  local tail = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if tail[1] then
    local t = tonumber(string.match(tail[1][1], '^(%d+)-'))
    if t > seq then seq = t end
  end
  seq = seq + 1
  redis.call('SET', KEYS[1], string.format('%d', seq))
end
local s = string.format('%d', seq)
local now = redis.call('TIME')
local ts = now[1] .. string.format('%06d', tonumber(now[2]))
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], s .. '-0',
           'seq', s, 'ts', ts, 'sender', ARGV[3], 'sender_account_id', ARGV[4],
           'client_msg_id', ARGV[5], 'text', ARGV[6])
local function f(v) return string.len(v) .. ':' .. v end
redis.call('PUBLISH', ARGV[1],
           'm1;' .. f(s) .. f(ts) .. f(ARGV[3]) .. f(ARGV[4]) .. f(ARGV[5]) .. f(ARGV[6]))
if dd then redis.call('SET', dd, s .. ':' .. ts, 'EX', ARGV[8]) end
return {s, ts, 0}
)lua";


absl::StatusOr<PublishResult> ParsePublishReply(const redisReply* reply) {
  if (absl::Status st = ReplyError(reply, "publish"); !st.ok()) return st;
  PublishResult r;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 || !IsStringReply(reply->element[0]) ||
      !IsStringReply(reply->element[1]) || reply->element[2]->type != REDIS_REPLY_INTEGER ||
      !absl::SimpleAtoi(ReplyText(reply->element[0]), &r.seq) ||
      !absl::SimpleAtoi(ReplyText(reply->element[1]), &r.timestamp_unix_micros)) {
    return absl::InternalError("publish: unexpected reply from the script");
  }
  if (reply->element[2]->integer == 2) return absl::NotFoundError("the room was deleted");
  if (r.seq == 0) return absl::InternalError("publish: unexpected reply from the script");
  r.duplicate = reply->element[2]->integer != 0;
  return r;
}

}  // namespace

const char* ClusterPublisher::Script() { return kPublishScript; }

std::string ClusterPublisher::ScriptSha1() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(kPublishScript, sizeof kPublishScript - 1, digest, &len, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

ClusterPublisher::ClusterPublisher(EventLoop* loop, ClusterOptions options)
    : options_(std::move(options)), sha1_(ScriptSha1()), link_(loop, options_.redis) {
  link_.SetStatusCallback([this](RedisLinkState state, const absl::Status& why) { OnLinkStatus(state, why); });
}

void ClusterPublisher::OnLinkStatus(RedisLinkState state, const absl::Status& why) {
  if (state == RedisLinkState::kUp) {
    // First on the new connection, so every EVALSHA after it finds the
    // script (Redis runs one connection's commands in order). A Redis that
    // restarted has an empty script cache; SCRIPT LOAD is cheap when not.
    (void)link_.Command({"SCRIPT", "LOAD", kPublishScript}, [](redisReply*) {});
  }
  if (status_cb_) status_cb_(state, why);
}

absl::Status ClusterPublisher::Publish(const PublishRequest& request, PublishCallback done) {
  if (request.room_id == 0) return absl::InvalidArgumentError("publish: room 0");
  if (request.client_msg_id != 0 && (request.dedupe_scope.empty() || absl::StrContains(request.dedupe_scope, ':'))) {
    return absl::InvalidArgumentError("publish: a client_msg_id needs a dedupe scope without ':'");
  }
  const std::string& p = options_.key_prefix;
  std::vector<std::string> args = {
      "EVALSHA", sha1_, request.client_msg_id != 0 ? "3" : "2", RoomSeqKey(p, request.room_id),
      RoomLogKey(p, request.room_id)};
  if (request.client_msg_id != 0) {
    args.push_back(DedupeKey(p, request.room_id, request.dedupe_scope, request.client_msg_id));
  }
  args.push_back(RoomChannel(p, request.room_id));
  args.push_back(absl::StrCat(options_.stream_maxlen));
  args.push_back(request.sender);
  args.push_back(absl::StrCat(request.sender_account_id));
  args.push_back(absl::StrCat(request.client_msg_id));
  args.push_back(request.text);
  args.push_back(absl::StrCat(request.seq_floor));
  args.push_back(absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options_.dedupe_ttl))));
  if (request.require_registered) {
    args.push_back(absl::StrCat(p, ":rooms:data"));
    args.push_back(absl::StrCat(request.room_id));
  }
  return Send(false, std::move(args), std::move(done));
}

absl::Status ClusterPublisher::Send(bool full_script, std::vector<std::string> args, PublishCallback done) {
  if (full_script) {
    args[0] = "EVAL";
    args[1] = kPublishScript;
  }
  // Kept for a retry with EVAL if the script cache was flushed under us
  // (SCRIPT FLUSH by an operator): one extra round trip, then EVALSHA again
  // after the next SCRIPT LOAD.
  std::vector<std::string> retry_args = full_script ? std::vector<std::string>() : args;
  return link_.Command(args, [this, full_script, retry_args = std::move(retry_args),
                              done = std::move(done)](redisReply* reply) mutable {
    if (!full_script && reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
        absl::StartsWith(ReplyText(reply), "NOSCRIPT")) {
      (void)link_.Command({"SCRIPT", "LOAD", kPublishScript}, [](redisReply*) {});
      PublishCallback again = std::move(done);
      // On failure the callback was moved into the lambda that was dropped:
      // report through a fresh path instead.
      auto shared = std::make_shared<PublishCallback>(std::move(again));
      absl::Status st = Send(true, std::move(retry_args),
                             [shared](absl::StatusOr<PublishResult> r) { (*shared)(std::move(r)); });
      if (!st.ok()) (*shared)(st);
      return;
    }
    done(ParsePublishReply(reply));
  });
}

absl::Status ClusterPublisher::ReadAfter(uint64_t room_id, uint64_t after_seq, uint32_t limit, ReadCallback done) {
  if (room_id == 0 || limit == 0) return absl::InvalidArgumentError("read: room 0 or limit 0");
  std::vector<std::string> args = {"XRANGE", RoomLogKey(options_.key_prefix, room_id),
                                   absl::StrCat(after_seq + 1, "-0"), "+", "COUNT", absl::StrCat(limit)};
  return link_.Command(args, [room_id, done = std::move(done)](redisReply* reply) mutable {
    if (absl::Status st = ReplyError(reply, "read"); !st.ok()) {
      done(st);
      return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
      done(absl::InternalError("read: XRANGE did not answer an array"));
      return;
    }
    std::vector<ClusterMessage> out;
    out.reserve(reply->elements);
    for (size_t i = 0; i < reply->elements; ++i) {
      absl::StatusOr<ClusterMessage> m = ParseStreamEntry(room_id, reply->element[i]);
      if (!m.ok()) {
        done(m.status());
        return;
      }
      out.push_back(std::move(*m));
    }
    done(std::move(out));
  });
}

absl::StatusOr<ClusterMessage> ParseStreamEntry(uint64_t room_id, const redisReply* entry) {
  const absl::Status bad = absl::InternalError("read: malformed stream entry");
  if (entry == nullptr || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
      entry->element[1]->type != REDIS_REPLY_ARRAY || entry->element[1]->elements % 2 != 0) {
    return bad;
  }
  ClusterMessage m;
  m.room_id = room_id;
  const redisReply* fields = entry->element[1];
  bool ok = true;
  for (size_t i = 0; i + 1 < fields->elements && ok; i += 2) {
    if (!IsStringReply(fields->element[i]) || !IsStringReply(fields->element[i + 1])) return bad;
    const std::string name = ReplyText(fields->element[i]);
    std::string value = ReplyText(fields->element[i + 1]);
    if (name == "seq") {
      ok = absl::SimpleAtoi(value, &m.seq);
    } else if (name == "ts") {
      ok = absl::SimpleAtoi(value, &m.timestamp_unix_micros);
    } else if (name == "sender") {
      m.sender = std::move(value);
    } else if (name == "sender_account_id") {
      ok = absl::SimpleAtoi(value, &m.sender_account_id);
    } else if (name == "client_msg_id") {
      ok = absl::SimpleAtoi(value, &m.client_msg_id);
    } else if (name == "text") {
      m.text = std::move(value);
    }
    // Unknown fields are skipped: a newer node may add some.
  }
  if (!ok || m.seq == 0) return bad;
  return m;
}

}  // namespace muxchat::server
