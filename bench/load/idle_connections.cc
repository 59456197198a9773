#include "bench/load/idle_connections.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/load/client_socket.h"
#include "bench/load/cpu_usage.h"
#include "bench/load/payload.h"
#include "src/wire/buffer.h"

namespace muxchat::bench {
namespace {

constexpr size_t kReadBudget = 64 * 1024;

struct IdleConn final : AdapterEvents {
  uint32_t index = 0;
  ConnectionSpec spec;
  ClientSocket sock;
  std::unique_ptr<ProtocolAdapter> adapter;
  // Small: 15,000 of these live in the generator too.
  wire::Buffer in{512};
  wire::Buffer out{512};
  bool ready = false;
  bool want_write = false;
  std::string error;

  void OnReady() override { ready = true; }
  void OnPayload(absl::string_view) override {}
  void OnRejected(absl::string_view why) override { error = absl::StrCat("rejected: ", why); }
};

class IdleRun {
 public:
  explicit IdleRun(const IdleOptions& o) : o_(o) {}
  ~IdleRun() {
    conns_.clear();
    if (epfd_ >= 0) ::close(epfd_);
  }
  IdleResult Run();

 private:
  absl::Status Prepare();
  void Start(IdleConn* c);
  void Handle(IdleConn* c, uint32_t events);
  void UpdateInterest(IdleConn* c);
  void Fail(IdleConn* c, absl::string_view why) {
    if (error_.empty()) error_ = absl::StrCat("connection ", c->spec.name, ": ", why);
  }
  // One epoll_wait and its events; counts connections that became ready.
  void Turn(int timeout_ms);
  // Turns for `seconds`, answering whatever the server sends (pings).
  void Idle(double seconds);
  // Waits (up to 10 s) until the server used < 1 % of a CPU over 200 ms, so
  // its memory is read at rest, not in the middle of a burst.
  void WaitServerQuiet();

  const IdleOptions o_;
  int epfd_ = -1;
  sockaddr_in server_{};
  std::vector<sockaddr_in> sources_;
  std::unique_ptr<TlsClientContext> tls_;  // before conns_: their sockets use it
  std::vector<std::unique_ptr<IdleConn>> conns_;
  int in_flight_ = 0;
  int ready_ = 0;
  std::string error_;
};

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

absl::Status IdleRun::Prepare() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return absl::InternalError("epoll_create1 failed");
  server_.sin_family = AF_INET;
  server_.sin_port = htons(static_cast<uint16_t>(o_.port));
  const std::string host = o_.host == "localhost" ? "127.0.0.1" : o_.host;
  if (::inet_pton(AF_INET, host.c_str(), &server_.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--host must be an IPv4 address, got ", o_.host));
  }
  if (o_.source_addresses > 1) {
    for (int k = 0; k < o_.source_addresses; ++k) {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(0x7f000001u + static_cast<uint32_t>(k));  // 127.0.0.(1+k)
      sources_.push_back(a);
    }
  }
  if (o_.tls) {
    absl::StatusOr<std::unique_ptr<TlsClientContext>> tls = TlsClientContext::Create(
        {o_.ca_file, o_.tls_server_name.empty() ? o_.host : o_.tls_server_name});
    if (!tls.ok()) return tls.status();
    tls_ = std::move(*tls);
  }
  for (int k = 0; k < o_.connections; ++k) {
    auto c = std::make_unique<IdleConn>();
    c->index = static_cast<uint32_t>(k);
    c->spec.role = Role::kIdle;
    c->spec.name = absl::StrCat(o_.run_id, "i", k);
    c->spec.room = absl::StrCat("idle", o_.run_id, "r", o_.join_room ? k / o_.room_size : 0);
    if (o_.join_room && o_.target == Target::kMuxchat) {
      // Whoever comes first creates the room; the others find it exists.
      c->spec.role = Role::kSubscriber;
      c->spec.creates_room = true;
    }
    switch (o_.target) {
      case Target::kMuxchat: c->adapter = MakeMuxchatAdapter(c->spec); break;
      case Target::kRedis: c->adapter = MakeRedisAdapter(c->spec); break;
      case Target::kNats: c->adapter = MakeNatsAdapter(c->spec); break;
      case Target::kRedisStreams: c->adapter = MakeRedisStreamsAdapter(c->spec); break;
      case Target::kNatsJetStream: c->adapter = MakeNatsJetStreamAdapter(c->spec); break;
      case Target::kIrc: c->adapter = MakeIrcAdapter(c->spec, "", ""); break;
      // Idle Node peers subscribe to the spec's room, like Redis and NATS.
      case Target::kSocketIo: c->adapter = MakeSocketIoAdapter(c->spec, absl::StrCat(o_.host, ":", o_.port)); break;
      case Target::kNodeWs: c->adapter = MakeNodeWsAdapter(c->spec, absl::StrCat(o_.host, ":", o_.port)); break;
    }
    conns_.push_back(std::move(c));
  }
  return absl::OkStatus();
}

void IdleRun::Start(IdleConn* c) {
  ++in_flight_;
  const sockaddr_in* source = sources_.empty() ? nullptr : &sources_[c->index % sources_.size()];
  absl::Status st = c->sock.Connect(server_, source, tls_.get(),
                                    TlsAfterGreetingLine(o_.target) ? ClientSocket::TlsStart::kAfterGreetingLine
                                                                    : ClientSocket::TlsStart::kImmediately);
  if (!st.ok()) return Fail(c, st.message());
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u32 = c->index;
  c->want_write = true;
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, c->sock.fd(), &ev);
}

void IdleRun::UpdateInterest(IdleConn* c) {
  const bool want = c->sock.WantsWrite() || (c->sock.established() && !c->out.empty());
  if (want == c->want_write) return;
  c->want_write = want;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.u32 = c->index;
  ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c->sock.fd(), &ev);
}

