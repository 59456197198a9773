#include "src/server/metrics.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/server/promtool.h"

namespace muxchat::server {
namespace {

using testing::HavePromtool;
using testing::PromtoolCheckMetrics;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

// Every kind of field non-zero, as after some real traffic.
Metrics BusyMetrics() {
  Metrics m;
  m.connections_accepted = 15;
  m.CountClose(CloseReason::kClientClosed);
  m.CountClose(CloseReason::kSlowConsumer);
  m.CountClose(CloseReason::kFlooding);
  m.CountClose(CloseReason::kProtocolError);
  m.logins = 9;
  m.CountRequest(v1::ClientFrame::kHello, v1::SUCCESS);
  m.CountRequest(v1::ClientFrame::kJoinRoom, v1::FAILURE_NOT_EXISTS);
  m.CountRequest(v1::ClientFrame::kSendMessage, v1::FAILURE_RATE_LIMITED);
  m.CountRequest(v1::ClientFrame::BODY_NOT_SET, v1::FAILURE_INVALID);
  m.messages_accepted = 100;
  m.deliveries = 1000;
  m.bytes_received[0] = 4096;
  m.bytes_sent[1] = 65536;
  m.CountHttpResponse(HttpStatus::kOk);
  m.CountHttpResponse(HttpStatus::kNotFound);
  m.fanout.Observe(absl::Microseconds(40));
  m.fanout.Observe(absl::Milliseconds(3));
  m.fanout.Observe(absl::Seconds(9));
  m.loop_busy = LoopBusyMeter(kNow - absl::Seconds(10));
  m.loop_busy.Update(absl::Seconds(1), kNow);  // closes a 10 s window: 0.1 busy
  return m;
}

MetricsGauges SomeGauges() {
  MetricsGauges g;
  g.connections[0][static_cast<int>(MetricConnectionState::kOpen)] = 7;
  g.connections[1][static_cast<int>(MetricConnectionState::kTlsHandshake)] = 1;
  g.logged_in = 7;
  g.rooms = 2;
  g.members = 9;
  g.output_backlog_bytes = 1234;
  g.output_backlog_max_bytes = 1000;
  return g;
}

bool HasLine(const std::string& text, absl::string_view line) {
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    if (l == line) return true;
  }
  return false;
}

TEST(RenderPrometheusText, PassesPromtoolCheckMetricsWithTraffic) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const std::string text = RenderPrometheusText(BusyMetrics(), SomeGauges(), kNow);
  const testing::PromtoolResult r = PromtoolCheckMetrics(text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition:\n" << text;
}

TEST(RenderPrometheusText, PassesPromtoolCheckMetricsWhenEmpty) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const std::string text = RenderPrometheusText(Metrics(), MetricsGauges(), kNow);
  const testing::PromtoolResult r = PromtoolCheckMetrics(text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition:\n" << text;
}

// The check above can fail: promtool does refuse a bad exposition.
TEST(RenderPrometheusText, PromtoolRefusesACounterWithoutTotal) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  const testing::PromtoolResult r =
      PromtoolCheckMetrics("# HELP muxchat_bad x\n# TYPE muxchat_bad counter\nmuxchat_bad 1\n");
  EXPECT_NE(r.exit_code, 0) << r.output;
}

TEST(RenderPrometheusText, EveryFamilyHasHelpAndTypeAndTheMuxchatPrefix) {
  const std::string text = RenderPrometheusText(BusyMetrics(), SomeGauges(), kNow);
  std::string last_type;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "# HELP ")) continue;
    if (absl::StartsWith(line, "# TYPE ")) {
      last_type = std::string(line);
      continue;
    }
    EXPECT_TRUE(absl::StartsWith(line, "muxchat_")) << line;
    EXPECT_FALSE(last_type.empty()) << line;
  }
  EXPECT_TRUE(absl::EndsWith(text, "\n"));
}

