// muxchat-resume-bench: how long a client that went away takes to catch up.
// An account (Register) is a member of --rooms rooms and goes away; a
// publisher posts --messages to each room; the account comes back with Resume
// and its cursors. Measured: from writing Resume to the last of the rooms x
// messages replayed ChatMessages (and to the Reply that ends the resume),
// every room checked for exactly the seqs after its cursor, in order, without
// a Gap. Next to it, a full re-join: a fresh account sends the rooms'
// JoinRooms at once; from writing them to the last message of their history.
// Each run repeats both (the rooms keep growing); --runs of them, medians.
//
// Needs a muxchatd with accounts and Resume, started with
// --messages_per_second=0 (the publisher posts as fast as replies come back)
// and normally --data_dir. Blocking sockets, one thread. Exit status: 0 ok,
// 1 a replay was incomplete or out of order, 2 the run failed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "proto/muxchat.pb.h"
#include "src/wire/buffer.h"
#include "src/wire/frame_codec.h"
#include "src/wire/frame_format.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "muxchatd IPv4 address");
ABSL_FLAG(int, port, 0, "muxchatd port (required)");
ABSL_FLAG(int, rooms, 64, "rooms the resuming account is a member of");
ABSL_FLAG(int, messages, 100, "messages posted to each room while the account is away");
ABSL_FLAG(int, payload, 64, "bytes of text per message");
ABSL_FLAG(int, runs, 5, "repetitions (medians are reported)");
ABSL_FLAG(double, timeout, 60, "seconds to wait for any one answer");
ABSL_FLAG(bool, json, false, "print one JSON object instead of text");
ABSL_FLAG(std::string, run_id, "", "name prefix (default: derived from the PID)");

namespace muxchat::bench {
namespace {

constexpr char kPassword[] = "resume-bench-password";
constexpr int kPostWindow = 512;  // PostMessages in flight from the publisher

int64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// One blocking client connection speaking muxchat frames; answers the
// server's Pings while it waits. Owns its fd.
class Client {
 public:
  Client() = default;
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::Status Connect(const std::string& host, int port, double timeout_s) {
    timeout_ms_ = static_cast<int>(timeout_s * 1000);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("--host must be an IPv4 address, got ", host));
    }
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return absl::OkStatus();
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    in_.Clear();
  }

  void Queue(const v1::ClientFrame& f) { (void)wire::AppendFrame(f, &out_); }

  // Writes everything queued, reading (and keeping) what arrives meanwhile so
  // that neither side blocks on a full socket.
  absl::Status Flush() {
    while (!out_.empty()) {
      pollfd p{fd_, POLLIN | POLLOUT, 0};
      if (::poll(&p, 1, timeout_ms_) <= 0) return absl::DeadlineExceededError("write timed out");
      if (p.revents & POLLIN) {
        absl::Status st = ReadSome();
        if (!st.ok()) return st;
      }
      if (p.revents & POLLOUT) {
        const ssize_t n = ::send(fd_, out_.Peek(), out_.ReadableBytes(), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
          return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
        }
        if (n > 0) out_.Consume(static_cast<size_t>(n));
      }
    }
    return absl::OkStatus();
  }

  // The next frame that is not a Ping (answered) or Pong.
  absl::Status Next(v1::ServerFrame* f) {
    for (;;) {
      absl::StatusOr<bool> got = decoder_.Next(&in_, f);
      if (!got.ok()) return got.status();
      if (*got) {
        if (f->has_ping()) {
          v1::ClientFrame pong;
          pong.mutable_pong()->set_nonce(f->ping().nonce());
          Queue(pong);
          absl::Status st = Flush();
          if (!st.ok()) return st;
          continue;
        }
        if (f->has_pong()) continue;
        if (f->has_error()) {
          return absl::UnavailableError(absl::StrCat("server Error: ", v1::Status_Name(f->error().status()), " ",
                                                     f->error().message()));
        }
        return absl::OkStatus();
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms_) <= 0) return absl::DeadlineExceededError("no answer from the server");
      absl::Status st = ReadSome();
      if (!st.ok()) return st;
    }
  }

  // The Reply to `request_id`, skipping events. Replies to other requests
  // are kept for their own AwaitReply: a durable server may answer a request
  // that waits for a commit (CreateRoom) after a later one that does not.
  absl::StatusOr<v1::Reply> AwaitReply(uint64_t request_id) {
    if (auto it = early_replies_.find(request_id); it != early_replies_.end()) {
      v1::Reply r = std::move(it->second);
      early_replies_.erase(it);
      return r;
    }
    v1::ServerFrame f;
    for (;;) {
      absl::Status st = Next(&f);
      if (!st.ok()) return st;
      if (!f.has_reply()) continue;
      if (f.request_id() == request_id) return f.reply();
      early_replies_[f.request_id()] = f.reply();
    }
  }

 private:
  absl::Status ReadSome() {
    const ssize_t n = in_.ReadFromFd(fd_, 1 << 20);
    if (n == 0) return absl::UnavailableError("server closed the connection");
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  int fd_ = -1;
  int timeout_ms_ = 60000;
  wire::Buffer in_{256 * 1024};
  wire::Buffer out_{64 * 1024};
  wire::FrameDecoder decoder_;
  absl::flat_hash_map<uint64_t, v1::Reply> early_replies_;
};

