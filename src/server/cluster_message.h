// What muxchat keeps in Redis for a room, in one place: the key and channel
// names, and the compact encoding of a message as the publish script sends
// it on the room's channel. The script (cluster_publisher.cc) writes this
// format in Lua; DecodeClusterMessage is its only reader. Pure functions,
// any thread.
//
// Per room R (the {...} hash tag keeps a room's keys in one Redis Cluster slot):
//   <prefix>:{room:R}:seq         the room's last seq (a counter)
//   <prefix>:{room:R}:log         the room's stream: one entry per publish step,
//                                 ID "<last seq>-0", its payload below (cluster_stream.h)
//   <prefix>:{room:R}:dd:<scope>:<client_msg_id>   "<seq>:<ts>" for resends
//   <prefix>:{room:R}:ch          the pub/sub channel (not a key)
//
// Channel payload, one of two forms (ClusterPublisher's script writes them):
//   "m1;" then six fields, each "<decimal length>:<bytes>":
//     seq, timestamp (unix micros), sender, sender_account_id, client_msg_id, text
//   (decimal numbers as text; the text is last and may hold any byte) — one
//   message, the only form nodes before batching read;
//   "mb2;" then three fields: the count, the first seq and the timestamp,
//   then each message's four fields sender, sender_account_id,
//   client_msg_id, text — the messages one script call stored, in order,
//   with seqs first, first+1, ... and one timestamp (what the script writes
//   since docs/BENCHMARKS.md §11.6: it puts nothing in front of each message,
//   so a batch is one concatenation of the node's arguments);
//   "mb1;" then the count as a field, then each message's six fields as in
//   "m1;", seqs ascending — the batch form of earlier nodes, still read (a
//   room's stream keeps their entries).
// A script call that stores one message publishes "m1;", so a node that only
// reads "m1;" still follows a room whose publishes are not batched. The same
// bytes are the room stream's entry for that call (cluster_stream.h).
#ifndef MUXCHAT_SERVER_CLUSTER_MESSAGE_H_
#define MUXCHAT_SERVER_CLUSTER_MESSAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::server {

struct ClusterMessage {
  uint64_t room_id = 0;
  uint64_t seq = 0;
  int64_t timestamp_unix_micros = 0;  // Redis's clock when the script ran
  std::string sender;
  uint64_t sender_account_id = 0;  // 0 = guest
  uint64_t client_msg_id = 0;      // 0 = none
  std::string text;

  bool operator==(const ClusterMessage& o) const {
    return room_id == o.room_id && seq == o.seq && timestamp_unix_micros == o.timestamp_unix_micros &&
           sender == o.sender && sender_account_id == o.sender_account_id && client_msg_id == o.client_msg_id &&
           text == o.text;
  }
};

std::string RoomSeqKey(absl::string_view prefix, uint64_t room_id);
std::string RoomLogKey(absl::string_view prefix, uint64_t room_id);
std::string RoomChannel(absl::string_view prefix, uint64_t room_id);
// `scope` says whose client_msg_ids these are (an account, or one guest
// connection); it must not contain ':'.
std::string DedupeKey(absl::string_view prefix, uint64_t room_id, absl::string_view scope, uint64_t client_msg_id);

// The room of a channel named by RoomChannel(prefix, ...); kInvalidArgument otherwise.
absl::StatusOr<uint64_t> ParseRoomChannel(absl::string_view prefix, absl::string_view channel);

// The channel payload for `m` (room_id is not in it: the channel says it).
// The script builds the same bytes; this is for tests and tools.
std::string EncodeClusterMessage(const ClusterMessage& m);
// kInvalidArgument for anything but exactly the six fields of "m1;".
absl::StatusOr<ClusterMessage> DecodeClusterMessage(uint64_t room_id, absl::string_view payload);

// The payload the script publishes for `messages` (seqs ascending, at least
// one): "m1;" for one, "mb2;" for more with consecutive seqs and one
// timestamp (every batch the script stores), "mb1;" for other lists. For
// tests and tools.
std::string EncodeClusterPayload(const std::vector<ClusterMessage>& messages);
// Any of the three forms, its messages in order. kInvalidArgument for
// anything else: an unknown tag, a malformed field, a count that is 0 or
// does not match, seqs not ascending (or past 2^64), bytes after the last
// message.
absl::StatusOr<std::vector<ClusterMessage>> DecodeClusterPayload(uint64_t room_id, absl::string_view payload);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_MESSAGE_H_
