// muxchat-bench: end-to-end fan-out load generator for muxchatd and for the
// peers it is compared with (Redis pub/sub, NATS, an IRC server). Flags below;
// docs/BENCHMARKS.md shows how bench/compare drives it. Exit status: 0 ok,
// 1 muxchat lost, duplicated or reordered a message, 2 the run failed.
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/load/load_generator.h"
#include "bench/load/payload.h"
#include "bench/load/report.h"
#include "src/wire/host_port.h"

ABSL_FLAG(std::string, target, "muxchat",
          "muxchat|redis|nats|irc|socketio|nodews|redis-streams|nats-jetstream (socketio, nodews: "
          "bench/peers/node/, WebSocket; redis-streams: XADD / XREAD BLOCK; nats-jetstream: a stream per room, "
          "push consumers; the last two need redis-server with AOF / nats-server -js, see bench/compare --durable)");
ABSL_FLAG(bool, ws, false,
          "muxchat only: publishers and subscribers speak muxchat over WebSocket (GET /ws, one binary message per frame)");
ABSL_FLAG(std::string, host, "127.0.0.1", "server IPv4 address (loopback)");
ABSL_FLAG(int, port, 0, "server port (required unless --servers)");
ABSL_FLAG(std::string, servers, "",
          "instead of --host/--port: HOST:PORT,HOST:PORT,... the nodes of a cluster; publishers round robin over "
          "them, each room's subscribers round robin from the node after its publisher's, latency also reported "
          "local vs cross-node (bench/compare --cluster)");
ABSL_FLAG(std::string, probe, "auto",
          "yes|no|auto: before measuring, publish uncounted probes until every subscriber has one from each "
          "publisher of its room (auto: yes with several --servers, where a subscription may reach the other "
          "nodes after it is confirmed)");
ABSL_FLAG(int, rooms, 1, "rooms / channels / subjects");
ABSL_FLAG(int, subscribers, 1, "subscribers per room");
ABSL_FLAG(int, publishers, 1, "publishers per room");
ABSL_FLAG(uint64_t, messages, 10000, "messages per publisher (ignored with --duration)");
ABSL_FLAG(double, duration, 0, "publish for this many seconds instead of --messages");
ABSL_FLAG(int, payload, 64, "payload bytes per message (>= 41: header with publisher, seq, send time)");
ABSL_FLAG(double, rate, 0, "messages/s per publisher; 0 = as fast as the --window allows");
ABSL_FLAG(int, window, 64, "max messages per publisher not yet seen by its room's designated subscriber");
ABSL_FLAG(std::string, server_pid, "",
          "server PID, to report its CPU seconds from /proc/PID/stat; PID,PID,... sums several (a cluster's nodes "
          "and its Redis)");
ABSL_FLAG(int, pin, -1, "pin the generator to this CPU (-1: not pinned)");
ABSL_FLAG(bool, json, false, "print one JSON object instead of text");
ABSL_FLAG(double, setup_timeout, 60, "seconds allowed to connect and subscribe everyone");
ABSL_FLAG(double, drain_timeout, 10, "seconds without progress before giving up (after publishing: the rest is lost; during: the run failed)");
ABSL_FLAG(std::string, irc_oper, "bench:bench", "IRC operator NAME:PASSWORD for publishers (empty: none)");
ABSL_FLAG(bool, tls, false, "connect with TLS (muxchat, redis: from the first byte; nats: after its INFO line)");
ABSL_FLAG(std::string, ca, "", "with --tls: PEM CA file to verify the server (default: the system store)");
ABSL_FLAG(std::string, tls_server_name, "", "with --tls: name (or IP) the certificate must match (default: --host)");
ABSL_FLAG(std::string, run_id, "", "name prefix for this run (default: derived from the PID)");

