#include "src/server/cluster_room_feed.h"

#include <utility>
#include <vector>

namespace muxchat::server {

ClusterRoomFeed::ClusterRoomFeed(ClusterPublisher* reader, DeliverCallback deliver, GapCallback gap,
                                 uint32_t read_batch, size_t max_held)
    : reader_(reader),
      deliver_(std::move(deliver)),
      gap_(std::move(gap)),
      read_batch_(read_batch),
      max_held_(max_held) {}

void ClusterRoomFeed::Track(uint64_t room_id, uint64_t after_seq) {
  Room& room = rooms_[room_id];
  room = Room{};
  room.next = after_seq + 1;
  room.epoch = ++epochs_;
}

void ClusterRoomFeed::RetryStalled() {
  std::vector<uint64_t> stalled;
  for (const auto& [id, room] : rooms_) {
    if (room.stalled && !room.reading) stalled.push_back(id);
  }
  for (uint64_t id : stalled) {
    auto it = rooms_.find(id);
    if (it != rooms_.end()) CatchUp(id, it->second);
  }
}

void ClusterRoomFeed::Untrack(uint64_t room_id) { rooms_.erase(room_id); }

uint64_t ClusterRoomFeed::last_delivered(uint64_t room_id) const {
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? 0 : it->second.next - 1;
}

void ClusterRoomFeed::OnSubscribed(uint64_t room_id) {
  auto it = rooms_.find(room_id);
  if (it != rooms_.end()) CatchUp(room_id, it->second);
}

void ClusterRoomFeed::OnMessage(ClusterMessage message) {
  const uint64_t room_id = message.room_id, seq = message.seq;
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return;
  Room& room = it->second;
  if (seq < room.next) return;  // already delivered (live and read both)
  if (seq == room.next) {
    ++room.next;
    deliver_(std::move(message));
    // The callback may have untracked the room.
    it = rooms_.find(room_id);
    if (it != rooms_.end()) Drain(room_id, it->second);
    return;
  }
  // Ahead of what we have: hold it and fetch the missing ones.
  if (room.held.size() < max_held_) {
    room.held.emplace(seq, std::move(message));
  } else {
    room.dropped = true;  // read from the stream instead
  }
  CatchUp(room_id, room);
}

void ClusterRoomFeed::Drain(uint64_t room_id, Room& room) {
  while (!room.held.empty()) {
    auto first = room.held.begin();
    if (first->first < room.next) {
      room.held.erase(first);
      continue;
    }
    if (first->first != room.next) return;
    ClusterMessage m = std::move(first->second);
    room.held.erase(first);
    ++room.next;
    deliver_(std::move(m));
    if (!rooms_.contains(room_id)) return;  // untracked by the callback
  }
}

void ClusterRoomFeed::CatchUp(uint64_t room_id, Room& room) {
  if (room.reading) {
    room.read_again = true;
    return;
  }
  const uint64_t epoch = room.epoch;
  absl::Status st = reader_->ReadAfter(room_id, room.next - 1, read_batch_,
                                       [this, room_id, epoch](absl::StatusOr<std::vector<ClusterMessage>> r) {
                                         OnRead(room_id, epoch, std::move(r));
                                       });
  // Not sent (the command connection is down): RetryStalled asks again
  // once it is back.
  room.reading = st.ok();
  room.stalled = !st.ok();
}

void ClusterRoomFeed::OnRead(uint64_t room_id, uint64_t epoch, absl::StatusOr<std::vector<ClusterMessage>> result) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end() || it->second.epoch != epoch) return;
  it->second.reading = false;
  if (!result.ok()) {
    it->second.stalled = true;  // RetryStalled reads again
    return;
  }
  const bool full = result->size() >= read_batch_;
  for (ClusterMessage& m : *result) {
    it = rooms_.find(room_id);
    if (it == rooms_.end() || it->second.epoch != epoch) return;
    Room& room = it->second;
    if (m.seq < room.next) continue;
    if (m.seq > room.next) {
      // The stream starts after what we need: those were trimmed away.
      const uint64_t first = room.next;
      room.next = m.seq;
      if (gap_) gap_(room_id, first, m.seq - 1);
      it = rooms_.find(room_id);
      if (it == rooms_.end() || it->second.epoch != epoch) return;
    }
    ++it->second.next;
    deliver_(std::move(m));
  }
  it = rooms_.find(room_id);
  if (it == rooms_.end() || it->second.epoch != epoch) return;
  Room& room = it->second;
  Drain(room_id, room);
  it = rooms_.find(room_id);
  if (it == rooms_.end() || it->second.epoch != epoch) return;
  if (!full && !room.held.empty() && room.held.begin()->first > room.next) {
    // The stream had nothing more, yet a later message arrived live: the
    // seqs in between are gone (lost with Redis's data).
    const uint64_t first = room.next;
    const uint64_t last = room.held.begin()->first - 1;
    room.next = last + 1;
    if (gap_) gap_(room_id, first, last);
    it = rooms_.find(room_id);
    if (it == rooms_.end() || it->second.epoch != epoch) return;
    Drain(room_id, it->second);
    it = rooms_.find(room_id);
    if (it == rooms_.end() || it->second.epoch != epoch) return;
  }
  Room& now = it->second;
  if (full || now.read_again || now.dropped || (!now.held.empty() && now.held.begin()->first > now.next)) {
    now.read_again = false;
    now.dropped = false;
    CatchUp(room_id, now);
  }
}

}  // namespace muxchat::server
