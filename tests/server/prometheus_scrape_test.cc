// A real Prometheus server scrapes the real muxchatd binary on loopback, and
// muxchat series are read back through Prometheus's HTTP API. Skipped when
// the Debian package prometheus is not installed.
//
// A second test scrapes TinyMetricsEndpoint: the production parser, handler,
// response renderer and Prometheus text renderer over a plain blocking
// socket, with chosen counter values (a histogram among them) that a real
// server would take traffic to produce.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "src/server/http_handler.h"
#include "src/server/http_request_parser.h"
#include "src/server/http_response.h"
#include "src/server/metrics.h"
#include "tests/server/muxchatd_process.h"
#include "tests/server/prometheus_process.h"

namespace muxchat::server {
namespace {

using testing::HavePrometheus;
using testing::MuxchatdProcess;
using testing::PrometheusProcess;

class TinyMetricsEndpoint {
 public:
  explicit TinyMetricsEndpoint(const Metrics* metrics) : metrics_(metrics) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    EXPECT_EQ(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    EXPECT_EQ(::pipe2(stop_, O_CLOEXEC), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TinyMetricsEndpoint() {
    (void)!::write(stop_[1], "x", 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_[0]);
    ::close(stop_[1]);
  }

  uint16_t port() const { return port_; }
  int scrapes() const { return scrapes_.load(); }

 private:
  void Serve() {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[1].revents != 0) return;
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (fd < 0) continue;
      HandleOne(fd, peer, len);
      ::close(fd);
    }
  }

  void HandleOne(int fd, const sockaddr_storage& peer, socklen_t len) {
    HttpRequestParser parser;
    wire::Buffer in;
    HttpRequestParser::Result result = HttpRequestParser::Result::kNeedMore;
    while (result == HttpRequestParser::Result::kNeedMore) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) return;
      if (in.ReadFromFd(fd, 64 * 1024) <= 0) return;
      result = parser.Feed(&in);
    }
    HttpResponse response;
    bool head = false;
    if (result == HttpRequestParser::Result::kError) {
      response = HttpErrorResponse(parser.error_status());
    } else {
      head = parser.request().method == HttpRequest::Method::kHead;
      const HttpHandlerContext context{
          MetricsAccess::kLoopback,
          MetricsScrapeAllowed(MetricsAccess::kLoopback, reinterpret_cast<const sockaddr*>(&peer), len), false};
      response = HandleHttpRequest(parser.request(), context,
                                   [&] { return RenderPrometheusText(*metrics_, MetricsGauges(), absl::Now()); });
      if (parser.request().path == "/metrics") scrapes_.fetch_add(1);
    }
    const std::string out = RenderHttpResponse(response, head, absl::Now());
    size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  const Metrics* metrics_;
  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> scrapes_{0};
  std::thread thread_;
};

constexpr absl::Duration kTimeout = absl::Seconds(10);

TEST(PrometheusScrape, ARealPrometheusScrapesTheRealMuxchatdAndReadsItsSeriesBack) {
  if (!HavePrometheus()) GTEST_SKIP() << "prometheus not installed (Debian package prometheus)";
  MuxchatdProcess daemon({"--listen=127.0.0.1:0", "--log_level=warn"});
  const uint16_t port = daemon.ReadPort();
  ASSERT_NE(port, 0) << daemon.first_line();
  auto alice = client::ChatClient::Connect("127.0.0.1", port, kTimeout);
  ASSERT_TRUE(alice.ok()) << alice.status();
  ASSERT_TRUE((*alice)->Hello("alice", kTimeout).ok());
  ASSERT_TRUE((*alice)->CreateRoom("lobby", kTimeout).ok());
  auto joined = (*alice)->JoinRoom("lobby", kTimeout);
  ASSERT_TRUE(joined.ok()) << joined.status();
  ASSERT_TRUE((*alice)->SendAndWait(joined->room_id(), "hello, prometheus", kTimeout).ok());

  const std::string target = absl::StrCat("127.0.0.1:", port);
  PrometheusProcess prometheus;
  ASSERT_TRUE(prometheus.Start(target).ok()) << prometheus.Log();
  ASSERT_TRUE(prometheus.WaitForTargetUp(target).ok()) << prometheus.Log();
  absl::StatusOr<std::string> up = prometheus.QueryValue("up{job=\"muxchat\"}");
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(*up, "1");
  absl::StatusOr<std::string> logins = prometheus.QueryValue("muxchat_logins_total");
  ASSERT_TRUE(logins.ok()) << logins.status();
  EXPECT_EQ(*logins, "1");
  absl::StatusOr<std::string> messages = prometheus.QueryValue("muxchat_messages_accepted_total");
  ASSERT_TRUE(messages.ok()) << messages.status();
  EXPECT_EQ(*messages, "1");
  absl::StatusOr<std::string> open =
      prometheus.QueryValue("muxchat_connections{transport=\"tcp\",state=\"open\"}");
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(*open, "1");
  prometheus.Stop();

  daemon.Signal(SIGTERM);
  const int status = daemon.Wait(absl::Seconds(10));
  ASSERT_NE(status, -1) << "muxchatd did not exit";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PrometheusScrape, ARealPrometheusScrapesOurHttpStackAndReadsASeriesBack) {
  if (!HavePrometheus()) GTEST_SKIP() << "prometheus not installed (Debian package prometheus)";
  Metrics metrics;  // written before the endpoint's thread starts, then only read
  metrics.deliveries = 42;
  metrics.CountRequest(v1::ClientFrame::kSendMessage, v1::SUCCESS);
  metrics.fanout.Observe(absl::Microseconds(70));
  TinyMetricsEndpoint endpoint(&metrics);
  const std::string target = absl::StrCat("127.0.0.1:", endpoint.port());

  PrometheusProcess prometheus;
  ASSERT_TRUE(prometheus.Start(target).ok()) << prometheus.Log();
  ASSERT_TRUE(prometheus.WaitForTargetUp(target).ok()) << prometheus.Log();
  absl::StatusOr<std::string> deliveries = prometheus.QueryValue("muxchat_deliveries_total");
  ASSERT_TRUE(deliveries.ok()) << deliveries.status();
  EXPECT_EQ(*deliveries, "42");
  absl::StatusOr<std::string> sends =
      prometheus.QueryValue("muxchat_requests_total{type=\"send_message\",status=\"success\"}");
  ASSERT_TRUE(sends.ok()) << sends.status();
  EXPECT_EQ(*sends, "1");
  // The histogram arrives whole: Prometheus computes a quantile from it.
  absl::StatusOr<std::string> p50 = prometheus.QueryValue("histogram_quantile(0.5, muxchat_fanout_seconds_bucket)");
  ASSERT_TRUE(p50.ok()) << p50.status();
  double v = 0;
  ASSERT_TRUE(absl::SimpleAtod(*p50, &v)) << *p50;
  EXPECT_GT(v, 50e-6);
  EXPECT_LE(v, 100e-6);
  EXPECT_GE(endpoint.scrapes(), 1);
  prometheus.Stop();
}

}  // namespace
}  // namespace muxchat::server
