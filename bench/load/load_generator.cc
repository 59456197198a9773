#include "bench/load/load_generator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/load/client_socket.h"
#include "bench/load/cpu_usage.h"
#include "bench/load/payload.h"
#include "bench/load/stream_checker.h"
#include "bench/load/websocket_adapter.h"
#include "src/wire/buffer.h"

namespace muxchat::bench {
namespace {

constexpr uint32_t kTimerToken = 0xffffffffu;
constexpr int kMaxConcurrentSetups = 128;  // connections connecting / subscribing at once
constexpr size_t kReadBudget = 256 * 1024;
constexpr int kRateWindowCap = 100000;  // rate mode: in-flight bound, far above any sane rate x latency
// Probe phase: one probe per publisher this often until every subscriber has
// one (a NATS cluster's interest crosses its routes within milliseconds on
// loopback; 50 ms keeps the probes few).
constexpr int64_t kProbeIntervalNs = 50000000;

struct Conn;

class Generator {
 public:
  explicit Generator(const LoadOptions& o) : o_(o) {}
  ~Generator();
  LoadResult Run();

  // Called by connections.
  void OnReady(Conn* c);
  void OnPayload(Conn* c, absl::string_view payload);
  void OnRejected(Conn* c, absl::string_view why);

 private:
  absl::Status Setup();
  absl::Status Probe();
  void AppendProbe(Conn* p, int64_t now);
  void FlushDirty();
  absl::StatusOr<double> ServerCpuSeconds() const;
  void StartConnect(Conn* c);
  void Turn(int timeout_ms);
  void HandleEvent(Conn* c, uint32_t events);
  void Fail(Conn* c, const std::string& why);
  void Flush(Conn* c);
  void UpdateInterest(Conn* c);
  void Publish(Conn* c, int64_t stamp_ns);
  void PublishStep(int64_t now);
  bool PublishingDone(int64_t now) const;
  void ArmTimer(int64_t now);
  void Progress(int64_t now, const char* phase, bool final_line = false);

  const LoadOptions o_;
  int epfd_ = -1;
  int timerfd_ = -1;
  std::vector<sockaddr_in> server_addrs_;  // by index into o_.servers
  std::unique_ptr<TlsClientContext> tls_;  // before conns_: their sockets use it
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> publishers_;  // by global publisher index
  std::vector<Conn*> dirty_;       // connections with output appended this turn
  size_t ready_count_ = 0;
  size_t setups_in_flight_ = 0;
  size_t probed_streams_ = 0;  // (subscriber, publisher) pairs that saw a probe
  std::string error_;
  bool running_ = false;
  int64_t run_start_ns_ = 0;
  int64_t last_delivery_ns_ = 0;
  int64_t last_publish_ns_ = 0;
  int64_t last_progress_ns_ = 0;
  int64_t period_ns_ = 0;
  std::string payload_;
  LoadResult r_;
};

struct Conn final : AdapterEvents {
  Generator* gen = nullptr;
  uint32_t index = 0;
  ConnectionSpec spec;
  int room = 0;
  int server = 0;            // index into LoadOptions::servers
  int publisher_index = -1;  // global, publishers only
  bool designated = false;   // subscriber whose receipts acknowledge the window
  ClientSocket sock;
  bool ready = false;
  bool want_write = false;
  bool dirty = false;
  std::unique_ptr<ProtocolAdapter> adapter;
  wire::Buffer in{64 * 1024};
  wire::Buffer out{16 * 1024};
  // Subscriber: one checker per publisher of the room.
  std::vector<StreamChecker> streams;
  std::vector<bool> probed;  // per publisher of the room: a probe arrived
  // Publisher.
  uint64_t sent = 0;
  uint64_t acked = 0;  // sent messages that left the window: seen by the designated subscriber, or rejected
  int64_t next_send_ns = 0;

