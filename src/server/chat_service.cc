#include "src/server/chat_service.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "src/server/chat_frame.h"
#include "src/server/name_rules.h"
#include "src/wire/frame_codec.h"

namespace muxchat::server {

namespace {

constexpr uint64_t kWidest64 = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kWidest32 = std::numeric_limits<uint32_t>::max();
// Room for a reply's human-readable message beyond the names it quotes.
constexpr size_t kReplyProseBytes = 160;
// What a ListRooms page needs besides its rooms and cursor: the message
// ("N of M rooms") and the growth of the reply's length varint.
constexpr size_t kListPageSlackBytes = 48;

size_t LengthDelimitedBytes(size_t n) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n;
}

// The largest frame either side may need under `o` with texts of
// `text_bytes`: each kind built with every field at its widest.
size_t LargestFrameBytes(const ServerOptions& o, uint32_t text_bytes) {
  const std::string text(text_bytes, 'x');
  const std::string nick(kMaxNicknameBytes, 'x');
  const std::string name(o.max_room_name_bytes, 'x');
  size_t largest = 0;
  auto consider = [&largest](const google::protobuf::MessageLite& m) { largest = std::max(largest, m.ByteSizeLong()); };

  v1::ServerFrame chat;  // a live or replayed ChatMessage
  chat.set_room_id(kWidest64);
  v1::ChatMessage* m = chat.mutable_chat_message();
  m->set_sender(nick);
  m->set_text(text);
  m->set_seq(kWidest64);
  m->set_timestamp_unix_micros(-1);  // negative: the widest varint
  m->set_replay(true);
  consider(chat);

  v1::ClientFrame send;
  send.set_request_id(kWidest64);
  send.set_room_id(kWidest64);
  send.mutable_send_message()->set_text(text);
  consider(send);
  v1::ClientFrame post = send;
  post.mutable_post_message()->set_room_name(name);
  post.mutable_post_message()->set_text(text);
  consider(post);

  v1::ServerFrame reply;  // any Reply: names, numbers and prose quoting names
  reply.set_request_id(kWidest64);
  reply.set_room_id(kWidest64);
  v1::Reply* r = reply.mutable_reply();
  r->set_status(v1::FAILURE_SERVER_FULL);
  r->set_message(std::string(kReplyProseBytes + o.max_room_name_bytes + kMaxNicknameBytes, 'x'));
  r->set_room_id(kWidest64);
  r->set_room_name(name);
  r->set_member_count(kWidest32);
  r->set_history_count(kWidest32);
  r->set_last_seq(kWidest64);
  consider(reply);

  v1::ServerFrame page;  // a ListRooms page must hold at least one room
  page.set_request_id(kWidest64);
  v1::Reply* p = page.mutable_reply();
  p->set_status(v1::SUCCESS);
  p->set_total_rooms(kWidest32);
  p->set_next_cursor(name);
  v1::RoomInfo* info = p->add_rooms();
  info->set_room_id(kWidest64);
  info->set_name(name);
  info->set_member_count(kWidest32);
  info->set_owner(nick);
  info->set_created_unix_micros(-1);
  info->set_message_count(kWidest64);
  largest = std::max(largest, page.ByteSizeLong() + kListPageSlackBytes);

  v1::ServerFrame welcome;
  welcome.set_request_id(kWidest64);
  v1::Welcome* w = welcome.mutable_welcome();
  w->set_session_id(kWidest64);
  w->set_server_version(kServerVersion);
  w->set_protocol_version(kWidest32);
  w->set_nickname(nick);
  v1::Limits* l = w->mutable_limits();
  for (int i = 0; i < l->GetDescriptor()->field_count(); ++i) {
    l->GetReflection()->SetUInt32(l, l->GetDescriptor()->field(i), kWidest32);
  }
  consider(welcome);
  return largest;
}

// Keepalive as Limits announces it: rounded up, so that a sub-second
// interval never reads as 0 ("never").
uint32_t RoundUpTo(absl::Duration d, absl::Duration unit) {
  if (d <= absl::ZeroDuration()) return 0;
  const int64_t whole = absl::IDivDuration(d, unit, &d);
  return static_cast<uint32_t>(std::min<int64_t>(whole + (d > absl::ZeroDuration() ? 1 : 0), kWidest32));
}

// True if `m` holds a field this protocol knows, but with the wrong wire
// type: protobuf parses that as an unknown field rather than failing.
bool HasMistypedField(const google::protobuf::Message& m) {
  const google::protobuf::UnknownFieldSet& unknown = m.GetReflection()->GetUnknownFields(m);
  for (int i = 0; i < unknown.field_count(); ++i) {
    if (m.GetDescriptor()->FindFieldByNumber(unknown.field(i).number()) != nullptr) return true;
  }
  return false;
}

// A well-formed request has no unknown fields: check that with a reflection
// looked up once, not per request (~270 instructions a request under
// callgrind, which showed in the fan-out A/B, BENCHMARKS.md §8).
template <typename M>
bool HasMistypedFieldFast(const M& m) {
  // Looked up once per type: the per-message GetReflection() is what costs.
  static const google::protobuf::Reflection* const reflection = M::GetReflection();
  return reflection->GetUnknownFields(m).field_count() > 0 &&
         HasMistypedField(static_cast<const google::protobuf::Message&>(m));
}

bool HasMistypedField(const v1::ClientFrame& f) {
  if (HasMistypedFieldFast(f)) return true;
  switch (f.body_case()) {
    case v1::ClientFrame::kHello: return HasMistypedFieldFast(f.hello());
    case v1::ClientFrame::kCreateRoom: return HasMistypedFieldFast(f.create_room());
    case v1::ClientFrame::kJoinRoom: return HasMistypedFieldFast(f.join_room());
    case v1::ClientFrame::kLeaveRoom: return HasMistypedFieldFast(f.leave_room());
    case v1::ClientFrame::kDeleteRoom: return HasMistypedFieldFast(f.delete_room());
    case v1::ClientFrame::kListRooms: return HasMistypedFieldFast(f.list_rooms());
    case v1::ClientFrame::kSendMessage: return HasMistypedFieldFast(f.send_message());
    case v1::ClientFrame::kPing: return HasMistypedFieldFast(f.ping());
    case v1::ClientFrame::kPong: return HasMistypedFieldFast(f.pong());
    case v1::ClientFrame::kPostMessage: return HasMistypedFieldFast(f.post_message());
    case v1::ClientFrame::BODY_NOT_SET: return false;
  }
  return false;
}

}  // namespace

