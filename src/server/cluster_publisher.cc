#include "src/server/cluster_publisher.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/server/cluster_stream.h"
#include "src/server/redis_reply.h"

namespace muxchat::server {
namespace {

// One call stores a batch of one room's messages, in order, as ONE stream
// entry (cluster_stream.h).
// KEYS[1] the room's seq counter, KEYS[2] its stream, KEYS[3...] the dedupe
// keys of the messages that have a client_msg_id.
// ARGV[1] channel, [2] maxlen (messages the stream keeps at least), [3] seq
// floor, [4] dedupe TTL in seconds, [5] the room registry hash ('' if no
// message requires the room registered), [6] the room ID, [7] the message
// count n; then six per message: sender, sender_account_id, client_msg_id,
// text, the index of its dedupe key in KEYS (0: none), '1' if it requires
// the room registered.
// Returns three elements per message, in order: {seq, timestamp micros,
// kind}, kind 0 stored, 1 a resend (seq and timestamp the original's, also
// for a resend of an earlier message of the same call), 2 the room is not in
// the registry (deleted while the publish was on its way: nothing written),
// 3 not stored because Redis refused the XADD (the second element is its
// error; then no message of the call is stored).
// Numbers as strings (Lua numbers are doubles; text keeps them exact).
// The new messages take consecutive seqs and go in one XADD whose entry ID is
// the last seq and whose one field "m" is the payload the PUBLISH carries
// ("m1;" for one, "mb1;" for more: cluster_message.h), built once: a
// per-message XADD of 12 fields was half of Redis's time per message
// (docs/SCALING.md §7). Trimming is by ID (MINID ~ last - maxlen + 1), so the
// stream keeps at least the newest `maxlen` messages whatever the entries
// hold. Only after the XADD succeeded are the counter and the dedupe keys
// written and the payload published (Redis does not roll a script back: a
// refused XADD leaves nothing). Each field's "<length>:" comes from a table
// of the lengths seen, because converting a number to text per field was
// half of the call's cost before. Everything happens in one atomic step: no
// other client's command runs in between, so the seq order, the stream order
// and the channel order are the same for every node.
constexpr char kPublishScript[] = R"lua(-- muxchat publish batch v3
local n = tonumber(ARGV[7])
local registered = ARGV[5] == '' or redis.call('HEXISTS', ARGV[5], ARGV[6]) == 1
local now = redis.call('TIME')
local ts = now[1] .. string.format('%06d', tonumber(now[2]))
local heads = {}
local function head(v)
  local h = heads[#v]
  if not h then
    h = #v .. ':'
    heads[#v] = h
  end
  return h
end
local out, body, stored, seq = {}, {}, 0, nil
local mine, new_keys, ours = {}, {}, {}
for i = 0, n - 1 do
  local a = 8 + i * 6
  local ki = tonumber(ARGV[a + 4])
  local s, t, kind = '0', '0', 2
  if registered or ARGV[a + 5] ~= '1' then
    local key = ki > 0 and KEYS[ki]
    local ps, pt
    if key and mine[key] then
      ps, pt = mine[key], ts
      ours[#ours + 1] = #out + 1
    elseif key then
      local prev = redis.call('GET', key)
      if prev then ps, pt = string.match(prev, '^(%d+):(%d+)$') end
    end
    if ps then
      s, t, kind = ps, pt, 1
    else
      if not seq then
        seq = tonumber(redis.call('GET', KEYS[1]) or '')
        if not seq then
          -- The counter is gone (Redis restarted without persistence, or
          -- evicted it): continue above the stream's tail and the floor.
          seq = tonumber(ARGV[3])
          local tail = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
          if tail[1] then
            local last = tonumber(string.match(tail[1][1], '^(%d+)-'))
            if last > seq then seq = last end
          end
        end
      end
      seq = seq + 1
      s, t, kind = string.format('%d', seq), ts, 0
      ours[#ours + 1] = #out + 1
      if key then
        mine[key] = s
        new_keys[#new_keys + 1] = key
      end
      stored = stored + 1
      local k = #body
      body[k + 1] = head(s)
      body[k + 2] = s
      body[k + 3] = head(ts)
      body[k + 4] = ts
      for j = 0, 3 do
        local v = ARGV[a + j]
        body[k + 5 + 2 * j] = head(v)
        body[k + 6 + 2 * j] = v
      end
    end
  end
  out[#out + 1] = s
  out[#out + 1] = t
  out[#out + 1] = kind
end
if stored > 0 then
  local payload
  if stored == 1 then
    payload = 'm1;' .. table.concat(body)
  else
    local count = string.format('%d', stored)
    payload = 'mb1;' .. head(count) .. count .. table.concat(body)
  end
  local last = string.format('%d', seq)
  local minid = seq - tonumber(ARGV[2]) + 1
  local r
  if minid > 1 then
    r = redis.pcall('XADD', KEYS[2], 'MINID', '~', string.format('%d', minid), last .. '-0', 'm', payload)
  else
    r = redis.pcall('XADD', KEYS[2], last .. '-0', 'm', payload)
  end
  if type(r) == 'table' and r.err then
    -- Nothing stored: every message this call numbered (and any resend of
    -- one of them in the call) is refused.
    for _, i in ipairs(ours) do
      out[i], out[i + 1], out[i + 2] = '0', r.err, 3
    end
    return out
  end
  redis.call('SET', KEYS[1], last)
  for _, key in ipairs(new_keys) do
    redis.pcall('SET', key, mine[key] .. ':' .. ts, 'EX', ARGV[4])
  end
  redis.call('PUBLISH', ARGV[1], payload)
end
return out
)lua";

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
    : loop_(loop), options_(std::move(options)), sha1_(ScriptSha1()), link_(loop, options_.redis) {
  link_.SetStatusCallback([this](RedisLinkState state, const absl::Status& why) { OnLinkStatus(state, why); });
  // Any other command on the link (a read, the room registry, presence)
  // first sends what is queued, so it cannot overtake an earlier publish.
  link_.SetBeforeCommand([this] {
    if (!sending_setup_ && link_.Ready().ok()) Flush();
  });
}

ClusterPublisher::~ClusterPublisher() {
  if (flush_timer_ != 0) loop_->Cancel(flush_timer_);
  std::vector<Batch> left = std::move(batches_);
  batches_.clear();
  open_batch_.clear();
  if (drop_pending_) return;
  for (Batch& b : left) {
    for (Pending& p : b.items) p.done(absl::UnavailableError("publish: shutting down before it was sent"));
  }
}

void ClusterPublisher::DropPendingOnDestroy() {
  drop_pending_ = true;
  link_.DropPendingOnDestroy();
}

void ClusterPublisher::OnLinkStatus(RedisLinkState state, const absl::Status& why) {
  if (state == RedisLinkState::kUp) {
    // First on the new connection, so every EVALSHA after it finds the
    // script (Redis runs one connection's commands in order). A Redis that
    // restarted has an empty script cache; SCRIPT LOAD is cheap when not.
    sending_setup_ = true;
    (void)link_.Command({"SCRIPT", "LOAD", kPublishScript}, [](redisReply*) {});
    sending_setup_ = false;
  }
  if (status_cb_) status_cb_(state, why);
}

absl::Status ClusterPublisher::Publish(PublishRequest request, PublishCallback done) {
  if (request.room_id == 0) return absl::InvalidArgumentError("publish: room 0");
  if (request.client_msg_id != 0 && (request.dedupe_scope.empty() || absl::StrContains(request.dedupe_scope, ':'))) {
    return absl::InvalidArgumentError("publish: a client_msg_id needs a dedupe scope without ':'");
  }
  if (absl::Status st = link_.Ready(); !st.ok()) return st;
  const uint64_t room_id = request.room_id;
  const size_t bytes = request.sender.size() + request.text.size();
  auto open = open_batch_.find(room_id);
  Batch* batch = open == open_batch_.end() ? nullptr : &batches_[open->second];
  if (batch == nullptr || batch->items.size() >= kMaxBatchMessages || batch->bytes + bytes > kMaxBatchBytes) {
    open_batch_[room_id] = batches_.size();
    batches_.push_back(Batch{room_id, {}, 0});
    batch = &batches_.back();
  }
  batch->items.push_back(Pending{std::move(request), std::move(done)});
  batch->bytes += bytes;
  // Due at once, so it runs after this turn's events (EventLoop runs due
  // timers after dispatching them): every publish the turn's input asked
  // for is queued by then.
  if (flush_timer_ == 0) {
    flush_timer_ = loop_->RunAt(loop_->now(), [this](absl::Time) {
      flush_timer_ = 0;
      Flush();
    });
  }
  return absl::OkStatus();
}

void ClusterPublisher::Flush() {
  if (flush_timer_ != 0) {
    loop_->Cancel(flush_timer_);
    flush_timer_ = 0;
  }
  if (batches_.empty()) return;
  // Taken out first: sending runs the link's before-command hook (which
  // then finds nothing), and callbacks may queue new publishes.
  std::vector<Batch> batches = std::move(batches_);
  batches_.clear();
  open_batch_.clear();
  for (Batch& b : batches) SendBatch(std::move(b));
}

void ClusterPublisher::SendBatch(Batch batch) {
  const std::string& p = options_.key_prefix;
  const uint64_t room_id = batch.room_id;
  const size_t n = batch.items.size();
  std::vector<std::string> keys = {RoomSeqKey(p, room_id), RoomLogKey(p, room_id)};
  std::vector<std::string> per_message;
  per_message.reserve(6 * n);
  uint64_t floor = 0;
  bool check_registered = false;
  auto done = std::make_shared<Callbacks>();
  done->reserve(n);
  for (Pending& item : batch.items) {
    PublishRequest& r = item.request;
    floor = std::max(floor, r.seq_floor);
    check_registered = check_registered || r.require_registered;
    size_t key_index = 0;  // Lua's KEYS are 1-based; 0 = no dedupe key
    if (r.client_msg_id != 0) {
      keys.push_back(DedupeKey(p, room_id, r.dedupe_scope, r.client_msg_id));
      key_index = keys.size();
    }
    per_message.push_back(std::move(r.sender));
    per_message.push_back(absl::StrCat(r.sender_account_id));
    per_message.push_back(absl::StrCat(r.client_msg_id));
    per_message.push_back(std::move(r.text));
    per_message.push_back(absl::StrCat(key_index));
    per_message.push_back(r.require_registered ? "1" : "0");
    done->push_back(std::move(item.done));
  }
  std::vector<std::string> args;
  args.reserve(3 + keys.size() + 7 + per_message.size());
  args.push_back("EVALSHA");
  args.push_back(sha1_);
  args.push_back(absl::StrCat(keys.size()));
  for (std::string& k : keys) args.push_back(std::move(k));
  args.push_back(RoomChannel(p, room_id));
  args.push_back(absl::StrCat(options_.stream_maxlen));
  args.push_back(absl::StrCat(floor));
  args.push_back(absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options_.dedupe_ttl))));
  args.push_back(check_registered ? absl::StrCat(p, ":rooms:data") : "");
  args.push_back(absl::StrCat(room_id));
  args.push_back(absl::StrCat(n));
  for (std::string& a : per_message) args.push_back(std::move(a));
  ++script_calls_;
  batched_messages_ += n;
  if (absl::Status st = Send(false, std::move(args), done); !st.ok()) {
    // Not sent (the link went down since these were queued): none of them
    // is in the room.
    for (PublishCallback& d : *done) d(st);
  }
}

absl::Status ClusterPublisher::Send(bool full_script, std::vector<std::string> args,
                                    std::shared_ptr<Callbacks> done) {
  if (full_script) {
    args[0] = "EVAL";
    args[1] = kPublishScript;
  }
  // Kept for a retry with EVAL if the script cache was flushed under us
  // (SCRIPT FLUSH by an operator): one extra round trip, then EVALSHA again
  // after the next SCRIPT LOAD.
  std::vector<std::string> retry_args = full_script ? std::vector<std::string>() : args;
  return link_.Command(args, [this, full_script, retry_args = std::move(retry_args), done](redisReply* reply) mutable {
    if (!full_script && reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
        absl::StartsWith(ReplyText(reply), "NOSCRIPT")) {
      (void)link_.Command({"SCRIPT", "LOAD", kPublishScript}, [](redisReply*) {});
      if (absl::Status st = Send(true, std::move(retry_args), done); !st.ok()) {
        for (PublishCallback& d : *done) d(st);
      }
      return;
    }
    Complete(reply, *done);
  });
}

void ClusterPublisher::Complete(const redisReply* reply, Callbacks& done) {
  if (absl::Status st = ReplyError(reply, "publish"); !st.ok()) {
    for (PublishCallback& d : done) d(st);
    return;
  }
  const absl::Status bad = absl::InternalError("publish: unexpected reply from the script");
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 * done.size()) {
    for (PublishCallback& d : done) d(bad);
    return;
  }
  for (size_t i = 0; i < done.size(); ++i) {
    const redisReply* const* e = reply->element + 3 * i;
    PublishResult r;
    if (!IsStringReply(e[0]) || !IsStringReply(e[1]) || e[2]->type != REDIS_REPLY_INTEGER) {
      done[i](bad);
    } else if (e[2]->integer == 2) {
      done[i](absl::NotFoundError("the room was deleted"));
    } else if (e[2]->integer == 3) {
      done[i](absl::InternalError(absl::StrCat("publish: redis refused to store it: ", ReplyText(e[1]))));
    } else if (!absl::SimpleAtoi(ReplyText(e[0]), &r.seq) ||
               !absl::SimpleAtoi(ReplyText(e[1]), &r.timestamp_unix_micros) || r.seq == 0) {
      done[i](bad);
    } else {
      r.duplicate = e[2]->integer != 0;
      done[i](r);
    }
  }
}

absl::Status ClusterPublisher::ReadAfter(uint64_t room_id, uint64_t after_seq, uint32_t limit, ReadCallback done) {
  if (room_id == 0 || limit == 0) return absl::InvalidArgumentError("read: room 0 or limit 0");
  return link_.Command(StreamReadAfterCommand(options_.key_prefix, room_id, after_seq, limit),
                       [room_id, after_seq, limit, done = std::move(done)](redisReply* reply) mutable {
                         done(ParseStreamReadAfter(room_id, after_seq, limit, reply));
                       });
}

}  // namespace muxchat::server
