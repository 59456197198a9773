#include "src/server/message_block.h"

#include "absl/strings/str_cat.h"

namespace muxchat::server {
namespace {

void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Reads one varint from the front of `*in`; false when cut short or longer than 10 bytes.
bool GetVarint(absl::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0, i = 0; i < 10; ++i, shift += 7) {
    if (i >= static_cast<int>(in->size())) return false;
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    if (i == 9 && byte > 1) return false;  // past 64 bits
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      *v = result;
      return true;
    }
  }
  return false;
}

bool GetBytes(absl::string_view* in, absl::string_view* bytes) {
  uint64_t len = 0;
  if (!GetVarint(in, &len) || len > in->size()) return false;
  *bytes = in->substr(0, len);
  in->remove_prefix(len);
  return true;
}

}  // namespace

void MessageBlockBuilder::Append(const MessageRecord& m) {
  PutVarint(&body_, m.seq - (count_ == 0 ? 0 : last_seq_));
  PutVarint(&body_, m.sender_account_id);
  PutVarint(&body_, m.client_msg_id);
  // Differences in unsigned arithmetic: defined for any two timestamps.
  PutVarint(&body_, ZigZag(static_cast<int64_t>(static_cast<uint64_t>(m.timestamp_unix_micros) -
                                                static_cast<uint64_t>(count_ == 0 ? 0 : last_ts_))));
  PutVarint(&body_, m.sender.size());
  body_.append(m.sender);
  PutVarint(&body_, m.text.size());
  body_.append(m.text);
  if (count_ == 0) first_seq_ = m.seq;
  last_seq_ = m.seq;
  last_ts_ = m.timestamp_unix_micros;
  ++count_;
}

void MessageBlockBuilder::Clear() {
  body_.clear();
  first_seq_ = last_seq_ = 0;
  last_ts_ = 0;
  count_ = 0;
}

absl::Status DecodeMessageBlock(uint64_t room_id, absl::string_view body, std::vector<MessageRecord>* out,
                                bool skip_text) {
  uint64_t seq = 0;
  uint64_t ts = 0;
  while (!body.empty()) {
    uint64_t seq_delta = 0, account = 0, client_id = 0, ts_delta = 0;
    absl::string_view sender, text;
    if (!GetVarint(&body, &seq_delta) || !GetVarint(&body, &account) || !GetVarint(&body, &client_id) ||
        !GetVarint(&body, &ts_delta) || !GetBytes(&body, &sender) || !GetBytes(&body, &text)) {
      return absl::DataLossError(absl::StrCat("message block of room ", room_id, " after seq ", seq,
                                              ": record cut short or malformed"));
    }
    if (seq_delta == 0 || seq + seq_delta < seq) {
      return absl::DataLossError(
          absl::StrCat("message block of room ", room_id, " after seq ", seq, ": seqs do not ascend"));
    }
    seq += seq_delta;
    ts += static_cast<uint64_t>(UnZigZag(ts_delta));
    MessageRecord& m = out->emplace_back();
    m.room_id = room_id;
    m.seq = seq;
    m.sender_account_id = account;
    m.client_msg_id = client_id;
    m.timestamp_unix_micros = static_cast<int64_t>(ts);
    m.sender = std::string(sender);
    if (!skip_text) m.text = std::string(text);
  }
  return absl::OkStatus();
}

absl::Status DecodeStoredBlock(uint64_t room_id, uint64_t first_seq, uint64_t last_seq, absl::string_view body,
                               std::vector<MessageRecord>* out) {
  const size_t before = out->size();
  if (absl::Status s = DecodeMessageBlock(room_id, body, out); !s.ok()) return s;
  if (out->size() == before || (*out)[before].seq != first_seq || out->back().seq != last_seq) {
    return absl::DataLossError(absl::StrCat("message block of room ", room_id, " holds seqs ",
                                            out->size() == before ? 0 : (*out)[before].seq, "..",
                                            out->size() == before ? 0 : out->back().seq, ", its row says ", first_seq,
                                            "..", last_seq));
  }
  return absl::OkStatus();
}

}  // namespace muxchat::server