absl::Status ChatService::CheckOptions(const ServerOptions& o) {
  if (LargestFrameBytes(o, o.max_text_bytes) <= o.max_frame_bytes) return absl::OkStatus();
  // The largest text that would fit; frame size grows with the text.
  uint32_t lo = 0, hi = o.max_text_bytes;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo + 1) / 2;
    if (LargestFrameBytes(o, mid) <= o.max_frame_bytes) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  if (lo == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--max_frame_bytes=", o.max_frame_bytes,
                                                   " is too small for the protocol's own frames; it needs at least ",
                                                   LargestFrameBytes(o, 1)));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--max_text_bytes=", o.max_text_bytes, " does not fit --max_frame_bytes=", o.max_frame_bytes,
      ": a frame carrying a text that long (with its sender, seq, timestamp or room name) takes up to ",
      LargestFrameBytes(o, o.max_text_bytes), " bytes; lower --max_text_bytes to at most ", lo,
      " or raise --max_frame_bytes"));
}

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
  limits_.set_keepalive_seconds(RoundUpTo(options.keepalive_interval, absl::Seconds(1)));
  limits_.set_keepalive_millis(RoundUpTo(options.keepalive_interval, absl::Milliseconds(1)));
}

void ChatService::HandleFrame(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  request_status_ = v1::SUCCESS;
  DispatchFrame(conn, f, now);
  metrics_->CountRequest(f.body_case(), request_status_);
}

