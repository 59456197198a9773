#include "src/server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace muxchat::server {
namespace {

constexpr uint64_t kListenTag = 1;
constexpr uint64_t kWakeTag = 2;
constexpr uint64_t kSignalTag = 3;
constexpr int kMaxAcceptsPerTurn = 256;

std::string ErrnoText(const char* what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

// "host:port", "[v6]:port" or ":port" (all IPv4 interfaces).
absl::Status SplitHostPort(const std::string& listen, std::string* host, std::string* port) {
  size_t colon;
  if (!listen.empty() && listen[0] == '[') {
    const size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("bad --listen '", listen, "': want [v6addr]:port"));
    }
    *host = listen.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad --listen '", listen, "': want host:port"));
    }
    *host = listen.substr(0, colon);
    if (host->empty()) *host = "0.0.0.0";
  }
  *port = listen.substr(colon + 1);
  int port_num;
  if (!absl::SimpleAtoi(*port, &port_num) || port_num < 0 || port_num > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in --listen '", listen, "'"));
  }
  return absl::OkStatus();
}

google::protobuf::ArenaOptions ArenaOptionsFor(char* block, size_t size) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = size;
  return options;
}

std::string FormatAddress(const sockaddr_storage& addr, uint16_t* port_out) {
  char text[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  std::string out;
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
    out = absl::StrCat("[", text, "]:", port);
  } else {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
    out = absl::StrCat(text, ":", port);
  }
  if (port_out != nullptr) *port_out = port;
  return out;
}

}  // namespace

Server::Server(const ServerOptions& options, Logger* logger, std::unique_ptr<Poller> poller)
    : options_(options),
      logger_(logger),
      poller_(std::move(poller)),
      service_(options_, logger),
      decoder_(options.max_frame_bytes),
      arena_(ArenaOptionsFor(arena_block_, sizeof arena_block_)) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const ServerOptions& options, Logger* logger) {
  absl::StatusOr<std::unique_ptr<Poller>> poller = MakePoller(options.poller);
  if (!poller.ok()) return poller.status();
  std::unique_ptr<Server> server(new Server(options, logger, std::move(*poller)));
  if (absl::Status st = server->Listen(); !st.ok()) return st;
  return server;
}

Server::~Server() {
  connections_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

absl::Status Server::Listen() {
  std::string host, port;
  if (absl::Status st = SplitHostPort(options_.listen, &host, &port); !st.ok()) return st;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve '", host, "': ", ::gai_strerror(rc)));
  }
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = ErrnoText("socket");
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || ::listen(fd, SOMAXCONN) < 0) {
      last_error = ErrnoText("bind/listen");
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
    break;
  }
  ::freeaddrinfo(found);
  if (listen_fd_ < 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen, ": ", last_error));

  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  bound_address_ = FormatAddress(addr, &port_);

  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  v1::ServerFrame full;
  full.mutable_error()->set_status(v1::FAILURE_SERVER_FULL);
  full.mutable_error()->set_message("server is out of file descriptors");
  out_of_fds_frame_ = wire::EncodeFrameToString(full);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return absl::InternalError(ErrnoText("eventfd"));
  if (absl::Status st = poller_->Add(listen_fd_, kPollRead, kListenTag); !st.ok()) return st;
  if (absl::Status st = poller_->Add(wake_fd_, kPollRead, kWakeTag); !st.ok()) return st;
  if (options_.signal_fd >= 0) {
    if (absl::Status st = poller_->Add(options_.signal_fd, kPollRead, kSignalTag); !st.ok()) return st;
  }
  return absl::OkStatus();
}

void Server::RequestShutdown() {
  const uint64_t one = 1;
  // eventfd writes of 8 bytes are atomic; nothing useful to do if it fails.
  (void)!::write(wake_fd_, &one, sizeof one);
}