absl::Status ExpectSuccess(const absl::StatusOr<v1::Reply>& r, absl::string_view what) {
  if (!r.ok()) return r.status();
  if (r->status() != v1::SUCCESS) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": ", v1::Status_Name(r->status()), " ", r->message()));
  }
  return absl::OkStatus();
}

// Registers `name` on a fresh connection; returns the session token.
absl::StatusOr<std::string> Register(Client* c, const std::string& name) {
  v1::ClientFrame f;
  f.set_request_id(1);
  auto* r = f.mutable_register_();
  r->set_name(name);
  r->set_password(kPassword);
  r->set_client_name("muxchat-resume-bench/0.1");
  r->set_protocol_version(wire::kProtocolVersion);
  c->Queue(f);
  absl::Status st = c->Flush();
  if (!st.ok()) return st;
  v1::ServerFrame w;
  for (;;) {
    st = c->Next(&w);
    if (!st.ok()) return st;
    if (w.has_welcome()) {
      if (w.welcome().session_token().empty()) return absl::FailedPreconditionError("Welcome without a token");
      return w.welcome().session_token();
    }
    if (w.has_reply()) {
      return absl::FailedPreconditionError(absl::StrCat("Register ", name, ": ", v1::Status_Name(w.reply().status()),
                                                        " ", w.reply().message()));
    }
  }
}

struct Room {
  uint64_t id = 0;
  std::string name;
  uint64_t cursor = 0;  // the newest seq the resuming account has
};

struct RunResult {
  double resume_to_last_ms = 0;
  double resume_to_reply_ms = 0;
  double resume_to_welcome_ms = 0;
  uint64_t replayed = 0;
  uint64_t expected = 0;
  uint64_t gaps = 0;
  uint64_t out_of_order = 0;  // a replayed seq that is not the next one of its room
  double rejoin_to_last_ms = 0;
  uint64_t rejoin_messages = 0;
  double post_s = 0;  // the publisher posting rooms x messages (acknowledged)
  // The server's Limits: replayed per room on Resume (older: a Gap), on join.
  uint32_t resume_replay_limit = 0;
  uint32_t history_limit = 0;
};

class ResumeBench {
 public:
  ResumeBench(std::string host, int port, int rooms, int messages, size_t payload, double timeout_s,
              std::string run_id)
      : host_(std::move(host)),
        port_(port),
        n_rooms_(rooms),
        messages_(messages),
        payload_(payload),
        timeout_s_(timeout_s),
        run_id_(std::move(run_id)) {}

