#include "src/server/chat_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/server/chat_frame.h"
#include "src/server/name_rules.h"
#include "src/wire/frame_codec.h"

namespace muxchat::server {

ChatService::ChatService(const ServerOptions& options, Logger* logger)
    : options_(options), logger_(logger), rooms_(options.max_rooms, options.history) {
  limits_.set_max_frame_bytes(options.max_frame_bytes);
  limits_.set_max_text_bytes(options.max_text_bytes);
  limits_.set_max_name_bytes(options.max_room_name_bytes);
  limits_.set_max_nickname_bytes(kMaxNicknameBytes);
  limits_.set_max_rooms_per_connection(options.max_rooms_per_connection);
  limits_.set_history(options.history);
  limits_.set_max_members_per_room(options.max_members_per_room);
  limits_.set_max_rooms(options.max_rooms);
  limits_.set_messages_per_second(options.messages_per_second);
  limits_.set_keepalive_seconds(static_cast<uint32_t>(absl::ToInt64Seconds(options.keepalive_interval)));
}

void ChatService::HandleFrame(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  request_status_ = v1::SUCCESS;
  DispatchFrame(conn, f, now);
  metrics_->CountRequest(f.body_case(), request_status_);
}

void ChatService::DispatchFrame(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  if (f.body_case() == v1::ClientFrame::kPong) return;  // keepalive answer; activity already noted
  // Every request costs a token, not only sends: a loop of ListRooms,
  // Join/Leave or Hello makes the server work for everyone too.
  if (!conn->TakeRequestToken(now, options_.messages_per_second, options_.message_burst)) {
    if (options_.max_rate_violations > 0 && conn->rate_violations() >= options_.max_rate_violations) {
      request_status_ = v1::FAILURE_RATE_LIMITED;
      conn->Close(CloseReason::kFlooding, v1::FAILURE_RATE_LIMITED, "disconnected for flooding");
      return;
    }
    ReplyFailure(conn, f, v1::FAILURE_RATE_LIMITED,
                 absl::StrCat("rate limit of ", options_.messages_per_second, " requests per second exceeded"));
    return;
  }
  if (f.body_case() == v1::ClientFrame::kHello) {
    HandleHello(conn, f);
    return;
  }
  if (!conn->logged_in()) {
    request_status_ = v1::FAILURE_HANDSHAKE;
    conn->Close(CloseReason::kHandshakeError, v1::FAILURE_HANDSHAKE, "the first request must be Hello");
    return;
  }
  switch (f.body_case()) {
    case v1::ClientFrame::kCreateRoom: return HandleCreate(conn, f, now);
    case v1::ClientFrame::kJoinRoom: return HandleJoin(conn, f);
    case v1::ClientFrame::kLeaveRoom: return HandleLeave(conn, f);
    case v1::ClientFrame::kDeleteRoom: return HandleDelete(conn, f);
    case v1::ClientFrame::kListRooms: return HandleList(conn, f);
    case v1::ClientFrame::kSendMessage: return HandleSend(conn, f, now);
    case v1::ClientFrame::kPing: {
      v1::ServerFrame out;
      out.set_request_id(f.request_id());
      out.mutable_pong()->set_nonce(f.ping().nonce());
      conn->Send(out);
      return;
    }
    default:
      ReplyFailure(conn, f, v1::FAILURE_INVALID, "empty or unknown request");
  }
}

void ChatService::ReplyFailure(Connection* conn, const v1::ClientFrame& f, v1::Status status,
                               const std::string& message) {
  request_status_ = status;
  v1::ServerFrame out;
  out.set_request_id(f.request_id());
  out.set_room_id(f.room_id());
  out.mutable_reply()->set_status(status);
  out.mutable_reply()->set_message(message);
  conn->Send(out);
}

void ChatService::HandleHello(Connection* conn, const v1::ClientFrame& f) {
  const v1::Hello& hello = f.hello();
  if (conn->logged_in()) {
    ReplyFailure(conn, f, v1::FAILURE_HANDSHAKE, "already logged in");
    return;
  }
  if (hello.protocol_version() != wire::kProtocolVersion) {
    request_status_ = v1::FAILURE_VERSION_MISMATCH;
    conn->Close(CloseReason::kHandshakeError, v1::FAILURE_VERSION_MISMATCH,
                absl::StrCat("unsupported protocol version ", hello.protocol_version(), "; this server speaks ",
                             wire::kProtocolVersion));
    return;
  }
  if (absl::Status st = ValidateName(hello.nickname(), kMaxNicknameBytes, "nickname"); !st.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, std::string(st.message()));
    return;
  }
  std::string folded = FoldName(hello.nickname());
  if (nicknames_.contains(folded)) {
    ReplyFailure(conn, f, v1::FAILURE_ALREADY_EXISTS, absl::StrCat("nickname '", hello.nickname(), "' is taken"));
    return;
  }
  nicknames_.emplace(folded, conn);
  conn->LogIn(hello.nickname(), std::move(folded));
  ++metrics_->logins;
  logger_->Log(LogLevel::kInfo, "conn %d logged in as %s (%s)", conn->id(), hello.nickname(), hello.client_name());
  v1::ServerFrame out;
  out.set_request_id(f.request_id());
  v1::Welcome* w = out.mutable_welcome();
  w->set_session_id(conn->id());
  w->set_server_version(kServerVersion);
  w->set_protocol_version(wire::kProtocolVersion);
  w->set_nickname(hello.nickname());
  *w->mutable_limits() = limits_;
  conn->Send(out);
}

