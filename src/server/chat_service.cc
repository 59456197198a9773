#include "src/server/chat_service.h"
#include "src/server/cluster_accounts.h"
#include "src/server/cluster_node.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "src/server/chat_frame.h"
#include "src/server/name_rules.h"
#include "src/server/password_rules.h"
#include "src/server/session_token.h"
#include "src/wire/frame_codec.h"
#include "src/wire/websocket_codec.h"

namespace muxchat::server {

namespace {

constexpr uint64_t kWidest64 = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kWidest32 = std::numeric_limits<uint32_t>::max();
// Room for a reply's human-readable message beyond the names it quotes.
constexpr size_t kReplyProseBytes = 160;
// What a ListRooms page needs besides its rooms and cursor: the message
// ("N of M rooms") and the growth of the reply's length varint.
constexpr size_t kListPageSlackBytes = 48;
// The client_name and password the frame-size contract allows for in
// Register/Login.
constexpr size_t kMaxClientNameBytes = 64;
constexpr size_t kContractPasswordBytes = 128;

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
  m->set_client_msg_id(kWidest64);
  consider(chat);

  v1::ClientFrame send;
  send.set_request_id(kWidest64);
  send.set_room_id(kWidest64);
  send.mutable_send_message()->set_text(text);
  send.mutable_send_message()->set_client_msg_id(kWidest64);
  consider(send);
  v1::ClientFrame post = send;
  post.mutable_post_message()->set_room_name(name);
  post.mutable_post_message()->set_text(text);
  post.mutable_post_message()->set_client_msg_id(kWidest64);
  consider(post);

  // Register / Login with a long passphrase. Passwords may be longer (up to
  // kMaxPasswordBytes) where max_frame_bytes allows: a small frame bound
  // shortens the passwords clients can send, not the chat texts.
  v1::ClientFrame login;
  login.set_request_id(kWidest64);
  login.mutable_register_()->set_name(nick);
  login.mutable_register_()->set_password(std::string(kContractPasswordBytes, 'x'));
  login.mutable_register_()->set_client_name(std::string(kMaxClientNameBytes, 'x'));
  login.mutable_register_()->set_protocol_version(kWidest32);
  consider(login);

