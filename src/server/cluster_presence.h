// Who is in a shared room, across nodes (docs/SCALING.md §2): each node
// records its members of a room in Redis and announces joins and leaves on
// the room's channel, so every node's members see one another come and go
// in the same order as the messages, with the cluster's member count. A
// node that stops refreshing its liveness key (killed, stopped, cut off)
// has its members removed by whichever node notices first, with one
// MemberLeft each ("node lost").
//
// Keys:
//   <prefix>:{room:R}:members    hash  "<node>/<connection id>" -> nickname
//   <prefix>:node:<name>:rooms   set   rooms where the node has members
//   <prefix>:node:<name>:alive   string with a TTL, refreshed by Heartbeat
//   <prefix>:nodes               set   every registered node
//   <prefix>:nick:<folded>       string "<node>/<connection id>" of the guest using the nickname
//   <prefix>:node:<name>:nicks   set   nicknames the node's guests hold
// Presence payloads on a room's channel ("p" + kind, then fields
// "<len>:<bytes>"): "pj" node, conn, nickname, count; "pl" node, conn,
// nickname, count, reason.
// Single-threaded (the loop's thread); borrows the link.
#ifndef MUXCHAT_SERVER_CLUSTER_PRESENCE_H_
#define MUXCHAT_SERVER_CLUSTER_PRESENCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/server/redis_link.h"

namespace muxchat::server {

struct PresenceEvent {
  bool joined = false;
  std::string node;
  uint64_t conn_id = 0;
  std::string nickname;
  uint32_t member_count = 0;  // in the whole cluster, after this event
  std::string reason;         // leaves only
};

absl::StatusOr<PresenceEvent> DecodePresenceEvent(absl::string_view payload);

class ClusterPresence {
 public:
  // A node not heard from for `ttl` is taken for dead.
  ClusterPresence(RedisLink* link, std::string key_prefix, std::string node_name,
                  absl::Duration ttl = absl::Seconds(3));
  ClusterPresence(const ClusterPresence&) = delete;
  ClusterPresence& operator=(const ClusterPresence&) = delete;

  // Fire and forget (a failure while Redis is down is repaired by the Sync
  // after it).
  void Join(uint64_t room_id, uint64_t conn_id, const std::string& nickname);
  void Leave(uint64_t room_id, uint64_t conn_id, const std::string& nickname, const std::string& reason);
  // Refreshes this node's liveness; `registered` gets true when the node
  // was not registered (first beat, or removed as dead meanwhile): its
  // members must then be announced again with Join.
  void Heartbeat(absl::AnyInvocable<void(bool registered)> registered);
  // What this node has now: its members of shared rooms and its guests.
  struct Snapshot {
    struct Member {
      uint64_t room_id;
      uint64_t conn_id;
      std::string nickname;
    };
    struct Guest {
      std::string folded_nickname;
      uint64_t conn_id;
    };
    std::vector<Member> members;
    std::vector<Guest> guests;
  };
  // Makes Redis hold exactly `now` for this node (after a reconnect, a
  // restart under the same name, or being taken for dead): what it no
  // longer has leaves, what is missing joins, the rest is untouched. Also
  // registers the node as alive. Fire and forget.
  void Sync(const Snapshot& now);
  // Removes the members of every registered node whose liveness expired.
  void ReapDeadNodes();
  // Guests' nicknames are unique in the whole cluster: `done` gets true when
  // `folded` was free and is now this connection's, false when a guest on
  // any node has it. Released on disconnect, and with the node's members
  // when the node is taken for dead. Same contract as Members.
  absl::Status ClaimNickname(const std::string& folded, uint64_t conn_id,
                             absl::AnyInvocable<void(absl::StatusOr<bool>)> done);
  void ReleaseNickname(const std::string& folded, uint64_t conn_id);
  // Nicknames of a room's members on every node (unsorted).
  absl::Status Members(uint64_t room_id, absl::AnyInvocable<void(absl::StatusOr<std::vector<std::string>>)> done);

 private:
  RedisLink* const link_;
  const std::string prefix_;
  const std::string node_;
  const absl::Duration ttl_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_PRESENCE_H_