void ChatService::DispatchFrame(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  if (HasMistypedField(f)) {
    CloseForRequest(conn, f, CloseReason::kProtocolError, v1::FAILURE_PROTOCOL,
                    "a known field has the wrong wire type");
    return;
  }
  if (f.body_case() == v1::ClientFrame::kPong) return;  // keepalive answer; activity already noted
  // Every request costs a token, not only sends: a loop of ListRooms,
  // Join/Leave or Hello makes the server work for everyone too.
  if (!conn->TakeRequestToken(now, options_.messages_per_second, options_.message_burst)) {
    // rate_violations() counts this refusal too: max_rate_violations
    // refusals are answered, the next one over the rate disconnects.
    if (options_.max_rate_violations > 0 && conn->rate_violations() > options_.max_rate_violations) {
      CloseForRequest(conn, f, CloseReason::kFlooding, v1::FAILURE_RATE_LIMITED,
                      absl::StrCat("disconnected for flooding: ", options_.max_rate_violations,
                                   " requests refused without slowing down"));
      return;
    }
    // A Ping is still answered (it counts as a refusal all the same): a
    // client measuring liveness must not read a busy session as a dead one.
    if (f.body_case() == v1::ClientFrame::kPing && conn->logged_in()) {
      AnswerPing(conn, f);
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
    CloseForRequest(conn, f, CloseReason::kHandshakeError, v1::FAILURE_HANDSHAKE, "the first request must be Hello");
    return;
  }
  switch (f.body_case()) {
    case v1::ClientFrame::kCreateRoom: return HandleCreate(conn, f, now);
    case v1::ClientFrame::kJoinRoom: return HandleJoin(conn, f);
    case v1::ClientFrame::kLeaveRoom: return HandleLeave(conn, f);
    case v1::ClientFrame::kDeleteRoom: return HandleDelete(conn, f);
    case v1::ClientFrame::kListRooms: return HandleList(conn, f);
    case v1::ClientFrame::kSendMessage: return HandleSend(conn, f, now);
    case v1::ClientFrame::kPostMessage: return HandlePost(conn, f, now);
    case v1::ClientFrame::kPing: return AnswerPing(conn, f);
    case v1::ClientFrame::kListMembers: return HandleListMembers(conn, f);
    default:
      ReplyFailure(conn, f, v1::FAILURE_INVALID, "empty or unknown request");
  }
}

void ChatService::AnswerPing(Connection* conn, const v1::ClientFrame& f) {
  v1::ServerFrame out;
  out.set_request_id(f.request_id());
  out.mutable_pong()->set_nonce(f.ping().nonce());
  conn->Send(out);
}

void ChatService::CloseForRequest(Connection* conn, const v1::ClientFrame& f, CloseReason reason, v1::Status status,
                                  const std::string& message) {
  request_status_ = status;
  conn->Close(reason, status, message, f.request_id());
}

void ChatService::ReplyFailure(Connection* conn, const v1::ClientFrame& f, v1::Status status,
                               const std::string& message, const Room* room) {
  request_status_ = status;
  v1::ServerFrame out;
  out.set_request_id(f.request_id());
  out.set_room_id(room != nullptr ? room->id() : f.room_id());
  v1::Reply* r = out.mutable_reply();
  r->set_status(status);
  r->set_message(message);
  if (room != nullptr) {
    r->set_room_id(room->id());
    r->set_room_name(room->name());
  }
  conn->Send(out);
}

void ChatService::HandleHello(Connection* conn, const v1::ClientFrame& f) {
  const v1::Hello& hello = f.hello();
  if (conn->logged_in()) {
    ReplyFailure(conn, f, v1::FAILURE_HANDSHAKE, "already logged in");
    return;
  }
  if (hello.protocol_version() != wire::kProtocolVersion) {
    CloseForRequest(conn, f, CloseReason::kHandshakeError, v1::FAILURE_VERSION_MISMATCH,
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
    const bool taken = room.status().code() == absl::StatusCode::kAlreadyExists;
    ReplyFailure(conn, f, taken ? v1::FAILURE_ALREADY_EXISTS : v1::FAILURE_LIMIT_REACHED,
                 std::string(room.status().message()), taken ? rooms_.FindByName(name) : nullptr);
    return;
  }
  logger_->Log(LogLevel::kInfo, "room %d '%s' created by %s", (*room)->id(), name, conn->nickname());
  v1::ServerFrame out;
  SuccessReply(&out, f, **room, absl::StrCat("room '", name, "' created"));
  conn->Send(out);
}

Room* ChatService::FindRoomOrReply(Connection* conn, const v1::ClientFrame& f, absl::string_view name) {
  if (name.size() > options_.max_room_name_bytes) {
    ReplyFailure(conn, f, v1::FAILURE_NOT_EXISTS,
                 absl::StrCat("no room has a name longer than ", options_.max_room_name_bytes, " bytes"));
    return nullptr;
  }
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
    ReplyFailure(conn, f, v1::FAILURE_NOT_MEMBER, absl::StrCat(refusal, " '", room->name(), "'"), room);
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
                 absl::StrCat("a connection may be in at most ", options_.max_rooms_per_connection, " rooms"), room);
    return;
  }
  if (room->member_count() >= options_.max_members_per_room) {
    ReplyFailure(conn, f, v1::FAILURE_LIMIT_REACHED,
                 absl::StrCat("room '", room->name(), "' is full (", options_.max_members_per_room, " members)"), room);
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
                 absl::StrCat("only the owner (", room->owner(), ") may delete '", room->name(), "'"), room);
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
  const v1::ListRooms& req = f.list_rooms();
  const std::string prefix = FoldName(req.name_prefix());
  const RoomRegistry::ByFoldedName& index = rooms_.by_folded_name();
  auto matches = [&prefix](const std::string& folded) { return absl::StartsWith(folded, prefix); };
  const auto first_match = index.lower_bound(prefix);
  uint32_t total = 0;
  if (prefix.empty()) {
    total = static_cast<uint32_t>(index.size());
  } else {
    for (auto it = first_match; it != index.end() && matches(it->first); ++it) ++total;
  }
  // The cursor is the folded name of the previous page's last room: keyset
  // paging, so rooms created or deleted meanwhile shift nothing.
  auto it = req.after() < prefix ? first_match : index.upper_bound(req.after());

  v1::ServerFrame out;
  out.set_request_id(f.request_id());
  v1::Reply* r = out.mutable_reply();
  r->set_status(v1::SUCCESS);
  r->set_total_rooms(total);
  // Clients size their decoders by max_frame_bytes, so a page stops short of
  // it: each room is measured as encoded, with room for the cursor after it.
  // CheckOptions guarantees that one room always fits, so paging progresses.
  const size_t limit = req.limit() == 0 ? SIZE_MAX : req.limit();
  size_t used = out.ByteSizeLong() + kListPageSlackBytes;
  const std::string* last = nullptr;
  for (; it != index.end() && matches(it->first) && static_cast<size_t>(r->rooms_size()) < limit; ++it) {
    const Room& room = *it->second;
    v1::RoomInfo info;
    info.set_room_id(room.id());
    info.set_name(room.name());
    info.set_member_count(static_cast<uint32_t>(room.member_count()));
    info.set_owner(room.owner());
    info.set_created_unix_micros(absl::ToUnixMicros(room.created()));
    info.set_message_count(room.last_seq());
    const size_t info_bytes = LengthDelimitedBytes(info.ByteSizeLong());
    if (last != nullptr && used + info_bytes + LengthDelimitedBytes(it->first.size()) > options_.max_frame_bytes) break;
    used += info_bytes;
    *r->add_rooms() = std::move(info);
    last = &it->first;
  }
  if (last != nullptr && it != index.end() && matches(it->first)) r->set_next_cursor(*last);
  r->set_message(absl::StrCat(r->rooms_size(), " of ", total, " rooms"));
  conn->Send(out);
}