  void OnReady() override { gen->OnReady(this); }
  void OnPayload(absl::string_view p) override { gen->OnPayload(this, p); }
  void OnRejected(absl::string_view why) override { gen->OnRejected(this, why); }
};

Generator::~Generator() {
  conns_.clear();  // closes their sockets
  if (timerfd_ >= 0) ::close(timerfd_);
  if (epfd_ >= 0) ::close(epfd_);
}

void Generator::Fail(Conn* c, const std::string& why) {
  if (!error_.empty()) return;
  error_ = c == nullptr ? why : absl::StrCat("connection ", c->spec.name, ": ", why);
}

void Generator::OnReady(Conn* c) {
  if (c->ready) return;
  c->ready = true;
  ++ready_count_;
  --setups_in_flight_;
}

void Generator::OnRejected(Conn* c, absl::string_view why) {
  if (c->spec.role == Role::kPublisher) ++c->acked;  // will never be delivered: free its window slot
  if (r_.rejected++ == 0) {
    std::fprintf(stderr, "muxchat-bench: %s: publish rejected: %.*s\n", c->spec.name.c_str(),
                 static_cast<int>(why.size()), why.data());
  }
}

void Generator::OnPayload(Conn* c, absl::string_view payload) {
  // Publishers see each other's traffic in some protocols; not measured.
  if (c->spec.role != Role::kSubscriber) return;
  PayloadStamp stamp;
  const int first = c->room * o_.publishers;
  if (!DecodePayload(payload, &stamp) || stamp.publisher < static_cast<uint32_t>(first) ||
      stamp.publisher >= static_cast<uint32_t>(first + o_.publishers)) {
    ++r_.foreign;
    return;
  }
  const size_t k = stamp.publisher - static_cast<uint32_t>(first);
  if (stamp.seq == 0) {  // a probe, never measured (late ones arrive while running)
    if (!c->probed[k]) {
      c->probed[k] = true;
      ++probed_streams_;
    }
    return;
  }
  if (!running_) {
    ++r_.foreign;
    return;
  }
  const int64_t now = MonotonicNanos();
  StreamChecker& s = c->streams[k];
  if (s.Observe(stamp.seq) == StreamChecker::Verdict::kDuplicate) return;
  r_.latency.Record(now - stamp.send_ns);
  if (o_.servers.size() > 1) {
    (publishers_[stamp.publisher]->server == c->server ? r_.latency_local : r_.latency_cross)
        .Record(now - stamp.send_ns);
  }
  ++r_.delivered;
  last_delivery_ns_ = now;
  if (c->designated) ++publishers_[stamp.publisher]->acked;
}

void Generator::StartConnect(Conn* c) {
  ++setups_in_flight_;
  absl::Status st = c->sock.Connect(server_addrs_[static_cast<size_t>(c->server)], nullptr, tls_.get(),
                                    TlsAfterGreetingLine(o_.target) ? ClientSocket::TlsStart::kAfterGreetingLine
                                                                    : ClientSocket::TlsStart::kImmediately);
  if (!st.ok()) return Fail(c, std::string(st.message()));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u32 = c->index;
  c->want_write = true;
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, c->sock.fd(), &ev);
}

void Generator::UpdateInterest(Conn* c) {
  const bool want = c->sock.WantsWrite() || (c->sock.established() && !c->out.empty());
  if (want == c->want_write) return;
  c->want_write = want;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.u32 = c->index;
  ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c->sock.fd(), &ev);
}

void Generator::Flush(Conn* c) {
  std::string error;
  if (c->sock.established() && !c->sock.Write(&c->out, &error)) return Fail(c, error);
  UpdateInterest(c);
}

void Generator::HandleEvent(Conn* c, uint32_t events) {
  if (!c->sock.established()) {
    absl::StatusOr<bool> open = c->sock.Advance();
    if (!open.ok()) return Fail(c, std::string(open.status().message()));
    if (!*open) return UpdateInterest(c);
    c->adapter->Start(&c->out);
    Flush(c);
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    const ssize_t n = c->sock.Read(&c->in, kReadBudget);
    if (n == 0) return Fail(c, "server closed the connection");
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Fail(c, errno == EPROTO ? c->sock.tls_error() : absl::StrCat("read: ", std::strerror(errno)));
    }
    if (n > 0) {
      absl::Status st = c->adapter->OnInput(&c->in, &c->out, c);
      if (!st.ok()) return Fail(c, st.ToString());
      if (!c->out.empty() && !c->dirty) {
        c->dirty = true;
        dirty_.push_back(c);
      }
    }
  }
  if ((events & EPOLLOUT) && !c->out.empty()) Flush(c);
}

void Generator::Turn(int timeout_ms) {
  epoll_event events[512];
  const int n = ::epoll_wait(epfd_, events, 512, timeout_ms);
  if (n < 0 && errno != EINTR) return Fail(nullptr, absl::StrCat("epoll_wait: ", std::strerror(errno)));
  for (int i = 0; i < n && error_.empty(); ++i) {
    if (events[i].data.u32 == kTimerToken) {
      uint64_t expirations;
      (void)!::read(timerfd_, &expirations, sizeof expirations);
      continue;
    }
    HandleEvent(conns_[events[i].data.u32].get(), events[i].events);
  }
}

