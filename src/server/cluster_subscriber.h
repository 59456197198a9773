// The read side of rooms shared through Redis (docs/SCALING.md, draft; not
// yet wired into muxchatd): a second Redis connection in subscribe mode. A
// node subscribes to a room's channel while it has local members (Acquire /
// Release are refcounted) and hands every message published there, parsed,
// to one callback, in Redis's order (a PUBLISH carrying a batch of messages
// is handed over one message at a time, in order, in the same turn). One
// message crosses Redis once per node, however many local members the room
// has.
//
// Delivery is at most once: whatever is published while the subscription is
// not confirmed (before the first confirmation, or while Redis was down) is
// not delivered. The `on_subscribed` callback marks each point from which
// delivery is complete again; the owner then reads the stream after the last
// seq it delivered (ClusterPublisher::ReadAfter) and merges by seq.
//
// Single-threaded: methods and callbacks run on the loop's thread; the loop
// must outlive the subscriber; do not destroy it inside its callbacks.
#ifndef MUXCHAT_SERVER_CLUSTER_SUBSCRIBER_H_
#define MUXCHAT_SERVER_CLUSTER_SUBSCRIBER_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "src/server/cluster_message.h"
#include "src/server/cluster_publisher.h"
#include "src/server/event_loop.h"
#include "src/server/redis_link.h"

namespace muxchat::server {

class ClusterSubscriber {
 public:
  // The message is the callee's: it may move the sender and text out (the
  // node's fan-out keeps them in the room's history without a copy).
  using MessageCallback = absl::AnyInvocable<void(ClusterMessage&& message)>;
  // The room's subscription is confirmed (first time, or again after a
  // reconnect): messages from here on are delivered; catch up before it.
  using SubscribedCallback = absl::AnyInvocable<void(uint64_t room_id)>;

  ClusterSubscriber(EventLoop* loop, ClusterOptions options, MessageCallback on_message,
                    SubscribedCallback on_subscribed);
  ClusterSubscriber(const ClusterSubscriber&) = delete;
  ClusterSubscriber& operator=(const ClusterSubscriber&) = delete;

  void SetStatusCallback(RedisLink::StatusCallback cb) { status_cb_ = std::move(cb); }
  // One more channel, not a room's, subscribed whenever Redis is up (the
  // cluster's control channel: rooms created and deleted). `on_subscribed`
  // runs at each confirmation (what was published before it was missed:
  // read the state again). Call before Start.
  using PayloadCallback = absl::AnyInvocable<void(absl::string_view payload)>;
  void SetControlChannel(std::string channel, PayloadCallback on_payload, absl::AnyInvocable<void()> on_subscribed);
  // Payloads on a room's channel that are not messages ("p..." presence
  // events, published by nodes with a plain PUBLISH), in channel order.
  using PresenceCallback = absl::AnyInvocable<void(uint64_t room_id, absl::string_view payload)>;
  void SetPresenceCallback(PresenceCallback cb) { on_presence_ = std::move(cb); }
  void Start() { link_.Start(); }
  bool up() const { return link_.up(); }
  const RedisLink& link() const { return link_; }

  // A local member joined / left `room_id`. The first Acquire subscribes,
  // the last Release unsubscribes (each as soon as Redis is up and no
  // earlier SUBSCRIBE/UNSUBSCRIBE of the room is still unanswered).
  void Acquire(uint64_t room_id);
  void Release(uint64_t room_id);

  // Rooms whose subscription Redis has confirmed and not ended.
  size_t subscribed_rooms() const;
  // Payloads on our channels that did not decode (counted, then dropped).
  uint64_t malformed() const { return malformed_; }

 private:
  struct Room {
    uint32_t refs = 0;
    bool subscribed = false;  // confirmed by Redis
    bool in_flight = false;   // a SUBSCRIBE or UNSUBSCRIBE is unanswered
  };

  void OnLinkStatus(RedisLinkState state, const absl::Status& why);
  // Moves the room's subscription one step towards refs > 0; erases the
  // entry once it is idle and unwanted.
  void Sync(uint64_t room_id);
  void OnPush(const redisReply* reply);
  static void OnPushThunk(redisAsyncContext* ac, void* reply, void* privdata);

  const ClusterOptions options_;
  RedisLink link_;
  MessageCallback on_message_;
  SubscribedCallback on_subscribed_;
  RedisLink::StatusCallback status_cb_;
  absl::flat_hash_map<uint64_t, Room> rooms_;
  uint64_t malformed_ = 0;
  std::string control_channel_;
  PayloadCallback on_control_;
  absl::AnyInvocable<void()> on_control_subscribed_;
  PresenceCallback on_presence_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_SUBSCRIBER_H_
