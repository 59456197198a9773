// A room's stream in Redis (<prefix>:{room:R}:log, docs/SCALING.md §2): its
// entry format and the reads of it by seq. Pure functions, any thread.
//
// Entry ID "<last seq>-0": the seq of the entry's last message. Two forms:
//   batch entry (since publishes were stored one entry per script call): one
//     field "m" whose value is the channel payload the same call published
//     ("m1;" one message, "mb2;" several — "mb1;" from earlier nodes;
//     cluster_message.h), so the script
//     builds those bytes once for both. Its messages have consecutive seqs,
//     first = last - count + 1.
//   per-message entry (written by nodes before that, still read): fields
//     seq, ts, sender, sender_account_id, client_msg_id, text.
// Keying an entry by its LAST seq keeps "messages after seq S" one range
// from ID S+1-0 (the first entry it returns is the one holding S+1), and
// the stream tail's ID the room's last stored seq, whichever form wrote it.
//
// The reads are small Lua scripts (EVAL): a batch entry holds 1 to 256
// messages, so the script walks entries until they hold `limit` messages
// instead of asking for `limit` entries (which could be 256 times too many),
// and a backward read also takes the one entry that holds seqs on both sides
// of before_seq. The parse functions cut the reply to exactly the seqs asked.
#ifndef MUXCHAT_SERVER_CLUSTER_STREAM_H_
#define MUXCHAT_SERVER_CLUSTER_STREAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hiredis/hiredis.h"
#include "src/server/cluster_message.h"

namespace muxchat::server {

// The one field of a batch entry.
inline constexpr absl::string_view kStreamBatchField = "m";

// The command reading the stored messages of `room_id` with seq > after_seq:
// the first `limit` of them (limit > 0), oldest first.
std::vector<std::string> StreamReadAfterCommand(absl::string_view prefix, uint64_t room_id, uint64_t after_seq,
                                                uint32_t limit);
// The command reading the newest `limit` stored messages with seq <
// before_seq (0: the room's newest messages), oldest first.
std::vector<std::string> StreamReadBeforeCommand(absl::string_view prefix, uint64_t room_id, uint64_t before_seq,
                                                 uint32_t limit);

// The messages asked for, from the reply to the matching command: exactly
// min(limit, stored) of them, seqs ascending. kUnavailable for no reply,
// kInternal for an error reply or a malformed entry.
absl::StatusOr<std::vector<ClusterMessage>> ParseStreamReadAfter(uint64_t room_id, uint64_t after_seq,
                                                                 uint32_t limit, const redisReply* reply);
absl::StatusOr<std::vector<ClusterMessage>> ParseStreamReadBefore(uint64_t room_id, uint64_t before_seq,
                                                                  uint32_t limit, const redisReply* reply);

// Appends the messages of one stream entry ([id, [field, value, ...]], as
// XRANGE answers it) to *out, in seq order. kInternal if it is malformed or
// its ID is not its last message's seq (*out unchanged then).
absl::Status AppendStreamEntry(uint64_t room_id, const redisReply* entry, std::vector<ClusterMessage>* out);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_STREAM_H_
