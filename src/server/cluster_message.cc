#include "src/server/cluster_message.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/server/cluster_fields.h"

namespace muxchat::server {
namespace {

constexpr absl::string_view kPayloadTag = "m1;";
constexpr absl::string_view kBatchTag = "mb1;";
constexpr absl::string_view kBatch2Tag = "mb2;";

std::string RoomTag(absl::string_view prefix, uint64_t room_id) {
  return absl::StrCat(prefix, ":{room:", room_id, "}:");
}

void AppendMessageFields(std::string* out, const ClusterMessage& m) {
  AppendField(out, absl::StrCat(m.seq));
  AppendField(out, absl::StrCat(m.timestamp_unix_micros));
  AppendField(out, m.sender);
  AppendField(out, absl::StrCat(m.sender_account_id));
  AppendField(out, absl::StrCat(m.client_msg_id));
  AppendField(out, m.text);
}

// A message's sender, sender_account_id, client_msg_id and text off the
// front of *in (the "mb2;" form; "m1;" and "mb1;" put seq and ts in front).
bool TakeMessageBody(absl::string_view* in, ClusterMessage* m) {
  absl::string_view sender, text;
  if (!TakeField(in, &sender) || !TakeNumber(in, &m->sender_account_id) || !TakeNumber(in, &m->client_msg_id) ||
      !TakeField(in, &text)) {
    return false;
  }
  m->sender = std::string(sender);
  m->text = std::string(text);
  return true;
}

// "mb2;" after its tag: count, first seq, timestamp, then the bodies.
absl::StatusOr<std::vector<ClusterMessage>> DecodeBatch2(uint64_t room_id, absl::string_view in) {
  uint64_t count = 0, first = 0;
  int64_t ts = 0;
  if (!TakeNumber(&in, &count) || count == 0 || !TakeNumber(&in, &first) || first == 0 ||
      !TakeNumber(&in, &ts)) {
    return absl::InvalidArgumentError("cluster batch: bad header");
  }
  if (count - 1 > UINT64_MAX - first) return absl::InvalidArgumentError("cluster batch: seqs past 2^64");
  std::vector<ClusterMessage> out;
  // Not reserved by the count: it is not trusted until the messages are there.
  while (!in.empty()) {
    if (out.size() == count) return absl::InvalidArgumentError("cluster batch: more messages than its count");
    ClusterMessage& m = out.emplace_back();
    m.room_id = room_id;
    m.seq = first + out.size() - 1;
    m.timestamp_unix_micros = ts;
    if (!TakeMessageBody(&in, &m)) return absl::InvalidArgumentError("cluster message: malformed field");
  }
  if (out.size() != count) return absl::InvalidArgumentError("cluster batch: fewer messages than its count");
  return out;
}

// One message's six fields off the front of *in.
absl::Status TakeMessageFields(absl::string_view* in, uint64_t room_id, ClusterMessage* m) {
  m->room_id = room_id;
  absl::string_view sender, text;
  if (!TakeNumber(in, &m->seq) || !TakeNumber(in, &m->timestamp_unix_micros) || !TakeField(in, &sender) ||
      !TakeNumber(in, &m->sender_account_id) || !TakeNumber(in, &m->client_msg_id) || !TakeField(in, &text)) {
    return absl::InvalidArgumentError("cluster message: malformed field");
  }
  if (m->seq == 0) return absl::InvalidArgumentError("cluster message: seq 0");
  m->sender = std::string(sender);
  m->text = std::string(text);
  return absl::OkStatus();
}

}  // namespace

std::string RoomSeqKey(absl::string_view prefix, uint64_t room_id) { return RoomTag(prefix, room_id) + "seq"; }
std::string RoomLogKey(absl::string_view prefix, uint64_t room_id) { return RoomTag(prefix, room_id) + "log"; }
std::string RoomChannel(absl::string_view prefix, uint64_t room_id) { return RoomTag(prefix, room_id) + "ch"; }

std::string DedupeKey(absl::string_view prefix, uint64_t room_id, absl::string_view scope, uint64_t client_msg_id) {
  return absl::StrCat(RoomTag(prefix, room_id), "dd:", scope, ":", client_msg_id);
}

absl::StatusOr<uint64_t> ParseRoomChannel(absl::string_view prefix, absl::string_view channel) {
  const std::string head = absl::StrCat(prefix, ":{room:");
  constexpr absl::string_view kTail = "}:ch";
  uint64_t room_id = 0;
  if (channel.size() <= head.size() + kTail.size() || channel.substr(0, head.size()) != head ||
      channel.substr(channel.size() - kTail.size()) != kTail ||
      !absl::SimpleAtoi(channel.substr(head.size(), channel.size() - head.size() - kTail.size()), &room_id)) {
    return absl::InvalidArgumentError(absl::StrCat("not a room channel: ", channel));
  }
  return room_id;
}

std::string EncodeClusterMessage(const ClusterMessage& m) {
  std::string out(kPayloadTag);
  AppendMessageFields(&out, m);
  return out;
}

absl::StatusOr<ClusterMessage> DecodeClusterMessage(uint64_t room_id, absl::string_view payload) {
  if (payload.substr(0, kPayloadTag.size()) != kPayloadTag) {
    return absl::InvalidArgumentError("cluster message: unknown format tag");
  }
  absl::string_view in = payload.substr(kPayloadTag.size());
  ClusterMessage m;
  if (absl::Status st = TakeMessageFields(&in, room_id, &m); !st.ok()) return st;
  if (!in.empty()) return absl::InvalidArgumentError("cluster message: bytes after the last field");
  return m;
}

std::string EncodeClusterPayload(const std::vector<ClusterMessage>& messages) {
  if (messages.size() == 1) return EncodeClusterMessage(messages[0]);
  bool one_call = true;  // what one script call stores: consecutive seqs, one timestamp
  for (size_t i = 1; i < messages.size() && one_call; ++i) {
    one_call = messages[i].seq == messages[0].seq + i &&
               messages[i].timestamp_unix_micros == messages[0].timestamp_unix_micros;
  }
  if (one_call) {
    std::string out(kBatch2Tag);
    AppendField(&out, absl::StrCat(messages.size()));
    AppendField(&out, absl::StrCat(messages[0].seq));
    AppendField(&out, absl::StrCat(messages[0].timestamp_unix_micros));
    for (const ClusterMessage& m : messages) {
      AppendField(&out, m.sender);
      AppendField(&out, absl::StrCat(m.sender_account_id));
      AppendField(&out, absl::StrCat(m.client_msg_id));
      AppendField(&out, m.text);
    }
    return out;
  }
  std::string out(kBatchTag);
  AppendField(&out, absl::StrCat(messages.size()));
  for (const ClusterMessage& m : messages) AppendMessageFields(&out, m);
  return out;
}

absl::StatusOr<std::vector<ClusterMessage>> DecodeClusterPayload(uint64_t room_id, absl::string_view payload) {
  std::vector<ClusterMessage> out;
  if (payload.substr(0, kPayloadTag.size()) == kPayloadTag) {
    absl::StatusOr<ClusterMessage> m = DecodeClusterMessage(room_id, payload);
    if (!m.ok()) return m.status();
    out.push_back(std::move(*m));
    return out;
  }
  if (payload.substr(0, kBatch2Tag.size()) == kBatch2Tag) return DecodeBatch2(room_id, payload.substr(kBatch2Tag.size()));
  if (payload.substr(0, kBatchTag.size()) != kBatchTag) {
    return absl::InvalidArgumentError("cluster message: unknown format tag");
  }
  absl::string_view in = payload.substr(kBatchTag.size());
  uint64_t count = 0;
  if (!TakeNumber(&in, &count) || count == 0) return absl::InvalidArgumentError("cluster batch: bad count");
  // Not reserved by the count: it is not trusted until the messages are there.
  while (!in.empty()) {
    ClusterMessage m;
    if (absl::Status st = TakeMessageFields(&in, room_id, &m); !st.ok()) return st;
    if (!out.empty() && m.seq <= out.back().seq) return absl::InvalidArgumentError("cluster batch: seqs not ascending");
    out.push_back(std::move(m));
    if (out.size() > count) return absl::InvalidArgumentError("cluster batch: more messages than its count");
  }
  if (out.size() != count) return absl::InvalidArgumentError("cluster batch: fewer messages than its count");
  return out;
}

}  // namespace muxchat::server
