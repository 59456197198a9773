// muxchat_soak: runs the real muxchatd as a child process and drives hundreds
// of clients across dozens of rooms from one thread (a poll loop over every
// ChatClient's fd, Pump()ing the ready ones) for a bounded time: steady
// traffic, plus churners that leave and join rooms, disconnect and come back.
// Checks that members who stayed saw every room's seqs without a gap and lost
// none of their own sends, that churners' memberships were gapless too, that
// muxchatd never died, and that its resident memory (VmRSS) stayed under a
// bound. Prints the figures. Exit 0 = pass. MUXCHATD_PATH comes from CMake.
//   muxchat_soak --clients=200 --rooms=20 --duration=20s     (CI, ctest -L soak)
//   muxchat_soak --clients=1000 --rooms=100 --duration=10m --rate=5000   (full)
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "src/client/chat_client.h"

ABSL_FLAG(int, clients, 200, "clients connected at any time");
ABSL_FLAG(int, rooms, 20, "rooms");
ABSL_FLAG(int, rooms_per_client, 3, "rooms each client is in");
ABSL_FLAG(double, stayers, 0.5, "fraction of clients that never leave (the others churn)");
ABSL_FLAG(int, rate, 1000, "messages per second, all clients together");
ABSL_FLAG(int, churn, 20, "churn operations per second (leave+join, or disconnect+reconnect)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(20), "how long traffic runs");
ABSL_FLAG(int, max_rss_mb, 512, "fail if muxchatd's VmRSS ever exceeds this");
ABSL_FLAG(std::string, server, MUXCHATD_PATH, "muxchatd binary");
ABSL_FLAG(uint32_t, seed, 1, "random seed");
ABSL_FLAG(std::string, data_dir, "", "run muxchatd durable on this data directory (empty: --memory)");
ABSL_FLAG(absl::Duration, keepalive, absl::ZeroDuration(),
          "muxchatd --keepalive (0 = its default); short, it checks that idle connections answer pings");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::ZeroDuration(), "muxchatd --keepalive_timeout (0 = its default)");