  // The account registers and joins every room, the publisher registers.
  absl::Status Setup() {
    Client a;
    absl::Status st = a.Connect(host_, port_, timeout_s_);
    if (!st.ok()) return st;
    absl::StatusOr<std::string> token = Register(&a, absl::StrCat(run_id_, "a"));
    if (!token.ok()) return token.status();
    token_ = *token;
    rooms_.resize(static_cast<size_t>(n_rooms_));
    for (int r = 0; r < n_rooms_; ++r) {
      rooms_[r].name = absl::StrCat(run_id_, "-", r);
      v1::ClientFrame f;
      f.set_request_id(static_cast<uint64_t>(1000 + r));
      f.mutable_create_room()->set_name(rooms_[r].name);
      a.Queue(f);
      f.set_request_id(static_cast<uint64_t>(100000 + r));
      f.mutable_join_room()->set_name(rooms_[r].name);
      a.Queue(f);
    }
    st = a.Flush();
    if (!st.ok()) return st;
    for (int r = 0; r < n_rooms_; ++r) {
      st = ExpectSuccess(a.AwaitReply(static_cast<uint64_t>(1000 + r)), "CreateRoom");
      if (!st.ok()) return st;
      absl::StatusOr<v1::Reply> join = a.AwaitReply(static_cast<uint64_t>(100000 + r));
      st = ExpectSuccess(join, "JoinRoom");
      if (!st.ok()) return st;
      rooms_[r].id = join->room_id();
      rooms_[r].cursor = join->last_seq();
    }
    st = publisher_.Connect(host_, port_, timeout_s_);
    if (!st.ok()) return st;
    // `a` goes away on return: the account stays a member of its rooms.
    return Register(&publisher_, absl::StrCat(run_id_, "p")).status();
  }

  absl::StatusOr<RunResult> Run(int run) {
    RunResult res;
    const int64_t post0 = NowNanos();
    absl::Status st = PostAll(run);
    if (!st.ok()) return st;
    res.post_s = static_cast<double>(NowNanos() - post0) / 1e9;
    st = Resume(&res);
    if (!st.ok()) return st;
    st = Rejoin(run, &res);
    if (!st.ok()) return st;
    return res;
  }

 private:
  // Posts `messages_` to every room, round robin, kPostWindow in flight.
  absl::Status PostAll(int run) {
    const uint64_t total = static_cast<uint64_t>(n_rooms_) * static_cast<uint64_t>(messages_);
    uint64_t sent = 0, acked = 0;
    std::string text;
    while (acked < total) {
      while (sent < total && sent - acked < kPostWindow) {
        const Room& room = rooms_[sent % rooms_.size()];
        text = absl::StrCat("run ", run, " msg ", sent / rooms_.size(), " ");
        text.resize(std::max(text.size(), payload_), 'x');
        v1::ClientFrame f;
        f.set_request_id(++request_id_);
        f.set_room_id(room.id);
        f.mutable_post_message()->set_text(text);
        publisher_.Queue(f);
        ++sent;
      }
      absl::Status st = publisher_.Flush();
      if (!st.ok()) return st;
      v1::ServerFrame f;
      st = publisher_.Next(&f);
      if (!st.ok()) return st;
      if (!f.has_reply()) continue;
      if (f.reply().status() != v1::SUCCESS) {
        return absl::FailedPreconditionError(absl::StrCat("PostMessage: ", v1::Status_Name(f.reply().status()), " ",
                                                          f.reply().message(),
                                                          " (muxchatd needs --messages_per_second=0)"));
      }
      ++acked;
    }
    return absl::OkStatus();
  }

  absl::Status Resume(RunResult* res) {
    Client c;
    absl::Status st = c.Connect(host_, port_, timeout_s_);
    if (!st.ok()) return st;
    v1::ClientFrame f;
    f.set_request_id(7);
    auto* r = f.mutable_resume();
    r->set_token(token_);
    r->set_client_name("muxchat-resume-bench/0.1");
    r->set_protocol_version(wire::kProtocolVersion);
    std::vector<uint64_t> next(rooms_.size());
    for (size_t i = 0; i < rooms_.size(); ++i) {
      auto* cur = r->add_cursors();
      cur->set_room_id(rooms_[i].id);
      cur->set_last_seq(rooms_[i].cursor);
      next[i] = rooms_[i].cursor + 1;
    }
    res->expected = static_cast<uint64_t>(n_rooms_) * static_cast<uint64_t>(messages_);
    c.Queue(f);
    const int64_t t0 = NowNanos();
    st = c.Flush();
    if (!st.ok()) return st;
    int64_t t_last = 0;
    v1::ServerFrame s;
    for (;;) {
      st = c.Next(&s);
      if (!st.ok()) return st;
      if (s.has_welcome()) {
        res->resume_to_welcome_ms = Ms(NowNanos() - t0);
        res->resume_replay_limit = s.welcome().limits().resume_replay();
        res->history_limit = s.welcome().limits().history();
      } else if (s.has_chat_message() && s.chat_message().replay()) {
        const int64_t now = NowNanos();
        const size_t i = RoomIndex(s.room_id());
        if (i == rooms_.size()) continue;  // a room this account is in that the bench did not make
        ++res->replayed;
        if (s.chat_message().seq() != next[i]) ++res->out_of_order;
        next[i] = s.chat_message().seq() + 1;
        if (res->replayed == res->expected) t_last = now;
      } else if (s.has_gap()) {
        ++res->gaps;
      } else if (s.has_reply() && s.request_id() == 7) {
        res->resume_to_reply_ms = Ms(NowNanos() - t0);
        if (s.reply().status() != v1::SUCCESS) {
          return absl::FailedPreconditionError(
              absl::StrCat("Resume: ", v1::Status_Name(s.reply().status()), " ", s.reply().message()));
        }
        break;
      }
    }
    res->resume_to_last_ms = t_last ? Ms(t_last - t0) : res->resume_to_reply_ms;
    for (size_t i = 0; i < rooms_.size(); ++i) rooms_[i].cursor = next[i] - 1;
    return absl::OkStatus();
    // The connection closes: the account is away again for the next run.
  }