TEST(RenderPrometheusText, ShowsTheRequestedSeries) {
  const std::string text = RenderPrometheusText(BusyMetrics(), SomeGauges(), kNow);
  for (const char* line : {
           "muxchat_connections{transport=\"tcp\",state=\"open\"} 7",
           "muxchat_connections{transport=\"tls\",state=\"tls_handshake\"} 1",
           "muxchat_connections{transport=\"tcp\",state=\"sniffing\"} 0",
           "muxchat_connections_accepted_total 15",
           "muxchat_connections_closed_total{reason=\"protocol_error\"} 1",
           "muxchat_connections_closed_total{reason=\"server_shutdown\"} 0",
           "muxchat_slow_consumer_drops_total 1",
           "muxchat_flood_drops_total 1",
           "muxchat_logins_total 9",
           "muxchat_logged_in_users 7",
           "muxchat_rooms 2",
           "muxchat_room_members 9",
           "muxchat_requests_total{type=\"hello\",status=\"success\"} 1",
           "muxchat_requests_total{type=\"join_room\",status=\"failure_not_exists\"} 1",
           "muxchat_requests_total{type=\"send_message\",status=\"failure_rate_limited\"} 1",
           "muxchat_requests_total{type=\"other\",status=\"failure_invalid\"} 1",
           "muxchat_requests_total{type=\"pong\",status=\"success\"} 0",
           "muxchat_messages_accepted_total 100",
           "muxchat_deliveries_total 1000",
           "muxchat_received_bytes_total{transport=\"tcp\"} 4096",
           "muxchat_sent_bytes_total{transport=\"tls\"} 65536",
           "muxchat_output_backlog_bytes 1234",
           "muxchat_output_backlog_max_bytes 1000",
           "muxchat_http_responses_total{code=\"404\"} 1",
           "muxchat_event_loop_busy_seconds_total 1",
           "muxchat_event_loop_busy_ratio 0.1",
           "muxchat_shutting_down 0",
       }) {
    EXPECT_TRUE(HasLine(text, line)) << "missing: " << line << "\n--- exposition:\n" << text;
  }
}

TEST(RenderPrometheusText, ZeroFailureCombinationsAreLeftOut) {
  const std::string text = RenderPrometheusText(Metrics(), MetricsGauges(), kNow);
  EXPECT_FALSE(absl::StrContains(text, "failure_")) << text;
}

TEST(RenderPrometheusText, HistogramBucketsAreCumulativeWithSumAndCount) {
  Metrics m;
  m.fanout.Observe(absl::Microseconds(10));   // <= 25 µs
  m.fanout.Observe(absl::Microseconds(25));   // <= 25 µs: bounds are inclusive
  m.fanout.Observe(absl::Microseconds(30));   // <= 50 µs
  m.fanout.Observe(absl::Seconds(10));        // +Inf only
  const std::string text = RenderPrometheusText(m, MetricsGauges(), kNow);
  EXPECT_TRUE(HasLine(text, "muxchat_fanout_seconds_bucket{le=\"2.5e-05\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "muxchat_fanout_seconds_bucket{le=\"5e-05\"} 3")) << text;
  EXPECT_TRUE(HasLine(text, "muxchat_fanout_seconds_bucket{le=\"2.5\"} 3")) << text;
  EXPECT_TRUE(HasLine(text, "muxchat_fanout_seconds_bucket{le=\"+Inf\"} 4")) << text;
  EXPECT_TRUE(HasLine(text, "muxchat_fanout_seconds_count 4")) << text;
  EXPECT_TRUE(HasLine(text, "muxchat_fanout_seconds_sum 10.000065")) << text;
}

TEST(RenderPrometheusText, ShuttingDownIsOne) {
  MetricsGauges g;
  g.shutting_down = true;
  EXPECT_TRUE(HasLine(RenderPrometheusText(Metrics(), g, kNow), "muxchat_shutting_down 1"));
}

TEST(MetricRequestTypeOf, EveryClientFrameBodyHasItsOwnTypeAndEmptyIsOther) {
  const v1::ClientFrame::BodyCase bodies[] = {
      v1::ClientFrame::kHello,     v1::ClientFrame::kCreateRoom,  v1::ClientFrame::kJoinRoom,
      v1::ClientFrame::kLeaveRoom, v1::ClientFrame::kDeleteRoom,  v1::ClientFrame::kListRooms,
      v1::ClientFrame::kSendMessage, v1::ClientFrame::kPostMessage, v1::ClientFrame::kPing,
      v1::ClientFrame::kPong,      v1::ClientFrame::kRegister,    v1::ClientFrame::kLogin,
      v1::ClientFrame::kLogout,    v1::ClientFrame::kResume,      v1::ClientFrame::kHistory,
      v1::ClientFrame::kListMembers,
  };
  // Every body field of ClientFrame is listed above: a new request type
  // must get its own label, not fall into "other".
  EXPECT_EQ(static_cast<int>(sizeof bodies / sizeof bodies[0]),
            v1::ClientFrame::descriptor()->FindOneofByName("body")->field_count());
  std::set<std::string> names;
  for (v1::ClientFrame::BodyCase b : bodies) {
    const MetricRequestType t = MetricRequestTypeOf(b);
    EXPECT_NE(t, MetricRequestType::kOther) << b;
    names.insert(MetricRequestTypeName(t));
  }
  EXPECT_EQ(names.size(), sizeof bodies / sizeof bodies[0]);
  EXPECT_EQ(MetricRequestTypeOf(v1::ClientFrame::BODY_NOT_SET), MetricRequestType::kOther);
}

TEST(MetricTransportOf, NamesEveryTransportAndFallsBackToTcp) {
  EXPECT_EQ(MetricTransportOf("tcp"), MetricTransport::kTcp);
  EXPECT_EQ(MetricTransportOf("tls"), MetricTransport::kTls);
  EXPECT_EQ(MetricTransportOf("ws"), MetricTransport::kWs);
  EXPECT_EQ(MetricTransportOf("wss"), MetricTransport::kWss);
  EXPECT_EQ(MetricTransportOf("quic"), MetricTransport::kTcp);
  for (int t = 0; t < kMetricTransportCount; ++t) {
    const auto transport = static_cast<MetricTransport>(t);
    EXPECT_EQ(MetricTransportOf(MetricTransportName(transport)), transport);
  }
}

TEST(EscapePrometheusLabelValue, EscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapePrometheusLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapePrometheusLabelValue("plain"), "plain");
}

