// muxchatd's network side on an EventLoop: accepting, telling each new
// connection's protocol from its first byte (muxchat frames, TLS, HTTP),
// reading frames into the ChatService, flushing output once per turn,
// timeouts, signals and graceful shutdown. Owns every Connection (unique_ptr,
// by ID) and the ChatService. Run() runs on one thread; RequestShutdown() and
// the stats accessors may be called from any thread.
#ifndef MUXCHAT_SERVER_SERVER_H_
#define MUXCHAT_SERVER_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "src/server/chat_service.h"
#include "src/server/cluster_accounts.h"
#include "src/server/cluster_node.h"
#include "src/server/connection.h"
#include "src/server/event_loop.h"
#include "src/server/http_response.h"
#include "src/server/logger.h"
#include "src/server/metrics.h"
#include "src/server/poller.h"
#include "src/server/server_options.h"
#include "src/server/storage.h"
#include "src/server/tls_context.h"
#include "src/server/http_request_parser.h"
#include "src/server/web_root.h"
#include "src/server/websocket_handshake.h"
#include "src/wire/frame_codec.h"

namespace muxchat::server {

class Server final : public EventLoop::Handler {
 public:
  // Binds and listens (so the port is known before Run). `logger` is borrowed
  // and must outlive the server. With `storage` (opened by the caller, which
  // also loaded `state` from it) rooms, accounts and messages are durable.
  static absl::StatusOr<std::unique_ptr<Server>> Create(const ServerOptions& options, Logger* logger,
                                                        std::unique_ptr<Storage> storage = nullptr,
                                                        LoadedState state = LoadedState());
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // "127.0.0.1:43210" or "[::1]:43210".
  const std::string& bound_address() const { return bound_address_; }
  uint16_t port() const { return port_; }
  const char* poller_name() const { return loop_->poller_name(); }

  // Serves until a graceful shutdown completes (or a second request forces
  // it). Returns OK on a clean stop.
  absl::Status Run();

  // Thread-safe: begins a graceful shutdown (the first call) or stops at once
  // (the second), exactly as SIGINT/SIGTERM do.
  void RequestShutdown();

  // Thread-safe snapshots, updated once per loop turn.
  size_t connection_count() const { return stat_connections_.load(std::memory_order_relaxed); }
  size_t room_count() const { return stat_rooms_.load(std::memory_order_relaxed); }
  uint64_t closed_count(CloseReason r) const {
    return stat_closed_[static_cast<int>(r)].load(std::memory_order_relaxed);
  }

 private:
  Server(const ServerOptions& options, Logger* logger, std::unique_ptr<EventLoop> loop);

  absl::Status Listen();
  void OnEvent(uint64_t token, const PollEvent& event, absl::Time now) override;
  // Once per turn before polling: closed connections leave their rooms, new
  // output is written, finished connections are destroyed, a drain ends.
  void BeforePoll(absl::Time now);
  void AcceptAll(absl::Time now);
  // Out of descriptors: accepts one pending connection with the reserve
  // descriptor, sends it Error{SERVER_FULL} and closes it. False if it could not.
  bool TurnAwayOne();
  // Stops polling the listener for kAcceptPause, then re-arms it.
  void PauseAccepting(absl::Time now);
  void OnSignals(uint64_t token, absl::Time now);
  // Peeks at the first byte: 0x16 starts TLS, an uppercase letter is an HTTP
  // method (no muxchat length prefix can start with either: both would
  // announce a frame of hundreds of MiB), anything else is muxchat.
  void Sniff(Connection* conn, absl::Time now);
  // Drives a TLS handshake; once done, ALPN picks HTTP or muxchat.
  void HandshakeTls(Connection* conn, absl::Time now);
  // --require_tls: true (and the connection closing, told why in its own
  // protocol) for cleartext from a non-loopback peer.
  bool RefusedCleartext(Connection* conn, unsigned char first);
  // SIGHUP: new connections get the certificate and key read afresh.
  void ReloadTls();
  void HandleRead(Connection* conn, absl::Time now);
  void HandleFrames(Connection* conn, absl::Time now);
  // Feeds the HTTP parser; once a request is complete (or refused), answers
  // it (/metrics, /healthz, 404, 405, 400...) and closes.
  void HandleHttp(Connection* conn);
  // GET /ws: answers the upgrade and puts WebSocket framing over the
  // connection's transport; from then on it is a muxchat connection.
  void UpgradeToWebSocket(Connection* conn, const HttpRequest& request);
  // --web_root: opens it, or logs one line saying the client was not built.
  void OpenWebRoot();
  // Queues the response, counts it and closes the connection with `reason`.
  void RespondHttp(Connection* conn, const HttpResponse& response, bool head_only, CloseReason reason);
  // The body of GET /metrics: counters plus gauges read from the state now.
  std::string RenderMetrics(absl::Time now);
  void Flush(Connection* conn);
  // Registers read interest while the peer may still send, write interest
  // while output is owed (or the transport asked for it).
  void UpdateInterest(Connection* conn, uint32_t extra = 0);
  // Runs ChatService::OnDisconnect for connections that began closing.
  void RetireClosed(absl::Time now);
  // Writes each connection with new output once.
  void FlushDirty();
  // Destroys closing connections whose goodbye has left or timed out.
  void ReapClosing(absl::Time now);
  void Destroy(Connection* conn);
  void CheckTimeouts(absl::Time now);
  void ScheduleSweep(absl::Time now);
  void OnStopSignal(absl::Time now);
  void BeginShutdown(absl::Time now);
  void PublishStats();