  // A fresh account joins every room at once and takes their history.
  absl::Status Rejoin(int run, RunResult* res) {
    Client c;
    absl::Status st = c.Connect(host_, port_, timeout_s_);
    if (!st.ok()) return st;
    absl::StatusOr<std::string> token = Register(&c, absl::StrCat(run_id_, "j", run));
    if (!token.ok()) return token.status();
    for (size_t i = 0; i < rooms_.size(); ++i) {
      v1::ClientFrame f;
      f.set_request_id(200000 + i);
      f.mutable_join_room()->set_name(rooms_[i].name);
      c.Queue(f);
    }
    const int64_t t0 = NowNanos();
    st = c.Flush();
    if (!st.ok()) return st;
    size_t replies = 0;
    uint64_t announced = 0;
    int64_t t_last = 0;
    v1::ServerFrame s;
    while (replies < rooms_.size() || res->rejoin_messages < announced) {
      st = c.Next(&s);
      if (!st.ok()) return st;
      if (s.has_reply() && s.request_id() >= 200000) {
        if (s.reply().status() != v1::SUCCESS) {
          return absl::FailedPreconditionError(
              absl::StrCat("JoinRoom: ", v1::Status_Name(s.reply().status()), " ", s.reply().message()));
        }
        ++replies;
        announced += s.reply().history_count();
      } else if (s.has_chat_message() && s.chat_message().replay()) {
        ++res->rejoin_messages;
        t_last = NowNanos();
      }
    }
    res->rejoin_to_last_ms = Ms((t_last ? t_last : NowNanos()) - t0);
    return absl::OkStatus();
  }

  size_t RoomIndex(uint64_t id) const {
    for (size_t i = 0; i < rooms_.size(); ++i) {
      if (rooms_[i].id == id) return i;
    }
    return rooms_.size();
  }

  const std::string host_;
  const int port_;
  const int n_rooms_;
  const int messages_;
  const size_t payload_;
  const double timeout_s_;
  const std::string run_id_;
  std::string token_;
  std::vector<Room> rooms_;
  Client publisher_;
  uint64_t request_id_ = 0;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string JsonList(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&s, i ? "," : "", absl::StrFormat("%.3f", v[i]));
  return s + "]";
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage("resume vs re-join: muxchat-resume-bench --port=PORT [--rooms=64 --messages=100]");
  absl::ParseCommandLine(argc, argv);
  const int port = absl::GetFlag(FLAGS_port);
  const int rooms = absl::GetFlag(FLAGS_rooms);
  const int messages = absl::GetFlag(FLAGS_messages);
  const int runs = absl::GetFlag(FLAGS_runs);
  const int payload = absl::GetFlag(FLAGS_payload);
  if (port <= 0 || port > 65535 || rooms < 1 || messages < 1 || runs < 1 || payload < 1) {
    std::fprintf(stderr, "muxchat-resume-bench: bad flags (need --port; counts >= 1)\n");
    return 2;
  }
  std::string run_id = absl::GetFlag(FLAGS_run_id);
  if (run_id.empty()) run_id = absl::StrCat("rb", absl::Hex((getpid() ^ NowNanos()) & 0xffffff));
  const bool json = absl::GetFlag(FLAGS_json);