absl::Status Server::Run() {
  logger_->Log(LogLevel::kInfo, "listening on %s (poller %s)", bound_address_, poller_->Name());
  absl::Time now = absl::Now();
  next_timeout_sweep_ = now + absl::Milliseconds(500);
  while (phase_ != Phase::kStopped) {
    // Stats first: a client that sees a reply flushed below must also see
    // the state that reply describes.
    PublishStats();
    FlushDirty();
    ReapClosing(now);
    PublishStats();
    if (phase_ == Phase::kDraining && (connections_.empty() || now >= drain_deadline_)) break;

    // Closing connections and a drain need prompt deadlines; otherwise only
    // the handshake/keepalive sweep wakes an idle server.
    MaybeResumeAccepting(now);
    const int timeout_ms =
        (!closing_.empty() || phase_ == Phase::kDraining || accept_resume_ != absl::InfinitePast()) ? 20 : 500;
    if (absl::Status st = poller_->Poll(timeout_ms, &events_); !st.ok()) return st;
    now = absl::Now();
    for (const PollEvent& ev : events_) {
      if (ev.tag == kListenTag) {
        AcceptAll(now);
        continue;
      }
      if (ev.tag == kWakeTag || ev.tag == kSignalTag) {
        int count = 0;
        if (ev.tag == kWakeTag) {
          uint64_t n = 0;
          if (::read(wake_fd_, &n, sizeof n) == sizeof n) count = static_cast<int>(n);
        } else {
          signalfd_siginfo info;
          while (::read(options_.signal_fd, &info, sizeof info) == sizeof info) {
            logger_->Log(LogLevel::kInfo, "received signal %d", info.ssi_signo);
            ++count;
          }
        }
        for (int i = 0; i < count && phase_ != Phase::kStopped; ++i) OnStopSignal(now);
        continue;
      }
      // Re-check: an earlier event this turn may have closed it (never freed
      // before the turn ends, but it may be in closing state).
      auto it = connections_.find(ev.tag);
      if (it == connections_.end()) continue;
      Connection* conn = it->second.get();
      if (ev.writable) HandleWrite(conn);
      if (ev.readable || ev.error) HandleRead(conn, now);
    }
    if (now >= next_timeout_sweep_) {
      CheckTimeouts(now);
      next_timeout_sweep_ = now + absl::Milliseconds(500);
    }
  }
  const size_t left = connections_.size();
  connections_.clear();
  dirty_.clear();
  closing_.clear();
  PublishStats();
  logger_->Log(LogLevel::kInfo, "stopped (%d connections closed at exit)", left);
  return absl::OkStatus();
}

void Server::OnStopSignal(absl::Time now) {
  ++stop_signals_;
  if (stop_signals_ == 1) {
    BeginShutdown(now);
  } else {
    logger_->Log(LogLevel::kWarn, "second stop request: exiting at once");
    phase_ = Phase::kStopped;
  }
}

void Server::BeginShutdown(absl::Time now) {
  logger_->Log(LogLevel::kInfo, "shutting down: notifying %d connections, grace %s", connections_.size(),
               absl::FormatDuration(options_.shutdown_grace));
  phase_ = Phase::kDraining;
  drain_deadline_ = now + options_.shutdown_grace;
  poller_->Remove(listen_fd_);
  ::close(listen_fd_);
  listen_fd_ = -1;
  v1::ServerFrame notice;
  notice.mutable_shutdown()->set_reason("server shutting down");
  notice.mutable_shutdown()->set_grace_millis(static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.shutdown_grace)));
  absl::StatusOr<wire::SharedFrame> bytes = wire::EncodeSharedFrame(notice);
  for (auto& [id, conn] : connections_) {
    conn->SendShared(*bytes);
    conn->Close(CloseReason::kShutdown);
  }
}

void Server::AcceptAll(absl::Time now) {
  for (int i = 0; i < kMaxAcceptsPerTurn; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
      const int err = errno;
      // EMFILE/ENFILE: left queued, the connection would keep the listener
      // readable and the loop spinning; turn it away with the reserve fd.
      if ((err == EMFILE || err == ENFILE) && TurnAwayOne()) continue;
      // A failure that does not go away (no reserve fd left, ENOBUFS, ENOMEM)
      // would keep the level-triggered listener firing: stop watching it for
      // a moment instead of spinning.
      logger_->Log(LogLevel::kWarn, "accept: %s; pausing accepts for %s", std::strerror(err),
                   absl::FormatDuration(kAcceptPause));
      PauseAccepting(now + kAcceptPause);
      return;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const uint64_t id = next_connection_id_++;
    auto conn = std::make_unique<Connection>(id, fd, FormatAddress(addr, nullptr), now, options_.max_output_bytes,
                                             &dirty_);
    Connection* raw = conn.get();
    if (absl::Status st = poller_->Add(fd, kPollRead, id); !st.ok()) {
      logger_->Log(LogLevel::kError, "conn %d: %s", id, st.ToString());
      continue;  // conn's destructor closes fd
    }
    // Connections already closing (lingering for their goodbye) no longer count.
    const bool full = connections_.size() - closing_.size() >= options_.max_connections;
    connections_.emplace(id, std::move(conn));
    logger_->Log(LogLevel::kInfo, "conn %d opened from %s", id, raw->peer());
    if (full) {
      raw->Close(CloseReason::kServerFull, v1::FAILURE_SERVER_FULL,
                 absl::StrCat("server is full (", options_.max_connections, " connections)"));
    }
  }
}

