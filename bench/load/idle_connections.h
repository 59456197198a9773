// Memory per idle connection: opens N connections to a server on loopback,
// takes each as far as the target's idle client goes (muxchat: Hello and
// Welcome, optionally JoinRoom; Redis: SUBSCRIBE; NATS: CONNECT, SUB and
// a PING answered), holds them all idle, and reads the server's user-space
// memory (/proc/PID) before connecting, once everyone is idle, and after
// everyone has closed again. One epoll loop, one thread; RunIdle() per run.
#ifndef MUXCHAT_BENCH_LOAD_IDLE_CONNECTIONS_H_
#define MUXCHAT_BENCH_LOAD_IDLE_CONNECTIONS_H_

#include <sys/types.h>

#include <string>

#include "bench/load/process_memory.h"
#include "bench/load/protocol_adapter.h"

namespace muxchat::bench {

struct IdleOptions {
  Target target = Target::kMuxchat;
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 15000;
  // Client source addresses 127.0.0.1 .. 127.0.0.N, round robin: each gives
  // its own ephemeral port range towards the server.
  int source_addresses = 1;
  // muxchat: every connection also joins a room of room_size members (one
  // big room would measure its O(members^2) joined notices, not idleness).
  bool join_room = false;
  int room_size = 100;
  pid_t server_pid = 0;    // required: whose memory is measured
  double settle_s = 2;     // idle time before the measurement
  double setup_timeout_s = 120;
  int max_concurrent_setups = 256;
  bool tls = false;
  std::string ca_file;
  std::string tls_server_name;
  std::string run_id;  // name prefix, unique per run
};

struct IdleResult {
  bool ok = false;
  std::string error;
  int ready = 0;          // connections that reached idle
  double setup_s = 0;     // connect + log in of all of them
  ProcessMemory before;   // server, before the first connect
  ProcessMemory idle;     // server, all connected and idle for settle_s
  ProcessMemory after_close;  // server, settle_s after all closed
};

IdleResult RunIdle(const IdleOptions& options);

// (b - a) / n in bytes, or -1 when either side is unknown.
double PerConnection(int64_t a, int64_t b, int n);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_IDLE_CONNECTIONS_H_
