// Turns what a node hears about shared rooms into one gapless, duplicate-free
// sequence per room (docs/SCALING.md §4, draft; not yet wired into
// muxchatd). Pub/sub is at-most-once: messages published before a room's
// subscription was confirmed, or while Redis was away, never arrive live. The
// feed delivers a room's messages strictly by seq: a live message right
// after the last delivered one goes out at once; one further ahead is held
// while the missing seqs are read from the room's stream; seqs already
// delivered are dropped. Seqs the stream no longer has (trimmed by MAXLEN,
// or lost with a Redis that restarted without persistence) are reported as
// a gap and skipped.
// Single-threaded (the loop's thread). `reader` is borrowed and must outlive
// the feed; callbacks must not destroy the feed.
#ifndef MUXCHAT_SERVER_CLUSTER_ROOM_FEED_H_
#define MUXCHAT_SERVER_CLUSTER_ROOM_FEED_H_

#include <cstdint>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "src/server/cluster_message.h"
#include "src/server/cluster_publisher.h"

namespace muxchat::server {

class ClusterRoomFeed {
 public:
  // The message is the callee's (it may move the sender and text out).
  using DeliverCallback = absl::AnyInvocable<void(ClusterMessage&& message)>;
  // Seqs [first, last] of `room_id` are gone from the stream and will never
  // be delivered (a Gap event for the room's members).
  using GapCallback = absl::AnyInvocable<void(uint64_t room_id, uint64_t first, uint64_t last)>;

  // `read_batch`: messages per stream read while catching up. `max_held`: live
  // messages held per room while catching up; beyond it they are dropped and
  // read from the stream later (bounded memory under a long outage).
  ClusterRoomFeed(ClusterPublisher* reader, DeliverCallback deliver, GapCallback gap, uint32_t read_batch = 500,
                  size_t max_held = 10000);
  ClusterRoomFeed(const ClusterRoomFeed&) = delete;
  ClusterRoomFeed& operator=(const ClusterRoomFeed&) = delete;

  // Starts delivering `room_id` after `after_seq` (the last seq this node's
  // members have, e.g. the room's last seq when its first local member joined).
  void Track(uint64_t room_id, uint64_t after_seq);
  void Untrack(uint64_t room_id);

  // The subscriber's callbacks: a live message, and a confirmed subscription
  // (catch up on what was published before it).
  void OnMessage(ClusterMessage message);
  void OnSubscribed(uint64_t room_id);

  // Catch-up reads that could not be sent or failed (the command
  // connection was down), tried again: call when it is back, and now and then.
  void RetryStalled();

  // The last seq delivered for `room_id` (0 if untracked or none yet).
  uint64_t last_delivered(uint64_t room_id) const;

 private:
  struct Room {
    uint64_t next = 1;                        // the seq to deliver next
    std::map<uint64_t, ClusterMessage> held;  // live messages past `next`
    bool reading = false;                     // a catch-up read is in flight
    bool read_again = false;                  // something asked for one meanwhile
    bool dropped = false;                     // a live message did not fit in `held`
    bool stalled = false;                     // a catch-up read could not be sent or failed
    uint64_t epoch = 0;                       // Track() count: stale replies are ignored
  };

  // Delivers held messages from `next` on while they are contiguous.
  void Drain(uint64_t room_id, Room& room);
  void CatchUp(uint64_t room_id, Room& room);
  void OnRead(uint64_t room_id, uint64_t epoch, absl::StatusOr<std::vector<ClusterMessage>> result);

  ClusterPublisher* const reader_;
  DeliverCallback deliver_;
  GapCallback gap_;
  const uint32_t read_batch_;
  const size_t max_held_;
  absl::flat_hash_map<uint64_t, Room> rooms_;
  uint64_t epochs_ = 0;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_ROOM_FEED_H_
