#include "src/server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/server/protocol_sniffer.h"
#include "src/server/websocket_transport.h"
#include "src/server/http_handler.h"
#include "src/server/http_request_parser.h"
#include "src/server/metrics_access.h"

namespace muxchat::server {
namespace {

// Tokens of the server's own fds; connection IDs start above them.
constexpr uint64_t kListenToken = 1;
constexpr uint64_t kWakeToken = 2;
constexpr uint64_t kSignalToken = 3;
constexpr uint64_t kStorageToken = 4;   // storage's completion eventfd
constexpr uint64_t kPasswordToken = 5;  // the password hasher's completion eventfd
constexpr int kMaxAcceptsPerTurn = 256;

// Metrics slots for a connection's transport and lifecycle state.
int TransportSlot(Connection* conn) {
  const Transport* t = conn->transport();
  return static_cast<int>(t == nullptr ? MetricTransport::kTcp : MetricTransportOf(t->Name()));
}

int StateSlot(Connection::State s) {
  switch (s) {
    case Connection::State::kSniffing: return static_cast<int>(MetricConnectionState::kSniffing);
    case Connection::State::kTlsHandshake: return static_cast<int>(MetricConnectionState::kTlsHandshake);
    case Connection::State::kAwaitingHello: return static_cast<int>(MetricConnectionState::kAwaitingHello);
    case Connection::State::kOpen: return static_cast<int>(MetricConnectionState::kOpen);
    case Connection::State::kHttp: return static_cast<int>(MetricConnectionState::kHttp);
    case Connection::State::kClosing:
    case Connection::State::kShutWrite: return static_cast<int>(MetricConnectionState::kClosing);
  }
  return static_cast<int>(MetricConnectionState::kClosing);
}

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

Server::Server(const ServerOptions& options, Logger* logger, std::unique_ptr<EventLoop> loop)
    : options_(options),
      logger_(logger),
      loop_(std::move(loop)),
      service_(options_, logger),
      decoder_(options.max_frame_bytes),
      arena_(ArenaOptionsFor(arena_block_, sizeof arena_block_)) {
  service_.set_metrics(&metrics_);
}

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const ServerOptions& options, Logger* logger,
                                                      std::unique_ptr<Storage> storage, LoadedState state) {
  if (absl::Status st = ChatService::CheckOptions(options); !st.ok()) return st;
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(options.poller);
  if (!loop.ok()) return loop.status();
  std::unique_ptr<Server> server(new Server(options, logger, std::move(*loop)));
  if (storage != nullptr) {
    server->storage_ = std::move(storage);
    if (absl::Status st = server->service_.AttachStorage(server->storage_.get(), std::move(state), absl::Now());
        !st.ok()) {
      return st;
    }
  }
  if (!options.cluster_redis.empty()) {
    if (storage != nullptr) return absl::InvalidArgumentError("--cluster_redis keeps rooms in Redis: use it with --memory");
    if (!ClusterNode::ValidNodeName(options.node_name)) {
      return absl::InvalidArgumentError(absl::StrCat("--node_name '", options.node_name,
                                                     "': 1-64 letters, digits, '.', '_' or '-', unique in the cluster"));
    }
    ClusterOptions co;
    std::string host, port;
    if (absl::Status st = SplitHostPort(options.cluster_redis, &host, &port); !st.ok()) return st;
    if (!absl::SimpleAtoi(port, &co.redis.port) || co.redis.port <= 0 || co.redis.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("--cluster_redis '", options.cluster_redis, "': bad port"));
    }
    co.redis.host = host;
    co.key_prefix = options.cluster_prefix;
    server->cluster_ = std::make_unique<ClusterNode>(server->loop_.get(), std::move(co), options.node_name);
    server->service_.AttachCluster(server->cluster_.get());
    server->cluster_accounts_ =
        std::make_unique<ClusterAccounts>(server->cluster_->command_link(), options.cluster_prefix);
    server->service_.AttachClusterAccounts(server->cluster_accounts_.get());
  }
  absl::StatusOr<OriginPolicy> origins = ParseAllowedOrigins(options.allowed_origins);
  if (!origins.ok()) return origins.status();
  server->origin_policy_ = std::move(*origins);
  server->OpenWebRoot();
  if (!options.tls.cert_file.empty()) {
    absl::StatusOr<std::unique_ptr<TlsContext>> tls = TlsContext::Create(options.tls);
    if (!tls.ok()) return tls.status();
    server->tls_ = std::move(*tls);
  } else if (options.require_tls) {
    return absl::InvalidArgumentError("--require_tls needs --tls_cert and --tls_key");
  }
  if (absl::Status st = server->Listen(); !st.ok()) return st;
  return server;
}

