#include "src/server/metrics.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "src/server/chat_service.h"

namespace muxchat::server {

const char* MetricTransportName(MetricTransport t) {
  switch (t) {
    case MetricTransport::kTcp: return "tcp";
    case MetricTransport::kTls: return "tls";
    case MetricTransport::kWs: return "ws";
    case MetricTransport::kWss: return "wss";
  }
  return "unknown";
}

MetricTransport MetricTransportOf(absl::string_view name) {
  if (name == "tls") return MetricTransport::kTls;
  if (name == "ws") return MetricTransport::kWs;
  if (name == "wss") return MetricTransport::kWss;
  return MetricTransport::kTcp;
}

const char* MetricConnectionStateName(MetricConnectionState s) {
  switch (s) {
    case MetricConnectionState::kSniffing: return "sniffing";
    case MetricConnectionState::kTlsHandshake: return "tls_handshake";
    case MetricConnectionState::kHttp: return "http";
    case MetricConnectionState::kAwaitingHello: return "awaiting_hello";
    case MetricConnectionState::kOpen: return "open";
    case MetricConnectionState::kClosing: return "closing";
  }
  return "unknown";
}

const char* MetricRequestTypeName(MetricRequestType t) {
  switch (t) {
    case MetricRequestType::kHello: return "hello";
    case MetricRequestType::kCreateRoom: return "create_room";
    case MetricRequestType::kJoinRoom: return "join_room";
    case MetricRequestType::kLeaveRoom: return "leave_room";
    case MetricRequestType::kDeleteRoom: return "delete_room";
    case MetricRequestType::kListRooms: return "list_rooms";
    case MetricRequestType::kSendMessage: return "send_message";
    case MetricRequestType::kPostMessage: return "post_message";
    case MetricRequestType::kPing: return "ping";
    case MetricRequestType::kPong: return "pong";
    case MetricRequestType::kRegister: return "register";
    case MetricRequestType::kLogin: return "login";
    case MetricRequestType::kLogout: return "logout";
    case MetricRequestType::kResume: return "resume";
    case MetricRequestType::kHistory: return "history";
    case MetricRequestType::kListMembers: return "list_members";
    case MetricRequestType::kOther: return "other";
  }
  return "other";
}

MetricRequestType MetricRequestTypeOf(v1::ClientFrame::BodyCase body) {
  switch (body) {
    case v1::ClientFrame::kHello: return MetricRequestType::kHello;
    case v1::ClientFrame::kCreateRoom: return MetricRequestType::kCreateRoom;
    case v1::ClientFrame::kJoinRoom: return MetricRequestType::kJoinRoom;
    case v1::ClientFrame::kLeaveRoom: return MetricRequestType::kLeaveRoom;
    case v1::ClientFrame::kDeleteRoom: return MetricRequestType::kDeleteRoom;
    case v1::ClientFrame::kListRooms: return MetricRequestType::kListRooms;
    case v1::ClientFrame::kSendMessage: return MetricRequestType::kSendMessage;
    case v1::ClientFrame::kPostMessage: return MetricRequestType::kPostMessage;
    case v1::ClientFrame::kPing: return MetricRequestType::kPing;
    case v1::ClientFrame::kPong: return MetricRequestType::kPong;
    case v1::ClientFrame::kRegister: return MetricRequestType::kRegister;
    case v1::ClientFrame::kLogin: return MetricRequestType::kLogin;
    case v1::ClientFrame::kLogout: return MetricRequestType::kLogout;
    case v1::ClientFrame::kResume: return MetricRequestType::kResume;
    case v1::ClientFrame::kHistory: return MetricRequestType::kHistory;
    case v1::ClientFrame::kListMembers: return MetricRequestType::kListMembers;
    default: return MetricRequestType::kOther;
  }
}

int MetricHttpStatusIndex(HttpStatus s) {
  for (int i = 0; i < kMetricHttpStatusCount; ++i) {
    if (kMetricHttpStatuses[i] == s) return i;
  }
  return 0;  // unreachable while kMetricHttpStatuses lists every HttpStatus
}

std::string EscapePrometheusLabelValue(absl::string_view value) {
  return absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

namespace {

// HELP text escapes only backslash and line feed.
std::string EscapeHelp(absl::string_view help) { return absl::StrReplaceAll(help, {{"\\", "\\\\"}, {"\n", "\\n"}}); }

// "slow consumer" -> "slow_consumer": label values in the usual snake case.
std::string SnakeCase(absl::string_view name) {
  std::string out(name);
  for (char& c : out) c = std::isalnum(static_cast<unsigned char>(c)) ? absl::ascii_tolower(c) : '_';
  return out;
}

// A float sample value: shortest text that reads back the same double.
std::string FormatDouble(double v) {
  std::string s = absl::StrFormat("%.17g", v);
  for (int precision = 1; precision < 17; ++precision) {
    std::string t = absl::StrFormat("%.*g", precision, v);
    if (std::strtod(t.c_str(), nullptr) == v) return t;
  }
  return s;
}

std::string FormatSeconds(uint64_t ns) { return FormatDouble(static_cast<double>(ns) / 1e9); }

// Appends metric families to one string, in the order written.
class TextWriter {
 public:
  void Family(absl::string_view name, absl::string_view type, absl::string_view help) {
    absl::StrAppend(&out_, "# HELP ", name, " ", EscapeHelp(help), "\n# TYPE ", name, " ", type, "\n");
  }
  // `labels` is already rendered: `a="x",b="y"` (values escaped), or empty.
  void Sample(absl::string_view name, absl::string_view labels, absl::string_view value) {
    if (labels.empty()) {
      absl::StrAppend(&out_, name, " ", value, "\n");
    } else {
      absl::StrAppend(&out_, name, "{", labels, "} ", value, "\n");
    }
  }
  void Sample(absl::string_view name, absl::string_view labels, uint64_t value) {
    Sample(name, labels, absl::StrCat(value));
  }
  // A family with one unlabelled sample.
  void Single(absl::string_view name, absl::string_view type, absl::string_view help, uint64_t value) {
    Family(name, type, help);
    Sample(name, "", value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string Label(absl::string_view name, absl::string_view value) {
  return absl::StrCat(name, "=\"", EscapePrometheusLabelValue(value), "\"");
}

}  // namespace

std::string RenderPrometheusText(const Metrics& m, const MetricsGauges& g, absl::Time now) {
  TextWriter w;
  w.Family("muxchat_build_info", "gauge", "Always 1; the server version is in the label.");
  w.Sample("muxchat_build_info", Label("version", kServerVersion), 1);

  // Connections.
  w.Family("muxchat_connections", "gauge", "Open connections by transport and lifecycle state.");
  for (int t = 0; t < kMetricTransportCount; ++t) {
    for (int s = 0; s < kMetricConnectionStateCount; ++s) {
      w.Sample("muxchat_connections",
               absl::StrCat(Label("transport", MetricTransportName(static_cast<MetricTransport>(t))), ",",
                            Label("state", MetricConnectionStateName(static_cast<MetricConnectionState>(s)))),
               g.connections[t][s]);
    }
  }
  w.Single("muxchat_connections_accepted_total", "counter", "Connections accepted.", m.connections_accepted);
  w.Family("muxchat_connections_closed_total", "counter",
           "Connections closed, by reason: protocol errors, timeouts, slow consumers, flooding, client closes.");
  for (int r = 1; r < kCloseReasonCount; ++r) {  // kNone is never a close reason
    w.Sample("muxchat_connections_closed_total",
             Label("reason", SnakeCase(CloseReasonName(static_cast<CloseReason>(r)))), m.connections_closed[r]);
  }
  w.Single("muxchat_slow_consumer_drops_total", "counter",
           "Connections dropped because their pending output passed --max_output_bytes.",
           m.connections_closed[static_cast<int>(CloseReason::kSlowConsumer)]);
  w.Single("muxchat_flood_drops_total", "counter",
           "Connections dropped for flooding (--max_rate_violations refused requests).",
           m.connections_closed[static_cast<int>(CloseReason::kFlooding)]);

  // Chat.
  w.Single("muxchat_logins_total", "counter", "Hello requests accepted.", m.logins);
  w.Single("muxchat_logged_in_users", "gauge", "Connections logged in with a nickname.", g.logged_in);
  w.Single("muxchat_rooms", "gauge", "Rooms on the server.", g.rooms);
  w.Single("muxchat_room_members", "gauge", "Room memberships, summed over rooms.", g.members);
  w.Family("muxchat_requests_total", "counter",
           "Requests by type and the status they were answered with (success for every type is always shown).");
  for (int t = 0; t < kMetricRequestTypeCount; ++t) {
    for (int s = 0; s < kMetricStatusCount; ++s) {
      if (m.requests[t][s] == 0 && s != v1::SUCCESS) continue;
      w.Sample("muxchat_requests_total",
               absl::StrCat(Label("type", MetricRequestTypeName(static_cast<MetricRequestType>(t))), ",",
                            Label("status", absl::AsciiStrToLower(v1::Status_Name(static_cast<v1::Status>(s))))),
               m.requests[t][s]);
    }
  }
  w.Single("muxchat_messages_accepted_total", "counter", "Chat messages accepted into a room.",
           m.messages_accepted);
  w.Single("muxchat_deliveries_total", "counter", "Frames queued to room members by broadcasts (fan-out).",
           m.deliveries);
  w.Single("muxchat_storage_commits_total", "counter", "Batches of writes durable storage committed (group commits).",
           m.storage_commits);
  w.Single("muxchat_storage_failures_total", "counter",
           "Batches durable storage failed to commit (disk full, I/O error); their sends were refused.",
           m.storage_failures);
  w.Family("muxchat_fanout_seconds", "histogram",
           "Time from the loop turn that read a chat message to the end of its flush to the room's members.");
  uint64_t cumulative = 0;
  for (int i = 0; i < LatencyHistogram::kBucketCount; ++i) {
    cumulative += m.fanout.bucket(i);
    const std::string le = i < LatencyHistogram::kBucketCount - 1
                               ? FormatDouble(static_cast<double>(LatencyHistogram::kBoundsNs[i]) / 1e9)
                               : "+Inf";
    w.Sample("muxchat_fanout_seconds_bucket", Label("le", le), cumulative);
  }
  w.Sample("muxchat_fanout_seconds_sum", "", FormatSeconds(m.fanout.sum_ns()));
  w.Sample("muxchat_fanout_seconds_count", "", m.fanout.count());

  // Bytes and backlog.
  w.Family("muxchat_received_bytes_total", "counter", "Application bytes read from clients, by transport.");
  for (int t = 0; t < kMetricTransportCount; ++t) {
    w.Sample("muxchat_received_bytes_total", Label("transport", MetricTransportName(static_cast<MetricTransport>(t))),
             m.bytes_received[t]);
  }
  w.Family("muxchat_sent_bytes_total", "counter", "Application bytes written to clients, by transport.");
  for (int t = 0; t < kMetricTransportCount; ++t) {
    w.Sample("muxchat_sent_bytes_total", Label("transport", MetricTransportName(static_cast<MetricTransport>(t))),
             m.bytes_sent[t]);
  }
  w.Single("muxchat_output_backlog_bytes", "gauge", "Output queued and not yet written, summed over connections.",
           g.output_backlog_bytes);
  w.Single("muxchat_output_backlog_max_bytes", "gauge", "The largest output backlog of a single connection.",
           g.output_backlog_max_bytes);

  // The loop and the HTTP side.
  w.Family("muxchat_event_loop_busy_ratio", "gauge",
           "Share of wall time the event loop spent handling events, over the last 5 s window or more.");
  w.Sample("muxchat_event_loop_busy_ratio", "", FormatDouble(m.loop_busy.fraction(now)));
  w.Family("muxchat_event_loop_busy_seconds_total", "counter", "Time the event loop spent handling events.");
  w.Sample("muxchat_event_loop_busy_seconds_total", "", FormatDouble(absl::ToDoubleSeconds(m.loop_busy.busy_total())));
  w.Family("muxchat_http_responses_total", "counter", "HTTP responses on the chat port, by status code.");
  for (int i = 0; i < kMetricHttpStatusCount; ++i) {
    w.Sample("muxchat_http_responses_total", Label("code", absl::StrCat(HttpStatusCode(kMetricHttpStatuses[i]))),
             m.http_responses[i]);
  }
  w.Single("muxchat_shutting_down", "gauge", "1 once the server has begun shutting down.", g.shutting_down ? 1 : 0);
  return w.Take();
}

}  // namespace muxchat::server
