// muxchat-redis-round: the Redis hop of the cluster's chain with nodes that
// cost nothing (docs/BENCHMARKS.md §11.8). One process stands in for the
// load generator and the nodes: it sends muxchatd's real publish script call
// (ClusterPublisher::Script(), the packed form a node sends for a client
// without client_msg_id: `--messages_per_call` bodies of 64 B in one
// argument) on one connection, with up to `--calls_in_flight` calls not yet
// seen on the room's channel, which it reads on a second connection; the
// window of messages is messages_per_call x calls_in_flight. Prints calls/s,
// messages/s, the window round (window / messages/s) and its own CPU per call.
// Raw sockets and hand-made RESP, no hiredis and no parsing beyond counting
// the channel's messages: the stand-in's own cost is a read and a write.
//
// `--relay_listen=P --relay_target=Q` instead forwards one accepted
// connection to 127.0.0.1:Q both ways (a node that does nothing but one read
// and one write per batch), and prints its CPU when the connection closes.
//
//   redis-server --port 6391 --save "" --appendonly no &
//   redis-cli -p 6391 SUBSCRIBE 'round:{room:1}:ch' >/dev/null &   # two more subscribed "nodes"
//   redis-cli -p 6391 SUBSCRIBE 'round:{room:1}:ch' >/dev/null &
//   build/bench/muxchat-redis-round --redis_port=6391                      # generator -> Redis -> generator
//   build/bench/muxchat-redis-round --relay_listen=6392 --relay_target=6391 &   # free node A
//   build/bench/muxchat-redis-round --relay_listen=6393 --relay_target=6391 &   # free node B
//   build/bench/muxchat-redis-round --redis_port=6391 --pub_port=6392 --sub_port=6393
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "src/server/cluster_publisher.h"

ABSL_FLAG(int, redis_port, 6379, "Redis port on 127.0.0.1 (loads the script, registers the room)");
ABSL_FLAG(int, pub_port, 0, "port the calls go to (a relay standing for node A); 0 = redis_port");
ABSL_FLAG(int, sub_port, 0, "port the channel is read from (a relay standing for node B); 0 = redis_port");
ABSL_FLAG(int, messages_per_call, 32, "messages in each script call (a node sends a loop turn's worth)");
ABSL_FLAG(int, calls_in_flight, 2, "calls sent and not yet seen on the channel");
ABSL_FLAG(int, calls, 30000, "calls to time");
ABSL_FLAG(std::string, key_prefix, "round", "key prefix (the room is <prefix>:{room:1})");
ABSL_FLAG(int, relay_listen, 0, "relay mode: accept one connection on this port ...");
ABSL_FLAG(int, relay_target, 0, "... and forward it both ways to this port");

namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int ConnectTo(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void WriteAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::perror("write");
      std::exit(1);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::string Resp(const std::vector<std::string>& args) {
  std::string out = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) absl::StrAppend(&out, "$", a.size(), "\r\n", a, "\r\n");
  return out;
}

// One command's reply on a fresh connection, read until it ends with CRLF
// (enough for the short replies of set-up: a status, an integer, a SHA).
std::string Ask(int port, const std::vector<std::string>& args) {
  const int fd = ConnectTo(port);
  WriteAll(fd, Resp(args));
  std::string reply;
  char buf[4096];
  while (reply.size() < 2 || reply.compare(reply.size() - 2, 2, "\r\n") != 0 ||
         (reply[0] == '$' && std::count(reply.begin(), reply.end(), '\n') < 2)) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return reply;
}