namespace muxchat {
namespace {

using client::ChatClient;

constexpr absl::Duration kTimeout = absl::Seconds(10);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Resident memory of `pid` in KiB, from /proc/PID/status; -1 if gone.
long RssKb(pid_t pid) {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  const size_t at = status.find("VmRSS:");
  if (at == std::string::npos) return -1;
  long kb = -1;
  const size_t end = status.find('\n', at);
  std::string value = status.substr(at + 6, end - at - 6);
  value.erase(std::remove_if(value.begin(), value.end(), [](char c) { return c < '0' || c > '9'; }), value.end());
  if (!absl::SimpleAtoi(value, &kb)) return -1;
  return kb;
}

class Daemon {
 public:
  bool Start(const std::string& path) {
    std::vector<std::string> args = {path, "--listen=127.0.0.1:0", "--log_level=warn", "--max_connections=100000",
                                     "--max_rooms_per_connection=64"};
    const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
    args.push_back(data_dir.empty() ? "--memory" : "--data_dir=" + data_dir);
    if (absl::GetFlag(FLAGS_keepalive) > absl::ZeroDuration()) {
      args.push_back(absl::StrCat("--keepalive=", absl::FormatDuration(absl::GetFlag(FLAGS_keepalive))));
    }
    if (absl::GetFlag(FLAGS_keepalive_timeout) > absl::ZeroDuration()) {
      args.push_back(
          absl::StrCat("--keepalive_timeout=", absl::FormatDuration(absl::GetFlag(FLAGS_keepalive_timeout))));
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execv(path.c_str(), argv.data());
      _exit(127);
    }
    ::close(out[1]);
    FILE* f = ::fdopen(out[0], "r");
    char line[256] = {0};
    const bool got = std::fgets(line, sizeof line, f) != nullptr;
    std::fclose(f);
    const std::string s(line);
    const size_t colon = s.rfind(':');
    uint32_t port = 0;
    if (!got || colon == std::string::npos || !absl::SimpleAtoi(s.substr(colon + 1), &port)) return false;
    port_ = static_cast<uint16_t>(port);
    return true;
  }
  bool Alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // SIGTERM, then the exit status (-1 if it had to be killed).
  int Stop() {
    ::kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    int status = 0;
    while (absl::Now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
  }
  ~Daemon() {
    if (pid_ > 0) Stop();
  }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

struct Member {
  std::unique_ptr<ChatClient> conn;
  bool stayer = false;
  int generation = 0;
  std::string base;
  absl::flat_hash_map<uint64_t, uint64_t> next_seq;  // room -> next live seq expected
};

class Soak {
 public:
  Soak(uint16_t port, pid_t server) : port_(port), server_(server), rng_(absl::GetFlag(FLAGS_seed)) {}

  int Run() {
    const int n = absl::GetFlag(FLAGS_clients);
    const int rooms = absl::GetFlag(FLAGS_rooms);
    admin_ = Connect("admin");
    if (admin_ == nullptr) return Fail("admin could not connect");
    for (int r = 0; r < rooms; ++r) {
      auto reply = admin_->CreateRoom(absl::StrCat("soak-", r), kTimeout);
      if (!reply.ok()) return Fail(absl::StrCat("create room: ", reply.status().ToString()));
      room_ids_.push_back(reply->room_id());
    }
    members_.resize(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      Member& m = members_[static_cast<size_t>(i)];
      m.stayer = i < static_cast<int>(n * absl::GetFlag(FLAGS_stayers));
      m.base = absl::StrCat(m.stayer ? "s" : "c", i);
      if (!Reconnect(m)) return 1;
    }
    rss_start_ = rss_peak_ = RssKb(server_);
    std::printf("soak: %d clients (%d stayers), %d rooms, %d rooms each, %d msg/s, %d churn/s, %s; server RSS %ld KiB\n",
                n, static_cast<int>(n * absl::GetFlag(FLAGS_stayers)), rooms, absl::GetFlag(FLAGS_rooms_per_client),
                absl::GetFlag(FLAGS_rate), absl::GetFlag(FLAGS_churn),
                absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(), rss_start_);
    std::fflush(stdout);

    const absl::Time start = absl::Now();
    const absl::Time end = start + absl::GetFlag(FLAGS_duration);
    absl::Time next_tick = start, next_report = start + absl::Seconds(5);
    const double per_tick_msgs = absl::GetFlag(FLAGS_rate) / 100.0;   // 10 ms ticks
    const double per_tick_churn = absl::GetFlag(FLAGS_churn) / 100.0;
    double msg_credit = 0, churn_credit = 0;
    while (absl::Now() < end && failures_ == 0) {
      PumpAll(next_tick);
      if (absl::Now() < next_tick) continue;
      next_tick += absl::Milliseconds(10);
      for (msg_credit += per_tick_msgs; msg_credit >= 1 && failures_ == 0; msg_credit -= 1) SendOne();
      for (churn_credit += per_tick_churn; churn_credit >= 1 && failures_ == 0; churn_credit -= 1) ChurnOne();
      SampleRss();
      if (absl::Now() >= next_report) {
        std::printf("soak: %.0fs sent %llu delivered %llu churn %llu rss %ld KiB\n",
                    absl::ToDoubleSeconds(absl::Now() - start), static_cast<unsigned long long>(sent_),
                    static_cast<unsigned long long>(delivered_), static_cast<unsigned long long>(churned_),
                    RssKb(server_));
        std::fflush(stdout);
        next_report += absl::Seconds(5);
      }
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (failures_ == 0) Quiesce();
    if (failures_ == 0) CheckAgainstServer(*admin_);

    // Everyone leaves; what the server holds now is its idle footprint.
    members_.clear();
    admin_.reset();
    absl::SleepFor(absl::Milliseconds(500));
    SampleRss();
    const long rss_end = RssKb(server_);
    std::printf(
        "soak: %s after %.1fs: %llu messages sent, %llu deliveries checked, %llu churn ops, %llu reconnects; "
        "server RSS start %ld KiB, peak %ld KiB, end %ld KiB\n",
        failures_ == 0 ? "PASS" : "FAIL", seconds, static_cast<unsigned long long>(sent_),
        static_cast<unsigned long long>(delivered_), static_cast<unsigned long long>(churned_),
        static_cast<unsigned long long>(reconnects_), rss_start_, rss_peak_, rss_end);
    if (rss_peak_ > absl::GetFlag(FLAGS_max_rss_mb) * 1024L) {
      return Fail(absl::StrCat("server RSS peaked at ", rss_peak_, " KiB, above --max_rss_mb"));
    }
    return failures_ == 0 ? 0 : 1;
  }

 private:
  int Fail(const std::string& why) {
    if (failures_++ < 10) std::fprintf(stderr, "soak: FAIL: %s\n", why.c_str());
    return 1;
  }

  std::unique_ptr<ChatClient> Connect(const std::string& nick) {
    auto c = ChatClient::Connect("127.0.0.1", port_, kTimeout);
    if (!c.ok()) {
      Fail(absl::StrCat("connect: ", c.status().ToString()));
      return nullptr;
    }
    auto w = (*c)->Hello(nick, kTimeout);
    if (!w.ok()) {
      Fail(absl::StrCat("hello ", nick, ": ", w.status().ToString()));
      return nullptr;
    }
    return std::move(*c);
  }

  bool Reconnect(Member& m) {
    m.conn = Connect(absl::StrCat(m.base, "g", m.generation++));
    m.next_seq.clear();
    if (m.conn == nullptr) return false;
    std::vector<uint64_t> picks = room_ids_;
    std::shuffle(picks.begin(), picks.end(), rng_);
    picks.resize(std::min<size_t>(picks.size(), static_cast<size_t>(absl::GetFlag(FLAGS_rooms_per_client))));
    for (uint64_t room : picks) {
      if (!Join(m, room)) return false;
    }
    return true;
  }

  bool Join(Member& m, uint64_t room) {
    auto reply = m.conn->JoinRoomById(room, kTimeout);
    if (!reply.ok()) {
      Fail(absl::StrCat(m.conn->nickname(), " join: ", reply.status().ToString()));
      return false;
    }
    // Events queued before the reply cannot be about this room; the replay
    // after it is.
    m.next_seq[room] = reply->last_seq() + 1;
    Drain(m);
    return true;
  }

  // Handles every queued event of `m`, checking seqs.
  void Drain(Member& m) {
    while (m.conn->HasQueuedEvent()) {
      auto ev = m.conn->NextEvent(absl::ZeroDuration());
      if (!ev.ok()) break;
      if (ev->has_chat_message()) {
        const v1::ChatMessage& msg = ev->chat_message();
        auto it = m.next_seq.find(ev->room_id());
        if (it == m.next_seq.end()) {
          Fail(absl::StrCat(m.conn->nickname(), " got a message for room ", ev->room_id(), " it is not in"));
          continue;
        }
        if (msg.replay()) {
          if (msg.seq() >= it->second) Fail(absl::StrCat(m.conn->nickname(), " replay seq ", msg.seq(), " too new"));
          continue;
        }
        if (msg.seq() != it->second) {
          Fail(absl::StrCat(m.conn->nickname(), (m.stayer ? " (stayer)" : " (churner)"), " room ", ev->room_id(),
                            " expected seq ", it->second, " got ", msg.seq()));
        }
        it->second = msg.seq() + 1;
        ++delivered_;
      } else if (ev->has_member_joined() || ev->has_member_left()) {
        // churn
      } else {
        Fail(absl::StrCat(m.conn->nickname(), " unexpected event ", ev->ShortDebugString().substr(0, 160)));
      }
    }
  }

  // Polls every member and the admin connection; Pump()s the ready ones. The
  // admin idles between setup and the final check: polling it here is what
  // answers the server's keepalive pings meanwhile (a full-length run was once
  // dropped ~90 s in with "no answer to keepalive ping").
  void PumpAll(absl::Time until) {
    fds_.clear();
    for (const Member& m : members_) {
      fds_.push_back(pollfd{m.conn->fd(), static_cast<short>(POLLIN | (m.conn->HasPendingOutput() ? POLLOUT : 0)), 0});
    }
    fds_.push_back(pollfd{admin_->fd(), static_cast<short>(POLLIN | (admin_->HasPendingOutput() ? POLLOUT : 0)), 0});
    const int ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(until - absl::Now())));
    if (::poll(fds_.data(), fds_.size(), ms) <= 0) return;
    if (fds_.back().revents != 0) PumpAdmin();
    for (size_t i = 0; i + 1 < fds_.size(); ++i) {
      if (fds_[i].revents == 0) continue;
      Member& m = members_[i];
      if (absl::Status st = m.conn->Pump(); !st.ok()) {
        Fail(absl::StrCat(m.conn->nickname(), " connection closed: ", st.ToString()));
      }
      Drain(m);
    }
  }

  // The admin is in no room: apart from pings (answered inside Pump) nothing
  // should reach it.
  void PumpAdmin() {
    if (absl::Status st = admin_->Pump(); !st.ok()) {
      Fail(absl::StrCat("admin connection closed: ", st.ToString()));
      return;
    }
    while (admin_->HasQueuedEvent()) {
      auto ev = admin_->NextEvent(absl::ZeroDuration());
      if (!ev.ok()) break;
      Fail(absl::StrCat("admin: unexpected event ", ev->ShortDebugString().substr(0, 160)));
    }
  }

  void SendOne() {
    Member& m = members_[rng_() % members_.size()];
    if (m.next_seq.empty()) return;
    auto it = m.next_seq.begin();
    std::advance(it, static_cast<long>(rng_() % m.next_seq.size()));
    auto sent = m.conn->Send(it->first, absl::StrCat("m", sent_, " from ", m.conn->nickname()));
    if (!sent.ok()) {
      Fail(absl::StrCat(m.conn->nickname(), " send: ", sent.status().ToString()));
      return;
    }
    ++sent_;
  }

  void ChurnOne() {
    const size_t i = rng_() % members_.size();
    Member& m = members_[i];
    if (m.stayer) return;
    ++churned_;
    if (rng_() % 2 == 0 && !m.next_seq.empty()) {
      // Leave one room (after our sends there are acknowledged), join another.
      Settle(m);
      const uint64_t room = m.next_seq.begin()->first;
      auto reply = m.conn->LeaveRoom(room, kTimeout);
      if (!reply.ok()) {
        Fail(absl::StrCat(m.conn->nickname(), " leave: ", reply.status().ToString()));
        return;
      }
      Drain(m);  // messages before the reply still count against this room
      m.next_seq.erase(room);
      for (int tries = 0; tries < 8; ++tries) {
        const uint64_t other = room_ids_[rng_() % room_ids_.size()];
        if (!m.next_seq.contains(other)) {
          Join(m, other);
          break;
        }
      }
    } else {
      // Vanish (abruptly half the time, with unacknowledged sends in flight) and come back as someone new.
      if (rng_() % 2 == 0) Settle(m);
      m.conn.reset();
      ++reconnects_;
      Reconnect(m);
    }
  }

  // Waits until `m`'s sends are all acknowledged.
  void Settle(Member& m) {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (m.conn->PendingAcks() > 0 && absl::Now() < deadline && !m.conn->closed()) {
      pollfd p{m.conn->fd(), POLLIN, 0};
      ::poll(&p, 1, 10);
      (void)m.conn->Pump();
      Drain(m);
    }
    if (m.conn->PendingAcks() > 0) Fail(absl::StrCat(m.conn->nickname(), " sends never acknowledged"));
  }

  // Stops sending and waits until every send is acknowledged and delivered.
  void Quiesce() {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      size_t pending = 0;
      for (const Member& m : members_) pending += m.conn->PendingAcks();
      if (pending == 0) break;
      PumpAll(absl::Now() + absl::Milliseconds(10));
    }
    for (Member& m : members_) {
      if (m.conn->PendingAcks() > 0) Fail(absl::StrCat(m.conn->nickname(), " lost its own sends"));
    }
    // Let fan-out to everyone finish: a round trip per member orders it after every broadcast.
    for (Member& m : members_) {
      if (!m.conn->Ping(1, kTimeout).ok()) Fail(absl::StrCat(m.conn->nickname(), " ping failed"));
      Drain(m);
    }
  }