  ResumeBench bench(absl::GetFlag(FLAGS_host), port, rooms, messages, static_cast<size_t>(payload),
                    absl::GetFlag(FLAGS_timeout), run_id);
  std::string error;
  std::vector<RunResult> results;
  absl::Status st = bench.Setup();
  if (!st.ok()) error = st.ToString();
  for (int i = 0; error.empty() && i < runs; ++i) {
    absl::StatusOr<RunResult> r = bench.Run(i);
    if (!r.ok()) {
      error = r.status().ToString();
      break;
    }
    results.push_back(*r);
    if (!json) {
      std::fprintf(stderr,
                   "run %d: resume -> last of %llu replayed %.1f ms (Welcome %.1f, Reply %.1f; gaps %llu, out of "
                   "order %llu); re-join -> last of %llu %.1f ms\n",
                   i, static_cast<unsigned long long>(r->replayed), r->resume_to_last_ms, r->resume_to_welcome_ms,
                   r->resume_to_reply_ms, static_cast<unsigned long long>(r->gaps),
                   static_cast<unsigned long long>(r->out_of_order),
                   static_cast<unsigned long long>(r->rejoin_messages), r->rejoin_to_last_ms);
    }
  }
  bool complete = !results.empty();
  std::vector<double> resume_last, resume_reply, rejoin_last, rejoin_msgs;
  for (const RunResult& r : results) {
    complete = complete && r.replayed == r.expected && r.gaps == 0 && r.out_of_order == 0;
    resume_last.push_back(r.resume_to_last_ms);
    resume_reply.push_back(r.resume_to_reply_ms);
    rejoin_last.push_back(r.rejoin_to_last_ms);
    rejoin_msgs.push_back(static_cast<double>(r.rejoin_messages));
  }
  const uint64_t expected = static_cast<uint64_t>(rooms) * static_cast<uint64_t>(messages);
  const uint32_t resume_replay_limit = results.empty() ? 0 : results.back().resume_replay_limit;
  const uint32_t history_limit = results.empty() ? 0 : results.back().history_limit;
  if (json) {
    std::printf(
        "{\"ok\":%s,\"error\":\"%s\",\"rooms\":%d,\"messages_per_room\":%d,\"payload\":%d,\"runs\":%zu,"
        "\"expected\":%llu,\"complete\":%s,\"resume_to_last_ms\":%s,\"resume_to_reply_ms\":%s,"
        "\"rejoin_to_last_ms\":%s,\"rejoin_messages\":%s,\"resume_to_last_ms_median\":%.3f,"
        "\"rejoin_to_last_ms_median\":%.3f,\"limits_resume_replay\":%u,\"limits_history\":%u}\n",
        error.empty() ? "true" : "false", absl::StrReplaceAll(error, {{"\\", "\\\\"}, {"\"", "\\\""}}).c_str(), rooms,
        messages, payload, results.size(), static_cast<unsigned long long>(expected), complete ? "true" : "false",
        JsonList(resume_last).c_str(), JsonList(resume_reply).c_str(), JsonList(rejoin_last).c_str(),
        JsonList(rejoin_msgs).c_str(), Median(resume_last), Median(rejoin_last), resume_replay_limit, history_limit);
  } else {
    if (!error.empty()) std::printf("ERROR: %s\n", error.c_str());
    std::printf("%d rooms x %d messages missed (%llu), %d B, %zu run(s), medians:\n", rooms, messages,
                static_cast<unsigned long long>(expected), payload, results.size());
    std::printf("  resume:  %.1f ms to the last replayed message, %.1f ms to its Reply; %s\n", Median(resume_last),
                Median(resume_reply), complete ? "every message, in order, no Gap" : "INCOMPLETE or out of order");
    std::printf("  re-join: %.1f ms to the last of %.0f history messages (%d JoinRooms by a fresh account)\n",
                Median(rejoin_last), Median(rejoin_msgs), rooms);
    std::printf("  server Limits: resume_replay %u per room (older: Gap), history %u per join\n",
                resume_replay_limit, history_limit);
  }
  if (!error.empty()) return 2;
  return complete ? 0 : 1;
}

}  // namespace
}  // namespace muxchat::bench

int main(int argc, char** argv) { return muxchat::bench::Main(argc, argv); }
