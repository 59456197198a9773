#include "src/server/cluster_stream.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/server/redis_reply.h"

namespace muxchat::server {
namespace {

// KEYS[1] the room's stream. ARGV[1] 'a' (after) or 'b' (before), ARGV[2]
// the seq (after_seq, or before_seq with 0 = past the newest), ARGV[3] the
// limit in messages. Returns entries as XRANGE does: for 'a' oldest first,
// those holding seqs > after_seq until they hold `limit` of them; for 'b'
// newest first, those holding seqs < before_seq likewise. Entries are read
// in chunks sized from the messages per entry seen so far (per-message
// entries and batches of 256 both take a few XRANGE calls), so the reply is
// never much more than `limit` messages.
constexpr char kReadScript[] = R"lua(-- muxchat stream read v2
local dir, at, want = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local function span(e)
  local last = tonumber(string.match(e[1], '^(%d+)-'))
  local n = 1
  if e[2][1] == 'm' then
    -- The count is the first field of both batch forms.
    local len, from = string.match(e[2][2], '^mb[12];(%d+):()')
    if len then n = tonumber(string.sub(e[2][2], from, from + tonumber(len) - 1)) end
  end
  return last - n + 1, last
end
local out, got, chunk = {}, 0, 4
local function next_chunk()
  local c = math.ceil((want - got) * #out / got)
  if c < 1 then c = 1 elseif c > 128 then c = 128 end
  return c
end
if dir == 'a' then
  local start = at + 1
  while got < want do
    local es = redis.call('XRANGE', KEYS[1], string.format('%d-0', start), '+', 'COUNT', chunk)
    for _, e in ipairs(es) do
      out[#out + 1] = e
      local first, last = span(e)
      if first <= at then first = at + 1 end
      got = got + last - first + 1
      start = last + 1
      if got >= want then break end
    end
    if #es < chunk or got >= want then break end
    chunk = next_chunk()
  end
else
  local top = '+'
  if at > 0 then
    if at == 1 then return out end
    -- The one entry that may hold seqs on both sides of before_seq.
    local c = redis.call('XRANGE', KEYS[1], string.format('%d-0', at), '+', 'COUNT', 1)[1]
    if c then
      local first = span(c)
      if first < at then
        out[1] = c
        got = at - first
      end
    end
    top = string.format('%d-0', at - 1)
  end
  while got < want do
    local es = redis.call('XREVRANGE', KEYS[1], top, '-', 'COUNT', chunk)
    for _, e in ipairs(es) do
      out[#out + 1] = e
      local first, last = span(e)
      got = got + last - first + 1
      top = string.format('%d-0', first - 1)
      if got >= want then break end
    end
    if #es < chunk or got >= want then break end
    chunk = next_chunk()
  end
end
return out
)lua";

// Lua numbers are doubles: seqs are exact below 2^53, far above any room's.
// A seq a client asks about beyond that (History's after/before are theirs)
// is clamped there, which reads the same messages.
constexpr uint64_t kMaxScriptSeq = uint64_t{1} << 53;

std::vector<std::string> ReadCommand(absl::string_view prefix, uint64_t room_id, const char* dir, uint64_t seq,
                                     uint32_t limit) {
  seq = std::min(seq, kMaxScriptSeq);
  return {"EVAL", kReadScript, "1", RoomLogKey(prefix, room_id), dir, absl::StrCat(seq), absl::StrCat(limit)};
}

absl::Status CheckArray(const redisReply* reply) {
  if (absl::Status st = ReplyError(reply, "read"); !st.ok()) return st;
  if (reply->type != REDIS_REPLY_ARRAY) return absl::InternalError("read: the stream read did not answer an array");
  return absl::OkStatus();
}

// A per-message entry's fields (the form before batch entries).
absl::StatusOr<ClusterMessage> ParseMessageFields(uint64_t room_id, const redisReply* fields) {
  const absl::Status bad = absl::InternalError("read: malformed stream entry");
  ClusterMessage m;
  m.room_id = room_id;
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

}  // namespace

std::vector<std::string> StreamReadAfterCommand(absl::string_view prefix, uint64_t room_id, uint64_t after_seq,
                                                uint32_t limit) {
  return ReadCommand(prefix, room_id, "a", after_seq, limit);
}

std::vector<std::string> StreamReadBeforeCommand(absl::string_view prefix, uint64_t room_id, uint64_t before_seq,
                                                 uint32_t limit) {
  return ReadCommand(prefix, room_id, "b", before_seq, limit);
}

absl::Status AppendStreamEntry(uint64_t room_id, const redisReply* entry, std::vector<ClusterMessage>* out) {
  const absl::Status bad = absl::InternalError("read: malformed stream entry");
  if (entry == nullptr || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
      !IsStringReply(entry->element[0]) || entry->element[1]->type != REDIS_REPLY_ARRAY ||
      entry->element[1]->elements % 2 != 0) {
    return bad;
  }
  const std::string id = ReplyText(entry->element[0]);
  const size_t dash = id.find('-');
  uint64_t id_seq = 0;
  if (dash == std::string::npos || !absl::SimpleAtoi(absl::string_view(id).substr(0, dash), &id_seq)) return bad;
  const redisReply* fields = entry->element[1];
  if (fields->elements == 2 && IsStringReply(fields->element[0]) &&
      ReplyText(fields->element[0]) == kStreamBatchField) {
    absl::StatusOr<std::vector<ClusterMessage>> batch =
        DecodeClusterPayload(room_id, absl::string_view(fields->element[1]->str, fields->element[1]->len));
    if (!batch.ok()) {
      return absl::InternalError(absl::StrCat("read: malformed batch entry: ", batch.status().message()));
    }
    // Seqs consecutive and the ID the last one: what the read script and
    // the ranges by ID rely on.
    if (batch->back().seq != id_seq || batch->back().seq - batch->front().seq + 1 != batch->size()) return bad;
    for (ClusterMessage& m : *batch) out->push_back(std::move(m));
    return absl::OkStatus();
  }
  absl::StatusOr<ClusterMessage> m = ParseMessageFields(room_id, fields);
  if (!m.ok()) return m.status();
  if (m->seq != id_seq) return bad;
  out->push_back(std::move(*m));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ClusterMessage>> ParseStreamReadAfter(uint64_t room_id, uint64_t after_seq,
                                                                 uint32_t limit, const redisReply* reply) {
  if (absl::Status st = CheckArray(reply); !st.ok()) return st;
  std::vector<ClusterMessage> all;
  for (size_t i = 0; i < reply->elements; ++i) {
    if (absl::Status st = AppendStreamEntry(room_id, reply->element[i], &all); !st.ok()) return st;
  }
  std::vector<ClusterMessage> out;
  out.reserve(std::min<size_t>(all.size(), limit));
  for (ClusterMessage& m : all) {
    if (m.seq <= after_seq) continue;
    if (!out.empty() && m.seq <= out.back().seq) return absl::InternalError("read: stream entries out of order");
    if (out.size() == limit) break;
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<std::vector<ClusterMessage>> ParseStreamReadBefore(uint64_t room_id, uint64_t before_seq,
                                                                  uint32_t limit, const redisReply* reply) {
  if (absl::Status st = CheckArray(reply); !st.ok()) return st;
  std::vector<ClusterMessage> all;
  for (size_t i = reply->elements; i > 0; --i) {  // newest first in the reply
    if (absl::Status st = AppendStreamEntry(room_id, reply->element[i - 1], &all); !st.ok()) return st;
  }
  size_t end = all.size();
  while (before_seq != 0 && end > 0 && all[end - 1].seq >= before_seq) --end;
  const size_t begin = end > limit ? end - limit : 0;
  std::vector<ClusterMessage> out;
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    if (!out.empty() && all[i].seq <= out.back().seq) return absl::InternalError("read: stream entries out of order");
    out.push_back(std::move(all[i]));
  }
  return out;
}

}  // namespace muxchat::server