namespace {

using muxchat::bench::LoadOptions;

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage("fan-out load generator: muxchat-bench --target=redis --port=6379 ...");
  absl::ParseCommandLine(argc, argv);
  // A server closing on us shows up as EPIPE on write (TLS writes through
  // OpenSSL cannot pass MSG_NOSIGNAL), not as a killed generator.
  std::signal(SIGPIPE, SIG_IGN);
  LoadOptions o;
  auto target = muxchat::bench::ParseTarget(absl::GetFlag(FLAGS_target));
  if (!target.ok()) {
    std::fprintf(stderr, "muxchat-bench: %s\n", target.status().ToString().c_str());
    return 2;
  }
  o.target = *target;
  o.websocket = absl::GetFlag(FLAGS_ws);
  if (o.websocket && o.target != muxchat::bench::Target::kMuxchat) {
    std::fprintf(stderr, "muxchat-bench: --ws is for --target=muxchat (socketio and nodews always use WebSocket)\n");
    return 2;
  }
  if (const std::string list = absl::GetFlag(FLAGS_servers); !list.empty()) {
    absl::StatusOr<std::vector<muxchat::bench::ServerAddress>> servers =
        muxchat::wire::ParseHostPortList(list, /*default_port=*/std::nullopt);
    if (!servers.ok()) {
      std::fprintf(stderr, "muxchat-bench: --servers: %s\n", servers.status().message().data());
      return 2;
    }
    o.servers = std::move(*servers);
  } else {
    const int port = absl::GetFlag(FLAGS_port);
    if (port <= 0 || port > 65535) {
      std::fprintf(stderr, "muxchat-bench: need --port (1..65535) or --servers\n");
      return 2;
    }
    o.servers.push_back({absl::GetFlag(FLAGS_host), static_cast<uint16_t>(port)});
  }
  const std::string probe = absl::GetFlag(FLAGS_probe);
  if (probe != "auto" && probe != "yes" && probe != "no") {
    std::fprintf(stderr, "muxchat-bench: --probe is yes, no or auto\n");
    return 2;
  }
  o.probe = probe == "yes" || (probe == "auto" && o.servers.size() > 1);
  o.rooms = absl::GetFlag(FLAGS_rooms);
  o.subscribers = absl::GetFlag(FLAGS_subscribers);
  o.publishers = absl::GetFlag(FLAGS_publishers);
  o.messages = absl::GetFlag(FLAGS_messages);
  o.duration_s = absl::GetFlag(FLAGS_duration);
  o.rate = absl::GetFlag(FLAGS_rate);
  o.window = absl::GetFlag(FLAGS_window);
  for (absl::string_view item : absl::StrSplit(absl::GetFlag(FLAGS_server_pid), ',', absl::SkipEmpty())) {
    int pid = 0;
    if (!absl::SimpleAtoi(item, &pid) || pid <= 0) {
      std::fprintf(stderr, "muxchat-bench: --server_pid is PID[,PID...]\n");
      return 2;
    }
    o.server_pids.push_back(pid);
  }
  o.setup_timeout_s = absl::GetFlag(FLAGS_setup_timeout);
  o.drain_timeout_s = absl::GetFlag(FLAGS_drain_timeout);
  const int payload = absl::GetFlag(FLAGS_payload);
  const bool json = absl::GetFlag(FLAGS_json);
  if (o.rooms < 1 || o.subscribers < 1 || o.publishers < 1 || o.window < 1 ||
      payload < 0 || (o.messages == 0 && o.duration_s <= 0) || o.rooms * (o.subscribers + o.publishers) > 100000) {
    std::fprintf(stderr, "muxchat-bench: bad flags (counts >= 1; at most 100000 connections)\n");
    return 2;
  }
  o.payload = static_cast<size_t>(payload);
  if (o.payload < muxchat::bench::kPayloadHeaderBytes) o.payload = muxchat::bench::kPayloadHeaderBytes;
  if (o.payload > muxchat::bench::MaxPayloadBytes(o.target)) {
    std::fprintf(stderr, "muxchat-bench: --payload %zu is n/a for %s (max %zu)\n", o.payload,
                 muxchat::bench::TargetName(o.target), muxchat::bench::MaxPayloadBytes(o.target));
    return 2;
  }
  const std::string oper = absl::GetFlag(FLAGS_irc_oper);
  const size_t colon = oper.find(':');
  o.irc_oper_name = oper.substr(0, colon);
  o.irc_oper_password = colon == std::string::npos ? "" : oper.substr(colon + 1);
  o.run_id = absl::GetFlag(FLAGS_run_id);
  if (o.run_id.empty()) {
    o.run_id = absl::StrCat("b", absl::Hex((getpid() ^ muxchat::bench::MonotonicNanos()) & 0xffffff));
  }
  o.tls = absl::GetFlag(FLAGS_tls);
  o.ca_file = absl::GetFlag(FLAGS_ca);
  o.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  o.progress = !json && isatty(STDERR_FILENO);

  // Room for every connection's fd.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  std::string pin_note = "not pinned";
  if (const int cpu = absl::GetFlag(FLAGS_pin); cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pin_note = sched_setaffinity(0, sizeof set, &set) == 0 ? absl::StrCat("pinned to CPU ", cpu)
                                                           : absl::StrCat("pinning to CPU ", cpu, " FAILED");
  }
  if (!json) std::fprintf(stderr, "muxchat-bench: generator %s\n", pin_note.c_str());

  const muxchat::bench::LoadResult r = muxchat::bench::RunLoad(o);
  if (json) {
    PrintJsonReport(o, r, pin_note, stdout);
  } else {
    PrintTextReport(o, r, pin_note, stdout);
  }
  if (!r.ok) return 2;
  if (o.target == muxchat::bench::Target::kMuxchat && (r.lost || r.duplicates || r.reordered)) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
