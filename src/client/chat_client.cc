#include "src/client/chat_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace muxchat::client {
namespace {

// Bytes read per ReadFromFd call and per Pump/poll wake-up, so a flooding
// server cannot keep one call busy forever.
constexpr size_t kReadChunkBytes = 256 * 1024;
constexpr size_t kMaxReadPerWakeup = 4 * 1024 * 1024;

std::string ErrnoText(int err) { return std::strerror(err); }

// Milliseconds until `deadline` for poll(): -1 for an infinite deadline,
// rounded up so we never wake just before it and spin.
int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

// Connects the non-blocking socket `fd` to `ai`, waiting until `deadline`.
absl::Status ConnectOne(int fd, const addrinfo* ai, absl::Time deadline, absl::string_view what) {
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return absl::OkStatus();
  if (errno != EINPROGRESS) {
    const int err = errno;
    return absl::UnavailableError(absl::StrCat("connect to ", what, ": ", ErrnoText(err)));
  }
  for (;;) {
    pollfd p{fd, POLLOUT, 0};
    const int n = ::poll(&p, 1, PollTimeoutMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      return absl::InternalError(absl::StrCat("poll: ", ErrnoText(err)));
    }
    if (n == 0) {
      return absl::DeadlineExceededError(absl::StrCat("connect to ", what, ": timed out"));
    }
    break;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    return absl::UnavailableError(absl::StrCat("connect to ", what, ": ", ErrnoText(err)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChatClient>> ChatClient::Connect(const std::string& host,
                                                                uint16_t port,
                                                                absl::Duration timeout,
                                                                const ClientTlsOptions& tls) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string name = host;
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  // "[::1]:7000" for an IPv6 address, as muxchatd prints it; "::1:7000" would be ambiguous.
  const std::string what = name.find(':') != std::string::npos ? absl::StrCat("[", name, "]:", port)
                                                                : absl::StrCat(name, ":", port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    const std::string text = absl::StrCat("cannot resolve ", host, ": ", ::gai_strerror(rc));
    return rc == EAI_AGAIN ? absl::UnavailableError(text) : absl::NotFoundError(text);
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, ::freeaddrinfo);

  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", what));
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            ai->ai_protocol);
    if (fd < 0) {
      const int err = errno;
      last = absl::UnavailableError(absl::StrCat("socket: ", ErrnoText(err)));
      continue;
    }
    last = ConnectOne(fd, ai, deadline, what);
    if (last.ok()) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (!tls.enabled) return std::unique_ptr<ChatClient>(new ChatClient(MakePlainStream(fd)));
      // A failed handshake or certificate is not worth another address.
      absl::StatusOr<std::unique_ptr<ClientStream>> stream = MakeTlsStream(fd, name, tls, deadline);
      if (!stream.ok()) return stream.status();
      return std::unique_ptr<ChatClient>(new ChatClient(std::move(*stream)));
    }
    ::close(fd);
    if (absl::IsDeadlineExceeded(last)) break;
  }
  return last;
}

ChatClient::ChatClient(std::unique_ptr<ClientStream> stream) : stream_(std::move(stream)) {}

ChatClient::~ChatClient() { Close(); }

void ChatClient::Close() {
  MarkClosed(absl::UnavailableError("connection closed by the client"));
  stream_.reset();
}

void ChatClient::MarkClosed(absl::Status why) {
  if (!close_status_.ok()) return;
  close_status_ = std::move(why);
  out_.Clear();
  // Make "closed" true for the server too (e.g. after a write timeout).
  if (stream_ != nullptr) stream_->Shutdown();
}

// ------------------------------------------------------------------ calls

absl::StatusOr<v1::Welcome> ChatClient::Hello(const std::string& nickname, absl::Duration timeout,
                                              const std::string& client_name) {
  v1::ClientFrame frame;
  v1::Hello* hello = frame.mutable_hello();
  hello->set_nickname(nickname);
  hello->set_client_name(client_name);
  hello->set_protocol_version(wire::kProtocolVersion);
  return Handshake(std::move(frame), timeout);
}

absl::StatusOr<v1::Welcome> ChatClient::HelloWithToken(const std::string& token, absl::Duration timeout,
                                                       const std::string& client_name) {
  v1::ClientFrame frame;
  v1::Hello* hello = frame.mutable_hello();
  hello->set_token(token);
  hello->set_client_name(client_name);
  hello->set_protocol_version(wire::kProtocolVersion);
  return Handshake(std::move(frame), timeout);
}

absl::StatusOr<v1::Welcome> ChatClient::Register(const std::string& name, const std::string& password,
                                                 absl::Duration timeout, const std::string& client_name) {
  v1::ClientFrame frame;
  v1::Register* r = frame.mutable_register_();
  r->set_name(name);
  r->set_password(password);
  r->set_client_name(client_name);
  r->set_protocol_version(wire::kProtocolVersion);
  return Handshake(std::move(frame), timeout);
}

absl::StatusOr<v1::Welcome> ChatClient::Login(const std::string& name, const std::string& password,
                                              absl::Duration timeout, const std::string& client_name) {
  v1::ClientFrame frame;
  v1::Login* l = frame.mutable_login();
  l->set_name(name);
  l->set_password(password);
  l->set_client_name(client_name);
  l->set_protocol_version(wire::kProtocolVersion);
  return Handshake(std::move(frame), timeout);
}

absl::StatusOr<v1::Welcome> ChatClient::Resume(const std::string& token, const std::vector<v1::RoomCursor>& cursors,
                                               absl::Duration timeout, const std::string& client_name) {
  v1::ClientFrame frame;
  v1::Resume* r = frame.mutable_resume();
  r->set_token(token);
  r->set_client_name(client_name);
  r->set_protocol_version(wire::kProtocolVersion);
  for (const v1::RoomCursor& c : cursors) *r->add_cursors() = c;
  frame.set_request_id(NextRequestId());
  resume_request_id_ = frame.request_id();
  return Handshake(std::move(frame), timeout);
}

absl::StatusOr<v1::Welcome> ChatClient::Handshake(v1::ClientFrame frame, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<uint64_t> id = SendFrame(std::move(frame), /*await_send=*/false);
  if (!id.ok()) return id.status();
  absl::StatusOr<v1::ServerFrame> answer = WaitForReply(*id, deadline - absl::Now());
  if (!answer.ok()) return answer.status();
  if (answer->has_welcome()) return answer->welcome();
  if (answer->has_reply() && answer->reply().status() != v1::SUCCESS) {
    return StatusFromServer(answer->reply().status(), answer->reply().message());
  }
  return absl::InternalError("server answered the login with neither Welcome nor a failure Reply");
}

absl::StatusOr<v1::Reply> ChatClient::History(uint64_t room_id, const v1::History& query, absl::Duration timeout) {
  v1::ClientFrame frame;
  frame.set_room_id(room_id);
  *frame.mutable_history() = query;
  return Call(std::move(frame), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::Logout(absl::Duration timeout) {
  v1::ClientFrame frame;
  frame.mutable_logout();
  return Call(std::move(frame), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::Call(v1::ClientFrame frame, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<uint64_t> id = SendFrame(std::move(frame), /*await_send=*/false);
  if (!id.ok()) return id.status();
  absl::StatusOr<v1::ServerFrame> answer = WaitForReply(*id, deadline - absl::Now());
  if (!answer.ok()) return answer.status();
  if (!answer->has_reply()) {
    return absl::InternalError(absl::StrCat("request ", *id, " was answered without a Reply"));
  }
  if (answer->reply().status() != v1::SUCCESS) {
    return StatusFromServer(answer->reply().status(), answer->reply().message());
  }
  return std::move(*answer->mutable_reply());
}

absl::StatusOr<v1::Reply> ChatClient::CreateRoom(const std::string& name, absl::Duration timeout) {
  v1::ClientFrame frame;
  frame.mutable_create_room()->set_name(name);
  return Call(std::move(frame), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::JoinRoom(const std::string& name, absl::Duration timeout) {
  v1::ClientFrame frame;
  frame.mutable_join_room()->set_name(name);
  return Call(std::move(frame), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::JoinRoomById(uint64_t room_id, absl::Duration timeout) {
  v1::ClientFrame frame;
  frame.set_room_id(room_id);
  frame.mutable_join_room();
  return Call(std::move(frame), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::LeaveRoom(uint64_t room_id, absl::Duration timeout) {
  v1::ClientFrame frame;
  frame.set_room_id(room_id);
  frame.mutable_leave_room();
  return Call(std::move(frame), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::DeleteRoom(const std::string& name, absl::Duration timeout) {
  v1::ClientFrame frame;
  frame.mutable_delete_room()->set_name(name);
  return Call(std::move(frame), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::ListRooms(absl::Duration timeout) {
  return ListRooms(v1::ListRooms(), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::ListRooms(const v1::ListRooms& query, absl::Duration timeout) {
  v1::ClientFrame frame;
  *frame.mutable_list_rooms() = query;
  return Call(std::move(frame), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::ListAllRooms(absl::Duration timeout, const std::string& name_prefix) {
  const absl::Time deadline = absl::Now() + timeout;
  v1::ListRooms query;
  query.set_name_prefix(name_prefix);
  v1::Reply all;
  for (;;) {
    absl::StatusOr<v1::Reply> page = ListRooms(query, deadline - absl::Now());
    if (!page.ok()) return page.status();
    all.set_status(page->status());
    all.set_total_rooms(page->total_rooms());
    for (v1::RoomInfo& room : *page->mutable_rooms()) *all.add_rooms() = std::move(room);
    // An empty page with a cursor, or a cursor that does not move, would
    // loop forever against a faulty server: stop there.
    if (page->next_cursor().empty() || page->rooms_size() == 0 || page->next_cursor() == query.after()) break;
    query.set_after(page->next_cursor());
  }
  all.set_message(absl::StrCat(all.rooms_size(), " rooms"));
  return all;
}

absl::StatusOr<v1::Reply> ChatClient::ListMembers(uint64_t room_id, const v1::ListMembers& query,
                                                 absl::Duration timeout) {
  v1::ClientFrame frame;
  frame.set_room_id(room_id);
  *frame.mutable_list_members() = query;
  return Call(std::move(frame), timeout);
}

absl::StatusOr<v1::Reply> ChatClient::ListAllMembers(uint64_t room_id, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  v1::ListMembers query;
  v1::Reply all;
  for (;;) {
    absl::StatusOr<v1::Reply> page = ListMembers(room_id, query, deadline - absl::Now());
    if (!page.ok()) return page.status();
    all.set_status(page->status());
    all.set_room_id(page->room_id());
    all.set_room_name(page->room_name());
    all.set_member_count(page->member_count());
    for (std::string& nick : *page->mutable_members()) all.add_members(std::move(nick));
    // As in ListAllRooms: a cursor that does not move ends the paging.
    if (page->next_cursor().empty() || page->members_size() == 0 || page->next_cursor() == query.after()) break;
    query.set_after(page->next_cursor());
  }
  all.set_message(absl::StrCat(all.members_size(), " members"));
  return all;
}

absl::StatusOr<v1::Pong> ChatClient::Ping(uint64_t nonce, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  v1::ClientFrame frame;
  frame.mutable_ping()->set_nonce(nonce);
  absl::StatusOr<uint64_t> id = SendFrame(std::move(frame), /*await_send=*/false);
  if (!id.ok()) return id.status();
  absl::StatusOr<v1::ServerFrame> answer = WaitForReply(*id, deadline - absl::Now());
  if (!answer.ok()) return answer.status();
  if (answer->has_pong()) return answer->pong();
  if (answer->has_reply() && answer->reply().status() != v1::SUCCESS) {
    return StatusFromServer(answer->reply().status(), answer->reply().message());
  }
  return absl::InternalError(absl::StrCat("ping ", *id, " was answered without a Pong"));
}

absl::StatusOr<uint64_t> ChatClient::Send(uint64_t room_id, absl::string_view text, uint64_t client_msg_id) {
  v1::ClientFrame frame;
  frame.set_room_id(room_id);
  frame.mutable_send_message()->set_text(std::string(text));
  frame.mutable_send_message()->set_client_msg_id(client_msg_id);
  return SendFrame(std::move(frame), /*await_send=*/false);
}

std::vector<ChatClient::UnackedSend> ChatClient::UnackedSends() const {
  std::vector<std::pair<uint64_t, UnackedSend>> by_id(sends_.begin(), sends_.end());
  std::sort(by_id.begin(), by_id.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<UnackedSend> out;
  out.reserve(by_id.size());
  for (auto& [id, send] : by_id) out.push_back(std::move(send));
  return out;
}

uint64_t ChatClient::NewClientMsgId() {
  for (;;) {
    const uint64_t id = rng_();
    if (id != 0 && !by_msg_id_.contains(id)) return id;
  }
}

absl::StatusOr<v1::ChatMessage> ChatClient::SendAndWait(uint64_t room_id, absl::string_view text,
                                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  v1::ClientFrame frame;
  frame.set_room_id(room_id);
  frame.mutable_send_message()->set_text(std::string(text));
  absl::StatusOr<uint64_t> id = SendFrame(std::move(frame), /*await_send=*/true);
  if (!id.ok()) return id.status();
  absl::StatusOr<v1::ServerFrame> answer = WaitForReply(*id, deadline - absl::Now());
  if (!answer.ok()) return answer.status();
  if (answer->has_chat_message()) return std::move(*answer->mutable_chat_message());
  if (answer->has_reply() && answer->reply().status() != v1::SUCCESS) {
    return StatusFromServer(answer->reply().status(), answer->reply().message());
  }
  if (answer->has_reply()) {
    // A resend of a message the server already has: its Reply names the seq.
    v1::ChatMessage msg;
    msg.set_sender(nickname_);
    msg.set_text(std::string(text));
    msg.set_seq(answer->reply().last_seq());
    msg.set_client_msg_id(last_client_msg_id_);
    return msg;
  }
  return absl::InternalError(absl::StrCat("send ", *id, " was answered unexpectedly"));
}

absl::StatusOr<v1::Reply> ChatClient::Post(const std::string& room_name, absl::string_view text,
                                           absl::Duration timeout) {
  v1::ClientFrame frame;
  frame.mutable_post_message()->set_room_name(room_name);
  frame.mutable_post_message()->set_text(std::string(text));
  return Call(std::move(frame), timeout);
}

// -------------------------------------------------------------- low level

uint64_t ChatClient::NextRequestId() {
  for (;;) {
    const uint64_t id = next_request_id_++;
    if (id == 0) continue;
    if (awaited_.contains(id) || answers_.contains(id) || sends_.contains(id)) continue;
    return id;
  }
}

absl::StatusOr<uint64_t> ChatClient::SendRequest(v1::ClientFrame frame) {
  return SendFrame(std::move(frame), /*await_send=*/false);
}

absl::StatusOr<uint64_t> ChatClient::SendFrame(v1::ClientFrame frame, bool await_send) {
  if (closed()) return close_status_;
  uint64_t id = frame.request_id();
  if (id == 0) {
    id = NextRequestId();
    frame.set_request_id(id);
  } else if (awaited_.contains(id) || answers_.contains(id) || sends_.contains(id)) {
    return absl::InvalidArgumentError(absl::StrCat("request_id ", id, " is still outstanding"));
  }
  if (frame.has_send_message() && frame.send_message().client_msg_id() != 0 &&
      by_msg_id_.contains(frame.send_message().client_msg_id())) {
    return absl::InvalidArgumentError(
        absl::StrCat("client_msg_id ", frame.send_message().client_msg_id(), " is still awaiting its echo"));
  }
  if (frame.has_send_message() && frame.send_message().client_msg_id() == 0) {
    frame.mutable_send_message()->set_client_msg_id(NewClientMsgId());
  }
  if (absl::Status s = wire::AppendFrame(frame, &out_, max_outbound_frame_bytes_); !s.ok()) {
    return s;
  }
  if (frame.has_send_message()) {
    const uint64_t msg_id = frame.send_message().client_msg_id();
    last_client_msg_id_ = msg_id;
    pending_sends_[frame.room_id()].push_back(id);
    sends_[id] = UnackedSend{frame.room_id(), msg_id, frame.send_message().text()};
    by_msg_id_[msg_id] = id;
    if (await_send) awaited_.insert(id);
  } else if (!frame.has_pong()) {
    awaited_.insert(id);
    if (frame.has_post_message()) post_requests_.insert(id);
  }
  const absl::Status flushed = Flush(absl::Now() + write_timeout_);
  if (absl::IsDeadlineExceeded(flushed) && !closed()) {
    MarkClosed(absl::DeadlineExceededError(absl::StrCat(
        "server did not read our output for ", absl::FormatDuration(write_timeout_))));
  }
  if (!flushed.ok()) return close_status_.ok() ? flushed : close_status_;
  return id;
}

absl::StatusOr<v1::ServerFrame> ChatClient::WaitForReply(uint64_t request_id,
                                                         absl::Duration timeout) {
  if (!awaited_.contains(request_id) && !answers_.contains(request_id)) {
    return absl::NotFoundError(absl::StrCat("request ", request_id, " is not awaited"));
  }
  const absl::Status s =
      WaitUntil([&] { return answers_.contains(request_id); }, absl::Now() + timeout);
  if (!s.ok()) {
    // Given up on (timeout or interrupt): a late answer becomes an event
    // instead of waiting, uncollected, in answers_.
    if ((absl::IsDeadlineExceeded(s) || absl::IsCancelled(s)) && !closed()) awaited_.erase(request_id);
    return s;
  }
  auto node = answers_.extract(request_id);
  return std::move(node.mapped());
}

absl::StatusOr<v1::ServerFrame> ChatClient::NextEvent(absl::Duration timeout) {
  const absl::Status s = WaitUntil([&] { return !events_.empty(); }, absl::Now() + timeout);
  if (!s.ok()) {
    if (!closed() || absl::IsUnavailable(s)) return s;
    absl::Status unavailable = absl::UnavailableError(absl::StrCat("connection closed: ", s.message()));
    s.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
      unavailable.SetPayload(url, payload);
    });
    return unavailable;
  }
  v1::ServerFrame frame = std::move(events_.front());
  events_.pop_front();
  return frame;
}

absl::Status ChatClient::Pump() {
  if (closed()) return close_status_;
  WriteSome();
  ReadSome();
  if (!out_.empty()) WriteSome();
  return close_status_;
}

absl::Duration ChatClient::keepalive_interval() const {
  const uint32_t ms = welcome_.limits().keepalive_millis();
  if (ms > 0) return absl::Milliseconds(ms);
  const uint32_t s = welcome_.limits().keepalive_seconds();  // servers before keepalive_millis
  return s > 0 ? absl::Seconds(s) : absl::InfiniteDuration();
}

// ------------------------------------------------------------------- I/O

template <typename Ready>
absl::Status ChatClient::WaitUntil(Ready ready, absl::Time deadline) {
  for (;;) {
    if (ready()) return absl::OkStatus();
    if (closed()) return close_status_;
    const bool progressed = PollOnce(deadline);
    if (interrupted_) {
      interrupted_ = false;
      return absl::CancelledError("interrupted");
    }
    if (!progressed || absl::Now() >= deadline) {
      if (ready()) return absl::OkStatus();
      if (closed()) return close_status_;
      return absl::DeadlineExceededError("timed out waiting for the server");
    }
  }
}

bool ChatClient::PollOnce(absl::Time deadline) {
  pollfd fds[2] = {{fd(), static_cast<short>(POLLIN | (HasPendingOutput() ? POLLOUT : 0)), 0},
                   {interrupt_fd_, POLLIN, 0}};
  pollfd& p = fds[0];
  int n;
  do {
    n = ::poll(fds, interrupt_fd_ >= 0 ? 2 : 1, PollTimeoutMs(deadline));
  } while (n < 0 && errno == EINTR);
  if (n > 0 && interrupt_fd_ >= 0 && (fds[1].revents & POLLIN)) {
    interrupted_ = true;
    return true;
  }
  if (n < 0) {
    const int err = errno;
    MarkClosed(absl::UnavailableError(absl::StrCat("poll: ", ErrnoText(err))));
    return true;
  }
  if (n == 0) return false;
  if (p.revents & POLLNVAL) {
    MarkClosed(absl::UnavailableError("socket is not open"));
    return true;
  }
  if (p.revents & POLLOUT) {
    WriteSome();
    if (stream_ != nullptr && stream_->WantsWrite()) ReadSome();  // a TLS read was waiting to write
  }
  if (p.revents & (POLLIN | POLLHUP | POLLERR)) ReadSome();
  if (!out_.empty()) WriteSome();  // e.g. a Pong queued by ReadSome
  return true;
}

absl::Status ChatClient::Flush(absl::Time deadline) {
  WriteSome();
  return WaitUntil([&] { return out_.empty(); }, deadline);
}

void ChatClient::WriteSome() {
  while (!out_.empty() && !closed()) {
    const StreamResult r = stream_->Write(out_.Peek(), out_.ReadableBytes());
    if (r.code == StreamResult::kOk && r.bytes > 0) {
      out_.Consume(r.bytes);
      continue;
    }
    if (r.code == StreamResult::kWouldBlock) return;
    // The server may have said why before it closed (an Error frame): read
    // that first, so it becomes the close status rather than EPIPE.
    ReadSome();
    MarkClosed(absl::UnavailableError(r.error.empty() ? std::string("write: connection closed") : r.error));
    return;
  }
}

void ChatClient::ReadSome() {
  size_t total = 0;
  // Past the cap, bytes already decrypted inside TLS are still read: poll()
  // could not report them.
  while (!closed() && (total < kMaxReadPerWakeup || stream_->HasBufferedInput())) {
    const StreamResult r = stream_->Read(&in_, kReadChunkBytes);
    if (r.code == StreamResult::kOk) {
      total += r.bytes;
      for (;;) {
        v1::ServerFrame frame;
        absl::StatusOr<bool> got = decoder_.Next(&in_, &frame);
        if (!got.ok()) {
          MarkClosed(absl::DataLossError(
              absl::StrCat("undecodable data from the server: ", got.status().message())));
          return;
        }
        if (!*got) break;
        Dispatch(std::move(frame));
        if (closed()) return;
      }
      continue;
    }
    if (r.code == StreamResult::kEof) {
      MarkClosed(absl::UnavailableError("connection closed by the server"));
      return;
    }
    if (r.code == StreamResult::kWouldBlock) return;
    MarkClosed(absl::UnavailableError(r.error));
    return;
  }
}

void ChatClient::Dispatch(v1::ServerFrame frame) {
  // A keepalive ping is queued by the server on its own, never between a
  // post's Reply and our copy of it; any other frame ends the wait for it.
  std::optional<std::pair<uint64_t, uint64_t>> post_copy;
  if (!frame.has_ping()) post_copy = std::exchange(post_copy_, std::nullopt);
  switch (frame.body_case()) {
    case v1::ServerFrame::kPing: {
      // Keepalive: answer, never surface. Flushed by our caller.
      v1::ClientFrame pong;
      pong.mutable_pong()->set_nonce(frame.ping().nonce());
      (void)wire::AppendFrame(pong, &out_, max_outbound_frame_bytes_);
      return;
    }
    case v1::ServerFrame::kError: {
      absl::Status why = StatusFromServer(frame.error().status(), frame.error().message());
      if (why.ok()) why = absl::UnknownError("server sent an Error frame with status SUCCESS");
      events_.push_back(std::move(frame));
      MarkClosed(std::move(why));
      return;
    }
    case v1::ServerFrame::kWelcome:
      welcome_ = frame.welcome();
      nickname_ = welcome_.nickname();
      if (welcome_.limits().max_frame_bytes() > 0) {
        max_outbound_frame_bytes_ = welcome_.limits().max_frame_bytes();
      }
      break;
    case v1::ServerFrame::kChatMessage: {
      const v1::ChatMessage& msg = frame.chat_message();
      if (!msg.replay() && msg.client_msg_id() != 0) {
        // Acknowledgements are matched by our id, not by nickname: the
        // account may be sending from another device too.
        auto mine = by_msg_id_.find(msg.client_msg_id());
        if (mine != by_msg_id_.end() && sends_[mine->second].room_id == frame.room_id()) {
          const uint64_t id = mine->second;
          ForgetSend(id);
          Deliver(id, std::move(frame));
          return;
        }
        events_.push_back(std::move(frame));
        return;
      }
      // A server that does not echo client_msg_id: our own echoes acknowledge
      // our sends to the room in order.
      if (!msg.replay() && !nickname_.empty() && absl::EqualsIgnoreCase(msg.sender(), nickname_)) {
        // The copy of one of our posts: its Reply came just before and named it.
        if (post_copy == std::make_pair(frame.room_id(), msg.seq())) {
          events_.push_back(std::move(frame));
          return;
        }
        auto it = pending_sends_.find(frame.room_id());
        if (it != pending_sends_.end() && !it->second.empty()) {
          // Our own echo acknowledges the oldest pending send to this room.
          const uint64_t id = it->second.front();
          ForgetSend(id);
          Deliver(id, std::move(frame));
          return;
        }
      }
      events_.push_back(std::move(frame));
      return;
    }
    default:
      break;
  }
  const uint64_t id = frame.request_id();
  if (id == 0) {
    events_.push_back(std::move(frame));
    return;
  }
  if (post_requests_.erase(id) > 0 && frame.has_reply() && frame.reply().status() == v1::SUCCESS) {
    post_copy_ = std::make_pair(frame.reply().room_id(), frame.reply().last_seq());
  }
  // A Reply to a send: a refusal (it will never be echoed), or SUCCESS for
  // a resend the server already had (last_seq = its seq). Either ends it.
  if (sends_.contains(id)) ForgetSend(id);
  Deliver(id, std::move(frame));
}

void ChatClient::ForgetSend(uint64_t id) {
  auto sr = sends_.find(id);
  if (sr == sends_.end()) return;
  auto it = pending_sends_.find(sr->second.room_id);
  if (it != pending_sends_.end()) {
    auto pos = std::find(it->second.begin(), it->second.end(), id);
    if (pos != it->second.end()) it->second.erase(pos);
    if (it->second.empty()) pending_sends_.erase(it);
  }
  by_msg_id_.erase(sr->second.client_msg_id);
  sends_.erase(sr);
}

void ChatClient::Deliver(uint64_t id, v1::ServerFrame frame) {
  if (awaited_.erase(id) > 0) {
    answers_[id] = std::move(frame);
  } else {
    events_.push_back(std::move(frame));
  }
}

}  // namespace muxchat::client
