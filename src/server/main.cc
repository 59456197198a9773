// muxchatd: the single-port multiplexed chat server. Parses flags, blocks
// SIGINT/SIGTERM (stop) and SIGHUP (reload TLS) into a signalfd the event
// loop watches, prints the bound address on one stdout line, and runs the
// server until it stops.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "src/server/chat_service.h"
#include "src/server/logger.h"
#include "src/server/server.h"
#include "src/server/storage.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7000", "address to listen on: host:port or [v6]:port; port 0 picks one");
ABSL_FLAG(std::string, poller, "epoll", "event backend: epoll or poll");
ABSL_FLAG(uint32_t, max_frame_bytes, muxchat::wire::kDefaultMaxFrameBytes,
          "largest frame body either side sends; must hold a --max_text_bytes message");
ABSL_FLAG(uint32_t, max_text_bytes, 16 * 1024, "largest message text");
ABSL_FLAG(uint32_t, max_connections, 10000, "connections beyond this get Error(SERVER_FULL) and are closed");
ABSL_FLAG(uint32_t, history, 100, "messages per room replayed to a joining member");
ABSL_FLAG(uint64_t, max_output_bytes, 16 << 20, "pending output per connection before it is dropped as a slow consumer");
ABSL_FLAG(uint32_t, max_rooms, 10000, "rooms on the server");
ABSL_FLAG(uint32_t, max_rooms_per_connection, 64, "rooms one connection may be in");
ABSL_FLAG(uint32_t, max_members_per_room, 10000, "members one room may have");
ABSL_FLAG(uint32_t, messages_per_second, 1000, "sustained request rate per connection, sends and all other requests (0 = unlimited)");
ABSL_FLAG(uint32_t, message_burst, 2000, "requests allowed in a burst above the rate");
ABSL_FLAG(uint32_t, max_rate_violations, 1000, "refused requests before a flooder is disconnected, forgiven once it slows down enough for its bucket to refill halfway (0 = never)");
ABSL_FLAG(absl::Duration, handshake_timeout, absl::Seconds(10), "time allowed between connect and Hello");
ABSL_FLAG(absl::Duration, keepalive, absl::Seconds(60), "idle time before the server pings a client (0 = never)");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(30), "time to answer a keepalive ping");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(2), "how long shutdown keeps flushing to clients");
ABSL_FLAG(std::string, metrics, "loopback",
          "who may GET /metrics on the port: off (404), loopback (127.0.0.0/8 and ::1; 403 for others) or on");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn, error or off");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate (chain) for TLS on the same port; reloaded on SIGHUP");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert; reloaded on SIGHUP");
ABSL_FLAG(std::string, tls_min_version, "1.2", "lowest TLS version accepted: 1.2 or 1.3");
ABSL_FLAG(bool, require_tls, false, "refuse cleartext connections except from loopback");
ABSL_FLAG(std::string, allowed_origins, "",
          "browser origins allowed to open WebSocket /ws: comma-separated scheme://host[:port], or * "
          "(empty: only pages served by this server, i.e. Origin matching the request's Host)");

ABSL_FLAG(std::string, data_dir, "muxchat-data",
          "directory of the SQLite database keeping accounts, rooms and messages across restarts (created if "
          "missing); see --memory");
ABSL_FLAG(bool, memory, false, "keep everything in memory only: nothing survives a restart (ignores --data_dir)");
ABSL_FLAG(std::string, sync, "normal",
          "when storage syncs to disk: normal (a committed message survives a crash of muxchatd; SQLite WAL "
          "synchronous=NORMAL) or full (also a power loss: fsync per group commit)");
ABSL_FLAG(uint64_t, history_retention, 0, "stored messages kept per room, oldest pruned in the background (0 = all)");
ABSL_FLAG(absl::Duration, history_max_age, absl::ZeroDuration(),
          "stored messages older than this are pruned in the background (0 = kept regardless of age)");
ABSL_FLAG(bool, allow_guests, true, "let clients log in with a nickname alone, without an account");
ABSL_FLAG(absl::Duration, session_ttl, absl::Hours(24 * 30), "how long a session token from Register/Login works");
ABSL_FLAG(absl::Duration, dedupe_window, absl::Minutes(10),
          "how long a message's client_msg_id is remembered: a resend within it gets the original seq");
ABSL_FLAG(uint64_t, dedupe_max_entries, 500000, "the most client_msg_ids remembered (oldest forgotten first)");
ABSL_FLAG(uint32_t, history_page, 500, "the most messages one History request returns");
ABSL_FLAG(uint64_t, soft_output_bytes, 4 << 20,
          "pending output above which a member's chat messages are dropped for a Gap marker instead of queued "
          "(0 = never; --max_output_bytes still disconnects)");
