#include "src/server/cluster_subscriber.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace muxchat::server {

ClusterSubscriber::ClusterSubscriber(EventLoop* loop, ClusterOptions options, MessageCallback on_message,
                                     SubscribedCallback on_subscribed)
    : options_(std::move(options)),
      link_(loop, options_.redis),
      on_message_(std::move(on_message)),
      on_subscribed_(std::move(on_subscribed)) {
  link_.SetStatusCallback([this](RedisLinkState state, const absl::Status& why) { OnLinkStatus(state, why); });
}

void ClusterSubscriber::SetControlChannel(std::string channel, PayloadCallback on_payload,
                                          absl::AnyInvocable<void()> on_subscribed) {
  control_channel_ = std::move(channel);
  on_control_ = std::move(on_payload);
  on_control_subscribed_ = std::move(on_subscribed);
}

void ClusterSubscriber::Acquire(uint64_t room_id) {
  if (++rooms_[room_id].refs == 1) Sync(room_id);
}

void ClusterSubscriber::Release(uint64_t room_id) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end() || it->second.refs == 0) return;
  if (--it->second.refs == 0) Sync(room_id);
}

size_t ClusterSubscriber::subscribed_rooms() const {
  size_t n = 0;
  for (const auto& [id, room] : rooms_) n += room.subscribed ? 1 : 0;
  return n;
}

void ClusterSubscriber::Sync(uint64_t room_id) {
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return;
  Room& room = it->second;
  // One command per room at a time: hiredis 0.14 keeps one callback per
  // channel and drops it on the UNSUBSCRIBE confirmation, so a SUBSCRIBE
  // sent before an earlier UNSUBSCRIBE is answered would lose its messages.
  if (room.in_flight) return;
  const bool want = room.refs > 0;
  if (want == room.subscribed) {
    if (!want) rooms_.erase(it);
    return;
  }
  if (!link_.up()) {
    if (!want) rooms_.erase(it);  // nothing to undo: the connection is gone
    return;
  }
  const std::vector<std::string> args = {want ? "SUBSCRIBE" : "UNSUBSCRIBE",
                                         RoomChannel(options_.key_prefix, room_id)};
  if (link_.SubscribeModeCommand(args, &OnPushThunk, this).ok()) room.in_flight = true;
}

void ClusterSubscriber::OnLinkStatus(RedisLinkState state, const absl::Status& why) {
  if (state == RedisLinkState::kUp) {
    if (!control_channel_.empty()) (void)link_.SubscribeModeCommand({"SUBSCRIBE", control_channel_}, &OnPushThunk, this);
    std::vector<uint64_t> wanted;
    for (const auto& [id, room] : rooms_) {
      if (room.refs > 0) wanted.push_back(id);
    }
    for (uint64_t id : wanted) Sync(id);
  } else {
    // Subscriptions end with the connection.
    for (auto it = rooms_.begin(); it != rooms_.end();) {
      it->second.subscribed = false;
      it->second.in_flight = false;
      if (it->second.refs == 0) {
        rooms_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  if (status_cb_) status_cb_(state, why);
}

void ClusterSubscriber::OnPushThunk(redisAsyncContext*, void* reply, void* privdata) {
  // A null reply: the connection is going; OnLinkStatus cleans up.
  if (reply != nullptr) static_cast<ClusterSubscriber*>(privdata)->OnPush(static_cast<const redisReply*>(reply));
}

void ClusterSubscriber::OnPush(const redisReply* reply) {
  // RESP2 pushes: [kind, channel, payload-or-count].
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 || reply->element[0]->type != REDIS_REPLY_STRING ||
      reply->element[1]->type != REDIS_REPLY_STRING) {
    return;
  }
  const absl::string_view kind(reply->element[0]->str, reply->element[0]->len);
  const absl::string_view channel(reply->element[1]->str, reply->element[1]->len);
  if (!control_channel_.empty() && channel == control_channel_) {
    if (kind == "message" && reply->element[2]->type == REDIS_REPLY_STRING) {
      if (on_control_) on_control_(absl::string_view(reply->element[2]->str, reply->element[2]->len));
    } else if (kind == "subscribe" && on_control_subscribed_) {
      on_control_subscribed_();
    }
    return;
  }
  absl::StatusOr<uint64_t> room_id = ParseRoomChannel(options_.key_prefix, channel);
  if (!room_id.ok()) return;
  auto it = rooms_.find(*room_id);
  if (it == rooms_.end()) return;
  Room& room = it->second;
  if (kind == "message") {
    if (!room.subscribed || room.refs == 0 || reply->element[2]->type != REDIS_REPLY_STRING) return;
    const absl::string_view payload(reply->element[2]->str, reply->element[2]->len);
    if (!payload.empty() && payload.front() == 'p') {
      if (on_presence_) on_presence_(*room_id, payload);
      return;
    }
    // One script call's messages (one, or a batch), in order; delivered in
    // this same turn, so the node's fan-out writes them to each member
    // together.
    absl::StatusOr<std::vector<ClusterMessage>> messages = DecodeClusterPayload(*room_id, payload);
    if (!messages.ok()) {
      ++malformed_;
      return;
    }
    for (ClusterMessage& m : *messages) on_message_(std::move(m));
  } else if (kind == "subscribe") {
    room.in_flight = false;
    room.subscribed = true;
    const bool wanted = room.refs > 0;
    if (wanted && on_subscribed_) on_subscribed_(*room_id);
    Sync(*room_id);  // released meanwhile: unsubscribe now
  } else if (kind == "unsubscribe") {
    room.in_flight = false;
    room.subscribed = false;
    Sync(*room_id);  // acquired again meanwhile: subscribe again
  }
}

}  // namespace muxchat::server
