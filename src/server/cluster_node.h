// One muxchatd node's part in a cluster sharing rooms through Redis
// (--cluster_redis, docs/SCALING.md): the command connection (publishes,
// room registry, reads), the subscriber connection (the rooms this node
// follows and the control channel) and the feed that turns both into one
// gapless order per room. ChatService drives it and gets what it hears
// through Handlers; it knows nothing of connections or rooms' members.
// Single-threaded (the loop's thread); the loop must outlive it.
#ifndef MUXCHAT_SERVER_CLUSTER_NODE_H_
#define MUXCHAT_SERVER_CLUSTER_NODE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "src/server/cluster_message.h"
#include "src/server/cluster_presence.h"
#include "src/server/cluster_publisher.h"
#include "src/server/cluster_room_event.h"
#include "src/server/cluster_room_feed.h"
#include "src/server/cluster_rooms.h"
#include "src/server/cluster_subscriber.h"
#include "src/server/event_loop.h"

namespace muxchat::server {

class ClusterNode {
 public:
  struct Handlers {
    // A followed room's next message, in seq order, each once.
    absl::AnyInvocable<void(const ClusterMessage&)> message;
    // Seqs [first, last] of a followed room are gone from Redis.
    absl::AnyInvocable<void(uint64_t room_id, uint64_t first, uint64_t last)> gap;
    // Another node (or this one) created or deleted a room.
    absl::AnyInvocable<void(const ClusterRoomEvent&)> room_event;
    // The whole registry, read after each (re)subscription to the control
    // channel: events published while this node was away were missed.
    absl::AnyInvocable<void(std::vector<ClusterRoomRecord>)> rooms_loaded;
    // A followed room's subscription is confirmed (first time or again):
    // presence events published from now on reach this node.
    absl::AnyInvocable<void(uint64_t room_id)> subscribed;
    // A presence payload on a followed room's channel.
    absl::AnyInvocable<void(uint64_t room_id, absl::string_view payload)> presence;
    // Redis reachable (both connections) or not.
    absl::AnyInvocable<void(bool up, const absl::Status& why)> status;
    // This node's members are unknown to Redis (it reconnected, or was
    // taken for dead): announce every local member again (presence().Join).
    absl::AnyInvocable<void()> announce_members;
  };

  // `node_name` names this node in Redis (guest scopes, presence); letters,
  // digits, '.', '_' and '-' only (checked by ValidNodeName).
  ClusterNode(EventLoop* loop, ClusterOptions options, std::string node_name);
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  static bool ValidNodeName(absl::string_view name);

  void SetHandlers(Handlers handlers) { handlers_ = std::move(handlers); }
  void Start();
  // Both connections are up and the registry was read since the control
  // channel was last confirmed: sends and registry changes can be tried.
  bool up() const { return publisher_.up() && subscriber_.up() && rooms_loaded_; }
  const std::string& name() const { return name_; }
  const ClusterOptions& options() const { return options_; }

  ClusterPublisher& publisher() { return publisher_; }
  ClusterRooms& rooms() { return rooms_; }
  ClusterPresence& presence() { return presence_; }
  // Liveness (call every ~500 ms): refreshes this node's key, and every
  // other call removes the members of nodes that stopped refreshing theirs.
  void Tick();
  // The command connection, for other modules' commands (accounts).
  RedisLink* command_link() { return publisher_.mutable_link(); }

  // Delivers `room_id`'s messages after `after_seq` from now on (subscribes
  // to its channel); Unfollow stops that.
  void Follow(uint64_t room_id, uint64_t after_seq);
  void Unfollow(uint64_t room_id);
  size_t subscribed_rooms() const { return subscriber_.subscribed_rooms(); }

 private:
  void OnStatus(const absl::Status& why);
  void LoadRooms();
  void AnnounceMembers();

  const ClusterOptions options_;
  const std::string name_;
  Handlers handlers_;
  ClusterPublisher publisher_;
  ClusterRooms rooms_;
  ClusterPresence presence_;
  uint64_t beats_ = 0;  // heartbeats since this node's members were last announced
  ClusterSubscriber subscriber_;
  ClusterRoomFeed feed_;
  bool rooms_loaded_ = false;
  bool load_pending_ = false;  // the control channel is confirmed but the registry is not read yet
  std::vector<ClusterRoomEvent> events_during_load_;
  bool was_up_ = false;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_NODE_H_
