// The server's metrics: plain counters bumped on the event-loop thread where
// things happen (a delivery is one add to a field, no look-up, no lock), and
// the gauges read from the server's state when /metrics is scraped. Rendered
// in the Prometheus text exposition format 0.0.4 by RenderPrometheusText.
// Single-threaded: the event-loop thread owns and writes a Metrics; a scrape
// is served on that same thread, so no counter is ever read while written.
#ifndef MUXCHAT_SERVER_METRICS_H_
#define MUXCHAT_SERVER_METRICS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/muxchat.pb.h"
#include "src/server/close_reason.h"
#include "src/server/http_status.h"

namespace muxchat::server {

// The byte stream under a connection (label `transport`): Transport::Name().
enum class MetricTransport { kTcp, kTls, kWs, kWss };
inline constexpr int kMetricTransportCount = 4;
const char* MetricTransportName(MetricTransport t);
// From Transport::Name() ("tcp", "tls", "ws", "wss"); anything else is tcp.
MetricTransport MetricTransportOf(absl::string_view transport_name);

// Where a connection is in its life (label `state`), as the server's
// connection state machine reports it at scrape time.
enum class MetricConnectionState { kSniffing, kTlsHandshake, kHttp, kAwaitingHello, kOpen, kClosing };
inline constexpr int kMetricConnectionStateCount = 6;
const char* MetricConnectionStateName(MetricConnectionState s);

// Request kinds (label `type`): the ClientFrame body, kOther for an empty or
// unknown one.
enum class MetricRequestType {
  kHello, kCreateRoom, kJoinRoom, kLeaveRoom, kDeleteRoom, kListRooms, kSendMessage, kPostMessage, kPing, kPong,
  kRegister, kLogin, kLogout, kResume, kHistory, kListMembers, kOther
};
inline constexpr int kMetricRequestTypeCount = 17;
const char* MetricRequestTypeName(MetricRequestType t);
MetricRequestType MetricRequestTypeOf(v1::ClientFrame::BodyCase body);

// Protocol statuses counted per request; a status newer than this build's
// proto (impossible from our own code, cheap to guard) counts as UNSPECIFIED.
inline constexpr int kMetricStatusCount = v1::Status_ARRAYSIZE;

// The HTTP statuses muxchatd answers with, as counter slots.
inline constexpr HttpStatus kMetricHttpStatuses[] = {
    HttpStatus::kOk,           HttpStatus::kBadRequest,      HttpStatus::kForbidden,
    HttpStatus::kNotFound,     HttpStatus::kMethodNotAllowed, HttpStatus::kRequestTimeout,
    HttpStatus::kPayloadTooLarge, HttpStatus::kHeaderFieldsTooLarge, HttpStatus::kServiceUnavailable,
};
inline constexpr int kMetricHttpStatusCount = sizeof kMetricHttpStatuses / sizeof kMetricHttpStatuses[0];
int MetricHttpStatusIndex(HttpStatus s);

// A histogram with fixed bucket bounds (Prometheus's cumulative buckets are
// formed when rendering). Observe is a short scan and three adds.
class LatencyHistogram {
 public:
  // Upper bounds in nanoseconds: 25 µs to 2.5 s in 1-2.5-5 steps. A fan-out
  // on loopback takes tens of µs to a few ms; past a second something is
  // badly wrong, and +Inf catches it.
  static constexpr int64_t kBoundsNs[] = {
      25'000,      50'000,      100'000,     250'000,       500'000,       1'000'000,
      2'500'000,   5'000'000,   10'000'000,  25'000'000,    50'000'000,    100'000'000,
      250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000,
  };
  static constexpr int kBucketCount = sizeof kBoundsNs / sizeof kBoundsNs[0] + 1;  // + the +Inf bucket

  void Observe(absl::Duration d, uint64_t times = 1) { ObserveNs(absl::ToInt64Nanoseconds(d), times); }
  // `times` observations of the same value (the messages of one loop turn).
  void ObserveNs(int64_t ns, uint64_t times = 1) {
    if (ns < 0) ns = 0;
    int i = 0;
    while (i < kBucketCount - 1 && ns > kBoundsNs[i]) ++i;
    counts_[i] += times;
    count_ += times;
    sum_ns_ += static_cast<uint64_t>(ns) * times;
  }

  // Observations in bucket i alone (not cumulative); i == kBucketCount - 1
  // is the +Inf bucket.
  uint64_t bucket(int i) const { return counts_[i]; }
  uint64_t count() const { return count_; }
  uint64_t sum_ns() const { return sum_ns_; }