Server::~Server() {
  cluster_accounts_.reset();
  cluster_.reset();
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
  if (absl::Status st = loop_->Add(listen_fd_, kPollRead, this, kListenToken); !st.ok()) return st;
  if (absl::Status st = loop_->Add(wake_fd_, kPollRead, this, kWakeToken); !st.ok()) return st;
  if (options_.signal_fd >= 0) {
    if (absl::Status st = loop_->Add(options_.signal_fd, kPollRead, this, kSignalToken); !st.ok()) return st;
  }
  if (storage_ != nullptr) {
    if (absl::Status st = loop_->Add(storage_->completion_fd(), kPollRead, this, kStorageToken); !st.ok()) return st;
  }
  if (absl::Status st = loop_->Add(service_.password_fd(), kPollRead, this, kPasswordToken); !st.ok()) return st;
  return absl::OkStatus();
}

void Server::RequestShutdown() {
  const uint64_t one = 1;
  // eventfd writes of 8 bytes are atomic; nothing useful to do if it fails.
  (void)!::write(wake_fd_, &one, sizeof one);
}

absl::Status Server::Run() {
  logger_->Log(LogLevel::kInfo, "listening on %s (poller %s)", bound_address_, loop_->poller_name());
  if (tls_ != nullptr) {
    logger_->Log(LogLevel::kInfo, "TLS on the same port: certificate %s, minimum TLS %s%s", options_.tls.cert_file,
                 options_.tls.min_version, options_.require_tls ? ", cleartext only from loopback" : "");
  }
  ScheduleSweep(absl::Now());
  loop_->SetBeforePoll([this](absl::Time now) { BeforePoll(now); });
  if (cluster_ != nullptr) {
    logger_->Log(LogLevel::kInfo, "cluster node '%s', Redis at %s (prefix '%s')", options_.node_name,
                 options_.cluster_redis, options_.cluster_prefix);
    cluster_->Start();
  }
  absl::Status st = loop_->Run();
  cluster_accounts_.reset();
  cluster_.reset();
  const size_t left = connections_.size();
  connections_.clear();
  dirty_.clear();
  closing_.clear();
  reread_.clear();
  PublishStats();
  if (!st.ok()) return st;
  logger_->Log(LogLevel::kInfo, "stopped (%d connections closed at exit)", left);
  return absl::OkStatus();
}

void Server::ScheduleSweep(absl::Time now) {
  loop_->RunAt(now + kSweepInterval, [this](absl::Time at) {
    CheckTimeouts(at);
    service_.Sweep(at);
    ScheduleSweep(at);
  });
}

void Server::BeforePoll(absl::Time now) {
  if (phase_ == Phase::kStopped) {
    loop_->Quit();
    return;
  }
  // Input a transport read ahead of the poller (TLS records) is handled
  // first, as if its fd had fired.
  if (!reread_.empty()) {
    std::vector<uint64_t> ids;
    ids.swap(reread_);
    for (uint64_t id : ids) {
      auto it = connections_.find(id);
      if (it != connections_.end()) HandleRead(it->second.get(), now);
    }
  }
  // Stats first: a client that sees a reply flushed below must also see the
  // state that reply describes.
  PublishStats();
  RetireClosed(now);
  // This turn's writes go to storage as one batch (if none is committing);
  // what they acknowledge is sent when it commits, a later turn. Held for
  // one more turn when a read stopped at its budget with input left.
  if (service_.FlushStorage(input_cut_short_)) loop_->WakeBy(now);
  input_cut_short_ = false;
  FlushDirty();
  if (fanout_pending_ > 0) {
    metrics_.fanout.Observe(absl::Now() - now, fanout_pending_);
    fanout_pending_ = 0;
  }
  ReapClosing(now);
  metrics_.loop_busy.Update(loop_->busy_time(), now);
  PublishStats();
  if (!dirty_.empty() || !reread_.empty()) loop_->WakeBy(now);  // closed while flushing: retire next turn
  if (phase_ == Phase::kDraining) {
    if (connections_.empty() || now >= drain_deadline_) {
      loop_->Quit();
      return;
    }
    loop_->WakeBy(drain_deadline_);
  }
}