void ChatService::HandleCreate(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const std::string& name = f.create_room().name();
  if (absl::Status st = ValidateName(name, options_.max_room_name_bytes, "room name"); !st.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, std::string(st.message()));
    return;
  }
  absl::StatusOr<Room*> room = rooms_.Create(name, conn->nickname(), now);
  if (!room.ok()) {
    ReplyFailure(conn, f,
                 room.status().code() == absl::StatusCode::kAlreadyExists ? v1::FAILURE_ALREADY_EXISTS
                                                                          : v1::FAILURE_LIMIT_REACHED,
                 std::string(room.status().message()));
    return;
  }
  logger_->Log(LogLevel::kInfo, "room %d '%s' created by %s", (*room)->id(), name, conn->nickname());
  v1::ServerFrame out;
  SuccessReply(&out, f, **room, absl::StrCat("room '", name, "' created"));
  conn->Send(out);
}

Room* ChatService::FindRoomOrReply(Connection* conn, const v1::ClientFrame& f, absl::string_view name) {
  Room* room = name.empty() ? rooms_.FindById(f.room_id()) : rooms_.FindByName(name);
  if (room == nullptr) {
    ReplyFailure(conn, f, v1::FAILURE_NOT_EXISTS,
                 name.empty() ? absl::StrCat("no room with ID ", f.room_id()) : absl::StrCat("no room named '", name, "'"));
  }
  return room;
}

Room* ChatService::FindMembershipOrReply(Connection* conn, const v1::ClientFrame& f, absl::string_view refusal) {
  Room* room = FindRoomOrReply(conn, f, "");
  if (room != nullptr && !room->HasMember(conn)) {
    ReplyFailure(conn, f, v1::FAILURE_NOT_MEMBER, absl::StrCat(refusal, " '", room->name(), "'"));
    return nullptr;
  }
  return room;
}

v1::Reply* ChatService::SuccessReply(v1::ServerFrame* out, const v1::ClientFrame& f, const Room& room,
                                     std::string message) {
  out->set_request_id(f.request_id());
  out->set_room_id(room.id());
  v1::Reply* r = out->mutable_reply();
  r->set_status(v1::SUCCESS);
  r->set_message(std::move(message));
  r->set_room_id(room.id());
  r->set_room_name(room.name());
  r->set_member_count(static_cast<uint32_t>(room.member_count()));
  return r;
}

