#include "bench/load/report.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/wire/host_port.h"

namespace muxchat::bench {
namespace {

struct Derived {
  double msgs_per_s = 0;
  double mb_per_s = 0;
  double server_cpu_per_million = -1;  // server CPU seconds per million deliveries
  double self_cpu_per_million = 0;
};

Derived Derive(const LoadOptions& o, const LoadResult& r) {
  Derived d;
  if (r.elapsed_s > 0) {
    d.msgs_per_s = static_cast<double>(r.delivered) / r.elapsed_s;
    d.mb_per_s = d.msgs_per_s * static_cast<double>(o.payload) / 1e6;
  }
  if (r.delivered > 0) {
    const double m = static_cast<double>(r.delivered) / 1e6;
    d.self_cpu_per_million = r.self_cpu_s / m;
    if (r.server_cpu_s >= 0) d.server_cpu_per_million = r.server_cpu_s / m;
  }
  return d;
}

double Us(int64_t ns) { return static_cast<double>(ns) / 1e3; }

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// {"p50":..,"p99":..,"p999":..,"max":..,"count":..} in microseconds.
std::string JsonLatency(const LatencyHistogram& h) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"count\":%llu}",
                Us(h.Percentile(0.5)), Us(h.Percentile(0.99)), Us(h.Percentile(0.999)), Us(h.max()),
                static_cast<unsigned long long>(h.count()));
  return buf;
}

}  // namespace

void PrintTextReport(const LoadOptions& o, const LoadResult& r, const std::string& pin_note, FILE* out) {
  const Derived d = Derive(o, r);
  std::fprintf(out, "target %s at %s  rooms %d  publishers/room %d  subscribers/room %d  payload %zu B  %s\n",
               TargetName(o.target), wire::FormatHostPortList(o.servers).c_str(), o.rooms, o.publishers, o.subscribers,
               o.payload,
               o.rate > 0 ? absl::StrCat("rate ", o.rate, " msg/s/publisher").c_str()
                          : absl::StrCat("window ", o.window).c_str());
  std::fprintf(out, "connections %d (%s%s), setup %.2f s, %s\n", r.connections, o.tls ? "TLS" : "cleartext",
               o.websocket ? ", WebSocket" : "", r.setup_s, pin_note.c_str());
  if (!r.error.empty()) std::fprintf(out, "ERROR: %s\n", r.error.c_str());
  std::fprintf(out, "published %llu  delivered %llu of %llu in %.3f s\n",
               static_cast<unsigned long long>(r.published), static_cast<unsigned long long>(r.delivered),
               static_cast<unsigned long long>(r.expected), r.elapsed_s);
  std::fprintf(out, "throughput %.0f msgs/s delivered, %.2f MB/s payload\n", d.msgs_per_s, d.mb_per_s);
  std::fprintf(out, "latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (mean %.1f)\n",
               Us(r.latency.Percentile(0.5)), Us(r.latency.Percentile(0.9)), Us(r.latency.Percentile(0.99)),
               Us(r.latency.Percentile(0.999)), Us(r.latency.max()), r.latency.mean() / 1e3);
  if (o.servers.size() > 1) {
    for (const auto& [name, h] : {std::pair<const char*, const LatencyHistogram*>{"local", &r.latency_local},
                                  {"cross-node", &r.latency_cross}}) {
      std::fprintf(out, "  %-10s (%llu): p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", name,
                   static_cast<unsigned long long>(h->count()), Us(h->Percentile(0.5)), Us(h->Percentile(0.99)),
                   Us(h->Percentile(0.999)), Us(h->max()));
    }
  }
  if (o.probe) std::fprintf(out, "probes %llu over %.3f s before measuring\n",
                            static_cast<unsigned long long>(r.probes), r.probe_s);
  std::fprintf(out, "lost %llu  duplicates %llu  reordered %llu  foreign %llu  rejected %llu  window_stalls %llu\n",
               static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.duplicates),
               static_cast<unsigned long long>(r.reordered), static_cast<unsigned long long>(r.foreign),
               static_cast<unsigned long long>(r.rejected), static_cast<unsigned long long>(r.window_stalls));
  std::fprintf(out, "cpu s: generator %.3f (%.3f per M deliveries)", r.self_cpu_s, d.self_cpu_per_million);
  if (r.server_cpu_s >= 0) {
    std::fprintf(out, "  server %.3f (%.3f per M deliveries)\n", r.server_cpu_s, d.server_cpu_per_million);
  } else {
    std::fprintf(out, "  server n/a (no --server_pid)\n");
  }
}

void PrintJsonReport(const LoadOptions& o, const LoadResult& r, const std::string& pin_note, FILE* out) {
  const Derived d = Derive(o, r);
  std::fprintf(
      out,
      "{\"target\":\"%s\",\"websocket\":%s,\"tls\":%s,\"host\":\"%s\",\"port\":%d,\"rooms\":%d,\"publishers\":%d,\"subscribers\":%d,"
      "\"payload\":%zu,\"rate\":%g,\"window\":%d,\"pin\":\"%s\",\"ok\":%s,\"error\":\"%s\","
      "\"connections\":%d,\"setup_s\":%.6f,\"elapsed_s\":%.6f,\"published\":%llu,\"expected\":%llu,"
      "\"delivered\":%llu,\"lost\":%llu,\"duplicates\":%llu,\"reordered\":%llu,\"foreign\":%llu,"
      "\"rejected\":%llu,\"window_stalls\":%llu,\"msgs_per_s\":%.1f,\"payload_mb_per_s\":%.3f,"
      "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f},"
      "\"self_cpu_s\":%.4f,\"server_cpu_s\":%.4f,\"server_cpu_s_per_million\":%.4f,"
      "\"self_cpu_s_per_million\":%.4f",
      TargetName(o.target), o.websocket ? "true" : "false", o.tls ? "true" : "false", o.servers.at(0).host.c_str(), o.servers.at(0).port, o.rooms, o.publishers,
      o.subscribers, o.payload, o.rate, o.window, JsonEscape(pin_note).c_str(), r.ok ? "true" : "false", JsonEscape(r.error).c_str(),
      r.connections, r.setup_s, r.elapsed_s, static_cast<unsigned long long>(r.published),
      static_cast<unsigned long long>(r.expected), static_cast<unsigned long long>(r.delivered),
      static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.duplicates),
      static_cast<unsigned long long>(r.reordered), static_cast<unsigned long long>(r.foreign),
      static_cast<unsigned long long>(r.rejected), static_cast<unsigned long long>(r.window_stalls),
      d.msgs_per_s, d.mb_per_s, Us(r.latency.Percentile(0.5)), Us(r.latency.Percentile(0.9)),
      Us(r.latency.Percentile(0.99)), Us(r.latency.Percentile(0.999)), Us(r.latency.max()),
      r.latency.mean() / 1e3, r.self_cpu_s, r.server_cpu_s, d.server_cpu_per_million, d.self_cpu_per_million);
  std::fprintf(out, ",\"servers\":\"%s\",\"probes\":%llu,\"probe_s\":%.6f",
               JsonEscape(wire::FormatHostPortList(o.servers)).c_str(), static_cast<unsigned long long>(r.probes), r.probe_s);
  if (o.servers.size() > 1) {
    std::fprintf(out, ",\"latency_local_us\":%s,\"latency_cross_us\":%s", JsonLatency(r.latency_local).c_str(),
                 JsonLatency(r.latency_cross).c_str());
  }
  std::fprintf(out, "}\n");
}

}  // namespace muxchat::bench