void Generator::Progress(int64_t now, const char* phase, bool final_line) {
  if (!o_.progress) return;
  if (!final_line && now - last_progress_ns_ < 250000000) return;
  last_progress_ns_ = now;
  const double done = r_.expected == 0 ? 0.0 : 100.0 * static_cast<double>(r_.delivered) / r_.expected;
  std::fprintf(stderr, "\r%-9s ready %zu/%zu  published %llu  delivered %llu (%.1f%%)   %s", phase,
               ready_count_, conns_.size(), static_cast<unsigned long long>(r_.published),
               static_cast<unsigned long long>(r_.delivered), done, final_line ? "\n" : "");
}

absl::Status Generator::Setup() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  timerfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epfd_ < 0 || timerfd_ < 0) return absl::InternalError("epoll_create1/timerfd_create failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = kTimerToken;
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, timerfd_, &ev);
  if (o_.servers.empty()) return absl::InvalidArgumentError("no server to connect to");
  std::vector<std::string> ws_hosts;  // the WebSocket upgrade's Host header, per server
  for (const ServerAddress& server : o_.servers) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port));
    const std::string host = server.host == "localhost" ? "127.0.0.1" : server.host;
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("a server's host must be an IPv4 address, got ", server.host));
    }
    server_addrs_.push_back(addr);
    ws_hosts.push_back(absl::StrCat(server.host, ":", server.port));
  }
  if (o_.tls) {
    absl::StatusOr<std::unique_ptr<TlsClientContext>> tls = TlsClientContext::Create(
        {o_.ca_file, o_.tls_server_name.empty() ? o_.servers[0].host : o_.tls_server_name});
    if (!tls.ok()) return tls.status();
    tls_ = std::move(*tls);
  }

  const int n_servers = static_cast<int>(o_.servers.size());
  auto add = [this, &ws_hosts, n_servers](Role role, int room, int k) {
    auto c = std::make_unique<Conn>();
    c->gen = this;
    c->index = static_cast<uint32_t>(conns_.size());
    c->room = room;
    c->server = role == Role::kPublisher ? PublisherServer(room, k, o_.publishers, n_servers)
                                         : SubscriberServer(room, k, o_.publishers, n_servers);
    const std::string& ws_host = ws_hosts[static_cast<size_t>(c->server)];
    c->spec.role = role;
    c->spec.name = absl::StrCat(o_.run_id, role == Role::kPublisher ? "p" : "s", room, "-", k);
    c->spec.room = absl::StrCat("bench", o_.run_id, "r", room);
    c->spec.creates_room = role == Role::kPublisher && k == 0;
    switch (o_.target) {
      case Target::kMuxchat:
        c->adapter = MakeMuxchatAdapter(c->spec);
        if (o_.websocket) c->adapter = MakeWebSocketAdapter(std::move(c->adapter), ws_host);
        break;
      case Target::kSocketIo: c->adapter = MakeSocketIoAdapter(c->spec, ws_host); break;
      case Target::kNodeWs: c->adapter = MakeNodeWsAdapter(c->spec, ws_host); break;
      case Target::kRedis: c->adapter = MakeRedisAdapter(c->spec); break;
      case Target::kNats: c->adapter = MakeNatsAdapter(c->spec); break;
      case Target::kRedisStreams: c->adapter = MakeRedisStreamsAdapter(c->spec); break;
      case Target::kNatsJetStream: c->adapter = MakeNatsJetStreamAdapter(c->spec); break;
      case Target::kIrc:
        c->adapter = MakeIrcAdapter(c->spec, o_.irc_oper_name, o_.irc_oper_password);
        break;
    }
    if (role == Role::kPublisher) {
      c->publisher_index = room * o_.publishers + k;
      publishers_[static_cast<size_t>(c->publisher_index)] = c.get();
    } else {
      c->designated = k == 0;
      c->streams.resize(static_cast<size_t>(o_.publishers));
      c->probed.assign(static_cast<size_t>(o_.publishers), false);
    }
    conns_.push_back(std::move(c));
  };
  // Set-up order, each stage starting once the previous one is ready: each
  // room's first publisher (which creates the muxchat room), the other
  // publishers, then the subscribers, so nobody joins a room not yet created
  // and no message is published before every subscription is in place.
  publishers_.resize(static_cast<size_t>(o_.rooms) * static_cast<size_t>(o_.publishers));
  for (int r = 0; r < o_.rooms; ++r) add(Role::kPublisher, r, 0);
  const size_t n_creators = conns_.size();
  for (int r = 0; r < o_.rooms; ++r)
    for (int p = 1; p < o_.publishers; ++p) add(Role::kPublisher, r, p);
  for (int r = 0; r < o_.rooms; ++r)
    for (int s = 0; s < o_.subscribers; ++s) add(Role::kSubscriber, r, s);

  const int64_t deadline = MonotonicNanos() + static_cast<int64_t>(o_.setup_timeout_s * 1e9);
  size_t next = 0;
  const size_t n_pub = publishers_.size();
  while (error_.empty() && ready_count_ < conns_.size()) {
    // Start connections in order, at most kMaxConcurrentSetups at a time,
    // a stage only once the previous stage is entirely ready.
    while (next < conns_.size() && setups_in_flight_ < kMaxConcurrentSetups &&
           (next < n_creators || ready_count_ >= n_creators) && (next < n_pub || ready_count_ >= n_pub) &&
           error_.empty()) {
      StartConnect(conns_[next++].get());
    }
    Turn(50);
    FlushDirty();
    const int64_t now = MonotonicNanos();
    Progress(now, "setup");
    if (now > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("setup timed out: ", ready_count_, " of ",
                                                      conns_.size(), " connections ready"));
    }
  }
  if (!error_.empty()) return absl::UnavailableError(error_);
  return absl::OkStatus();
}

