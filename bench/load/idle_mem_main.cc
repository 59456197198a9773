// muxchat-idle-mem: memory per idle logged-in connection of a server (muxchatd,
// Redis or NATS) on loopback. Opens --connections idle clients (see
// bench/load/idle_connections.h), reads the server's /proc/PID memory before
// and once all are idle, and prints (idle - before) / connections. User space
// only: kernel socket buffers are not in these figures. bench/compare --idle
// starts the servers and runs it; docs/BENCHMARKS.md has the figures.
// Exit status: 0 ok, 2 the run failed.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/load/idle_connections.h"
#include "bench/load/payload.h"

ABSL_FLAG(std::string, target, "muxchat", "muxchat|redis|nats");
ABSL_FLAG(std::string, host, "127.0.0.1", "server IPv4 address (loopback)");
ABSL_FLAG(int, port, 0, "server port (required)");
ABSL_FLAG(int, server_pid, 0, "server PID whose memory is read (required)");
ABSL_FLAG(int, connections, 15000, "idle connections to open");
ABSL_FLAG(int, source_addresses, 1, "client source addresses 127.0.0.1..127.0.0.N (more ephemeral ports)");
ABSL_FLAG(bool, join, false, "muxchat: each connection also joins a room (of --room_size members)");
ABSL_FLAG(int, room_size, 100, "with --join: members per room");
ABSL_FLAG(double, settle, 2, "seconds idle before reading memory (and after closing)");
ABSL_FLAG(double, setup_timeout, 120, "seconds allowed to connect and log in everyone");
ABSL_FLAG(bool, tls, false, "connect with TLS (as muxchat-bench --tls)");
ABSL_FLAG(std::string, ca, "", "with --tls: PEM CA file (default: the system store)");
ABSL_FLAG(std::string, tls_server_name, "", "with --tls: name the certificate must match (default: --host)");
ABSL_FLAG(bool, json, false, "print one JSON object instead of text");

namespace {

using muxchat::bench::IdleResult;
using muxchat::bench::PerConnection;
using muxchat::bench::ProcessMemory;

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += ' ';
      continue;
    }
    out += ch;
  }
  return out;
}

