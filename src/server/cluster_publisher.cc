#include "src/server/cluster_publisher.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "src/server/cluster_fields.h"
#include "src/server/cluster_stream.h"
#include "src/server/redis_reply.h"

namespace muxchat::server {
namespace {

// One call stores a batch of one room's messages, in order, as ONE stream
// entry (cluster_stream.h).
// KEYS[1] the room's seq counter, KEYS[2] its stream, KEYS[3...] the dedupe
// keys of the messages that have a client_msg_id, in message order.
// ARGV[1] channel, [2] maxlen (messages the stream keeps at least), [3] seq
// floor, [4] dedupe TTL in seconds, [5] the room registry hash ('' if no
// message requires the room registered), [6] the room ID, [7] the message
// count n, [8] n flag digits, one per message: +1 it requires the room
// registered, +2 it has a dedupe key (the next one in KEYS); then the
// messages' bodies: each message's sender, sender_account_id, client_msg_id
// and text already in the payload's field form ("<len>:<bytes>" four times),
// one argument per message, or, when no message has a dedupe key and all
// have the same flag (the call then stores all of them or none), all bodies
// one after the other in ONE argument (#ARGV == 9; for n = 1 the two forms
// are the same): Redis then makes one string for the call, not one per
// message (each is hashed as Lua interns it). The batch form
// "mb2;" carries the count, first seq and timestamp once in front of those
// bodies, so when no message has a dedupe key and the room is registered
// (every publish of a client without client_msg_id) the script does nothing
// per message: the payload is one table.concat of the arguments (the Lua
// loop per message was most of Redis's time: docs/BENCHMARKS.md §11.6).
// Returns {codes, ts, first, err, dup seq, dup ts, ...}: `codes` one digit
// per message, 0 stored (seqs first, first+1, ... in message order, with
// timestamp ts), 1 a resend (its original seq and timestamp are the next
// dup pair; also for a resend of an earlier message of the same call), 2 the
// room is not in the registry (deleted while the publish was on its way:
// nothing written for it), 3 not stored because Redis refused the XADD (err
// says why; then no message of the call is stored). Numbers as strings (Lua
// numbers are doubles; text keeps them exact).
// The new messages take consecutive seqs and go in one XADD whose entry ID is
// the last seq and whose one field "m" is the payload the PUBLISH carries
// ("m1;" for one, "mb2;" for more: cluster_message.h), built once: a
// per-message XADD of 12 fields was half of Redis's time per message before.
// Trimming is by ID (MINID ~ last - maxlen + 1), so the stream keeps at least
// the newest `maxlen` messages whatever the entries hold. Only after the
// XADD succeeded are the counter and the dedupe keys written and the payload
// published (Redis does not roll a script back: a refused XADD leaves
// nothing). Everything happens in one atomic step: no other client's command
// runs in between, so the seq order, the stream order and the channel order
// are the same for every node.
constexpr char kPublishScript[] = R"lua(-- muxchat publish batch v7
-- (codes are strings: table.concat of numbers formats each with printf's %.14g)
local n, flags = tonumber(ARGV[7]), ARGV[8]
local registered = ARGV[5] == '' or redis.call('HEXISTS', ARGV[5], ARGV[6]) == 1
local now = redis.call('TIME')
local ts = now[1] .. string.format('%06d', tonumber(now[2]))
local seq, first, stored, codes, body = nil, nil, 0, nil, nil
local function next_seq()
  local s = tonumber(redis.call('GET', KEYS[1]) or '')
  if not s then
    -- The counter is gone (Redis restarted without persistence, or
    -- evicted it): continue above the stream's tail and the floor.
    s = tonumber(ARGV[3])
    local tail = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
    if tail[1] then
      local last = tonumber(string.match(tail[1][1], '^(%d+)-'))
      if last > s then s = last end
    end
  end
  return s
end
local new_keys, mine, dup_seq, dup_ts, any_dup, in_call = {}, {}, {}, {}, false, {}
if registered and not string.find(flags, '[23]') then
  -- No dedupe key and nothing refused: every message is new, in order.
  -- Nothing per message here: the body is the arguments as they came.
  seq = next_seq()
  first = seq + 1
  seq = seq + n
  stored = n
  codes = string.rep('0', n)
  if #ARGV == 9 then
    body = ARGV[9]
  else
    body = table.concat(ARGV, '', 9, 8 + n)
  end
else
  local code_list, parts, kc = {}, {}, 2
  -- Every dedupe key read in one MGET (the SETs come after the XADD, so
  -- these are the values before this call), not one GET per message.
  local prev_of = {}
  if #KEYS > 2 then
    local vals = redis.call('MGET', unpack(KEYS, 3, #KEYS))
    for j = 3, #KEYS do prev_of[KEYS[j]] = vals[j - 2] end
  end
  for i = 1, n do
    local f = string.byte(flags, i) - 48
    local key
    if f >= 2 then
      kc = kc + 1
      key = KEYS[kc]
    end
    local code = '2'
    if registered or f % 2 == 0 then
      local ps, pt
      if key then
        ps = mine[key]
        if ps then
          pt = ts
          in_call[i] = true
        else
          local prev = prev_of[key]
          if prev then ps, pt = string.match(prev, '^(%d+):(%d+)$') end
        end
      end
      if ps then
        code = '1'
        dup_seq[i], dup_ts[i], any_dup = ps, pt, true
      else
        if not seq then
          seq = next_seq()
          first = seq + 1
        end
        seq = seq + 1
        code = '0'
        if key then
          mine[key] = string.format('%d', seq)
          new_keys[#new_keys + 1] = key
        end
        stored = stored + 1
        -- Bodies in one argument come only with one flag for all and no
        -- dedupe key, which store all (above) or none (here): never split.
        if #ARGV ~= 8 + n then return redis.error_reply('publish: packed bodies need one flag for all') end
        parts[stored] = ARGV[8 + i]
      end
    end
    code_list[i] = code
  end
  codes = table.concat(code_list)
  body = table.concat(parts)
end
local err = ''
if stored > 0 then
  local payload
  local last = string.format('%d', seq)
  if stored == 1 then
    payload = 'm1;' .. #last .. ':' .. last .. #ts .. ':' .. ts .. body
  else
    local count, firsts = string.format('%d', stored), string.format('%d', first)
    payload = 'mb2;' .. #count .. ':' .. count .. #firsts .. ':' .. firsts .. #ts .. ':' .. ts .. body
  end
  local minid = seq - tonumber(ARGV[2]) + 1
  local r
  if minid > 1 then
    r = redis.pcall('XADD', KEYS[2], 'MINID', '~', string.format('%d', minid), last .. '-0', 'm', payload)
  else
    r = redis.pcall('XADD', KEYS[2], last .. '-0', 'm', payload)
  end
  if type(r) == 'table' and r.err then
    -- Nothing stored: every message this call numbered, and any resend of
    -- one of them in the call, is refused.
    err = r.err
    local c = {}
    for i = 1, n do
      local code = string.sub(codes, i, i)
      if code == '0' or in_call[i] then code = '3' end
      c[i] = code
    end
    codes = table.concat(c)
  else
    redis.call('SET', KEYS[1], last)
    for _, key in ipairs(new_keys) do
      redis.pcall('SET', key, mine[key] .. ':' .. ts, 'EX', ARGV[4])
    end
    redis.call('PUBLISH', ARGV[1], payload)
  end
end
local out = {codes, ts, first and string.format('%d', first) or '0', err}
if any_dup then
  for i = 1, n do
    if string.sub(codes, i, i) == '1' then
      out[#out + 1] = dup_seq[i]
      out[#out + 1] = dup_ts[i]
    end
  end
end
return out
)lua";

// RESP pieces, written straight into a command buffer.
size_t DecimalLength(uint64_t v) {
  size_t n = 1;
  for (; v >= 10; v /= 10) ++n;
  return n;
}

void AppendDecimal(std::string* out, uint64_t v) {
  char buf[20];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

void AppendBulk(std::string* out, absl::string_view arg) {
  out->push_back('$');
  AppendDecimal(out, arg.size());
  out->append("\r\n", 2);
  out->append(arg.data(), arg.size());
  out->append("\r\n", 2);
}

void AppendBulkNumber(std::string* out, uint64_t v) {
  char buf[20];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v);
  AppendBulk(out, absl::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}

// "<len>:<bytes>" (cluster_fields.h) without a temporary.
void AppendFieldTo(std::string* out, absl::string_view field) {
  AppendDecimal(out, field.size());
  out->push_back(':');
  out->append(field.data(), field.size());
}

size_t FieldLength(size_t bytes) { return DecimalLength(bytes) + 1 + bytes; }

// The message's sender, sender_account_id, client_msg_id and text as the
// payload carries them; returns the bytes appended.
size_t AppendMessageBody(std::string* out, const PublishRequest& r) {
  char account[20], msg_id[20];
  const size_t account_len =
      static_cast<size_t>(std::to_chars(account, account + sizeof account, r.sender_account_id).ptr - account);
  const size_t msg_id_len =
      static_cast<size_t>(std::to_chars(msg_id, msg_id + sizeof msg_id, r.client_msg_id).ptr - msg_id);
  const size_t len =
      FieldLength(r.sender.size()) + FieldLength(account_len) + FieldLength(msg_id_len) + FieldLength(r.text.size());
  out->reserve(out->size() + len);
  AppendFieldTo(out, r.sender);
  AppendFieldTo(out, absl::string_view(account, account_len));
  AppendFieldTo(out, absl::string_view(msg_id, msg_id_len));
  AppendFieldTo(out, r.text);
  return len;
}

// Kept for the next batch only up to this size: a burst's 512 KiB buffer is
// not held forever.
constexpr size_t kMaxSpareBytes = 64 * 1024;
constexpr size_t kMaxSpares = 8;

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
    for (PublishCallback& d : b.done) d(absl::UnavailableError("publish: shutting down before it was sent"));
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

absl::Status ClusterPublisher::Publish(const PublishRequest& request, PublishCallback done) {
  if (request.room_id == 0) return absl::InvalidArgumentError("publish: room 0");
  if (request.client_msg_id != 0 && (request.dedupe_scope.empty() || absl::StrContains(request.dedupe_scope, ':'))) {
    return absl::InvalidArgumentError("publish: a client_msg_id needs a dedupe scope without ':'");
  }
  if (absl::Status st = link_.Ready(); !st.ok()) return st;
  const uint64_t room_id = request.room_id;
  const size_t bytes = request.sender.size() + request.text.size();
  auto open = open_batch_.find(room_id);
  Batch* batch = open == open_batch_.end() ? nullptr : &batches_[open->second];
  if (batch == nullptr || batch->done.size() >= kMaxBatchMessages || batch->bytes + bytes > kMaxBatchBytes) {
    open_batch_[room_id] = batches_.size();
    batches_.emplace_back();
    batch = &batches_.back();
    batch->room_id = room_id;
    if (!spare_.empty()) {
      batch->bodies = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  char flag = '0';
  if (request.require_registered) {
    flag += 1;
    batch->check_registered = true;
  }
  if (request.client_msg_id != 0) {
    flag += 2;
    AppendBulk(&batch->keys, DedupeKey(options_.key_prefix, room_id, request.dedupe_scope, request.client_msg_id));
    ++batch->key_count;
  }
  batch->flags.push_back(flag);
  batch->floor = std::max(batch->floor, request.seq_floor);
  batch->body_sizes.push_back(static_cast<uint32_t>(AppendMessageBody(&batch->bodies, request)));
  batch->done.push_back(std::move(done));
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
  for (Batch& b : batches) {
    SendBatch(b);
    if (spare_.size() < kMaxSpares && b.bodies.capacity() <= kMaxSpareBytes) {
      b.bodies.clear();
      spare_.push_back(std::move(b.bodies));
    }
  }
}

void ClusterPublisher::SendBatch(Batch& batch) {
  const std::string& p = options_.key_prefix;
  const uint64_t room_id = batch.room_id;
  const size_t n = batch.done.size();
  const size_t key_count = 2 + batch.key_count;
  // Without dedupe keys and with one flag for all, the script stores all of
  // the batch or none of it: the bodies then go as ONE argument, so Redis
  // makes (and Lua hashes) one string for the call instead of one per
  // message (luaS_newlstr's hash was the top of Redis's profile: §11.6).
  const bool packed = batch.key_count == 0 && batch.flags.find_first_not_of(batch.flags[0]) == std::string::npos;
  auto call = std::make_shared<SentCall>();
  call->argc = 3 + key_count + 8 + (packed ? 1 : n);
  call->done = std::move(batch.done);
  // The command as RESP, the arguments in the script's order (see there).
  std::string& cmd = call->command;
  cmd.reserve(128 + sha1_.size() + batch.keys.size() + 3 * p.size() + 96 + batch.flags.size() +
              batch.bodies.size() + 16 * n);
  cmd.push_back('*');
  AppendDecimal(&cmd, call->argc);
  cmd.append("\r\n", 2);
  AppendBulk(&cmd, "EVALSHA");
  AppendBulk(&cmd, sha1_);
  call->tail = cmd.size();
  AppendBulkNumber(&cmd, key_count);
  AppendBulk(&cmd, RoomSeqKey(p, room_id));
  AppendBulk(&cmd, RoomLogKey(p, room_id));
  cmd.append(batch.keys);
  AppendBulk(&cmd, RoomChannel(p, room_id));
  AppendBulkNumber(&cmd, options_.stream_maxlen);
  AppendBulkNumber(&cmd, batch.floor);
  AppendBulkNumber(&cmd, static_cast<uint64_t>(std::max<int64_t>(1, absl::ToInt64Seconds(options_.dedupe_ttl))));
  AppendBulk(&cmd, batch.check_registered ? absl::StrCat(p, ":rooms:data") : "");
  AppendBulkNumber(&cmd, room_id);
  AppendBulkNumber(&cmd, n);
  AppendBulk(&cmd, batch.flags);
  if (packed) {
    AppendBulk(&cmd, batch.bodies);
  } else {
    size_t at = 0;
    for (uint32_t size : batch.body_sizes) {
      AppendBulk(&cmd, absl::string_view(batch.bodies).substr(at, size));
      at += size;
    }
  }
  ++script_calls_;
  batched_messages_ += n;
  if (absl::Status st = Send(false, call); !st.ok()) {
    // Not sent (the link went down since these were queued): none of them
    // is in the room.
    for (PublishCallback& d : call->done) d(st);
  }
}

absl::Status ClusterPublisher::Send(bool full_script, std::shared_ptr<SentCall> call) {
  if (full_script) {
    // The same call with the script's source instead of its SHA-1: one extra
    // round trip if the script cache was flushed under us (SCRIPT FLUSH by
    // an operator); EVALSHA again after the next SCRIPT LOAD.
    std::string eval;
    eval.reserve(64 + sizeof kPublishScript + call->command.size() - call->tail);
    eval.push_back('*');
    AppendDecimal(&eval, call->argc);
    eval.append("\r\n", 2);
    AppendBulk(&eval, "EVAL");
    AppendBulk(&eval, absl::string_view(kPublishScript, sizeof kPublishScript - 1));
    eval.append(call->command, call->tail, std::string::npos);
    call->command = std::move(eval);
    call->tail = 0;  // no further retry
  }
  const std::string& command = call->command;
  return link_.FormattedCommand(command, [this, full_script, call](redisReply* reply) {
    if (!full_script && reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
        absl::StartsWith(ReplyText(reply), "NOSCRIPT")) {
      (void)link_.Command({"SCRIPT", "LOAD", kPublishScript}, [](redisReply*) {});
      if (absl::Status st = Send(true, call); !st.ok()) {
        for (PublishCallback& d : call->done) d(st);
      }
      return;
    }
    Complete(reply, call->done);
  });
}

void ClusterPublisher::Complete(const redisReply* reply, Callbacks& done) {
  if (absl::Status st = ReplyError(reply, "publish"); !st.ok()) {
    for (PublishCallback& d : done) d(st);
    return;
  }
  // {codes, ts, first, err, dup seq, dup ts, ...}: see the script.
  const absl::Status bad = absl::InternalError("publish: unexpected reply from the script");
  uint64_t next_seq = 0;
  int64_t ts = 0;
  bool ok = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 4;
  for (size_t i = 0; ok && i < 4; ++i) ok = IsStringReply(reply->element[i]);
  const std::string codes = ok ? ReplyText(reply->element[0]) : "";
  ok = ok && codes.size() == done.size() && absl::SimpleAtoi(ReplyText(reply->element[1]), &ts) &&
       absl::SimpleAtoi(ReplyText(reply->element[2]), &next_seq);
  if (!ok) {
    for (PublishCallback& d : done) d(bad);
    return;
  }
  const std::string err = ReplyText(reply->element[3]);
  size_t dup = 4;  // the next dup pair
  for (size_t i = 0; i < done.size(); ++i) {
    PublishResult r;
    switch (codes[i]) {
      case '0':
        r.seq = next_seq++;
        r.timestamp_unix_micros = ts;
        done[i](r.seq == 0 ? absl::StatusOr<PublishResult>(bad) : r);
        break;
      case '1':
        if (dup + 1 < reply->elements && IsStringReply(reply->element[dup]) &&
            IsStringReply(reply->element[dup + 1]) && absl::SimpleAtoi(ReplyText(reply->element[dup]), &r.seq) &&
            absl::SimpleAtoi(ReplyText(reply->element[dup + 1]), &r.timestamp_unix_micros) && r.seq != 0) {
          r.duplicate = true;
          done[i](r);
        } else {
          done[i](bad);
        }
        dup += 2;
        break;
      case '2':
        done[i](absl::NotFoundError("the room was deleted"));
        break;
      case '3':
        done[i](absl::InternalError(absl::StrCat("publish: redis refused to store it: ", err)));
        break;
      default:
        done[i](bad);
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