void Generator::FlushDirty() {
  for (Conn* c : dirty_) {
    c->dirty = false;
    Flush(c);
  }
  dirty_.clear();
}

void Generator::AppendProbe(Conn* p, int64_t now) {
  EncodePayload({static_cast<uint32_t>(p->publisher_index), 0, now}, o_.payload, &payload_);
  p->adapter->AppendPublish(payload_, &p->out);
  ++r_.probes;
  if (!p->dirty) {
    p->dirty = true;
    dirty_.push_back(p);
  }
}

absl::Status Generator::Probe() {
  const size_t want = static_cast<size_t>(o_.rooms) * static_cast<size_t>(o_.subscribers) *
                      static_cast<size_t>(o_.publishers);
  const int64_t start = MonotonicNanos();
  const int64_t deadline = start + static_cast<int64_t>(o_.setup_timeout_s * 1e9);
  int64_t next_probe = start;
  while (error_.empty() && probed_streams_ < want) {
    const int64_t now = MonotonicNanos();
    if (now >= next_probe) {
      for (Conn* p : publishers_) AppendProbe(p, now);
      next_probe = now + kProbeIntervalNs;
    }
    FlushDirty();
    Progress(now, "probe");
    if (now > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("probe timed out: ", probed_streams_, " of ", want,
                                                      " (subscriber, publisher) pairs had a probe"));
    }
    Turn(10);
  }
  r_.probe_s = static_cast<double>(MonotonicNanos() - start) / 1e9;
  if (!error_.empty()) return absl::UnavailableError(error_);
  return absl::OkStatus();
}

absl::StatusOr<double> Generator::ServerCpuSeconds() const {
  double total = 0;
  for (pid_t pid : o_.server_pids) {
    absl::StatusOr<double> s = ProcessCpuSeconds(pid);
    if (!s.ok()) return s.status();
    total += *s;
  }
  return total;
}

void Generator::Publish(Conn* c, int64_t stamp_ns) {
  PayloadStamp stamp{static_cast<uint32_t>(c->publisher_index), c->sent + 1, stamp_ns};
  EncodePayload(stamp, o_.payload, &payload_);
  c->adapter->AppendPublish(payload_, &c->out);
  ++c->sent;
  ++r_.published;
  last_publish_ns_ = stamp_ns;
  r_.expected += static_cast<uint64_t>(o_.subscribers);
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c);
  }
}

bool Generator::PublishingDone(int64_t now) const {
  if (o_.duration_s > 0) return now - run_start_ns_ >= static_cast<int64_t>(o_.duration_s * 1e9);
  for (const Conn* p : publishers_) {
    if (p->sent < o_.messages) return false;
  }
  return true;
}