void Server::OnEvent(uint64_t token, const PollEvent& ev, absl::Time now) {
  switch (token) {
    case kListenToken:
      AcceptAll(now);
      return;
    case kWakeToken:
    case kSignalToken:
      OnSignals(token, now);
      return;
    case kStorageToken:
      service_.OnStorageReady(now);
      return;
    case kPasswordToken:
      service_.OnPasswordResults(now);
      return;
    default:
      break;
  }
  auto it = connections_.find(token);
  if (it == connections_.end()) return;
  Connection* conn = it->second.get();
  switch (conn->state()) {
    case Connection::State::kSniffing:
      Sniff(conn, now);
      return;
    case Connection::State::kTlsHandshake:
      HandshakeTls(conn, now);
      return;
    default:
      if (ev.writable) Flush(conn);
      if (ev.readable || ev.error) HandleRead(conn, now);
  }
}

void Server::OnSignals(uint64_t token, absl::Time now) {
  int count = 0;
  if (token == kWakeToken) {
    uint64_t n = 0;
    if (::read(wake_fd_, &n, sizeof n) == sizeof n) count = static_cast<int>(n);
  } else {
    signalfd_siginfo info;
    while (::read(options_.signal_fd, &info, sizeof info) == sizeof info) {
      logger_->Log(LogLevel::kInfo, "received signal %d", info.ssi_signo);
      if (info.ssi_signo == SIGHUP) {
        ReloadTls();
        continue;
      }
      ++count;
    }
  }
  for (int i = 0; i < count && phase_ != Phase::kStopped; ++i) OnStopSignal(now);
}

void Server::OnStopSignal(absl::Time now) {
  ++stop_signals_;
  if (stop_signals_ == 1) {
    BeginShutdown(now);
  } else {
    logger_->Log(LogLevel::kWarn, "second stop request: exiting at once");
    phase_ = Phase::kStopped;
    loop_->Quit();
  }
}