void ChatService::HandleJoin(Connection* conn, const v1::ClientFrame& f) {
  Room* room = FindRoomOrReply(conn, f, f.join_room().name());
  if (room == nullptr) return;
  v1::ServerFrame out;
  if (room->HasMember(conn)) {
    SuccessReply(&out, f, *room, absl::StrCat("already in '", room->name(), "'"))->set_last_seq(room->last_seq());
    conn->Send(out);
    return;
  }
  if (conn->rooms().size() >= options_.max_rooms_per_connection) {
    ReplyFailure(conn, f, v1::FAILURE_LIMIT_REACHED,
                 absl::StrCat("a connection may be in at most ", options_.max_rooms_per_connection, " rooms"));
    return;
  }
  if (room->member_count() >= options_.max_members_per_room) {
    ReplyFailure(conn, f, v1::FAILURE_LIMIT_REACHED,
                 absl::StrCat("room '", room->name(), "' is full (", options_.max_members_per_room, " members)"));
    return;
  }
  room->AddMember(conn);
  conn->rooms().insert(room->id());
  v1::Reply* r = SuccessReply(&out, f, *room, absl::StrCat("joined '", room->name(), "'"));
  r->set_last_seq(room->last_seq());
  r->set_history_count(static_cast<uint32_t>(room->history().size()));
  conn->Send(out);

  // The replay is this member's alone: encoded straight into its queue, in
  // one reservation, not one shared frame per entry.
  size_t replay_bytes = 0;
  for (const HistoryEntry& e : room->history()) replay_bytes += ChatFrameSize(room->id(), e, /*replay=*/true);
  if (char* out = replay_bytes > 0 ? conn->SendReserved(replay_bytes) : nullptr) {
    for (const HistoryEntry& e : room->history()) {
      WriteChatFrame(room->id(), e, /*replay=*/true, out);
      out += ChatFrameSize(room->id(), e, /*replay=*/true);
    }
  }

  v1::ServerFrame joined;
  joined.set_room_id(room->id());
  joined.mutable_member_joined()->set_nickname(conn->nickname());
  joined.mutable_member_joined()->set_member_count(static_cast<uint32_t>(room->member_count()));
  Broadcast(*room, joined, conn);
}

void ChatService::HandleLeave(Connection* conn, const v1::ClientFrame& f) {
  Room* room = FindMembershipOrReply(conn, f, "not a member of");
  if (room == nullptr) return;
  RemoveMember(room, conn, "left");
  v1::ServerFrame out;
  SuccessReply(&out, f, *room, absl::StrCat("left '", room->name(), "'"));
  conn->Send(out);
}

void ChatService::HandleDelete(Connection* conn, const v1::ClientFrame& f) {
  Room* room = FindRoomOrReply(conn, f, f.delete_room().name());
  if (room == nullptr) return;
  if (FoldName(room->owner()) != conn->folded_nickname()) {
    ReplyFailure(conn, f, v1::FAILURE_PERMISSION_DENIED,
                 absl::StrCat("only the owner (", room->owner(), ") may delete '", room->name(), "'"));
    return;
  }
  v1::ServerFrame closed;
  closed.set_room_id(room->id());
  closed.mutable_room_closed()->set_name(room->name());
  closed.mutable_room_closed()->set_closed_by(conn->nickname());
  closed.mutable_room_closed()->set_reason("deleted by owner");
  Broadcast(*room, closed, nullptr);
  for (Connection* member : room->members()) member->rooms().erase(room->id());
  std::unique_ptr<Room> gone = rooms_.Remove(room->id());
  logger_->Log(LogLevel::kInfo, "room %d '%s' deleted by %s", gone->id(), gone->name(), conn->nickname());
  v1::ServerFrame out;
  SuccessReply(&out, f, *gone, absl::StrCat("room '", gone->name(), "' deleted"))->clear_member_count();
  conn->Send(out);
}

