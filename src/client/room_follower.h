// RoomFollower: hands out a room's messages exactly once and in seq order,
// whatever order and repetition they arrive in — live, replayed after a
// join or a Resume, or paged with History — so a listener that reconnects
// (or restarts from a cursor file) prints nothing twice and skips nothing.
// Messages beyond the next expected seq wait in a bounded buffer while the
// caller fetches the hole (History after_seq = last()); a hole the server no
// longer stores is skipped explicitly (SkipThrough) and counted.
//
// Thread rule: not thread-safe; one owner. Pure (no I/O).
#ifndef MUXCHAT_CLIENT_ROOM_FOLLOWER_H_
#define MUXCHAT_CLIENT_ROOM_FOLLOWER_H_

#include <cstdint>
#include <map>
#include <vector>

#include "proto/muxchat.pb.h"

namespace muxchat::client {

class RoomFollower {
 public:
  // Messages held while a hole before them is fetched; past it the oldest
  // buffered ones are released as if the hole were gone (a bound, not a goal).
  static constexpr size_t kMaxBuffered = 100'000;

  // `last_handled`: the newest seq already handled (a cursor), or the room's
  // last_seq when only what comes next is wanted.
  explicit RoomFollower(uint64_t last_handled = 0) : last_(last_handled), known_last_(last_handled) {}

  // Offers one message; returns those now due, in order (it and any buffered
  // ones it unblocks). Seqs at or below last() are duplicates: dropped.
  std::vector<v1::ChatMessage> Offer(const v1::ChatMessage& message);
  // The server says the room's newest seq is `seq` (Join reply, RoomResumed,
  // Gap): a hole up to it may exist even with nothing buffered.
  void NoteLastSeq(uint64_t seq);
  // True while messages after last() are known to exist but have not come.
  bool HasHole() const { return last_ < HoleEnd(); }
  // The last seq of the current hole (the newest seq known when nothing is buffered).
  uint64_t HoleEnd() const;
  // Gives up on everything through `seq` (not stored any more); returns the
  // buffered messages now due. skipped() counts the seqs given up on.
  std::vector<v1::ChatMessage> SkipThrough(uint64_t seq);

  uint64_t last() const { return last_; }
  uint64_t skipped() const { return skipped_; }

 private:
  std::vector<v1::ChatMessage> Drain();

  uint64_t last_;
  uint64_t known_last_;
  uint64_t skipped_ = 0;
  std::map<uint64_t, v1::ChatMessage> buffered_;
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_ROOM_FOLLOWER_H_