void IdleRun::Handle(IdleConn* c, uint32_t events) {
  std::string error;
  if (!c->sock.established()) {
    absl::StatusOr<bool> open = c->sock.Advance();
    if (!open.ok()) return Fail(c, open.status().message());
    if (!*open) return UpdateInterest(c);
    c->adapter->Start(&c->out);
  } else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    const ssize_t n = c->sock.Read(&c->in, kReadBudget);
    if (n == 0) return Fail(c, "server closed the connection");
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Fail(c, errno == EPROTO ? c->sock.tls_error() : absl::StrCat("read: ", std::strerror(errno)));
    }
    if (n > 0) {
      const bool was_ready = c->ready;
      absl::Status st = c->adapter->OnInput(&c->in, &c->out, c);
      if (!st.ok()) return Fail(c, st.ToString());
      if (!c->error.empty()) return Fail(c, c->error);
      if (c->ready && !was_ready) {
        ++ready_;
        --in_flight_;
      }
    }
  }
  if (!c->sock.Write(&c->out, &error)) return Fail(c, error);
  UpdateInterest(c);
}

void IdleRun::Turn(int timeout_ms) {
  epoll_event events[512];
  const int n = ::epoll_wait(epfd_, events, 512, timeout_ms);
  for (int i = 0; i < n && error_.empty(); ++i) Handle(conns_[events[i].data.u32].get(), events[i].events);
}

void IdleRun::Idle(double seconds) {
  const int64_t end = MonotonicNanos() + static_cast<int64_t>(seconds * 1e9);
  while (error_.empty() && MonotonicNanos() < end) Turn(50);
}

void IdleRun::WaitServerQuiet() {
  const int64_t end = MonotonicNanos() + 10'000'000'000;
  absl::StatusOr<double> prev = ProcessCpuSeconds(o_.server_pid);
  while (prev.ok() && error_.empty() && MonotonicNanos() < end) {
    Idle(0.2);
    absl::StatusOr<double> cur = ProcessCpuSeconds(o_.server_pid);
    if (!cur.ok() || *cur - *prev < 0.002) return;
    prev = cur;
  }
}

IdleResult IdleRun::Run() {
  IdleResult r;
  absl::Status st = Prepare();
  if (!st.ok()) {
    r.error = st.ToString();
    return r;
  }
  absl::StatusOr<ProcessMemory> m = ReadProcessMemory(o_.server_pid);
  if (!m.ok()) {
    r.error = m.status().ToString();
    return r;
  }
  r.before = *m;

  const int64_t t0 = MonotonicNanos();
  const int64_t deadline = t0 + static_cast<int64_t>(o_.setup_timeout_s * 1e9);
  size_t next = 0;
  while (error_.empty() && ready_ < o_.connections) {
    while (next < conns_.size() && in_flight_ < o_.max_concurrent_setups && error_.empty()) {
      Start(conns_[next++].get());
    }
    Turn(50);
    if (MonotonicNanos() > deadline) {
      error_ = absl::StrCat("setup timed out: ", ready_, " of ", o_.connections, " connections ready");
    }
  }
  r.setup_s = Seconds(MonotonicNanos() - t0);
  r.ready = ready_;
  if (error_.empty()) {
    Idle(o_.settle_s);
    WaitServerQuiet();
    m = ReadProcessMemory(o_.server_pid);
    if (m.ok()) r.idle = *m;
    else if (error_.empty()) error_ = m.status().ToString();
  }
  // Close everyone and let the server notice, to see what it keeps.
  conns_.clear();
  if (error_.empty()) {
    const int64_t end = MonotonicNanos() + static_cast<int64_t>(o_.settle_s * 1e9);
    while (MonotonicNanos() < end) ::usleep(50000);
    WaitServerQuiet();
    m = ReadProcessMemory(o_.server_pid);
    if (m.ok()) r.after_close = *m;
  }
  r.error = error_;
  r.ok = error_.empty();
  return r;
}

}  // namespace

double PerConnection(int64_t a, int64_t b, int n) {
  if (a < 0 || b < 0 || n <= 0) return -1;
  return static_cast<double>(b - a) / n;
}

IdleResult RunIdle(const IdleOptions& options) {
  IdleRun run(options);
  return run.Run();
}

}  // namespace muxchat::bench
