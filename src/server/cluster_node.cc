#include "src/server/cluster_node.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

namespace muxchat::server {
namespace {

std::string MakeInstanceName(const std::string& name) {
  uint32_t r = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r) != 1) r = static_cast<uint32_t>(::getpid());
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", r);
  return name + "." + hex;
}

}  // namespace

ClusterNode::ClusterNode(EventLoop* loop, ClusterOptions options, std::string node_name)
    : options_(std::move(options)),
      name_(std::move(node_name)),
      instance_(MakeInstanceName(name_)),
      feed_(
          &publisher_,  // only its address: the feed reads through it once started
          [this](ClusterMessage&& m) {
            if (handlers_.message) handlers_.message(std::move(m));
          },
          [this](uint64_t room_id, uint64_t first, uint64_t last) {
            if (handlers_.gap) handlers_.gap(room_id, first, last);
          }),
      publisher_(loop, options_),
      rooms_(publisher_.mutable_link(), options_.key_prefix),
      presence_(publisher_.mutable_link(), options_.key_prefix, instance_),
      subscriber_(
          loop, options_, [this](ClusterMessage&& m) { feed_.OnMessage(std::move(m)); },
          [this](uint64_t room_id) {
            feed_.OnSubscribed(room_id);
            if (handlers_.subscribed) handlers_.subscribed(room_id);
          }) {
  publisher_.SetStatusCallback([this](RedisLinkState, const absl::Status& why) { OnStatus(why); });
  subscriber_.SetStatusCallback([this](RedisLinkState, const absl::Status& why) { OnStatus(why); });
  subscriber_.SetControlChannel(
      ClusterRooms::ControlChannel(options_.key_prefix),
      [this](absl::string_view payload) {
        absl::StatusOr<ClusterRoomEvent> e = DecodeRoomEvent(payload);
        if (!e.ok()) return;
        if (load_pending_) events_during_load_.push_back(*e);
        if (handlers_.room_event) handlers_.room_event(*e);
      },
      [this] { LoadRooms(); });
  subscriber_.SetPresenceCallback([this](uint64_t room_id, absl::string_view payload) {
    if (handlers_.presence) handlers_.presence(room_id, payload);
  });
}

ClusterNode::~ClusterNode() { publisher_.DropPendingOnDestroy(); }

bool ClusterNode::ValidNodeName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void ClusterNode::Start() {
  publisher_.Start();
  subscriber_.Start();
}

void ClusterNode::OnStatus(const absl::Status& why) {
  if (!subscriber_.up()) rooms_loaded_ = false;  // events will be missed until the next confirmation
  if (load_pending_ && !load_in_flight_ && publisher_.up()) LoadRooms();
  const bool now_up = up();
  if (now_up == was_up_) return;
  was_up_ = now_up;
  if (now_up) AnnounceMembers();
  if (handlers_.status) handlers_.status(now_up, why);
}

void ClusterNode::LoadRooms() {
  // After every confirmation of the control channel: a room created or
  // deleted while this node was not subscribed is learnt here. Read on the
  // command connection, which may still be (re)connecting, or fail: then
  // again when it is up (OnStatus) and at every tick until it succeeds.
  load_pending_ = true;
  if (load_in_flight_) {
    load_again_ = true;  // a newer confirmation: read once more after this one
    return;
  }
  events_during_load_.clear();
  absl::Status st = rooms_.LoadAll([this](absl::StatusOr<ClusterRooms::Registry> registry) {
    load_in_flight_ = false;
    if (!registry.ok() || load_again_) {
      load_again_ = false;
      if (registry.ok()) LoadRooms();
      return;  // failed: retried by OnStatus or Tick
    }
    if (!registry->counter_present && handlers_.registry_lost) {
      // Redis lost its data (restarted without persistence): the rooms this
      // node has go back under their IDs, and the registry is read again
      // (their created events come with it).
      std::vector<std::pair<std::string, ClusterRoomRecord>> mine = handlers_.registry_lost();
      if (!mine.empty()) {
        rooms_.Restore(mine);
        LoadRooms();
        return;
      }
    }
    std::vector<ClusterRoomRecord>* rooms = &registry->rooms;
    load_pending_ = false;
    rooms_loaded_ = true;
    // The registry was read on the other connection: an event handled
    // before this reply may be newer than the read (or older: then it is
    // in the read already). Either way the event's outcome stands.
    for (const ClusterRoomEvent& e : events_during_load_) {
      auto same = [&e](const ClusterRoomRecord& r) { return r.id == e.room.id; };
      rooms->erase(std::remove_if(rooms->begin(), rooms->end(), same), rooms->end());
      if (e.kind == ClusterRoomEvent::Kind::kCreated) rooms->push_back(e.room);
    }
    events_during_load_.clear();
    if (handlers_.rooms_loaded) handlers_.rooms_loaded(std::move(registry->rooms));
    OnStatus(absl::OkStatus());
  });
  load_in_flight_ = st.ok();
}

void ClusterNode::AnnounceMembers() {
  // Whatever Redis holds of this node's members may be stale (leaves lost
  // while it was away, an earlier life under the same name, or removed as
  // dead): made to match what the node has now. Sent before anything else
  // on a new connection, so joins made from now on come after it.
  ClusterPresence::Snapshot now;
  if (handlers_.presence_snapshot) now = handlers_.presence_snapshot();
  presence_.Sync(now);
  beats_ = 0;
  Tick();
}

void ClusterNode::Tick() {
  if (load_pending_ && !load_in_flight_ && publisher_.up() && subscriber_.up()) LoadRooms();
  if (!up()) return;
  feed_.RetryStalled();
  const uint64_t beat = beats_++;
  presence_.Heartbeat([this, beat](bool registered) {
    // Not registered after the first beat: taken for dead meanwhile (a
    // stop, a slow link), its members removed by another node.
    if (registered && beat > 0) AnnounceMembers();
  });
  if (beat % 2 == 1) presence_.ReapDeadNodes();
}

void ClusterNode::Follow(uint64_t room_id, uint64_t after_seq) {
  feed_.Track(room_id, after_seq);
  subscriber_.Acquire(room_id);
}

void ClusterNode::Unfollow(uint64_t room_id) {
  subscriber_.Release(room_id);
  feed_.Untrack(room_id);
}

}  // namespace muxchat::server