TEST(Metrics, CountRequestWithAnUnknownStatusCountsAsUnspecified) {
  Metrics m;
  m.CountRequest(v1::ClientFrame::kPing, static_cast<v1::Status>(999));
  EXPECT_EQ(m.requests[static_cast<int>(MetricRequestType::kPing)][v1::STATUS_UNSPECIFIED], 1u);
}

TEST(LatencyHistogram, NegativeDurationsCountAsZero) {
  LatencyHistogram h;
  h.Observe(absl::Microseconds(-5));
  EXPECT_EQ(h.bucket(0), 1u);
  EXPECT_EQ(h.sum_ns(), 0u);
}

TEST(LoopBusyMeter, FractionIsOverTheLastClosedWindow) {
  const absl::Time t0 = kNow;
  LoopBusyMeter meter(t0);
  meter.Update(absl::Seconds(1), t0 + absl::Seconds(2));  // window still open
  EXPECT_EQ(meter.fraction(t0 + absl::Seconds(2)), 0);
  meter.Update(absl::Seconds(2), t0 + absl::Seconds(5));  // closes the 5 s window: 2 s busy
  EXPECT_DOUBLE_EQ(meter.fraction(t0 + absl::Seconds(6)), 0.4);
  meter.Update(absl::Seconds(3), t0 + absl::Seconds(7));  // the next window has 1 s in 2 s: still open
  EXPECT_DOUBLE_EQ(meter.fraction(t0 + absl::Seconds(7)), 0.4);
  EXPECT_EQ(meter.busy_total(), absl::Seconds(3));
}

TEST(LoopBusyMeter, AnIdleLoopReadsNearZeroOnceTheOpenWindowIsLongEnough) {
  LoopBusyMeter meter(kNow);
  meter.Update(absl::Milliseconds(100), kNow + absl::Seconds(1));
  EXPECT_NEAR(meter.fraction(kNow + absl::Seconds(100)), 0.001, 1e-9);
}

TEST(LatencyHistogram, ObservingSeveralTimesAddsToCountAndSum) {
  LatencyHistogram h;
  h.Observe(absl::Microseconds(100), 3);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.sum_ns(), 300'000u);
  EXPECT_EQ(h.bucket(2), 3u);  // <= 100 µs
}

}  // namespace
}  // namespace muxchat::server