void ChatService::HandleSend(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  Room* room = FindMembershipOrReply(conn, f, "join before sending to");
  if (room == nullptr) return;
  const std::string& text = f.send_message().text();
  if (absl::Status st = ValidateMessageText(text, options_.max_text_bytes); !st.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, std::string(st.message()), room);
    return;
  }
  Deliver(room, conn, text, now);  // the sender's own copy is its acknowledgement
}

void ChatService::HandlePost(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const v1::PostMessage& post = f.post_message();
  // Any logged-in client may post to any room, as it may join any room.
  Room* room = FindRoomOrReply(conn, f, post.room_name());
  if (room == nullptr) return;
  if (absl::Status st = ValidateMessageText(post.text(), options_.max_text_bytes); !st.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, std::string(st.message()), room);
    return;
  }
  // The Reply goes first: a poster that is also a member then knows, before
  // its own copy arrives, that the copy with this seq answers no SendMessage.
  v1::ServerFrame out;
  SuccessReply(&out, f, *room, absl::StrCat("posted to '", room->name(), "'"))->set_last_seq(room->last_seq() + 1);
  conn->Send(out);
  Deliver(room, conn, post.text(), now);
}

void ChatService::HandleListMembers(Connection* conn, const v1::ClientFrame& f) {
  // Any logged-in client may list any room, as IRC NAMES does: it may join
  // any room, and would see the same names there.
  Room* room = FindRoomOrReply(conn, f, "");
  if (room == nullptr) return;
  const std::string& after = f.list_members().after();
  // Keyset paging on the folded nickname, as ListRooms pages on folded room
  // names: members who join or leave meanwhile shift nothing. The room keeps
  // no sorted index, so each page sorts the members past the cursor
  // (bounded by max_members_per_room).
  std::vector<const Connection*> rest;
  for (const Connection* member : room->members()) {
    if (member->folded_nickname() > after) rest.push_back(member);
  }
  std::sort(rest.begin(), rest.end(), [](const Connection* a, const Connection* b) {
    return a->folded_nickname() < b->folded_nickname();
  });
  v1::ServerFrame out;
  v1::Reply* r = SuccessReply(&out, f, *room, "");
  // Measured as encoded, like a ListRooms page, with room for the cursor and
  // the message; the first name always goes in (CheckOptions makes a Reply
  // quoting a nickname fit), so paging progresses.
  const size_t limit = f.list_members().limit() == 0 ? SIZE_MAX : f.list_members().limit();
  size_t used = out.ByteSizeLong() + kListPageSlackBytes;
  size_t taken = 0;
  for (; taken < rest.size() && taken < limit; ++taken) {
    const Connection& member = *rest[taken];
    const size_t bytes = LengthDelimitedBytes(member.nickname().size());
    if (taken > 0 && used + bytes + LengthDelimitedBytes(member.folded_nickname().size()) > options_.max_frame_bytes) {
      break;
    }
    used += bytes;
    r->add_members(member.nickname());
  }
  if (taken > 0 && taken < rest.size()) r->set_next_cursor(rest[taken - 1]->folded_nickname());
  r->set_message(absl::StrCat(taken, " of ", room->member_count(), " members"));
  conn->Send(out);
}

void ChatService::Deliver(Room* room, const Connection* sender, const std::string& text, absl::Time now) {
  const HistoryEntry& e = room->Record(sender->nickname(), text, now);
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
  // Counted once per broadcast, not per member: nothing on the per-member
  // path but the queueing itself.
  metrics_->deliveries += room.member_count() - (skip != nullptr && room.HasMember(skip) ? 1 : 0);
  for (Connection* member : room.members()) {
    if (member != skip) member->SendSlice(block_, begin, end);
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