  // Each member's next expected seq must be the room's message count + 1.
  void CheckAgainstServer(ChatClient& admin) {
    auto list = admin.ListRooms(kTimeout);
    if (!list.ok()) {
      Fail(absl::StrCat("list: ", list.status().ToString()));
      return;
    }
    absl::flat_hash_map<uint64_t, uint64_t> last;
    for (const v1::RoomInfo& r : list->rooms()) last[r.room_id()] = r.message_count();
    // A churner that vanished with sends in flight may have had its last
    // messages broadcast after our pings: give those a bounded time to land.
    const auto behind = [&] {
      for (const Member& m : members_) {
        for (const auto& [room, next] : m.next_seq) {
          if (next < last[room] + 1) return true;
        }
      }
      return false;
    };
    const absl::Time deadline = absl::Now() + absl::Seconds(3);
    while (behind() && absl::Now() < deadline && failures_ == 0) PumpAll(absl::Now() + absl::Milliseconds(10));
    for (const Member& m : members_) {
      for (const auto& [room, next] : m.next_seq) {
        if (next != last[room] + 1) {
          Fail(absl::StrCat(m.conn->nickname(), (m.stayer ? " (stayer)" : " (churner)"), " room ", room,
                            " saw up to ", next - 1, " of ", last[room]));
        }
      }
    }
  }