  const ServerOptions options_;
  Logger* const logger_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<TlsContext> tls_;  // null: TLS not configured
  OriginPolicy origin_policy_;
  std::optional<WebRoot> web_root_;  // empty: no web client served
  // Declared before the service, which borrows it: destroyed after it.
  std::unique_ptr<Storage> storage_;
  ChatService service_;
  // Cluster mode only; declared after the service, which borrows it, and
  // reset as soon as the loop stops (its last callbacks answer connections).
  std::unique_ptr<ClusterNode> cluster_;
  std::unique_ptr<ClusterAccounts> cluster_accounts_;  // on cluster_'s command connection
  wire::FrameDecoder decoder_;
  // Counters bumped on this thread (by the ChatService too), read by scrapes
  // served on this thread.
  Metrics metrics_;
  // Chat messages accepted this turn, timed into metrics_.fanout once the
  // turn's flush has written them to the members.
  uint64_t fanout_pending_ = 0;

  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd for RequestShutdown
  // A descriptor held in reserve: out of descriptors (EMFILE), closing it
  // lets AcceptAll take the pending connection off the queue and turn it away
  // instead of leaving the listener readable and the loop spinning.
  int spare_fd_ = -1;
  static constexpr absl::Duration kAcceptPause = absl::Milliseconds(100);
  static constexpr absl::Duration kSweepInterval = absl::Milliseconds(500);
  bool accept_paused_ = false;
  std::string out_of_fds_frame_;  // Error{SERVER_FULL}, encoded up front: nothing to build while out of fds
  std::string bound_address_;
  uint16_t port_ = 0;

  uint64_t next_connection_id_ = 16;  // below: reserved tags for our own fds
  absl::flat_hash_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> dirty_;
  std::vector<Connection*> flushing_;  // FlushDirty's scratch list
  std::vector<Connection*> closing_;
  // Connections whose transport holds input the poller cannot see (TLS
  // records read ahead): read again next turn without waiting for an event.
  std::vector<uint64_t> reread_;
  // A read this turn stopped at read_budget_bytes: the connection may have
  // more ready, and this turn's storage batch waits a turn for it.
  bool input_cut_short_ = false;
  // Requests are parsed into this arena, reset after each read: a parsed
  // frame's submessage and strings cost a pointer bump, not a malloc. The
  // first block lives inside the Server, so a reset frees nothing.
  alignas(16) char arena_block_[64 * 1024];
  google::protobuf::Arena arena_;

  enum class Phase { kServing, kDraining, kStopped };
  Phase phase_ = Phase::kServing;
  absl::Time drain_deadline_;
  int stop_signals_ = 0;

  std::atomic<size_t> stat_connections_{0};
  std::atomic<size_t> stat_rooms_{0};
  std::atomic<uint64_t> stat_closed_[kCloseReasonCount] = {};
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_SERVER_H_