std::string Field(const char* name, int64_t before, int64_t idle, int64_t after, int n, bool json) {
  const double per = PerConnection(before, idle, n);
  if (json) {
    return absl::StrCat("\"", name, "\":{\"before\":", before, ",\"idle\":", idle, ",\"after_close\":", after,
                        ",\"per_connection\":", absl::StrFormat("%.1f", per), "}");
  }
  return absl::StrFormat("%-14s %12.1f MiB %12.1f MiB %12.1f MiB %12.0f B\n", name, before / 1048576.0,
                         idle / 1048576.0, after / 1048576.0, per);
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage("memory per idle connection: muxchat-idle-mem --target=redis --port=P --server_pid=PID");
  absl::ParseCommandLine(argc, argv);
  // A server closing on us shows up as EPIPE on write (TLS writes through
  // OpenSSL cannot pass MSG_NOSIGNAL), not as a killed generator.
  std::signal(SIGPIPE, SIG_IGN);
  muxchat::bench::IdleOptions o;
  auto target = muxchat::bench::ParseTarget(absl::GetFlag(FLAGS_target));
  if (!target.ok()) {
    std::fprintf(stderr, "muxchat-idle-mem: %s\n", target.status().ToString().c_str());
    return 2;
  }
  o.target = *target;
  o.host = absl::GetFlag(FLAGS_host);
  o.port = absl::GetFlag(FLAGS_port);
  o.server_pid = absl::GetFlag(FLAGS_server_pid);
  o.connections = absl::GetFlag(FLAGS_connections);
  o.source_addresses = absl::GetFlag(FLAGS_source_addresses);
  o.join_room = absl::GetFlag(FLAGS_join);
  o.room_size = std::max(1, absl::GetFlag(FLAGS_room_size));
  o.settle_s = absl::GetFlag(FLAGS_settle);
  o.setup_timeout_s = absl::GetFlag(FLAGS_setup_timeout);
  o.tls = absl::GetFlag(FLAGS_tls);
  o.ca_file = absl::GetFlag(FLAGS_ca);
  o.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  o.run_id = absl::StrCat("m", absl::Hex((getpid() ^ muxchat::bench::MonotonicNanos()) & 0xffffff));
  const bool json = absl::GetFlag(FLAGS_json);
  if (o.port <= 0 || o.port > 65535 || o.server_pid <= 0 || o.connections < 1 || o.source_addresses < 1 ||
      o.source_addresses > 250) {
    std::fprintf(stderr, "muxchat-idle-mem: need --port, --server_pid, --connections >= 1, 1..250 sources\n");
    return 2;
  }
  // One fd per connection, here and in the server (start it with its soft
  // limit raised too: prlimit, or bench/compare --idle).
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < static_cast<rlim_t>(o.connections) + 16) {
    std::fprintf(stderr, "muxchat-idle-mem: fd limit %llu is below %d connections\n",
                 static_cast<unsigned long long>(rl.rlim_cur), o.connections);
    return 2;
  }

  const IdleResult r = muxchat::bench::RunIdle(o);
  const int n = o.connections;
  const ProcessMemory& b = r.before;
  const ProcessMemory& i = r.idle;
  const ProcessMemory& a = r.after_close;
  if (json) {
    std::printf(
        "{\"target\":\"%s\",\"tls\":%s,\"join\":%s,\"connections\":%d,\"ready\":%d,\"ok\":%s,\"error\":\"%s\","
        "\"setup_s\":%.3f,\"server_fds\":{\"before\":%lld,\"idle\":%lld},%s,%s,%s,%s,%s}\n",
        muxchat::bench::TargetName(o.target), o.tls ? "true" : "false", o.join_room ? "true" : "false", n, r.ready,
        r.ok ? "true" : "false", JsonEscape(r.error).c_str(), r.setup_s,
        static_cast<long long>(b.open_fds), static_cast<long long>(i.open_fds),
        Field("vm_rss", b.vm_rss, i.vm_rss, a.vm_rss, n, true).c_str(),
        Field("rss_anon", b.rss_anon, i.rss_anon, a.rss_anon, n, true).c_str(),
        Field("private_dirty", b.private_dirty, i.private_dirty, a.private_dirty, n, true).c_str(),
        Field("anonymous", b.anonymous, i.anonymous, a.anonymous, n, true).c_str(),
        Field("vm_data", b.vm_data, i.vm_data, a.vm_data, n, true).c_str());
  } else {
    std::printf("target %s (%s%s): %d of %d connections idle after %.2f s set-up; server fds %lld -> %lld\n",
                muxchat::bench::TargetName(o.target), o.tls ? "TLS" : "cleartext",
                o.join_room ? absl::StrCat(", in rooms of ", o.room_size).c_str() : "", r.ready, n, r.setup_s, static_cast<long long>(b.open_fds),
                static_cast<long long>(i.open_fds));
    if (!r.ok) std::printf("ERROR: %s\n", r.error.c_str());
    std::printf("%-14s %16s %16s %16s %14s\n", "server", "before", "idle", "after close", "per conn");
    std::printf("%s", Field("VmRSS", b.vm_rss, i.vm_rss, a.vm_rss, n, false).c_str());
    std::printf("%s", Field("RssAnon", b.rss_anon, i.rss_anon, a.rss_anon, n, false).c_str());
    std::printf("%s", Field("Private_Dirty", b.private_dirty, i.private_dirty, a.private_dirty, n, false).c_str());
    std::printf("%s", Field("Anonymous", b.anonymous, i.anonymous, a.anonymous, n, false).c_str());
    std::printf("%s", Field("VmData", b.vm_data, i.vm_data, a.vm_data, n, false).c_str());
  }
  return r.ok ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