void Server::PauseAccepting(absl::Time until) {
  if (accept_resume_ == absl::InfinitePast()) {
    if (absl::Status st = poller_->Modify(listen_fd_, 0, kListenTag); !st.ok()) {
      logger_->Log(LogLevel::kError, "listener: %s", st.ToString());
    }
  }
  accept_resume_ = until;
}

void Server::MaybeResumeAccepting(absl::Time now) {
  if (accept_resume_ == absl::InfinitePast() || now < accept_resume_ || listen_fd_ < 0) return;
  accept_resume_ = absl::InfinitePast();
  if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (absl::Status st = poller_->Modify(listen_fd_, kPollRead, kListenTag); !st.ok()) {
    logger_->Log(LogLevel::kError, "listener: %s", st.ToString());
  }
}

bool Server::TurnAwayOne() {
  if (spare_fd_ < 0) return false;
  ::close(spare_fd_);
  const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    // A fresh socket's buffer takes these few bytes at once; best effort.
    (void)!::send(fd, out_of_fds_frame_.data(), out_of_fds_frame_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
    logger_->Log(LogLevel::kWarn, "accept: out of file descriptors; turned a connection away");
  }
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0;
}

void Server::HandleRead(Connection* conn, absl::Time now) {
  if (!conn->read_enabled) return;
  if (conn->closing() || phase_ != Phase::kServing) {
    // No more requests: read only to notice EOF and to keep unread bytes from
    // turning our close into a reset that could destroy the Error frame.
    char sink[16384];
    const ssize_t n = ::read(conn->fd(), sink, sizeof sink);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      conn->peer_gone = true;
      conn->read_enabled = false;
      SetWriteInterest(conn, conn->write_armed);
      if (!conn->closing()) conn->Close(CloseReason::kClientClosed);
    }
    return;
  }
  const ssize_t n = conn->input().ReadFromFd(conn->fd(), options_.read_budget_bytes);
  if (n == 0) {
    // Half-close: the peer will send nothing more, but may still read what we
    // owe it, so replies already queued are flushed before the close.
    conn->peer_gone = true;
    conn->read_enabled = false;
    SetWriteInterest(conn, conn->write_armed);
  } else if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    conn->peer_gone = true;
    conn->Close(CloseReason::kReadError);
    return;
  } else {
    conn->Heard(now);
  }
  auto* request = google::protobuf::Arena::CreateMessage<v1::ClientFrame>(&arena_);
  while (!conn->closing()) {
    absl::StatusOr<bool> got = decoder_.Next(&conn->input(), request);
    if (!got.ok()) {
      const bool too_large = got.status().code() == absl::StatusCode::kResourceExhausted;
      logger_->Log(LogLevel::kWarn, "conn %d (%s): %s", conn->id(), conn->peer(), got.status().message());
      conn->Close(too_large ? CloseReason::kFrameTooLarge : CloseReason::kProtocolError,
                  too_large ? v1::FAILURE_FRAME_TOO_LARGE : v1::FAILURE_PROTOCOL, std::string(got.status().message()));
      break;
    }
    if (!*got) break;
    service_.HandleFrame(conn, *request, now);
  }
  arena_.Reset();
  if (n == 0 && !conn->closing()) conn->Close(CloseReason::kClientClosed);
}

void Server::SetWriteInterest(Connection* conn, bool want) {
  conn->write_armed = want;
  const uint32_t interest = (conn->read_enabled ? kPollRead : 0u) | (want ? kPollWrite : 0u);
  if (absl::Status st = poller_->Modify(conn->fd(), interest, conn->id()); !st.ok()) {
    logger_->Log(LogLevel::kError, "conn %d: %s", conn->id(), st.ToString());
  }
}