void Server::BeginShutdown(absl::Time now) {
  logger_->Log(LogLevel::kInfo, "shutting down: notifying %d connections, grace %s", connections_.size(),
               absl::FormatDuration(options_.shutdown_grace));
  phase_ = Phase::kDraining;
  drain_deadline_ = now + options_.shutdown_grace;
  loop_->Remove(listen_fd_);
  ::close(listen_fd_);
  listen_fd_ = -1;
  v1::ServerFrame notice;
  notice.mutable_shutdown()->set_reason("server shutting down");
  notice.mutable_shutdown()->set_grace_millis(static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.shutdown_grace)));
  absl::StatusOr<wire::SharedFrame> bytes = wire::EncodeSharedFrame(notice);
  for (auto& [id, conn] : connections_) {
    // Only muxchat speakers are told; an HTTP client gets 503, a TLS
    // handshake in progress just ends.
    const Connection::State s = conn->state();
    if (s == Connection::State::kHttp) {
      RespondHttp(conn.get(), HttpResponse::Text(HttpStatus::kServiceUnavailable, "shutting down"),
                  /*head_only=*/false, CloseReason::kShutdown);
      continue;
    }
    if (s == Connection::State::kSniffing || s == Connection::State::kAwaitingHello ||
        s == Connection::State::kOpen) {
      conn->SendShared(*bytes);
    }
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
      PauseAccepting(now);
      return;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const uint64_t id = next_connection_id_++;
    ++metrics_.connections_accepted;
    auto conn = std::make_unique<Connection>(id, fd, FormatAddress(addr, nullptr), now, options_.max_output_bytes,
                                             &dirty_);
    conn->set_transport(MakeTcpTransport(fd));
    conn->transport_slot = TransportSlot(conn.get());
    Connection* raw = conn.get();
    if (absl::Status st = loop_->Add(fd, kPollRead, this, id); !st.ok()) {
      logger_->Log(LogLevel::kError, "conn %d: %s", id, st.ToString());
      continue;  // conn's destructor closes fd
    }
    raw->interest = kPollRead;
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

void Server::PauseAccepting(absl::Time now) {
  if (accept_paused_ || listen_fd_ < 0) return;
  accept_paused_ = true;
  if (absl::Status st = loop_->Modify(listen_fd_, 0); !st.ok()) {
    logger_->Log(LogLevel::kError, "listener: %s", st.ToString());
  }
  loop_->RunAt(now + kAcceptPause, [this](absl::Time) {
    accept_paused_ = false;
    if (listen_fd_ < 0) return;  // shut down meanwhile
    if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (absl::Status st = loop_->Modify(listen_fd_, kPollRead); !st.ok()) {
      logger_->Log(LogLevel::kError, "listener: %s", st.ToString());
    }
  });
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

void Server::Sniff(Connection* conn, absl::Time now) {
  unsigned char first = 0;
  const ssize_t n = ::recv(conn->fd(), &first, 1, MSG_PEEK);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    conn->peer_gone = true;
    conn->Close(CloseReason::kReadError);
    return;
  }
  if (n == 0) {
    conn->peer_gone = true;
    conn->Close(CloseReason::kClientClosed);
    UpdateInterest(conn);
    return;
  }
  const SniffedProtocol protocol = SniffProtocol(first);
  if (protocol == SniffedProtocol::kTls) {
    if (tls_ == nullptr) {
      logger_->Log(LogLevel::kWarn, "conn %d (%s): TLS ClientHello, but TLS is not configured", conn->id(),
                   conn->peer());
      conn->Close(CloseReason::kProtocolError);
      return;
    }
    std::unique_ptr<Transport> transport = tls_->NewServerTransport(conn->fd());
    if (transport == nullptr) {
      logger_->Log(LogLevel::kError, "conn %d: %s", conn->id(), DrainTlsErrors("cannot allocate a TLS session"));
      conn->Close(CloseReason::kHandshakeError);
      return;
    }
    conn->set_transport(std::move(transport));
    conn->transport_slot = TransportSlot(conn);
    conn->MoveTo(Connection::State::kTlsHandshake);
    HandshakeTls(conn, now);
    return;
  }
  if (options_.require_tls && RefusedCleartext(conn, first)) return;
  if (protocol == SniffedProtocol::kHttp) {
    conn->MoveTo(Connection::State::kHttp);
    HandleRead(conn, now);
    return;
  }
  // Anything else is taken as muxchat: the frame decoder refuses a length
  // prefix above max_frame_bytes (FRAME_TOO_LARGE) or bytes that do not parse
  // (PROTOCOL), each with an Error frame, as before sniffing existed.
  conn->MoveTo(Connection::State::kAwaitingHello);
  HandleRead(conn, now);
}

void Server::HandshakeTls(Connection* conn, absl::Time now) {
  const IoResult r = conn->transport()->Handshake();
  switch (r.code) {
    case IoResult::kWouldBlock:
      UpdateInterest(conn, r.want & kPollWrite);
      return;
    case IoResult::kEof:
    case IoResult::kError:
      // Not muxchat yet: no Error frame, the TLS alert (if any) said it.
      logger_->Log(LogLevel::kInfo, "conn %d (%s): TLS handshake %s: %s", conn->id(), conn->peer(),
                   r.code == IoResult::kEof ? "ended by the peer" : "failed", r.error);
      conn->peer_gone = true;
      conn->Close(r.code == IoResult::kEof ? CloseReason::kClientClosed : CloseReason::kHandshakeError);
      UpdateInterest(conn);
      return;
    case IoResult::kOk:
      break;
  }
  logger_->Log(LogLevel::kDebug, "conn %d (%s): TLS established, ALPN '%s'", conn->id(), conn->peer(),
               conn->transport()->alpn());
  // ALPN decides; a client without ALPN speaks muxchat (the protocol's own
  // clients always offer muxchat/1).
  conn->MoveTo(conn->transport()->alpn() == kAlpnHttp ? Connection::State::kHttp
                                                      : Connection::State::kAwaitingHello);
  UpdateInterest(conn);
  // Application data may have come in the handshake's last flight.
  HandleRead(conn, now);
}

bool Server::RefusedCleartext(Connection* conn, unsigned char first) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (options_.cleartext_from_loopback && ::getpeername(conn->fd(), reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    if (addr.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
      if ((ntohl(a->sin_addr.s_addr) >> 24) == 127) return false;
    } else if (addr.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
      if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) return false;
      if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127) return false;
    } else if (addr.ss_family == AF_UNIX) {
      return false;
    }
  }
  logger_->Log(LogLevel::kWarn, "conn %d (%s): cleartext refused (--require_tls)", conn->id(), conn->peer());
  if (StartsHttpMethod(first)) {
    conn->MoveTo(Connection::State::kHttp);
    conn->output().AppendCopy("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    conn->Close(CloseReason::kProtocolError);
  } else {
    conn->MoveTo(Connection::State::kAwaitingHello);
    conn->Close(CloseReason::kProtocolError, v1::FAILURE_PERMISSION_DENIED,
                "this server accepts TLS only (muxchat --tls)");
  }
  return true;
}

