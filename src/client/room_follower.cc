#include "src/client/room_follower.h"

#include <algorithm>

namespace muxchat::client {

std::vector<v1::ChatMessage> RoomFollower::Offer(const v1::ChatMessage& message) {
  const uint64_t seq = message.seq();
  if (seq <= last_) return {};
  known_last_ = std::max(known_last_, seq);
  buffered_.emplace(seq, message);
  if (buffered_.size() > kMaxBuffered) {
    // Bounded: release the oldest as though the hole before it were gone.
    return SkipThrough(buffered_.begin()->first - 1);
  }
  return Drain();
}

void RoomFollower::NoteLastSeq(uint64_t seq) { known_last_ = std::max(known_last_, seq); }

uint64_t RoomFollower::HoleEnd() const {
  if (!buffered_.empty()) return buffered_.begin()->first - 1;
  return known_last_;
}

std::vector<v1::ChatMessage> RoomFollower::SkipThrough(uint64_t seq) {
  if (seq > last_) {
    // Buffered messages inside the skipped range are not skipped: they came.
    uint64_t missing = seq - last_;
    for (auto it = buffered_.begin(); it != buffered_.end() && it->first <= seq; ++it) --missing;
    skipped_ += missing;
    std::vector<v1::ChatMessage> due;
    for (auto it = buffered_.begin(); it != buffered_.end() && it->first <= seq;) {
      due.push_back(std::move(it->second));
      it = buffered_.erase(it);
    }
    last_ = seq;
    known_last_ = std::max(known_last_, seq);
    std::vector<v1::ChatMessage> more = Drain();
    due.insert(due.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    return due;
  }
  return Drain();
}

std::vector<v1::ChatMessage> RoomFollower::Drain() {
  std::vector<v1::ChatMessage> due;
  while (!buffered_.empty() && buffered_.begin()->first == last_ + 1) {
    due.push_back(std::move(buffered_.begin()->second));
    buffered_.erase(buffered_.begin());
    ++last_;
  }
  return due;
}

}  // namespace muxchat::client