void Server::Flush(Connection* conn) {
  size_t budget = options_.write_budget_bytes;
  while (!conn->output().empty() && budget > 0) {
    const ssize_t n = conn->output().WriteToFd(conn->fd(), budget);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      conn->peer_gone = true;
      conn->output().Consume(conn->output().PendingBytes());
      if (!conn->closing()) conn->Close(CloseReason::kWriteError);
      return;
    }
    budget -= std::min(budget, static_cast<size_t>(n));
  }
  const bool want = !conn->output().empty();
  if (want != conn->write_armed) SetWriteInterest(conn, want);
}

void Server::HandleWrite(Connection* conn) { Flush(conn); }

void Server::FlushDirty() {
  // Index loop: a disconnect below may dirty further connections.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    Connection* conn = dirty_[i];
    conn->in_dirty_list = false;
    if (conn->closing() && !conn->disconnected) {
      conn->disconnected = true;
      conn->closing_since = absl::Now();
      service_.OnDisconnect(conn);
      closing_.push_back(conn);
      stat_closed_[static_cast<int>(conn->close_reason())].fetch_add(1, std::memory_order_relaxed);
      logger_->Log(conn->close_reason() == CloseReason::kClientClosed || conn->close_reason() == CloseReason::kShutdown
                       ? LogLevel::kInfo
                       : LogLevel::kWarn,
                   "conn %d (%s%s%s) closing: %s", conn->id(), conn->peer(), conn->nickname().empty() ? "" : " ",
                   conn->nickname(), CloseReasonName(conn->close_reason()));
    }
    if (!conn->write_armed) Flush(conn);
  }
  dirty_.clear();
}

void Server::ReapClosing(absl::Time now) {
  size_t kept = 0;
  for (Connection* conn : closing_) {
    const absl::Time deadline =
        phase_ == Phase::kDraining ? drain_deadline_ : conn->closing_since + options_.close_linger;
    // Still owed bytes (or just got some this turn): keep flushing until the deadline.
    const bool owed = conn->in_dirty_list || !conn->output().empty();
    if (owed && now < deadline) {
      closing_[kept++] = conn;
      continue;
    }
    if (!conn->write_shutdown) {
      // Our last bytes are out: FIN, then give the peer a moment to read them
      // and close its side, so no reset races the Error frame.
      ::shutdown(conn->fd(), SHUT_WR);
      conn->write_shutdown = true;
    }
    if ((conn->peer_gone || now >= deadline) && !conn->in_dirty_list) {
      Destroy(conn);
      continue;
    }
    closing_[kept++] = conn;
  }
  closing_.resize(kept);
}

void Server::Destroy(Connection* conn) {
  logger_->Log(LogLevel::kDebug, "conn %d closed", conn->id());
  poller_->Remove(conn->fd());
  connections_.erase(conn->id());
}

void Server::CheckTimeouts(absl::Time now) {
  for (auto& [id, conn] : connections_) {
    if (conn->closing()) continue;
    if (!conn->logged_in()) {
      if (options_.handshake_timeout > absl::ZeroDuration() && now - conn->created() > options_.handshake_timeout) {
        conn->Close(CloseReason::kTimeout, v1::FAILURE_TIMEOUT,
                    absl::StrCat("no Hello within ", absl::FormatDuration(options_.handshake_timeout)));
      }
      continue;
    }
    if (options_.keepalive_interval <= absl::ZeroDuration()) continue;
    if (conn->ping_outstanding()) {
      if (now - conn->ping_sent() > options_.keepalive_timeout) {
        conn->Close(CloseReason::kTimeout, v1::FAILURE_TIMEOUT, "no answer to keepalive ping");
      }
    } else if (now - conn->last_heard() > options_.keepalive_interval) {
      v1::ServerFrame ping;
      ping.mutable_ping()->set_nonce(absl::ToUnixMicros(now));
      conn->Send(ping);
      conn->set_ping_outstanding(now);
    }
  }
}

void Server::PublishStats() {
  stat_connections_.store(connections_.size(), std::memory_order_relaxed);
  stat_rooms_.store(service_.rooms().size(), std::memory_order_relaxed);
}

}  // namespace muxchat::server