  void SampleRss() { rss_peak_ = std::max(rss_peak_, RssKb(server_)); }

  const uint16_t port_;
  const pid_t server_;
  std::mt19937 rng_;
  std::vector<uint64_t> room_ids_;
  std::vector<Member> members_;
  std::unique_ptr<ChatClient> admin_;  // created the rooms; idles until CheckAgainstServer
  std::vector<pollfd> fds_;
  uint64_t sent_ = 0, delivered_ = 0, churned_ = 0, reconnects_ = 0;
  long rss_start_ = 0, rss_peak_ = 0;
  int failures_ = 0;
};

}  // namespace
}  // namespace muxchat

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  // Hundreds of clients plus their server-side sockets: raise the fd limit
  // to the hard maximum (inherited by muxchatd).
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  muxchat::Daemon daemon;
  if (!daemon.Start(absl::GetFlag(FLAGS_server))) {
    std::fprintf(stderr, "soak: could not start %s\n", absl::GetFlag(FLAGS_server).c_str());
    return 1;
  }
  int rc = muxchat::Soak(daemon.port(), daemon.pid()).Run();
  if (!daemon.Alive()) {
    std::fprintf(stderr, "soak: FAIL: muxchatd died\n");
    return 1;
  }
  const int status = daemon.Stop();
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "soak: FAIL: muxchatd did not exit cleanly on SIGTERM (status %d)\n", status);
    rc = 1;
  }
  return rc;
}