void ChatService::HandleList(Connection* conn, const v1::ClientFrame& f) {
  v1::ServerFrame out;
  out.set_request_id(f.request_id());
  v1::Reply* r = out.mutable_reply();
  r->set_status(v1::SUCCESS);
  const std::vector<const Room*> sorted = rooms_.SortedByName();
  r->set_total_rooms(static_cast<uint32_t>(sorted.size()));
  // Clients size their decoders by max_frame_bytes, so the list stops short
  // of it; total_rooms tells the client how many it did not get.
  const size_t budget = options_.max_frame_bytes > 512 ? options_.max_frame_bytes - 512 : options_.max_frame_bytes;
  size_t used = 0;
  for (const Room* room : sorted) {
    used += room->name().size() + room->owner().size() + 56;  // tags, lengths and varints: at most 56 bytes
    if (used > budget) break;
    v1::RoomInfo* info = r->add_rooms();
    info->set_room_id(room->id());
    info->set_name(room->name());
    info->set_member_count(static_cast<uint32_t>(room->member_count()));
    info->set_owner(room->owner());
    info->set_created_unix_micros(absl::ToUnixMicros(room->created()));
    info->set_message_count(room->last_seq());
  }
  r->set_message(r->rooms_size() == static_cast<int>(sorted.size())
                     ? absl::StrCat(sorted.size(), " rooms")
                     : absl::StrCat(r->rooms_size(), " of ", sorted.size(), " rooms (list cut to fit a frame)"));
  conn->Send(out);
}

void ChatService::HandleSend(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  Room* room = FindMembershipOrReply(conn, f, "join before sending to");
  if (room == nullptr) return;
  const std::string& text = f.send_message().text();
  if (absl::Status st = ValidateMessageText(text, options_.max_text_bytes); !st.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, std::string(st.message()));
    return;
  }
  const HistoryEntry& e = room->Record(conn->nickname(), text, now);
  ++metrics_->messages_accepted;
  // Encoded once, straight from the history entry, into the shared block;
  // every member's queue references those same bytes.
  const size_t size = ChatFrameSize(room->id(), e, /*replay=*/false);
  const size_t begin = PlaceInBlock(size);
  WriteChatFrame(room->id(), e, /*replay=*/false, block_.MutableData() + begin);
  SendToMembers(*room, begin, begin + size, nullptr);
}

size_t ChatService::PlaceInBlock(size_t n) {
  if (block_.remaining() < n) block_ = wire::SharedFrame::AllocateBlock(std::max(kBlockBytes, n));
  return static_cast<size_t>(block_.Extend(n) - block_.data());
}

void ChatService::SendToMembers(const Room& room, size_t begin, size_t end, const Connection* skip) {
  for (Connection* member : room.members()) {
    if (member == skip) continue;
    member->SendSlice(block_, begin, end);
    ++metrics_->deliveries;
  }
}

void ChatService::Broadcast(const Room& room, const v1::ServerFrame& frame, const Connection* skip) {
  const size_t body = frame.ByteSizeLong();
  const size_t begin = PlaceInBlock(wire::kLengthPrefixBytes + body);
  char* out = block_.MutableData() + begin;
  wire::EncodeLength(static_cast<uint32_t>(body), out);
  frame.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out + wire::kLengthPrefixBytes));
  SendToMembers(room, begin, begin + wire::kLengthPrefixBytes + body, skip);
}

void ChatService::RemoveMember(Room* room, Connection* conn, const char* reason) {
  room->RemoveMember(conn);
  conn->rooms().erase(room->id());
  v1::ServerFrame left;
  left.set_room_id(room->id());
  left.mutable_member_left()->set_nickname(conn->nickname());
  left.mutable_member_left()->set_member_count(static_cast<uint32_t>(room->member_count()));
  left.mutable_member_left()->set_reason(reason);
  Broadcast(*room, left, nullptr);
}

void ChatService::OnDisconnect(Connection* conn) {
  const char* reason = conn->close_reason() == CloseReason::kClientClosed ? "disconnected"
                                                                          : CloseReasonName(conn->close_reason());
  // Copy: RemoveMember edits the set.
  std::vector<uint64_t> ids(conn->rooms().begin(), conn->rooms().end());
  for (uint64_t id : ids) {
    if (Room* room = rooms_.FindById(id)) RemoveMember(room, conn, reason);
  }
  conn->rooms().clear();
  if (conn->logged_in() || !conn->folded_nickname().empty()) {
    auto it = nicknames_.find(conn->folded_nickname());
    if (it != nicknames_.end() && it->second == conn) nicknames_.erase(it);
  }
}

}  // namespace muxchat::server
