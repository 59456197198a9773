// Everything that configures one muxchatd instance. Filled from flags by
// main.cc and directly by tests; copied into the Server at creation.
#ifndef MUXCHAT_SERVER_SERVER_OPTIONS_H_
#define MUXCHAT_SERVER_SERVER_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "src/server/metrics_access.h"
#include "src/server/tls_context.h"
#include "src/wire/frame_format.h"

namespace muxchat::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:7000";  // host:port, [v6]:port; port 0 picks one
  std::string poller = "epoll";           // epoll | poll

  uint32_t max_frame_bytes = wire::kDefaultMaxFrameBytes;
  uint32_t max_text_bytes = 16 * 1024;
  uint32_t max_room_name_bytes = 64;
  uint32_t max_connections = 10000;
  uint32_t history = 100;                     // messages replayed on join
  uint64_t max_output_bytes = 16 << 20;       // pending output before "slow consumer"
  uint32_t max_rooms = 10000;
  uint32_t max_rooms_per_connection = 64;
  uint32_t max_members_per_room = 10000;

  // Token bucket on every request but Pong, per connection; 0 disables.
  uint32_t messages_per_second = 1000;
  uint32_t message_burst = 2000;
  // Refused requests, counted until the client slows down enough for its
  // bucket to refill halfway, before a flooding client is disconnected.
  uint32_t max_rate_violations = 1000;

  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration keepalive_interval = absl::Seconds(60);  // idle before the server pings; 0 = never
  absl::Duration keepalive_timeout = absl::Seconds(30);   // then silence before it drops
  absl::Duration shutdown_grace = absl::Seconds(2);
  absl::Duration close_linger = absl::Seconds(2);  // how long an Error frame may take to leave

  size_t read_budget_bytes = 64 * 1024;    // per connection per loop turn
  size_t write_budget_bytes = 1024 * 1024;  // per connection per loop turn

  // Who may GET /metrics on the port (--metrics): off, loopback peers, anyone.
  MetricsAccess metrics = MetricsAccess::kLoopback;

  // TLS on the same port: on when tls.cert_file is set (reloaded on SIGHUP).
  TlsOptions tls;
  // Refuse cleartext (muxchat and HTTP) except from loopback addresses.
  bool require_tls = false;
  // Whether require_tls lets loopback peers speak cleartext (muxchatd: always;
  // tests turn it off to see the refusal on a loopback-only machine).
  bool cleartext_from_loopback = true;
  // Browser pages allowed to open GET /ws (--allowed_origins): comma-separated
  // scheme://host[:port] or "*"; empty means pages this server served itself.
  std::string allowed_origins;
  // The built web client served at "/" (--web_root); empty serves none. A
  // directory without index.html is logged once and not served.
  std::string web_root;

  // Accounts (docs/PROTOCOL.md §5): whether a nickname alone logs in, how
  // long a session token lives, and the argon2id cost of a password (tests
  // use the minimum).
  bool allow_guests = true;
  absl::Duration session_ttl = absl::Hours(24 * 30);
  uint64_t password_opslimit = 2;
  size_t password_memlimit = 19 << 20;
  // How long a client_msg_id is remembered for resend dedupe, and how many
  // at most (the oldest go first past it: ~60 bytes each).
  absl::Duration dedupe_window = absl::Minutes(10);
  size_t dedupe_max_entries = 500000;
  // The most messages one History request returns.
  uint32_t history_page = 500;
  // Pending output above which a member's chat messages are dropped (and
  // one Gap per room owed) instead of queued; 0 = never. The hard limit,
  // max_output_bytes, still disconnects.
  uint64_t soft_output_bytes = 4 << 20;

  // Cluster mode (--cluster_redis, docs/SCALING.md): rooms and messages
  // shared with other nodes through the Redis at this HOST:PORT; empty =
  // one node. The node's name (unique in the cluster) and the key prefix
  // (clusters sharing one Redis use different ones).
  std::string cluster_redis;
  std::string node_name;
  std::string cluster_prefix = "muxchat";
  // How long sends are refused after storage failed a commit, before
  // the next one is tried.
  absl::Duration storage_retry = absl::Seconds(1);

  int signal_fd = -1;  // a signalfd for SIGINT/SIGTERM (and SIGHUP), owned by the caller; -1 = none
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_SERVER_OPTIONS_H_