void Generator::PublishStep(int64_t now) {
  const bool time_up = o_.duration_s > 0 && now - run_start_ns_ >= static_cast<int64_t>(o_.duration_s * 1e9);
  if (time_up) return;
  for (Conn* p : publishers_) {
    const auto more = [&] { return o_.duration_s > 0 || p->sent < o_.messages; };
    if (o_.rate <= 0) {
      while (more() && p->sent - p->acked < static_cast<uint64_t>(o_.window)) Publish(p, MonotonicNanos());
    } else {
      // Stamped with the intended send time, so a late generator shows up as
      // latency instead of being hidden (no coordinated omission).
      while (more() && p->next_send_ns <= now) {
        if (p->sent - p->acked >= static_cast<uint64_t>(kRateWindowCap)) {
          ++r_.window_stalls;
          break;
        }
        Publish(p, p->next_send_ns);
        p->next_send_ns += period_ns_;
      }
    }
  }
}

void Generator::ArmTimer(int64_t now) {
  if (o_.rate <= 0) return;
  int64_t next = INT64_MAX;
  for (const Conn* p : publishers_) next = std::min(next, p->next_send_ns);
  if (next == INT64_MAX) return;
  if (next <= now) next = now + 1000;
  itimerspec its{};
  its.it_value.tv_sec = next / 1000000000;
  its.it_value.tv_nsec = next % 1000000000;
  ::timerfd_settime(timerfd_, TFD_TIMER_ABSTIME, &its, nullptr);
}

LoadResult Generator::Run() {
  r_.connections = static_cast<int>(o_.rooms) * (o_.publishers + o_.subscribers);
  const int64_t setup_start = MonotonicNanos();
  absl::Status st = Setup();
  r_.setup_s = static_cast<double>(MonotonicNanos() - setup_start) / 1e9;
  if (st.ok() && o_.probe) st = Probe();
  if (!st.ok()) {
    Progress(MonotonicNanos(), "setup", true);
    r_.error = st.ToString();
    return r_;
  }

  // Measured phase: publishing plus drain.
  const double self_cpu0 = SelfCpuSeconds();
  double server_cpu0 = -1;
  if (!o_.server_pids.empty()) {
    absl::StatusOr<double> s = ServerCpuSeconds();
    if (s.ok()) server_cpu0 = *s;
  }
  running_ = true;
  run_start_ns_ = MonotonicNanos();
  last_delivery_ns_ = run_start_ns_;
  if (o_.rate > 0) {
    period_ns_ = static_cast<int64_t>(1e9 / o_.rate);
    // Spread publishers' first sends over one period.
    const size_t n = publishers_.size();
    for (size_t i = 0; i < n; ++i) {
      publishers_[i]->next_send_ns = run_start_ns_ + static_cast<int64_t>(period_ns_ * i / n);
    }
  }
  int64_t publish_end_ns = 0;
  for (;;) {
    const int64_t now = MonotonicNanos();
    PublishStep(now);
    FlushDirty();
    if (!error_.empty()) break;
    const bool done = PublishingDone(now);
    if (done && publish_end_ns == 0) publish_end_ns = now;
    Progress(now, done ? "drain" : "run");
    if (done && r_.delivered >= r_.expected) break;
    const int64_t quiet_ns = now - std::max({publish_end_ns, last_delivery_ns_, last_publish_ns_});
    if (quiet_ns > static_cast<int64_t>(o_.drain_timeout_s * 1e9)) {
      if (done) break;  // nothing more arrives: what is missing is lost
      // Every publisher's window is full of messages that never arrive.
      Fail(nullptr, absl::StrCat("stalled: nothing published or delivered for ", o_.drain_timeout_s, " s"));
      break;
    }
    ArmTimer(now);
    Turn(done ? 20 : 100);
  }
  running_ = false;
  Progress(MonotonicNanos(), "done", true);
  r_.self_cpu_s = SelfCpuSeconds() - self_cpu0;
  if (server_cpu0 >= 0) {
    absl::StatusOr<double> s = ServerCpuSeconds();
    if (s.ok()) r_.server_cpu_s = *s - server_cpu0;
  }
  r_.elapsed_s = static_cast<double>(last_delivery_ns_ - run_start_ns_) / 1e9;

  for (const auto& c : conns_) {
    if (c->spec.role != Role::kSubscriber) continue;
    for (int k = 0; k < o_.publishers; ++k) {
      const StreamChecker& s = c->streams[k];
      const Conn* p = publishers_[c->room * o_.publishers + k];
      r_.lost += s.Missing(p->sent);
      r_.duplicates += s.duplicates();
      r_.reordered += s.reordered();
      r_.foreign += s.invalid();
    }
  }
  if (!error_.empty()) {
    r_.error = error_;
    return r_;
  }
  r_.ok = true;
  return r_;
}

}  // namespace

LoadResult RunLoad(const LoadOptions& options) {
  Generator g(options);
  return g.Run();
}

}  // namespace muxchat::bench