 private:
  uint64_t counts_[kBucketCount] = {};
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
};

// How busy the event loop is: its busy time (outside the poll wait) against
// wall time. The loop reports its running busy total once per turn; the
// fraction is over windows of at least kWindow, closed by the first report
// after one has lasted that long. A scrape reads the open window once it is
// long enough, else the last closed one (an idle loop may not report for a
// while, and its window then simply spans the quiet time).
class LoopBusyMeter {
 public:
  static constexpr absl::Duration kWindow = absl::Seconds(5);

  explicit LoopBusyMeter(absl::Time start = absl::Now()) : window_start_(start) {}

  void Update(absl::Duration busy_total, absl::Time now) {
    busy_total_ = busy_total;
    if (now - window_start_ >= kWindow) {
      last_fraction_ = Fraction(busy_total - window_busy_start_, now - window_start_);
      window_start_ = now;
      window_busy_start_ = busy_total;
    }
  }
  // Busy share of wall time, 0..1.
  double fraction(absl::Time now) const {
    if (now - window_start_ >= kWindow) return Fraction(busy_total_ - window_busy_start_, now - window_start_);
    return last_fraction_;
  }
  absl::Duration busy_total() const { return busy_total_; }

 private:
  static double Fraction(absl::Duration busy, absl::Duration wall) {
    if (wall <= absl::ZeroDuration() || busy <= absl::ZeroDuration()) return 0;
    const double f = absl::FDivDuration(busy, wall);
    return f > 1 ? 1 : f;
  }

  absl::Duration busy_total_ = absl::ZeroDuration();
  absl::Time window_start_;
  absl::Duration window_busy_start_ = absl::ZeroDuration();
  double last_fraction_ = 0;
};

// Counters, bumped directly where things happen: `++metrics->deliveries`.
// Array fields are indexed by the enums above (static_cast<int>).
struct Metrics {
  uint64_t connections_accepted = 0;  // the transport is known only later
  uint64_t connections_closed[kCloseReasonCount] = {};  // by why they closed
  uint64_t logins = 0;                                  // Hellos accepted
  uint64_t requests[kMetricRequestTypeCount][kMetricStatusCount] = {};
  uint64_t messages_accepted = 0;  // SendMessages recorded in a room
  uint64_t deliveries = 0;         // frames queued to a member by a broadcast
  uint64_t storage_commits = 0;    // batches storage committed
  uint64_t storage_failures = 0;   // batches storage failed (disk full, I/O error)
  uint64_t bytes_received[kMetricTransportCount] = {};
  uint64_t bytes_sent[kMetricTransportCount] = {};
  uint64_t http_responses[kMetricHttpStatusCount] = {};
  // From the loop turn that read a chat message to the end of that turn's
  // flush, which writes every member's queue once (a member whose socket is
  // full is not waited for).
  LatencyHistogram fanout;
  LoopBusyMeter loop_busy;

  // One request answered with `status` (SUCCESS for one that succeeded).
  void CountRequest(v1::ClientFrame::BodyCase body, v1::Status status) {
    const int s = status >= 0 && status < kMetricStatusCount ? status : 0;
    ++requests[static_cast<int>(MetricRequestTypeOf(body))][s];
  }
  void CountClose(CloseReason reason) { ++connections_closed[static_cast<int>(reason)]; }
  void CountHttpResponse(HttpStatus status) { ++http_responses[MetricHttpStatusIndex(status)]; }
};

// What a scrape reads from the server's state at that moment.
struct MetricsGauges {
  uint64_t connections[kMetricTransportCount][kMetricConnectionStateCount] = {};
  uint64_t logged_in = 0;
  uint64_t rooms = 0;
  uint64_t members = 0;                 // memberships summed over rooms
  uint64_t output_backlog_bytes = 0;    // pending output summed over connections
  uint64_t output_backlog_max_bytes = 0;  // the largest single connection's
  bool shutting_down = false;
};

// The Prometheus text exposition format 0.0.4 (the body of GET /metrics;
// Content-Type kPrometheusTextContentType). Every metric is named muxchat_*.
std::string RenderPrometheusText(const Metrics& metrics, const MetricsGauges& gauges, absl::Time now);

inline constexpr char kPrometheusTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// A label value escaped for the text format: backslash, double quote and
// line feed become \\, \" and \n.
std::string EscapePrometheusLabelValue(absl::string_view value);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_METRICS_H_