ABSL_FLAG(std::string, cluster_redis, "",
          "HOST:PORT of the Redis through which several muxchatd nodes share every room (docs/SCALING.md); "
          "rooms and messages then live in Redis, not in --data_dir (implies --memory)");
ABSL_FLAG(std::string, node_name, "",
          "this node's name in the cluster, unique among its nodes (default: the hostname and the port)");
ABSL_FLAG(std::string, cluster_prefix, "muxchat", "prefix of the cluster's Redis keys (clusters sharing one Redis differ)");
ABSL_FLAG(bool, password_test_cost, false, "hash passwords at libsodium's minimum cost (tests only: weak)");
ABSL_FLAG(std::string, storage_fault_file, "", "testing: while this file exists, storage commits fail as on an I/O error");

#ifndef MUXCHAT_DEFAULT_WEB_ROOT
#define MUXCHAT_DEFAULT_WEB_ROOT ""
#endif
ABSL_FLAG(std::string, web_root, MUXCHAT_DEFAULT_WEB_ROOT,
          "directory of the built web client served at / (scripts/web-build.sh builds web/dist); empty serves "
          "none. Default: this source tree's web/dist, fixed at build time");

namespace {

constexpr char kUsage[] =
    "muxchatd: single-port multiplexed chat server.\n"
    "usage: muxchatd [--listen=127.0.0.1:7000] [flags]";

// --help: muxchatd's own flags (the ones defined in this file, not the
// libraries'), sorted, each with its default. Handled here rather than by
// absl's --help, which matched none of them and exited 1.
void PrintHelp() {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "src/server/main.cc")) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const absl::CommandLineFlag* a, const absl::CommandLineFlag* b) { return a->Name() < b->Name(); });
  std::printf("%s\n\nflags:\n", kUsage);
  for (const absl::CommandLineFlag* f : flags) {
    std::printf("  --%s  %s (default: %s)\n", std::string(f->Name()).c_str(), f->Help().c_str(),
                f->DefaultValue().empty() ? "\"\"" : f->DefaultValue().c_str());
  }
  std::printf("  --help  this text\n  --version  the version\n");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      PrintHelp();
      return 0;
    }
    if (arg == "--version" || arg == "-version") {
      std::printf("%s\n", muxchat::server::kServerVersion);
      return 0;
    }
  }
  absl::SetProgramUsageMessage(kUsage);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    // Never ignored: `muxchatd 7400` would otherwise listen on 7000.
    std::fprintf(stderr, "muxchatd: unexpected argument '%s'; the address is a flag: --listen=HOST:PORT "
                         "(see muxchatd --help)\n", positional[1]);
    return 2;
  }

  absl::StatusOr<muxchat::server::LogLevel> level = muxchat::server::ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    std::fprintf(stderr, "muxchatd: %s\n", std::string(level.status().message()).c_str());
    return 2;
  }
  muxchat::server::Logger logger(*level);
  absl::StatusOr<muxchat::server::MetricsAccess> metrics = muxchat::server::ParseMetricsAccess(absl::GetFlag(FLAGS_metrics));
  if (!metrics.ok()) {
    std::fprintf(stderr, "muxchatd: %s\n", std::string(metrics.status().message()).c_str());
    return 2;
  }

  const std::string tls_cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string tls_key = absl::GetFlag(FLAGS_tls_key);
  if (tls_cert.empty() != tls_key.empty()) {
    std::fprintf(stderr, "muxchatd: --tls_cert and --tls_key go together\n");
    return 2;
  }

  // Signals become readable events in the loop: no handler runs in between.
  // SIGHUP reloads the TLS certificate and key.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  const int signal_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) {
    std::perror("muxchatd: signalfd");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);

  muxchat::server::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.poller = absl::GetFlag(FLAGS_poller);
  options.max_frame_bytes = absl::GetFlag(FLAGS_max_frame_bytes);
  options.max_text_bytes = absl::GetFlag(FLAGS_max_text_bytes);
  options.max_connections = absl::GetFlag(FLAGS_max_connections);
  options.history = absl::GetFlag(FLAGS_history);
  options.max_output_bytes = absl::GetFlag(FLAGS_max_output_bytes);
  options.max_rooms = absl::GetFlag(FLAGS_max_rooms);
  options.max_rooms_per_connection = absl::GetFlag(FLAGS_max_rooms_per_connection);
  options.max_members_per_room = absl::GetFlag(FLAGS_max_members_per_room);
  options.messages_per_second = absl::GetFlag(FLAGS_messages_per_second);
  options.message_burst = absl::GetFlag(FLAGS_message_burst);
  options.max_rate_violations = absl::GetFlag(FLAGS_max_rate_violations);
  options.handshake_timeout = absl::GetFlag(FLAGS_handshake_timeout);
  options.keepalive_interval = absl::GetFlag(FLAGS_keepalive);
  options.keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  options.metrics = *metrics;
  options.tls.cert_file = tls_cert;
  options.tls.key_file = tls_key;
  options.tls.min_version = absl::GetFlag(FLAGS_tls_min_version);
  options.require_tls = absl::GetFlag(FLAGS_require_tls);
  options.allowed_origins = absl::GetFlag(FLAGS_allowed_origins);
  options.web_root = absl::GetFlag(FLAGS_web_root);
  options.signal_fd = signal_fd;
  options.allow_guests = absl::GetFlag(FLAGS_allow_guests);
  options.session_ttl = absl::GetFlag(FLAGS_session_ttl);
  options.history_page = absl::GetFlag(FLAGS_history_page);
  options.dedupe_window = absl::GetFlag(FLAGS_dedupe_window);
  options.dedupe_max_entries = absl::GetFlag(FLAGS_dedupe_max_entries);
  options.soft_output_bytes = absl::GetFlag(FLAGS_soft_output_bytes);
  if (absl::GetFlag(FLAGS_password_test_cost)) {
    options.password_opslimit = 1;
    options.password_memlimit = 8192;
  }

  // Refused before listening: limits that contradict each other would make
  // Welcome announce a frame bound the server itself breaks.
  if (absl::Status st = muxchat::server::ChatService::CheckOptions(options); !st.ok()) {
    std::fprintf(stderr, "muxchatd: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  options.cluster_redis = absl::GetFlag(FLAGS_cluster_redis);
  options.node_name = absl::GetFlag(FLAGS_node_name);
  options.cluster_prefix = absl::GetFlag(FLAGS_cluster_prefix);
  const bool clustered = !options.cluster_redis.empty();
  if (clustered && options.node_name.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "node");
    std::string name;
    for (const char* p = host; *p != '\0'; ++p) name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '-';
    // The port tells nodes on one host apart; with port 0 (picked by the
    // kernel, not known yet) the process ID does.
    const size_t colon = options.listen.rfind(':');
    const std::string port = colon == std::string::npos ? "0" : options.listen.substr(colon + 1);
    options.node_name = name + "-" + (port == "0" ? "pid" + std::to_string(getpid()) : port);
  }
  // Durable by default, as Redis is: a data directory unless --memory (or
  // a cluster, whose rooms live in Redis).
  std::unique_ptr<muxchat::server::Storage> storage;
  muxchat::server::LoadedState loaded;
  if (clustered) {
    logger.Log(muxchat::server::LogLevel::kInfo, "cluster mode: rooms and messages live in Redis at %s",
               options.cluster_redis);
  } else if (!absl::GetFlag(FLAGS_memory)) {
    muxchat::server::StorageOptions so;
    so.data_dir = absl::GetFlag(FLAGS_data_dir);
    const std::string sync = absl::GetFlag(FLAGS_sync);
    if (sync != "normal" && sync != "full") {
      std::fprintf(stderr, "muxchatd: --sync must be normal or full, not '%s'\n", sync.c_str());
      return 2;
    }
    so.sync_full = sync == "full";
    so.recent_per_room = options.history;
    so.dedupe_window = options.dedupe_window;
    so.retention_messages = absl::GetFlag(FLAGS_history_retention);
    so.retention_age = absl::GetFlag(FLAGS_history_max_age);
    so.fault_file = absl::GetFlag(FLAGS_storage_fault_file);
    absl::StatusOr<std::unique_ptr<muxchat::server::Storage>> opened = muxchat::server::Storage::Open(so, &loaded);
    if (!opened.ok()) {
      // Never a silent empty start on a database we cannot read.
      std::fprintf(stderr, "muxchatd: storage in %s: %s\n", so.data_dir.c_str(),
                   std::string(opened.status().message()).c_str());
      return 3;
    }
    storage = std::move(*opened);
    logger.Log(muxchat::server::LogLevel::kInfo, "data in %s (sync %s)", so.data_dir, sync);
  } else {
    logger.Log(muxchat::server::LogLevel::kInfo, "memory only (--memory): nothing survives a restart");
  }
  absl::StatusOr<std::unique_ptr<muxchat::server::Server>> server =
      muxchat::server::Server::Create(options, &logger, std::move(storage), std::move(loaded));
  if (!server.ok()) {
    std::fprintf(stderr, "muxchatd: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  std::printf("muxchatd listening on %s\n", (*server)->bound_address().c_str());
  std::fflush(stdout);
  absl::Status st = (*server)->Run();
  server->reset();
  close(signal_fd);
  if (!st.ok()) {
    std::fprintf(stderr, "muxchatd: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  return 0;
}