int Relay(int listen_port, int target_port) {
  const int l = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(listen_port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(l, 1) != 0) {
    std::perror("bind");
    return 1;
  }
  const int c = accept(l, nullptr, nullptr);
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int t = ConnectTo(target_port);
  std::vector<char> buf(1 << 16);
  pollfd p[2] = {{c, POLLIN, 0}, {t, POLLIN, 0}};
  const double cpu0 = CpuSeconds();
  for (;;) {
    if (poll(p, 2, -1) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) continue;
      const ssize_t n = read(p[i].fd, buf.data(), buf.size());
      if (n <= 0) {
        std::printf("relay %d: cpu %.3f s\n", listen_port, CpuSeconds() - cpu0);
        return 0;
      }
      WriteAll(p[1 - i].fd, absl::string_view(buf.data(), static_cast<size_t>(n)));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_relay_listen) != 0) {
    return Relay(absl::GetFlag(FLAGS_relay_listen), absl::GetFlag(FLAGS_relay_target));
  }
  const int redis = absl::GetFlag(FLAGS_redis_port);
  const int pub_port = absl::GetFlag(FLAGS_pub_port) != 0 ? absl::GetFlag(FLAGS_pub_port) : redis;
  const int sub_port = absl::GetFlag(FLAGS_sub_port) != 0 ? absl::GetFlag(FLAGS_sub_port) : redis;
  const int per_call = std::max(1, absl::GetFlag(FLAGS_messages_per_call));
  const long in_flight = std::max(1, absl::GetFlag(FLAGS_calls_in_flight));
  const long calls = std::max(1, absl::GetFlag(FLAGS_calls));
  const std::string room = absl::StrCat(absl::GetFlag(FLAGS_key_prefix), ":{room:1}");
  const std::string registry = absl::StrCat(absl::GetFlag(FLAGS_key_prefix), ":rooms:data");

  // The script, and the room registered so that the script's check passes.
  const std::string sha_reply = Ask(redis, {"SCRIPT", "LOAD", muxchat::server::ClusterPublisher::Script()});
  const size_t nl = sha_reply.find("\r\n");
  if (sha_reply.empty() || sha_reply[0] != '$' || nl == std::string::npos) {
    std::fprintf(stderr, "SCRIPT LOAD failed: %s\n", sha_reply.c_str());
    return 1;
  }
  const std::string sha = sha_reply.substr(nl + 2, 40);
  Ask(redis, {"HSET", registry, "1", "r"});

  // The call a node sends for `per_call` messages of 64 B from a client
  // without client_msg_id: sender, account, client_msg_id and text in field
  // form, all bodies in one argument (cluster_publisher.cc's script).
  std::string bodies;
  for (int i = 0; i < per_call; ++i) {
    absl::StrAppend(&bodies, "11:b0000000p0-0", "1:0", "1:0", "64:", std::string(64, 'x'));
  }
  const std::string call = Resp({"EVALSHA", sha, "2", room + ":seq", room + ":log", room + ":ch", "10000", "0",
                                 "86400", registry, "1", absl::StrCat(per_call), std::string(per_call, '1'), bodies});

  const int pub = ConnectTo(pub_port);
  const int sub = ConnectTo(sub_port);
  WriteAll(sub, Resp({"SUBSCRIBE", room + ":ch"}));
  std::vector<char> buf(1 << 16);
  if (read(sub, buf.data(), buf.size()) <= 0) return 1;  // the confirmation

  // A channel message starts "*3\r\n$7\r\nmessage\r\n"; the payloads (digits,
  // field lengths, 'x') never hold that word.
  const absl::string_view mark = "message\r\n";
  std::string carry;
  std::deque<double> sent;
  long next = 0, seen = 0;
  double round_sum = 0;
  const double cpu0 = CpuSeconds();
  const double t0 = Now();
  pollfd p[2] = {{pub, POLLIN, 0}, {sub, POLLIN, 0}};
  while (seen < calls) {
    while (next < calls && next - seen < in_flight) {
      sent.push_back(Now());
      ++next;
      WriteAll(pub, call);
    }
    if (poll(p, 2, -1) < 0) continue;
    if (p[0].revents != 0 && read(pub, buf.data(), buf.size()) <= 0) return 1;  // replies: drained
    if (p[1].revents == 0) continue;
    const ssize_t n = read(sub, buf.data(), buf.size());
    if (n <= 0) return 1;
    carry.append(buf.data(), static_cast<size_t>(n));
    const double now = Now();
    size_t at = 0;
    while ((at = carry.find(mark.data(), at, mark.size())) != std::string::npos) {
      at += mark.size();
      round_sum += now - sent.front();
      sent.pop_front();
      ++seen;
    }
    carry.erase(0, carry.size() > mark.size() ? carry.size() - mark.size() + 1 : 0);
  }
  const double elapsed = Now() - t0;
  const double cpu = CpuSeconds() - cpu0;
  const double msgs_per_s = static_cast<double>(calls) * per_call / elapsed;
  std::printf(
      "%ld calls of %d messages, %ld in flight: %.0f calls/s, %.0f messages/s, window of %ld: round %.0f us; "
      "a call, send to channel: %.0f us; stand-in CPU %.1f us per call\n",
      calls, per_call, in_flight, static_cast<double>(calls) / elapsed, msgs_per_s, per_call * in_flight,
      static_cast<double>(per_call * in_flight) / msgs_per_s * 1e6, round_sum / static_cast<double>(calls) * 1e6,
      cpu / static_cast<double>(calls) * 1e6);
  return 0;
}