  v1::ServerFrame resumed;
  resumed.set_request_id(kWidest64);
  resumed.set_room_id(kWidest64);
  v1::RoomResumed* rr = resumed.mutable_room_resumed();
  rr->set_name(name);
  rr->set_member_count(kWidest32);
  rr->set_last_seq(kWidest64);
  rr->set_replay_count(kWidest32);
  rr->set_owner(nick);
  consider(resumed);

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
  r->set_oldest_seq(kWidest64);
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
  w->set_session_token(std::string(kSessionTokenChars, 'x'));
  w->set_token_expires_unix_micros(-1);
  w->set_guest(true);
  w->set_durable(true);
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
    case v1::ClientFrame::kRegister: return HasMistypedFieldFast(f.register_());
    case v1::ClientFrame::kLogin: return HasMistypedFieldFast(f.login());
    case v1::ClientFrame::kLogout: return HasMistypedFieldFast(f.logout());
    case v1::ClientFrame::kResume: {
      if (HasMistypedFieldFast(f.resume())) return true;
      for (const v1::RoomCursor& c : f.resume().cursors()) {
        if (HasMistypedFieldFast(c)) return true;
      }
      return false;
    }
    case v1::ClientFrame::kHistory: return HasMistypedFieldFast(f.history());
    case v1::ClientFrame::kListMembers: return HasMistypedFieldFast(f.list_members());
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
    : options_(options),
      logger_(logger),
      rooms_(options.max_rooms, options.history),
      hasher_(PasswordCost{options.password_opslimit, options.password_memlimit}) {
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
  limits_.set_history_page(options.history_page);
  // Resume replays what the history ring holds; older misses are a Gap the
  // client pages with History (docs/PROTOCOL.md §7.12).
  limits_.set_resume_replay(options.history);
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
  if (conn->auth_pending) {
    ReplyFailure(conn, f, v1::FAILURE_HANDSHAKE, "wait for the answer to Register or Login first");
    return;
  }
  switch (f.body_case()) {
    case v1::ClientFrame::kHello: return HandleHello(conn, f, now);
    case v1::ClientFrame::kRegister: return HandleRegister(conn, f, now);
    case v1::ClientFrame::kLogin: return HandleLogin(conn, f, now);
    case v1::ClientFrame::kResume: return HandleResume(conn, f, now);
    default: break;
  }
  if (!conn->logged_in()) {
    CloseForRequest(conn, f, CloseReason::kHandshakeError, v1::FAILURE_HANDSHAKE,
                    "the first request must be Hello, Register, Login or Resume");
    return;
  }
  switch (f.body_case()) {
    case v1::ClientFrame::kCreateRoom: return HandleCreate(conn, f, now);
    case v1::ClientFrame::kJoinRoom: return HandleJoin(conn, f);
    case v1::ClientFrame::kLeaveRoom: return HandleLeave(conn, f);
    case v1::ClientFrame::kDeleteRoom: return HandleDelete(conn, f, now);
    case v1::ClientFrame::kListRooms: return HandleList(conn, f);
    case v1::ClientFrame::kSendMessage: return HandleSend(conn, f, now);
    case v1::ClientFrame::kPostMessage: return HandlePost(conn, f, now);
    case v1::ClientFrame::kPing: return AnswerPing(conn, f);
    case v1::ClientFrame::kLogout: return HandleLogout(conn, f);
    case v1::ClientFrame::kHistory: return HandleHistory(conn, f);
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

void ChatService::HandleCreate(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const std::string& name = f.create_room().name();
  if (absl::Status st = ValidateName(name, options_.max_room_name_bytes, "room name"); !st.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, std::string(st.message()));
    return;
  }
  if (durable() && now < refuse_writes_until_) {
    ReplyFailure(conn, f, v1::FAILURE_STORAGE, storage_error_);
    return;
  }
  if (cluster_ != nullptr) {
    ClusterCreate(conn, f, now);
    return;
  }
  RoomOwner owner;
  owner.account_id = conn->account_id();
  owner.guest_conn_id = conn->account_id() == 0 ? conn->id() : 0;
  owner.name = conn->nickname();
  absl::StatusOr<Room*> room = rooms_.Create(name, owner, now);
  if (!room.ok()) {
    const bool taken = room.status().code() == absl::StatusCode::kAlreadyExists;
    ReplyFailure(conn, f, taken ? v1::FAILURE_ALREADY_EXISTS : v1::FAILURE_LIMIT_REACHED,
                 std::string(room.status().message()), taken ? rooms_.FindByName(name) : nullptr);
    return;
  }
  logger_->Log(LogLevel::kInfo, "room %d '%s' created by %s", (*room)->id(), name, conn->nickname());
  // The room exists at once (its name is taken), but its creator hears so
  // only once storage has it: a crash can lose no room that was confirmed.
  NewRoom op;
  op.room.id = (*room)->id();
  op.room.name = name;
  op.room.owner_account_id = owner.account_id;
  op.room.owner_name = owner.name;
  op.room.created_unix_micros = absl::ToUnixMicros(now);
  const uint64_t room_id = (*room)->id(), conn_id = conn->id();
  Persist(std::move(op), [this, room_id, conn_id, f](const absl::Status& st) {
    Connection* c = FindConnection(conn_id);
    Room* r = rooms_.FindById(room_id);
    if (!st.ok()) {
      if (r != nullptr) CloseRoom(r, "", "not stored: " + std::string(st.message()));
      if (c != nullptr) ReplyFailure(c, f, v1::FAILURE_STORAGE, std::string(st.message()));
      return;
    }
    if (c == nullptr || r == nullptr) return;
    v1::ServerFrame out;
    SuccessReply(&out, f, *r, absl::StrCat("room '", r->name(), "' created"));
    c->Send(out);
  });
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
  if (cluster_ != nullptr && !room->HasMember(conn) && ClusterJoinWaits(conn, f, room)) return;
  JoinRoom(conn, f, room);
}

void ChatService::JoinRoom(Connection* conn, const v1::ClientFrame& f, Room* room) {
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
  RememberMembership(conn, room->id());
  v1::Reply* r = SuccessReply(&out, f, *room, absl::StrCat("joined '", room->name(), "'"));
  r->set_last_seq(room->last_seq());
  r->set_history_count(static_cast<uint32_t>(room->history().size()));
  if (!room->history().empty()) r->set_oldest_seq(room->history().front().seq);
  conn->Send(out);
  Replay(conn, room->id(), room->history().begin(), room->history().end());
  AnnounceJoin(*room, conn);
}

void ChatService::AnnounceJoin(const Room& room, const Connection* conn) {
  if (cluster_ != nullptr) {
    // Through Redis, so that every node's members see it, with the
    // cluster's count, in order with the room's messages.
    cluster_->presence().Join(room.id(), conn->id(), conn->nickname());
    return;
  }
  v1::ServerFrame joined;
  joined.set_room_id(room.id());
  joined.mutable_member_joined()->set_nickname(conn->nickname());
  joined.mutable_member_joined()->set_member_count(static_cast<uint32_t>(room.member_count()));
  Broadcast(room, joined, conn);
}

void ChatService::RememberMembership(Connection* conn, uint64_t room_id) {
  // In a cluster the account's rooms live in Redis, for Resume on any node
  // (written every time: this node's cache may have missed a leave elsewhere).
  if (cluster_accounts_ != nullptr && conn->account_id() != 0) {
    (void)cluster_accounts_->AddMembership(conn->account_id(), room_id, nullptr);
  }
  Account* account = conn->account_id() != 0 ? accounts_.FindById(conn->account_id()) : nullptr;
  if (account == nullptr || !account->rooms.insert(room_id).second) return;
  // Not waited for: a membership lost to a failed commit costs a re-join,
  // and the join itself is not a message anyone could miss.
  Persist(JoinOp{MembershipRecord{account->id, room_id}});
}

void ChatService::HandleLeave(Connection* conn, const v1::ClientFrame& f) {
  Room* room = FindMembershipOrReply(conn, f, "not a member of");
  if (room == nullptr) return;
  RemoveMember(room, conn, "left");
  if (cluster_accounts_ != nullptr && conn->account_id() != 0) {
    (void)cluster_accounts_->RemoveMembership(conn->account_id(), room->id(), nullptr);
  }
  // Leaving is for the account: its other devices stay until they leave,
  // but Resume no longer brings the room back.
  if (Account* account = conn->account_id() != 0 ? accounts_.FindById(conn->account_id()) : nullptr) {
    if (account->rooms.erase(room->id()) > 0) Persist(LeaveOp{MembershipRecord{account->id, room->id()}});
  }
  v1::ServerFrame out;
  SuccessReply(&out, f, *room, absl::StrCat("left '", room->name(), "'"));
  conn->Send(out);
}

void ChatService::HandleDelete(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  Room* room = FindRoomOrReply(conn, f, f.delete_room().name());
  if (room == nullptr) return;
  const RoomOwner& owner = room->owner_identity();
  const bool owns = owner.account_id != 0 ? owner.account_id == conn->account_id()
                                          : owner.guest_conn_id != 0 && owner.guest_conn_id == conn->id();
  if (!owns) {
    ReplyFailure(conn, f, v1::FAILURE_PERMISSION_DENIED,
                 owner.account_id != 0
                     ? absl::StrCat("only the owner (account ", room->owner(), ") may delete '", room->name(), "'")
                     : absl::StrCat("only the guest who created '", room->name(),
                                    "', while still connected, may delete it"),
                 room);
    return;
  }
  if (durable() && now < refuse_writes_until_) {
    ReplyFailure(conn, f, v1::FAILURE_STORAGE, storage_error_, room);
    return;
  }
  v1::ServerFrame out;
  SuccessReply(&out, f, *room, absl::StrCat("room '", room->name(), "' deleted"))->clear_member_count();
  if (cluster_ != nullptr) {
    ClusterDelete(conn, f, room, std::move(out));
    return;
  }
  logger_->Log(LogLevel::kInfo, "room %d '%s' deleted by %s", room->id(), room->name(), conn->nickname());
  const uint64_t room_id = room->id(), conn_id = conn->id();
  CloseRoom(room, conn->nickname(), "deleted by owner");
  // Gone at once for everyone; the owner's Reply waits for storage.
  Persist(DeleteRoomOp{room_id}, [this, conn_id, f, out](const absl::Status& st) {
    Connection* c = FindConnection(conn_id);
    if (c == nullptr) return;
    if (!st.ok()) {
      ReplyFailure(c, f, v1::FAILURE_STORAGE,
                   absl::StrCat("room closed, but storage failed (", st.message(), "): it may return after a restart"));
      return;
    }
    c->Send(out);
  });
}

void ChatService::CloseRoom(Room* room, const std::string& closed_by, const std::string& reason) {
  v1::ServerFrame closed;
  closed.set_room_id(room->id());
  closed.mutable_room_closed()->set_name(room->name());
  closed.mutable_room_closed()->set_closed_by(closed_by);
  closed.mutable_room_closed()->set_reason(reason);
  Broadcast(*room, closed, nullptr);
  for (Connection* member : room->members()) member->rooms().erase(room->id());
  if (cluster_ != nullptr) ForgetClusterRoom(room->id());
  accounts_.ForgetRoom(room->id());
  const uint64_t room_id = room->id();
  rooms_.Remove(room_id);
  if (!pending_room_waiters_.empty()) {
    std::vector<std::function<void(const absl::Status&)>> waiters = std::move(pending_room_waiters_);
    pending_room_waiters_.clear();
    for (auto& w : waiters) w(absl::NotFoundError(absl::StrCat("room ", room_id, " was deleted")));
  }
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
  // The sender's own copy is its acknowledgement.
  Accept(room, conn, f, text, f.send_message().client_msg_id(), /*post=*/false, now);
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
  Accept(room, conn, f, post.text(), post.client_msg_id(), /*post=*/true, now);
}

void ChatService::HandleListMembers(Connection* conn, const v1::ClientFrame& f) {
  // Any logged-in client may list any room, as IRC NAMES does: it may join
  // any room, and would see the same names there.
  Room* room = FindRoomOrReply(conn, f, "");
  if (room == nullptr) return;
  if (cluster_ != nullptr) {
    ClusterListMembers(conn, f, room);
    return;
  }
  const std::string& after = f.list_members().after();
  // Keyset paging on the folded nickname, as ListRooms pages on folded room
  // names: members who join or leave meanwhile shift nothing. The room keeps
  // no sorted index, so each page sorts the members past the cursor
  // (bounded by max_members_per_room).
  std::vector<MemberName> rest;
  for (const Connection* member : room->members()) {
    if (member->folded_nickname() > after) rest.push_back({member->folded_nickname(), member->nickname()});
  }
  ReplyMemberPage(conn, f, *room, std::move(rest), room->member_count());
}

void ChatService::ReplyMemberPage(Connection* conn, const v1::ClientFrame& f, const Room& room,
                                  std::vector<MemberName> rest, size_t total) {
  std::sort(rest.begin(), rest.end(), [](const MemberName& a, const MemberName& b) { return a.folded < b.folded; });
  v1::ServerFrame out;
  v1::Reply* r = SuccessReply(&out, f, room, "");
  // Measured as encoded, like a ListRooms page, with room for the cursor and
  // the message; the first name always goes in (CheckOptions makes a Reply
  // quoting a nickname fit), so paging progresses.
  const size_t limit = f.list_members().limit() == 0 ? SIZE_MAX : f.list_members().limit();
  size_t used = out.ByteSizeLong() + kListPageSlackBytes;
  size_t taken = 0;
  for (; taken < rest.size() && taken < limit; ++taken) {
    const MemberName& member = rest[taken];
    const size_t bytes = LengthDelimitedBytes(member.nickname.size());
    if (taken > 0 && used + bytes + LengthDelimitedBytes(member.folded.size()) > options_.max_frame_bytes) {
      break;
    }
    used += bytes;
    r->add_members(member.nickname);
  }
  if (taken > 0 && taken < rest.size()) r->set_next_cursor(rest[taken - 1].folded);
  r->set_member_count(static_cast<uint32_t>(total));
  r->set_message(absl::StrCat(taken, " of ", total, " members"));
  conn->Send(out);
}

void ChatService::ReplyPosted(Connection* conn, const v1::ClientFrame& f, const Room& room, uint64_t seq) {
  v1::ServerFrame out;
  SuccessReply(&out, f, room, absl::StrCat("posted to '", room.name(), "'"))->set_last_seq(seq);
  conn->Send(out);
}

void ChatService::Accept(Room* room, Connection* sender, const v1::ClientFrame& f, const std::string& text,
                         uint64_t client_msg_id, bool post, absl::Time now) {
  if (cluster_ != nullptr) {
    // Redis remembers client_msg_ids for every node (a resend after moving
    // to another node is recognised there).
    ClusterAccept(room, sender, f, text, client_msg_id, post);
    return;
  }
  if (client_msg_id != 0) {
    auto it = msg_ids_.find({SenderKey(*sender), client_msg_id});
    if (it != msg_ids_.end()) {
      // A resend (after a reconnect, say): the original seq, not a copy.
      v1::ServerFrame out;
      SuccessReply(&out, f, *room, absl::StrCat("already sent as message ", it->second.seq))
          ->set_last_seq(it->second.seq);
      sender->Send(out);
      return;
    }
  }
  if (storage_ == nullptr) {
    // The Reply to a post goes first: a poster that is also a member then
    // knows, before its own copy arrives, that the copy with this seq
    // answers no SendMessage.
    if (post) ReplyPosted(sender, f, *room, room->last_seq() + 1);
    const HistoryEntry& e = room->Record(sender->nickname(), text, now, client_msg_id);
    if (client_msg_id != 0) RememberMsgId(SenderKey(*sender), client_msg_id, room->id(), e.seq, now);
    Deliver(*room, e);
    return;
  }
  if (now < refuse_writes_until_) {
    ReplyFailure(sender, f, v1::FAILURE_STORAGE, storage_error_, room);
    return;
  }
  // Durable: numbered now, stored with this turn's batch, and delivered
  // (the sender's copy being its acknowledgement) only once committed; the
  // message comes back with the commit (MessageCommitted).
  AppendMessage op;
  op.message.room_id = room->id();
  op.message.seq = room->AssignSeq();
  op.message.sender = sender->nickname();
  op.message.sender_account_id = sender->account_id();
  op.message.client_msg_id = client_msg_id;
  op.message.timestamp_unix_micros = absl::ToUnixMicros(now);
  op.message.text = text;
  const uint64_t key = SenderKey(*sender);
  if (client_msg_id != 0) RememberMsgId(key, client_msg_id, room->id(), op.message.seq, now);
  PersistMessage(std::move(op), MessageFollowUp{room->id(), sender->id(), key, client_msg_id, f.request_id(),
                                                f.room_id(), post});
}

void ChatService::RememberMsgId(uint64_t sender_key, uint64_t client_msg_id, uint64_t room_id, uint64_t seq,
                                absl::Time now) {
  if (msg_ids_.insert_or_assign({sender_key, client_msg_id}, MsgIdEntry{room_id, seq}).second) {
    msg_id_order_.push_back({now, {sender_key, client_msg_id}});
  }
  // Bounded (~60 bytes an entry): past the cap the oldest ids are forgotten
  // before their window ends, so a flood costs memory only up to it.
  while (msg_id_order_.size() > options_.dedupe_max_entries) {
    msg_ids_.erase(msg_id_order_.front().second);
    msg_id_order_.pop_front();
  }
}

void ChatService::Deliver(const Room& room, const HistoryEntry& e) {
  ++metrics_->messages_accepted;
  // Encoded once, straight from the history entry, into the shared block;
  // every member's queue references those same bytes.
  const size_t size = ChatFrameSize(room.id(), e, /*replay=*/false);
  const size_t begin = PlaceInBlock(size);
  WriteChatFrame(room.id(), e, /*replay=*/false, block_.MutableData() + begin);
  SendChatToMembers(room, begin, begin + size, e.seq);
}

size_t ChatService::PlaceInBlock(size_t n) {
  if (block_.remaining() < n) block_ = wire::SharedFrame::AllocateBlock(std::max(kBlockBytes, n));
  return static_cast<size_t>(block_.Extend(n) - block_.data());
}

void ChatService::FrameForWebSocket(size_t begin, size_t end, size_t* ws_begin, size_t* ws_end) {
  // Sized first, so the messages land contiguous in one block.
  size_t size = 0;
  for (size_t at = begin; at < end;) {
    const uint32_t body = wire::DecodeLength(block_.data() + at);
    size += wire::MakeWsServerHeader(body).size + body;
    at += wire::kLengthPrefixBytes + body;
  }
  if (ws_block_.remaining() < size) ws_block_ = wire::SharedFrame::AllocateBlock(std::max(kBlockBytes, size));
  char* out = ws_block_.Extend(size);
  *ws_begin = static_cast<size_t>(out - ws_block_.data());
  *ws_end = *ws_begin + size;
  for (size_t at = begin; at < end;) {
    const uint32_t body = wire::DecodeLength(block_.data() + at);
    const wire::WsHeader header = wire::MakeWsServerHeader(body);
    std::memcpy(out, header.bytes, header.size);
    std::memcpy(out + header.size, block_.data() + at + wire::kLengthPrefixBytes, body);
    out += header.size + body;
    at += wire::kLengthPrefixBytes + body;
  }
}

void ChatService::SendToMembers(const Room& room, size_t begin, size_t end, const Connection* skip) {
  // Counted once per broadcast, not per member: nothing on the per-member
  // path but the queueing itself.
  metrics_->deliveries += room.member_count() - (skip != nullptr && room.HasMember(skip) ? 1 : 0);
  size_t ws_begin = 0, ws_end = 0;
  const bool ws = room.websocket_member_count() > 0;
  if (ws) FrameForWebSocket(begin, end, &ws_begin, &ws_end);
  for (Connection* member : room.members()) {
    if (member == skip) continue;
    if (ws && member->websocket()) {
      member->SendFramedSlice(ws_block_, ws_begin, ws_end);
    } else {
      member->SendSlice(block_, begin, end);
    }
  }
}

void ChatService::SendChatToMembers(const Room& room, size_t begin, size_t end, uint64_t seq) {
  metrics_->deliveries += room.member_count();
  if (room.websocket_member_count() == 0) {
    SendChatToEach</*kWebSocket=*/false>(room, begin, end, 0, 0, seq);
    return;
  }
  // A room with WebSocket members: the message framed for them once, here.
  size_t ws_begin = 0, ws_end = 0;
  FrameForWebSocket(begin, end, &ws_begin, &ws_end);
  SendChatToEach</*kWebSocket=*/true>(room, begin, end, ws_begin, ws_end, seq);
}

template <bool kWebSocket>
void ChatService::SendChatToEach(const Room& room, size_t begin, size_t end, size_t ws_begin, size_t ws_end,
                                 uint64_t seq) {
  // No soft limit (0): no queue is ever above it, and the test stays one compare.
  const uint64_t soft = options_.soft_output_bytes == 0 ? UINT64_MAX : options_.soft_output_bytes;
  for (Connection* member : room.members()) {
    // Two loads per member on the hot path (the queue size is the one
    // SendSlice's own limit check reads again); the rest only for laggards.
    if (member->dropped() != nullptr || member->queued_bytes() > soft) {
      if (!SendOwedGap(member, room.id()) || member->queued_bytes() > soft) {
        Connection::DroppedRange& d = member->mutable_dropped()[room.id()];
        if (d.first_seq == 0) d.first_seq = seq;
        d.last_seq = seq;
        owing_gaps_.insert(member);
        --metrics_->deliveries;
        continue;
      }
    }
    if (kWebSocket && member->websocket()) {
      member->SendFramedSlice(ws_block_, ws_begin, ws_end);
    } else {
      member->SendSlice(block_, begin, end);
    }
  }
}

bool ChatService::SendOwedGap(Connection* member, uint64_t room_id) {
  Connection::DroppedMap* dropped = member->dropped();
  if (dropped == nullptr) return true;
  auto it = dropped->find(room_id);
  if (it == dropped->end()) return true;
  // Owed, but only once the member has drained to half the soft limit:
  // otherwise it would tip over again at once.
  if (member->queued_bytes() > options_.soft_output_bytes / 2) return false;
  SendGap(member, room_id, it->second.first_seq, it->second.last_seq, "slow_consumer", 0);
  dropped->erase(it);
  if (dropped->empty()) {
    member->clear_dropped();
    owing_gaps_.erase(member);
  }
  return true;
}

void ChatService::SendGap(Connection* conn, uint64_t room_id, uint64_t first, uint64_t last, const char* reason,
                          uint64_t request_id) {
  v1::ServerFrame gap;
  gap.set_request_id(request_id);
  gap.set_room_id(room_id);
  gap.mutable_gap()->set_first_missing_seq(first);
  gap.mutable_gap()->set_last_missing_seq(last);
  gap.mutable_gap()->set_reason(reason);
  conn->Send(gap);
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
  if (cluster_ != nullptr) {
    cluster_->presence().Leave(room->id(), conn->id(), conn->nickname(), reason);
    MaybeUnfollow(room);
    return;
  }
  v1::ServerFrame left;
  left.set_room_id(room->id());
  left.mutable_member_left()->set_nickname(conn->nickname());
  left.mutable_member_left()->set_member_count(static_cast<uint32_t>(room->member_count()));
  left.mutable_member_left()->set_reason(reason);
  Broadcast(*room, left, nullptr);
}

void ChatService::OnDisconnect(Connection* conn) {
  connections_.erase(conn->id());
  owing_gaps_.erase(conn);
  if (!conn->nickname().empty()) --logged_in_;  // logged in once (it may be closing now)
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
    if (it != nicknames_.end() && it->second == conn) {
      nicknames_.erase(it);
      if (cluster_ != nullptr) cluster_->presence().ReleaseNickname(conn->folded_nickname(), conn->id());
    }
  }
}

}  // namespace muxchat::server