void Server::ReloadTls() {
  if (tls_ == nullptr) {
    logger_->Log(LogLevel::kInfo, "SIGHUP: TLS is not configured; nothing to reload");
    return;
  }
  if (absl::Status st = tls_->Reload(); !st.ok()) {
    logger_->Log(LogLevel::kError, "SIGHUP: TLS reload failed, keeping the current certificate: %s", st.message());
    return;
  }
  logger_->Log(LogLevel::kInfo, "SIGHUP: TLS certificate and key reloaded from %s (new connections use them)",
               options_.tls.cert_file);
}

void Server::HandleRead(Connection* conn, absl::Time now) {
  if (conn->peer_gone || conn->transport() == nullptr) return;
  if (conn->closing() || phase_ != Phase::kServing) {
    // No more requests: read only to notice EOF and to keep unread bytes from
    // turning our close into a reset that could destroy the Error frame.
    const IoResult r = conn->transport()->Read(&conn->input(), 16384);
    conn->input().Clear();
    if (r.code == IoResult::kEof || r.code == IoResult::kError) {
      conn->peer_gone = true;
      UpdateInterest(conn);
      if (!conn->closing()) conn->Close(CloseReason::kClientClosed);
    }
    return;
  }
  const IoResult r = conn->transport()->Read(&conn->input(), options_.read_budget_bytes);
  switch (r.code) {
    case IoResult::kWouldBlock:
      if (r.want & kPollWrite) UpdateInterest(conn, kPollWrite);
      return;
    case IoResult::kError:
      conn->peer_gone = true;
      // A transport that still owes bytes after a read error refused what the
      // peer sent in its own protocol (a WebSocket Close with a code).
      if (conn->transport()->HasPendingOutput()) {
        logger_->Log(LogLevel::kWarn, "conn %d (%s): %s", conn->id(), conn->peer(), r.error);
        conn->Close(CloseReason::kProtocolError);
      } else {
        logger_->Log(LogLevel::kDebug, "conn %d: read: %s", conn->id(), r.error);
        conn->Close(CloseReason::kReadError);
      }
      return;
    case IoResult::kEof:
      // Half-close: the peer will send nothing more, but may still read what
      // we owe it, so replies already queued are flushed before the close.
      conn->peer_gone = true;
      UpdateInterest(conn);
      break;
    case IoResult::kOk:
      conn->Heard(now);
      metrics_.bytes_received[conn->transport_slot] += r.bytes;
      if (r.bytes >= options_.read_budget_bytes) input_cut_short_ = true;
      break;
  }
  if (conn->transport()->HasPendingOutput()) conn->RequestFlush();  // a pong, or the answer to a Close
  // Inside TLS without ALPN, an HTTP request is told by its first byte, as
  // sniffing does in cleartext (no muxchat length prefix starts with A-Z).
  if (conn->state() == Connection::State::kAwaitingHello && !conn->input().empty() &&
      conn->input().Peek()[0] >= 'A' && conn->input().Peek()[0] <= 'Z' &&
      std::strcmp(conn->transport()->Name(), "tls") == 0) {
    conn->MoveTo(Connection::State::kHttp);
  }
  // Inside TLS without ALPN the first application byte tells HTTP from
  // muxchat, as the first byte on the socket does for cleartext.
  if (conn->state() == Connection::State::kAwaitingHello && !conn->input().empty() &&
      StartsHttpMethod(static_cast<unsigned char>(conn->input().Peek()[0]))) {
    conn->MoveTo(Connection::State::kHttp);
  }
  if (conn->state() == Connection::State::kHttp) {
    HandleHttp(conn);
  } else {
    HandleFrames(conn, now);
  }
  if (conn->peer_gone && !conn->closing()) conn->Close(CloseReason::kClientClosed);
  if (!conn->closing() && conn->transport()->HasBufferedInput()) {
    reread_.push_back(conn->id());
    loop_->WakeBy(now);
  }
}

