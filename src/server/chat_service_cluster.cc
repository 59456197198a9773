// ChatService in cluster mode (--cluster_redis): rooms and their messages
// live in Redis and are shared by every node (docs/SCALING.md). What stays
// local is what is about connections: members, presence on this node, the
// shared-block fan-out. A node follows (subscribes to) a room while it has
// local members, and keeps a ring of the room's recent messages only then.
#include <functional>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/server/chat_service.h"
#include "src/server/cluster_node.h"
#include "src/server/name_rules.h"

namespace muxchat::server {

void ChatService::AttachCluster(ClusterNode* node) {
  cluster_ = node;
  ClusterNode::Handlers h;
  h.message = [this](ClusterMessage&& m) { OnClusterMessage(std::move(m)); };
  h.gap = [this](uint64_t room_id, uint64_t first, uint64_t last) { OnClusterGap(room_id, first, last); };
  h.room_event = [this](const ClusterRoomEvent& e) { OnClusterRoomEvent(e); };
  h.rooms_loaded = [this](std::vector<ClusterRoomRecord> rooms) { OnClusterRoomsLoaded(std::move(rooms)); };
  h.presence = [this](uint64_t room_id, absl::string_view payload) { OnClusterPresence(room_id, payload); };
  h.subscribed = [this](uint64_t room_id) { OnClusterSubscribed(room_id); };
  h.registry_lost = [this] {
    std::vector<std::pair<std::string, ClusterRoomRecord>> mine;
    for (const auto& [folded, room] : rooms_.by_folded_name()) {
      ClusterRoomRecord r;
      r.id = room->id();
      r.name = room->name();
      r.owner_account_id = room->owner_identity().account_id;
      r.owner_name = room->owner();
      r.owner_node = room->owner_identity().guest_conn_id != 0 ? cluster_->instance() : "";
      r.owner_conn_id = room->owner_identity().guest_conn_id;
      r.created_unix_micros = absl::ToUnixMicros(room->created());
      mine.emplace_back(folded, std::move(r));
    }
    if (!mine.empty()) {
      logger_->Log(LogLevel::kWarn, "cluster: Redis lost its data (restarted without persistence?): putting back %d rooms",
                   mine.size());
    }
    return mine;
  };
  h.presence_snapshot = [this] {
    ClusterPresence::Snapshot now;
    for (const auto& [room_id, state] : cluster_rooms_) {
      const Room* room = rooms_.FindById(room_id);
      if (!state.following || room == nullptr) continue;
      for (const Connection* member : room->members()) now.members.push_back({room_id, member->id(), member->nickname()});
    }
    for (const auto& [folded, conn] : nicknames_) now.guests.push_back({folded, conn->id()});
    return now;
  };
  h.status = [this](bool up, const absl::Status& why) {
    if (up) {
      logger_->Log(LogLevel::kInfo, "cluster: connected to Redis %s:%d as node '%s'", cluster_->options().redis.host,
                   cluster_->options().redis.port, cluster_->name());
    } else {
      logger_->Log(LogLevel::kWarn, "cluster: Redis unreachable (%s): sends and room changes are refused",
                   std::string(why.message()));
    }
  };
  node->SetHandlers(std::move(h));
}

std::string ChatService::ClusterUnavailable() const {
  return "the cluster's Redis is unreachable: nothing was stored; try again shortly";
}

Room* ChatService::AdoptClusterRoom(const ClusterRoomRecord& r) {
  if (Room* room = rooms_.FindById(r.id)) return room;
  // A name held locally by another ID is a room deleted while this node did
  // not hear it (the registry says so): the registry wins.
  if (Room* stale = rooms_.FindByName(r.name)) CloseRoom(stale, "", "deleted");
  RoomOwner owner;
  owner.account_id = r.owner_account_id;
  owner.guest_conn_id = r.owner_account_id == 0 && r.owner_node == cluster_->instance() ? r.owner_conn_id : 0;
  owner.name = r.owner_name;
  absl::StatusOr<Room*> room =
      rooms_.Restore(r.id, r.name, std::move(owner), absl::FromUnixMicros(r.created_unix_micros), 0);
  if (!room.ok()) {
    logger_->Log(LogLevel::kWarn, "cluster: room %d '%s' not adopted: %s", r.id, r.name,
                 std::string(room.status().message()));
    return nullptr;
  }
  return *room;
}

void ChatService::OnClusterRoomsLoaded(std::vector<ClusterRoomRecord> records) {
  absl::flat_hash_set<uint64_t> ids;
  for (const ClusterRoomRecord& r : records) ids.insert(r.id);
  std::vector<uint64_t> gone;
  for (const auto& [folded, room] : rooms_.by_folded_name()) {
    if (!ids.contains(room->id())) gone.push_back(room->id());
  }
  for (uint64_t id : gone) {
    if (Room* room = rooms_.FindById(id)) CloseRoom(room, "", "deleted");
  }
  for (const ClusterRoomRecord& r : records) AdoptClusterRoom(r);
  logger_->Log(LogLevel::kInfo, "cluster: %d rooms in the registry", rooms_.size());
}

void ChatService::OnClusterRoomEvent(const ClusterRoomEvent& e) {
  if (e.kind == ClusterRoomEvent::Kind::kCreated) {
    AdoptClusterRoom(e.room);
    return;
  }
  if (Room* room = rooms_.FindById(e.room.id)) CloseRoom(room, e.closed_by, "deleted by owner");
}

void ChatService::ClusterCreate(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const std::string& name = f.create_room().name();
  if (Room* existing = rooms_.FindByName(name)) {
    ReplyFailure(conn, f, v1::FAILURE_ALREADY_EXISTS, absl::StrCat("room '", existing->name(), "' already exists"),
                 existing);
    return;
  }
  if (!cluster_->up()) {
    ReplyFailure(conn, f, v1::FAILURE_STORAGE, ClusterUnavailable());
    return;
  }
  ClusterRoomRecord r;
  r.name = name;
  r.owner_account_id = conn->account_id();
  r.owner_name = conn->nickname();
  r.owner_node = cluster_->instance();
  r.owner_conn_id = conn->account_id() == 0 ? conn->id() : 0;
  r.created_unix_micros = absl::ToUnixMicros(now);
  const uint64_t conn_id = conn->id();
  absl::Status st = cluster_->rooms().Create(
      FoldName(name), r, options_.max_rooms, [this, conn_id, f](absl::StatusOr<ClusterRoomRecord> created) {
        Connection* c = FindConnection(conn_id);
        if (!created.ok()) {
          if (c == nullptr) return;
          switch (created.status().code()) {
            case absl::StatusCode::kAlreadyExists: {
              Room* existing = rooms_.FindByName(f.create_room().name());
              ReplyFailure(c, f, v1::FAILURE_ALREADY_EXISTS,
                           absl::StrCat("room '", f.create_room().name(), "' already exists"), existing);
              return;
            }
            case absl::StatusCode::kResourceExhausted:
              ReplyFailure(c, f, v1::FAILURE_LIMIT_REACHED, std::string(created.status().message()));
              return;
            default:
              ReplyFailure(c, f, v1::FAILURE_STORAGE,
                           absl::StrCat("room not created: ", created.status().message(), "; try again shortly"));
              return;
          }
        }
        Room* room = AdoptClusterRoom(*created);
        if (room == nullptr || c == nullptr) return;
        logger_->Log(LogLevel::kInfo, "room %d '%s' created by %s", room->id(), room->name(), c->nickname());
        v1::ServerFrame out;
        SuccessReply(&out, f, *room, absl::StrCat("room '", room->name(), "' created"));
        c->Send(out);
      });
  if (!st.ok()) ReplyFailure(conn, f, v1::FAILURE_STORAGE, ClusterUnavailable());
}

void ChatService::ClusterDelete(Connection* conn, const v1::ClientFrame& f, Room* room, v1::ServerFrame out) {
  if (!cluster_->up()) {
    ReplyFailure(conn, f, v1::FAILURE_STORAGE, ClusterUnavailable(), room);
    return;
  }
  const uint64_t conn_id = conn->id(), room_id = room->id();
  const std::string closed_by = conn->nickname();
  absl::Status st = cluster_->rooms().Delete(
      room_id, FoldName(room->name()), closed_by,
      [this, conn_id, room_id, closed_by, f, out = std::move(out)](absl::StatusOr<bool> deleted) {
        Connection* c = FindConnection(conn_id);
        if (!deleted.ok()) {
          if (c != nullptr) {
            ReplyFailure(c, f, v1::FAILURE_STORAGE,
                         absl::StrCat("room not deleted: ", deleted.status().message(), "; try again shortly"),
                         rooms_.FindById(room_id));
          }
          return;
        }
        // Closed here at once; the other nodes close it on the registry's event.
        if (Room* r = rooms_.FindById(room_id)) {
          logger_->Log(LogLevel::kInfo, "room %d '%s' deleted by %s", room_id, r->name(), closed_by);
          CloseRoom(r, closed_by, "deleted by owner");
        }
        if (c == nullptr) return;
        if (!*deleted) {
          ReplyFailure(c, f, v1::FAILURE_NOT_EXISTS, absl::StrCat("no room with ID ", room_id));
          return;
        }
        c->Send(out);
      });
  if (!st.ok()) ReplyFailure(conn, f, v1::FAILURE_STORAGE, ClusterUnavailable(), room);
}

bool ChatService::ClusterJoinWaits(Connection* conn, const v1::ClientFrame& f, Room* room) {
  if (ClusterFollowing(room->id())) return false;
  const uint64_t conn_id = conn->id(), room_id = room->id();
  ClusterFollow(room_id, [this, conn_id, room_id, f](const absl::Status& st) {
    Connection* c = FindConnection(conn_id);
    if (c == nullptr || c->closing()) return;
    Room* r = rooms_.FindById(room_id);
    if (r == nullptr) {
      ReplyFailure(c, f, v1::FAILURE_NOT_EXISTS, absl::StrCat("no room with ID ", room_id));
    } else if (!st.ok()) {
      ReplyFailure(c, f, v1::FAILURE_STORAGE, std::string(st.message()), r);
    } else {
      JoinRoom(c, f, r);
    }
  });
  return true;
}

bool ChatService::ClusterFollowing(uint64_t room_id) const {
  auto it = cluster_rooms_.find(room_id);
  return it != cluster_rooms_.end() && it->second.following && !it->second.subscribing;
}

void ChatService::OnClusterSubscribed(uint64_t room_id) {
  auto it = cluster_rooms_.find(room_id);
  if (it == cluster_rooms_.end() || !it->second.subscribing) return;
  it->second.subscribing = false;
  std::vector<std::function<void(const absl::Status&)>> waiters = std::move(it->second.waiters);
  it->second.waiters.clear();
  for (auto& w : waiters) w(absl::OkStatus());
  if (Room* r = rooms_.FindById(room_id)) MaybeUnfollow(r);  // every waiter went meanwhile
}

void ChatService::ClusterFollow(uint64_t room_id, std::function<void(const absl::Status&)> then) {
  ClusterRoomState& state = cluster_rooms_[room_id];
  if (state.following && !state.subscribing) {
    then(absl::OkStatus());
    return;
  }
  state.waiters.push_back(std::move(then));
  if (state.warming || state.subscribing) return;
  auto fail_all = [this, room_id](const absl::Status& st) {
    auto it = cluster_rooms_.find(room_id);
    if (it == cluster_rooms_.end()) return;
    std::vector<std::function<void(const absl::Status&)>> waiters = std::move(it->second.waiters);
    cluster_rooms_.erase(it);
    for (auto& w : waiters) w(st);
  };
  if (!cluster_->up()) {
    fail_all(absl::UnavailableError(ClusterUnavailable()));
    return;
  }
  // Read the room's newest messages first, then subscribe after their last
  // seq: the feed catches up on whatever is published between the two.
  state.warming = true;
  state.epoch = ++cluster_epochs_;
  const uint64_t epoch = state.epoch;
  absl::Status st = cluster_->rooms().Latest(
      room_id, std::max<uint32_t>(options_.history, 1),
      [this, room_id, epoch, fail_all](absl::StatusOr<std::vector<ClusterMessage>> latest) {
        auto it = cluster_rooms_.find(room_id);
        if (it == cluster_rooms_.end() || it->second.epoch != epoch) return;
        Room* room = rooms_.FindById(room_id);
        if (!latest.ok() || room == nullptr) {
          fail_all(room == nullptr ? absl::NotFoundError(absl::StrCat("no room with ID ", room_id))
                                   : absl::UnavailableError(absl::StrCat("cannot join now: ", latest.status().message(),
                                                                         "; try again shortly")));
          return;
        }
        it->second.warming = false;
        it->second.following = true;
        // Joins are answered once the subscription is confirmed
        // (OnClusterSubscribed): a join or leave announced before it would
        // not reach this node's members.
        it->second.subscribing = true;
        const uint64_t tail = latest->empty() ? 0 : latest->back().seq;
        room->ResetHistory(0);
        if (options_.history > 0) {
          for (ClusterMessage& m : *latest) {
            room->Commit(HistoryEntry{std::move(m.sender), std::move(m.text), m.seq, m.timestamp_unix_micros,
                                      m.client_msg_id});
          }
        }
        room->Restore(tail);
        cluster_->Follow(room_id, tail);
      });
  if (!st.ok()) fail_all(absl::UnavailableError(ClusterUnavailable()));
}

void ChatService::ClusterFollowAll(const std::vector<uint64_t>& room_ids, std::function<void(bool all)> then) {
  if (cluster_ == nullptr) {  // accounts shared, rooms not (tests of the account paths alone)
    then(true);
    return;
  }
  // Pinned until `then` has run, so that a room followed early is not
  // dropped (no member yet) while the others are read.
  std::vector<uint64_t> pinned;
  for (uint64_t id : room_ids) {
    if (rooms_.FindById(id) == nullptr) continue;
    ++cluster_rooms_[id].pins;
    pinned.push_back(id);
  }
  auto left = std::make_shared<size_t>(pinned.size() + 1);
  auto all = std::make_shared<bool>(true);
  auto done = [this, left, all, pinned, then = std::move(then)](const absl::Status& st) mutable {
    // A room deleted meanwhile is no failure: there is nothing to rejoin.
    if (!st.ok() && !absl::IsNotFound(st)) *all = false;
    if (--*left > 0) return;
    then(*all);
    for (uint64_t id : pinned) {
      auto it = cluster_rooms_.find(id);
      if (it == cluster_rooms_.end()) continue;
      if (it->second.pins > 0) --it->second.pins;
      if (Room* room = rooms_.FindById(id)) MaybeUnfollow(room);
    }
  };
  for (uint64_t id : pinned) ClusterFollow(id, done);
  done(absl::OkStatus());
}

void ChatService::MaybeUnfollow(Room* room) {
  if (room->member_count() > 0) return;
  auto it = cluster_rooms_.find(room->id());
  if (it == cluster_rooms_.end() || !it->second.following || it->second.subscribing || it->second.pins > 0) return;
  cluster_->Unfollow(room->id());
  cluster_rooms_.erase(it);
  room->ResetHistory(room->last_seq());
}

void ChatService::ForgetClusterRoom(uint64_t room_id) {
  auto it = cluster_rooms_.find(room_id);
  if (it == cluster_rooms_.end()) return;
  if (it->second.following) cluster_->Unfollow(room_id);
  std::vector<std::function<void(const absl::Status&)>> waiters = std::move(it->second.waiters);
  cluster_rooms_.erase(it);
  // Waiters see the room gone (it is still in the registry while it closes:
  // they answer NOT_EXISTS once it is removed, so run them after).
  for (auto& w : waiters) pending_room_waiters_.push_back(std::move(w));
}

void ChatService::ClusterAccept(Room* room, Connection* sender, const v1::ClientFrame& f, const std::string& text,
                                uint64_t client_msg_id, bool post) {
  if (!cluster_->up()) {
    ReplyFailure(sender, f, v1::FAILURE_STORAGE, ClusterUnavailable(), room);
    return;
  }
  PublishRequest req;
  req.room_id = room->id();
  req.sender = sender->nickname();
  req.sender_account_id = sender->account_id();
  req.client_msg_id = client_msg_id;
  // An account's ids are its own on every node; a guest's only on its
  // connection (it cannot resume elsewhere).
  if (client_msg_id != 0) {
    req.dedupe_scope = sender->account_id() != 0 ? absl::StrCat("a", sender->account_id())
                                                 : absl::StrCat("g", cluster_->instance(), "-", sender->id());
  }
  req.text = text;
  req.seq_floor = room->last_seq();
  req.require_registered = true;
  const uint64_t conn_id = sender->id(), room_id = room->id();
  // The answer needs only these of the request's frame: a copy of the whole
  // frame (its text, its body message) was three allocations per message.
  const uint64_t request_id = f.request_id(), frame_room_id = f.room_id();
  absl::Status st = cluster_->publisher().Publish(req, [this, conn_id, room_id, request_id, frame_room_id, post](
                                                           absl::StatusOr<PublishResult> r) {
    Connection* c = FindConnection(conn_id);
    if (c == nullptr) return;
    v1::ClientFrame f;
    f.set_request_id(request_id);
    f.set_room_id(frame_room_id);
    Room* room = rooms_.FindById(room_id);
    if (absl::IsNotFound(r.status())) {
      ReplyFailure(c, f, v1::FAILURE_NOT_EXISTS, absl::StrCat("room ", room_id, " was deleted"));
      return;
    }
    if (!r.ok()) {
      ReplyFailure(c, f, v1::FAILURE_STORAGE,
                   r.status().code() == absl::StatusCode::kUnavailable
                       ? "the cluster's Redis went away before confirming: the message may or may not be in the "
                         "room; resend it with the same client_msg_id"
                       : absl::StrCat("not sent: ", r.status().message()),
                   room);
      return;
    }
    if (r->duplicate) {
      v1::ServerFrame out;
      out.set_request_id(f.request_id());
      out.set_room_id(room_id);
      v1::Reply* reply = out.mutable_reply();
      reply->set_status(v1::SUCCESS);
      reply->set_message(absl::StrCat("already sent as message ", r->seq));
      reply->set_room_id(room_id);
      if (room != nullptr) reply->set_room_name(room->name());
      reply->set_last_seq(r->seq);
      c->Send(out);
      return;
    }
    // A SendMessage's acknowledgement is the sender's own copy, which comes
    // back through the room's channel like everyone's.
    if (post && room != nullptr) ReplyPosted(c, f, *room, r->seq);
  });
  if (!st.ok()) ReplyFailure(sender, f, v1::FAILURE_STORAGE, ClusterUnavailable(), room);
}

void ChatService::OnClusterMessage(ClusterMessage&& m) {
  Room* room = rooms_.FindById(m.room_id);
  if (room == nullptr) return;
  auto it = cluster_rooms_.find(m.room_id);
  if (it == cluster_rooms_.end() || !it->second.following) return;
  Deliver(*room,
          room->Commit(HistoryEntry{std::move(m.sender), std::move(m.text), m.seq, m.timestamp_unix_micros, m.client_msg_id}));
}

void ChatService::OnClusterGap(uint64_t room_id, uint64_t first, uint64_t last) {
  Room* room = rooms_.FindById(room_id);
  if (room == nullptr) return;
  if (room->last_seq() < last) room->Restore(last);
  for (Connection* member : room->members()) SendGap(member, room_id, first, last, "cluster", 0);
}

void ChatService::OnClusterPresence(uint64_t room_id, absl::string_view payload) {
  Room* room = rooms_.FindById(room_id);
  absl::StatusOr<PresenceEvent> e = DecodePresenceEvent(payload);
  if (room == nullptr || !e.ok()) return;
  const bool own = e->node == cluster_->instance();
  v1::ServerFrame out;
  out.set_room_id(room_id);
  if (e->joined) {
    out.mutable_member_joined()->set_nickname(e->nickname);
    out.mutable_member_joined()->set_member_count(e->member_count);
  } else {
    out.mutable_member_left()->set_nickname(e->nickname);
    out.mutable_member_left()->set_member_count(e->member_count);
    out.mutable_member_left()->set_reason(e->reason);
  }
  // The joiner itself is told by its Reply, as on one node.
  Broadcast(*room, out, own ? FindConnection(e->conn_id) : nullptr);
}

bool ChatService::ClaimClusterNickname(Connection* conn, const v1::ClientFrame& f, const std::string& folded) {
  const uint64_t conn_id = conn->id();
  auto finish = [this, f](Connection* c) {
    c->auth_pending = false;
    metrics_->CountRequest(f.body_case(), request_status_);
  };
  absl::Status sent =
      cluster_->presence().ClaimNickname(folded, conn_id, [this, conn_id, f, folded, finish](absl::StatusOr<bool> got) {
        Connection* c = FindConnection(conn_id);
        if (c == nullptr) {
          if (got.ok() && *got) cluster_->presence().ReleaseNickname(folded, conn_id);
          return;
        }
        request_status_ = v1::SUCCESS;
        const std::string& nickname = f.hello().nickname();
        if (!got.ok()) {
          ReplyFailure(c, f, v1::FAILURE_STORAGE, ClusterUnavailable());
        } else if (!*got || nicknames_.contains(folded)) {
          if (*got) cluster_->presence().ReleaseNickname(folded, conn_id);
          ReplyFailure(c, f, v1::FAILURE_ALREADY_EXISTS,
                       absl::StrCat("nickname '", nickname, "' is taken (by a guest on this cluster)"));
        } else {
          nicknames_.emplace(folded, c);
          CompleteLogin(c, f, nickname, nullptr, "", "", absl::InfinitePast());
        }
        finish(c);
      });
  return WaitForCluster(conn, f, sent, ClusterUnavailable());
}

void ChatService::ClusterListMembers(Connection* conn, const v1::ClientFrame& f, Room* room) {
  const uint64_t conn_id = conn->id(), room_id = room->id();
  absl::Status st = cluster_->presence().Members(
      room_id, [this, conn_id, room_id, f](absl::StatusOr<std::vector<std::string>> names) {
        Connection* c = FindConnection(conn_id);
        Room* r = rooms_.FindById(room_id);
        if (c == nullptr) return;
        if (r == nullptr) {
          ReplyFailure(c, f, v1::FAILURE_NOT_EXISTS, absl::StrCat("no room with ID ", room_id));
          return;
        }
        if (!names.ok()) {
          ReplyFailure(c, f, v1::FAILURE_STORAGE, std::string(names.status().message()), r);
          return;
        }
        const std::string& after = f.list_members().after();
        const size_t total = names->size();
        std::vector<MemberName> rest;
        for (std::string& n : *names) {
          std::string folded = FoldName(n);
          if (folded > after) rest.push_back({std::move(folded), std::move(n)});
        }
        ReplyMemberPage(c, f, *r, std::move(rest), total);
      });
  if (!st.ok()) ReplyFailure(conn, f, v1::FAILURE_STORAGE, ClusterUnavailable(), room);
}

void ChatService::ClusterHistory(Connection* conn, const v1::ClientFrame& f, Room* room, bool forward,
                                 uint64_t after_seq, uint64_t before_seq, uint32_t limit) {
  const uint64_t conn_id = conn->id(), room_id = room->id();
  auto done = [this, conn_id, room_id, f](absl::StatusOr<std::vector<ClusterMessage>> read) {
    Connection* c = FindConnection(conn_id);
    Room* r = rooms_.FindById(room_id);
    if (c == nullptr) return;
    if (r == nullptr || !c->rooms().contains(room_id)) {
      ReplyFailure(c, f, v1::FAILURE_NOT_EXISTS, absl::StrCat("room ", room_id, " is gone or was left"));
      return;
    }
    if (!read.ok()) {
      ReplyFailure(c, f, v1::FAILURE_STORAGE, absl::StrCat("history unavailable: ", read.status().message()), r);
      return;
    }
    std::vector<HistoryEntry> entries;
    entries.reserve(read->size());
    for (ClusterMessage& m : *read) {
      entries.push_back(
          HistoryEntry{std::move(m.sender), std::move(m.text), m.seq, m.timestamp_unix_micros, m.client_msg_id});
    }
    v1::ServerFrame out;
    v1::Reply* reply = SuccessReply(&out, f, *r, absl::StrCat(entries.size(), " messages"));
    reply->set_history_count(static_cast<uint32_t>(entries.size()));
    reply->set_last_seq(r->last_seq());
    c->Send(out);
    Replay(c, room_id, entries.begin(), entries.end());
  };
  absl::Status st = forward ? cluster_->publisher().ReadAfter(room_id, after_seq, limit, std::move(done))
                            : cluster_->rooms().Before(room_id, before_seq, limit, std::move(done));
  if (!st.ok()) ReplyFailure(conn, f, v1::FAILURE_STORAGE, ClusterUnavailable(), room);
}

}  // namespace muxchat::server
