// The fan-out load generator: one epoll loop driving every publisher and
// subscriber connection of a run (non-blocking sockets, one thread). It
// connects and subscribes everyone first, then publishes either at a fixed
// rate per publisher or as fast as a bounded window allows (a publisher has at
// most `window` messages not yet seen by its room's designated subscriber, so
// kernel socket buffers are not what is measured), then drains and checks
// every (publisher -> subscriber) stream for exactly-once in-order delivery.
// With several servers (a cluster's nodes) connections are spread over them
// (bench/load/server_list.h) and latency is also kept apart for deliveries on
// the publisher's own node and across nodes. Single-threaded; Run() once per
// object.
#ifndef MUXCHAT_BENCH_LOAD_LOAD_GENERATOR_H_
#define MUXCHAT_BENCH_LOAD_LOAD_GENERATOR_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/load/latency_histogram.h"
#include "bench/load/protocol_adapter.h"
#include "bench/load/server_list.h"

namespace muxchat::bench {

struct LoadOptions {
  Target target = Target::kMuxchat;
  // muxchat only: every connection (publishers and subscribers) speaks the
  // muxchat protocol over WebSocket (GET /ws on the same port).
  bool websocket = false;
  // At least one; connections are spread over them (server_list.h).
  std::vector<ServerAddress> servers;
  int rooms = 1;
  int subscribers = 1;  // per room
  int publishers = 1;   // per room
  uint64_t messages = 10000;  // per publisher; ignored when duration_s > 0
  double duration_s = 0;
  size_t payload = 64;
  double rate = 0;      // msgs/s per publisher; 0 = windowed, as fast as possible
  int window = 64;      // in-flight messages per publisher
  // Processes whose CPU seconds are summed as the server's (a cluster: its
  // nodes and what they share, e.g. Redis). Empty: not measured.
  std::vector<pid_t> server_pids;
  // Before measuring, every publisher sends probe messages (sequence 0, not
  // counted) until each subscriber of its room has received one from it.
  // Needed where a subscription is confirmed by one node before the others
  // know of it (a NATS cluster propagates interest over its routes after the
  // PONG); on by default with several servers.
  bool probe = false;
  double setup_timeout_s = 60;
  double drain_timeout_s = 10;
  bool progress = false;  // progress line on stderr
  std::string irc_oper_name = "bench";
  std::string irc_oper_password = "bench";
  std::string run_id;  // prefix for names; unique per run
  // TLS to the server (the certificate verified against ca_file, or the
  // system store when empty, for tls_server_name, default the host).
  bool tls = false;
  std::string ca_file;
  std::string tls_server_name;
};

struct LoadResult {
  bool ok = false;
  std::string error;  // set when the run could not complete
  int connections = 0;
  double setup_s = 0;
  double elapsed_s = 0;          // first publish to last delivery
  uint64_t published = 0;
  uint64_t expected = 0;         // published x subscribers of its room
  uint64_t delivered = 0;        // unique deliveries
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  uint64_t reordered = 0;
  uint64_t foreign = 0;          // payloads that were not ours / malformed
  uint64_t rejected = 0;         // publishes the server refused
  uint64_t window_stalls = 0;    // rate mode: a due send waited for the window
  LatencyHistogram latency;      // ns, publish to delivery
  // With several servers: the same, split by whether the subscriber is on
  // the publisher's node (local) or not (cross-node).
  LatencyHistogram latency_local;
  LatencyHistogram latency_cross;
  uint64_t probes = 0;           // probe messages sent before measuring
  double probe_s = 0;            // how long until every subscriber had one
  double self_cpu_s = 0;         // over the publishing+drain phase
  double server_cpu_s = -1;      // same interval; -1 if unknown
};

LoadResult RunLoad(const LoadOptions& options);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_LOAD_GENERATOR_H_