void Server::HandleFrames(Connection* conn, absl::Time now) {
  auto* request = google::protobuf::Arena::CreateMessage<v1::ClientFrame>(&arena_);
  const uint64_t accepted_before = metrics_.messages_accepted;
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
  fanout_pending_ += metrics_.messages_accepted - accepted_before;
  arena_.Reset();
}

void Server::HandleHttp(Connection* conn) {
  // One request per connection (every response closes): bounded in bytes by
  // the parser, in time by --handshake_timeout (CheckTimeouts: 408).
  HttpRequestParser* parser = conn->http_parser();
  const HttpRequestParser::Result result = parser->Feed(&conn->input());
  if (result == HttpRequestParser::Result::kNeedMore) {
    if (!conn->peer_gone) return;
    // The peer ended its side mid-request; it may still read our answer.
    RespondHttp(conn, HttpErrorResponse(HttpStatus::kBadRequest), /*head_only=*/false, CloseReason::kProtocolError);
    return;
  }
  if (result == HttpRequestParser::Result::kError) {
    logger_->Log(LogLevel::kInfo, "conn %d (%s): HTTP %d: %s", conn->id(), conn->peer(),
                 HttpStatusCode(parser->error_status()), parser->error());
    RespondHttp(conn, HttpErrorResponse(parser->error_status()), /*head_only=*/false, CloseReason::kProtocolError);
    return;
  }
  const HttpRequest& request = parser->request();
  if (request.path == "/ws") {
    UpgradeToWebSocket(conn, request);
    return;
  }
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  const bool known_peer = ::getpeername(conn->fd(), reinterpret_cast<sockaddr*>(&peer), &len) == 0;
  HttpHandlerContext context;
  context.metrics_access = options_.metrics;
  context.metrics_allowed =
      known_peer && MetricsScrapeAllowed(options_.metrics, reinterpret_cast<const sockaddr*>(&peer), len);
  context.shutting_down = phase_ != Phase::kServing;
  context.cluster_unreachable = cluster_ != nullptr && !cluster_->up();
  context.web_root = web_root_ ? &*web_root_ : nullptr;
  const absl::Time now = loop_->now();
  const HttpResponse response = HandleHttpRequest(request, context, [&] { return RenderMetrics(now); });
  logger_->Log(LogLevel::kDebug, "conn %d (%s): HTTP %s %s -> %d", conn->id(), conn->peer(),
               request.method == HttpRequest::Method::kHead ? "HEAD" : "GET", request.path,
               HttpStatusCode(response.status));
  RespondHttp(conn, response, request.method == HttpRequest::Method::kHead, CloseReason::kClientClosed);
}

