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
    absl::AnyInvocable<void(ClusterMessage&&)> message;  // the callee's to move from
    // Seqs [first, last] of a followed room are gone from Redis.
    absl::AnyInvocable<void(uint64_t room_id, uint64_t first, uint64_t last)> gap;
    // Another node (or this one) created or deleted a room.
    absl::AnyInvocable<void(const ClusterRoomEvent&)> room_event;
    // The whole registry, read after each (re)subscription to the control
    // channel: events published while this node was away were missed.
    absl::AnyInvocable<void(std::vector<ClusterRoomRecord>)> rooms_loaded;
    // Redis lost the registry (no ID counter): the rooms this node has, as
    // (folded name, record), to put back before reading it again.
    absl::AnyInvocable<std::vector<std::pair<std::string, ClusterRoomRecord>>()> registry_lost;
    // A followed room's subscription is confirmed (first time or again):
    // presence events published from now on reach this node.
    absl::AnyInvocable<void(uint64_t room_id)> subscribed;
    // A presence payload on a followed room's channel.
    absl::AnyInvocable<void(uint64_t room_id, absl::string_view payload)> presence;
    // Redis reachable (both connections) or not.
    absl::AnyInvocable<void(bool up, const absl::Status& why)> status;
    // This node's members and guests now, for ClusterPresence::Sync after a
    // reconnect or after being taken for dead.
    absl::AnyInvocable<ClusterPresence::Snapshot()> presence_snapshot;
  };

  // `node_name` names this node in Redis (guest scopes, presence); letters,
  // digits, '.', '_' and '-' only (checked by ValidNodeName).
  ClusterNode(EventLoop* loop, ClusterOptions options, std::string node_name);
  // Pending replies are dropped, not answered: the service they would
  // answer is shutting down too.
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  static bool ValidNodeName(absl::string_view name);

  void SetHandlers(Handlers handlers) { handlers_ = std::move(handlers); }
  void Start();
  // Both connections are up and the registry was read since the control
  // channel was last confirmed: sends and registry changes can be tried.
  bool up() const { return publisher_.up() && subscriber_.up() && rooms_loaded_; }
  const std::string& name() const { return name_; }
  // This process's life of the node: the name and a random suffix
  // ("a.3f9c01d2"). Presence, guests' nicknames and rooms, and guests'
  // resend scopes are keyed by it, so a node restarted under the same name
  // (connection IDs start again at the same numbers) is a new instance, and
  // its earlier life's members are removed as a dead node's.
  const std::string& instance() const { return instance_; }
  const ClusterOptions& options() const { return options_; }

  ClusterPublisher& publisher() { return publisher_; }
  ClusterRooms& rooms() { return rooms_; }
  ClusterPresence& presence() { return presence_; }
  // Liveness (call every ~500 ms): refreshes this node's key, and every
  // other call removes the members of nodes that stopped refreshing theirs.
  // Also retries a registry read that failed.
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
  const std::string instance_;
  Handlers handlers_;
  uint64_t beats_ = 0;  // heartbeats since this node's members were last announced
  bool rooms_loaded_ = false;
  bool load_pending_ = false;  // the control channel is confirmed but the registry is not read yet
  bool load_in_flight_ = false;
  bool load_again_ = false;
  std::vector<ClusterRoomEvent> events_during_load_;
  bool was_up_ = false;
  // Declared before the connections: destroying a connection runs its
  // pending callbacks (kUnavailable), which reach the feed and the state
  // above, so those must still be alive then.
  ClusterRoomFeed feed_;
  ClusterPublisher publisher_;
  ClusterRooms rooms_;
  ClusterPresence presence_;
  ClusterSubscriber subscriber_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_NODE_H_
