// The body of one message_blocks row (schema version 2): the messages one
// batch appended to one room, in ascending seq, as a self-delimiting byte
// string. Pure functions, any thread.
//
//   body   := record+
//   record := varint(seq delta)          seq - previous record's seq (first: seq itself); >= 1
//             varint(sender_account_id)
//             varint(client_msg_id)
//             varint(zigzag(ts delta))   timestamp_unix_micros - previous record's (first: from 0)
//             varint(len) sender bytes
//             varint(len) text bytes
//
// Varints are little-endian base 128 (protobuf's), at most 10 bytes. The
// room is the row's, not the record's. A reader knows a body's end by its
// length; a record cut short, a varint over 10 bytes, a seq that does not
// ascend or a length past the end is corruption (kDataLoss).
#ifndef MUXCHAT_SERVER_MESSAGE_BLOCK_H_
#define MUXCHAT_SERVER_MESSAGE_BLOCK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "src/server/storage.h"

namespace muxchat::server {

// Appends records to a body. Seqs must ascend (the caller starts a new block
// otherwise: see CanAppend).
class MessageBlockBuilder {
 public:
  bool empty() const { return count_ == 0; }
  uint64_t first_seq() const { return first_seq_; }
  uint64_t last_seq() const { return last_seq_; }
  uint64_t count() const { return count_; }
  const std::string& body() const { return body_; }
  // Whether `seq` may follow the records so far (any seq into an empty block).
  bool CanAppend(uint64_t seq) const { return count_ == 0 || seq > last_seq_; }
  // Requires CanAppend(m.seq). m.room_id is not stored.
  void Append(const MessageRecord& m);
  void Clear();

 private:
  std::string body_;
  uint64_t first_seq_ = 0;
  uint64_t last_seq_ = 0;
  int64_t last_ts_ = 0;
  uint64_t count_ = 0;
};

// Decodes `body` into records of `room_id`, appended to `out` ascending by
// seq. With `skip_text`, text is left empty (its bytes are skipped).
// kDataLoss naming `room_id` when the body is not a valid encoding; `out`
// then holds the records decoded before the fault.
absl::Status DecodeMessageBlock(uint64_t room_id, absl::string_view body, std::vector<MessageRecord>* out,
                                bool skip_text = false);

// DecodeMessageBlock for a stored row, whose first_seq and last_seq columns
// say which seqs its body holds: records that do not start at `first_seq`
// and end at `last_seq` are kDataLoss as well (a body cut at a record
// boundary decodes cleanly, and would otherwise read as a short page).
absl::Status DecodeStoredBlock(uint64_t room_id, uint64_t first_seq, uint64_t last_seq, absl::string_view body,
                               std::vector<MessageRecord>* out);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_MESSAGE_BLOCK_H_