void Server::UpgradeToWebSocket(Connection* conn, const HttpRequest& request) {
  absl::StatusOr<std::string> accepted = AcceptWebSocketUpgrade(UpgradeRequestFrom(request), origin_policy_);
  if (!accepted.ok()) {
    logger_->Log(LogLevel::kInfo, "conn %d (%s): WebSocket upgrade refused: %s", conn->id(), conn->peer(),
                 accepted.status().message());
    conn->input().Clear();
    conn->output().AppendCopy(BuildUpgradeRejection(accepted.status()));
    conn->Close(CloseReason::kProtocolError);
    return;
  }
  // Bytes after the request head are already the client's first frames.
  const std::string early(conn->input().View());
  conn->input().Clear();
  conn->set_transport(std::make_unique<WebSocketTransport>(conn->release_transport(), options_.max_frame_bytes,
                                                           early, *accepted));
  conn->transport_slot = TransportSlot(conn);
  conn->set_websocket();
  conn->MoveTo(Connection::State::kAwaitingHello);
  conn->RequestFlush();  // the 101
  logger_->Log(LogLevel::kDebug, "conn %d (%s): WebSocket established", conn->id(), conn->peer());
  if (!early.empty()) {
    reread_.push_back(conn->id());
    loop_->WakeBy(loop_->now());
  }
}

void Server::OpenWebRoot() {
  if (options_.web_root.empty()) return;
  absl::StatusOr<WebRoot> root = WebRoot::Open(options_.web_root);
  if (!root.ok()) {
    // Chat works without the page: say so once, and "/" says how to build it.
    logger_->Log(LogLevel::kWarn, "web client not served (%s); build it with scripts/web-build.sh",
                 root.status().message());
    return;
  }
  web_root_ = std::move(*root);
  logger_->Log(LogLevel::kInfo, "web client at / from %s", web_root_->dir());
}

void Server::RespondHttp(Connection* conn, const HttpResponse& response, bool head_only, CloseReason reason) {
  metrics_.CountHttpResponse(response.status);
  conn->input().Clear();
  conn->output().AppendCopy(RenderHttpResponse(response, head_only, absl::Now()));
  conn->Close(reason);
}

std::string Server::RenderMetrics(absl::Time now) {
  MetricsGauges g;
  for (const auto& [id, conn] : connections_) {
    ++g.connections[TransportSlot(conn.get())][StateSlot(conn->state())];
    const uint64_t pending = conn->output().PendingBytes();
    g.output_backlog_bytes += pending;
    g.output_backlog_max_bytes = std::max(g.output_backlog_max_bytes, pending);
    g.members += conn->rooms().size();
  }
  g.logged_in = service_.logged_in_count();
  g.rooms = service_.rooms().size();
  g.shutting_down = phase_ != Phase::kServing;
  return RenderPrometheusText(metrics_, g, now);
}

void Server::UpdateInterest(Connection* conn, uint32_t extra) {
  const uint32_t want = (conn->peer_gone ? 0u : kPollRead) | (conn->OwesOutput() ? kPollWrite : 0u) | extra;
  if (want == conn->interest) return;
  conn->interest = want;
  if (absl::Status st = loop_->Modify(conn->fd(), want); !st.ok()) {
    logger_->Log(LogLevel::kError, "conn %d: %s", conn->id(), st.ToString());
  }
}

void Server::Flush(Connection* conn) {
  if (conn->transport() == nullptr) return;
  size_t budget = options_.write_budget_bytes;
  uint32_t extra = 0;
  while (conn->OwesOutput() && budget > 0) {
    const IoResult r = conn->transport()->Write(&conn->output(), budget);
    if (r.code == IoResult::kWouldBlock) {
      extra = r.want & kPollRead;  // a TLS write that needs a read first
      break;
    }
    if (r.code != IoResult::kOk) {
      logger_->Log(LogLevel::kDebug, "conn %d: write: %s", conn->id(), r.error);
      conn->peer_gone = true;
      conn->output().Consume(conn->output().PendingBytes());
      if (!conn->closing()) conn->Close(CloseReason::kWriteError);
      break;
    }
    if (r.bytes == 0) break;
    metrics_.bytes_sent[conn->transport_slot] += r.bytes;
    budget -= std::min(budget, r.bytes);
  }
  UpdateInterest(conn, extra);
}

void Server::RetireClosed(absl::Time now) {
  // Index loop: a member's departure broadcast may close further members
  // (slow consumers), which append themselves to dirty_.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    Connection* conn = dirty_[i];
    if (!conn->closing() || conn->disconnected) continue;
    conn->disconnected = true;
    conn->closing_since = now;
    service_.OnDisconnect(conn);
    closing_.push_back(conn);
    stat_closed_[static_cast<int>(conn->close_reason())].fetch_add(1, std::memory_order_relaxed);
    metrics_.CountClose(conn->close_reason());
    logger_->Log(conn->close_reason() == CloseReason::kClientClosed || conn->close_reason() == CloseReason::kShutdown
                     ? LogLevel::kInfo
                     : LogLevel::kWarn,
                 "conn %d (%s%s%s) closing: %s", conn->id(), conn->peer(), conn->nickname().empty() ? "" : " ",
                 conn->nickname(), CloseReasonName(conn->close_reason()));
  }
}

void Server::FlushDirty() {
  // Swapped with a scratch list, not moved out: both keep their capacity, so
  // a turn that flushes a thousand members allocates nothing.
  flushing_.swap(dirty_);
  for (Connection* conn : flushing_) {
    conn->in_dirty_list = false;
    // Connections waiting for the socket to drain are written when it does.
    if (!(conn->interest & kPollWrite)) Flush(conn);
  }
  flushing_.clear();
  // A write error above closed some: they are back in dirty_ and are retired
  // next turn (BeforePoll wakes at once for them).
}

void Server::ReapClosing(absl::Time now) {
  size_t kept = 0;
  for (Connection* conn : closing_) {
    const absl::Time deadline =
        phase_ == Phase::kDraining ? drain_deadline_ : conn->closing_since + options_.close_linger;
    // Still owed bytes (or just got some this turn): keep flushing until the deadline.
    const bool owed = conn->in_dirty_list || conn->OwesOutput();
    if (owed && now < deadline) {
      closing_[kept++] = conn;
      loop_->WakeBy(deadline);
      continue;
    }
    if (conn->state() == Connection::State::kClosing) {
      // Our last bytes are out: FIN (after close_notify on TLS), then give
      // the peer a moment to read them and close its side, so no reset races
      // the Error frame.
      if (conn->transport() != nullptr) {
        conn->transport()->SetCloseReason(conn->close_reason());
        conn->transport()->ShutdownWrite();
      }
      conn->MoveTo(Connection::State::kShutWrite);
    }
    if ((conn->peer_gone || now >= deadline) && !conn->in_dirty_list) {
      Destroy(conn);
      continue;
    }
    closing_[kept++] = conn;
    loop_->WakeBy(deadline);
  }
  closing_.resize(kept);
}

void Server::Destroy(Connection* conn) {
  logger_->Log(LogLevel::kDebug, "conn %d closed", conn->id());
  loop_->Remove(conn->fd());
  connections_.erase(conn->id());
}

void Server::CheckTimeouts(absl::Time now) {
  for (auto& [id, conn] : connections_) {
    switch (conn->state()) {
      case Connection::State::kClosing:
      case Connection::State::kShutWrite:
        continue;
      case Connection::State::kSniffing:
      case Connection::State::kAwaitingHello:
        if (options_.handshake_timeout > absl::ZeroDuration() && now - conn->created() > options_.handshake_timeout) {
          conn->Close(CloseReason::kTimeout, v1::FAILURE_TIMEOUT,
                      absl::StrCat("no Hello within ", absl::FormatDuration(options_.handshake_timeout)));
        }
        continue;
      case Connection::State::kTlsHandshake:
      case Connection::State::kHttp:
        // Not muxchat: no Error frame; an HTTP client is told in HTTP.
        if (options_.handshake_timeout > absl::ZeroDuration() && now - conn->created() > options_.handshake_timeout) {
          if (conn->state() == Connection::State::kHttp) {
            RespondHttp(conn.get(), HttpErrorResponse(HttpStatus::kRequestTimeout), /*head_only=*/false,
                        CloseReason::kTimeout);
          } else {
            conn->Close(CloseReason::kTimeout);
          }
        }
        continue;
      case Connection::State::kOpen:
        break;
    }
    // Quiet for a sweep interval: its buffers come back on the next message.
    if (now - conn->last_heard() >= kSweepInterval && !conn->OwesOutput()) conn->ReleaseIdleMemory();
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
