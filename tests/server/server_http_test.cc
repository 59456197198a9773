// HTTP on the chat port, against a real Server on loopback, for both
// pollers: /metrics (checked by the real promtool), /healthz, the refusals,
// the time bound, that chat and HTTP share the port, /metrics inside TLS, and
// the web client's files (--web_root) in cleartext and inside TLS.
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "src/server/web_root.h"
#include "tests/server/http_test_client.h"
#include "tests/server/promtool.h"
#include "tests/server/server_fixture.h"
#include "tests/test_certs.h"

namespace muxchat::server {
namespace {

using testing::ConnectAs;
using testing::HttpGet;
using testing::HttpReply;
using testing::kTimeout;
using testing::ParseHttpReply;
using testing::RawConnect;
using testing::RawHttpExchange;
using testing::ReadUntilEof;
using testing::RunningServer;

// The value of an unlabelled or fully labelled series in an exposition, or -1.
double SeriesValue(const std::string& exposition, absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (absl::StartsWith(line, series) && line.size() > series.size() && line[series.size()] == ' ') {
      double v = -1;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return -1;
}

class ServerHttpTest : public ::testing::TestWithParam<const char*> {
 protected:
  ServerOptions Options() {
    ServerOptions o;
    o.poller = GetParam();
    return o;
  }

  HttpReply Get(uint16_t port, const std::string& target) {
    absl::StatusOr<HttpReply> r = HttpGet(port, target, kTimeout);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HttpReply();
  }

  // Sends raw bytes and parses what comes back before the server closes.
  HttpReply Exchange(uint16_t port, const std::string& request) {
    absl::StatusOr<std::string> raw = RawHttpExchange(port, request, kTimeout);
    EXPECT_TRUE(raw.ok()) << raw.status();
    if (!raw.ok()) return HttpReply();
    absl::StatusOr<HttpReply> r = ParseHttpReply(*raw);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : HttpReply();
  }
};

TEST_P(ServerHttpTest, HealthzIsOkWhileServing) {
  RunningServer s(Options());
  const HttpReply r = Get(s.port(), "/healthz");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_TRUE(absl::StrContains(r.head, "\r\nConnection: close\r\n")) << r.head;
}

TEST_P(ServerHttpTest, MetricsAfterChatCountTheTrafficAndPassPromtool) {
  RunningServer s(Options());
  auto alice = ConnectAs(s.port(), "alice");
  auto bob = ConnectAs(s.port(), "bob");
  ASSERT_TRUE(alice && bob);
  ASSERT_TRUE(alice->CreateRoom("lobby", kTimeout).ok());
  auto joined = alice->JoinRoom("lobby", kTimeout);
  ASSERT_TRUE(joined.ok()) << joined.status();
  ASSERT_TRUE(bob->JoinRoom("lobby", kTimeout).ok());
  ASSERT_TRUE(alice->SendAndWait(joined->room_id(), "hello", kTimeout).ok());
  // bob has it once he sees it: the server counted it before writing it.
  bool got = false;
  for (int i = 0; i < 10 && !got; ++i) {
    auto ev = bob->NextEvent(kTimeout);
    ASSERT_TRUE(ev.ok()) << ev.status();
    got = ev->has_chat_message();
  }
  ASSERT_TRUE(got);

  const HttpReply r = Get(s.port(), "/metrics");
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_TRUE(absl::StrContains(r.head, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n")) << r.head;
  EXPECT_EQ(SeriesValue(r.body, "muxchat_logins_total"), 2) << r.body;
  EXPECT_EQ(SeriesValue(r.body, "muxchat_logged_in_users"), 2) << r.body;
  EXPECT_EQ(SeriesValue(r.body, "muxchat_rooms"), 1) << r.body;
  EXPECT_EQ(SeriesValue(r.body, "muxchat_room_members"), 2) << r.body;
  EXPECT_EQ(SeriesValue(r.body, "muxchat_messages_accepted_total"), 1) << r.body;
  // bob's join notice to alice, then the message to both.
  EXPECT_EQ(SeriesValue(r.body, "muxchat_deliveries_total"), 3) << r.body;
  EXPECT_EQ(SeriesValue(r.body, "muxchat_fanout_seconds_count"), 1) << r.body;
  EXPECT_EQ(SeriesValue(r.body, "muxchat_requests_total{type=\"send_message\",status=\"success\"}"), 1) << r.body;
  EXPECT_EQ(SeriesValue(r.body, "muxchat_connections{transport=\"tcp\",state=\"open\"}"), 2) << r.body;
  EXPECT_EQ(SeriesValue(r.body, "muxchat_connections{transport=\"tcp\",state=\"http\"}"), 1) << r.body;
  EXPECT_GT(SeriesValue(r.body, "muxchat_received_bytes_total{transport=\"tcp\"}"), 0) << r.body;
  EXPECT_GT(SeriesValue(r.body, "muxchat_sent_bytes_total{transport=\"tcp\"}"), 0) << r.body;
  if (testing::HavePromtool()) {
    const testing::PromtoolResult check = testing::PromtoolCheckMetrics(r.body);
    EXPECT_EQ(check.exit_code, 0) << check.output << "\n--- /metrics:\n" << r.body;
  }
}

TEST_P(ServerHttpTest, ProtocolErrorsAreCountedByReason) {
  RunningServer s(Options());
  const int fd = RawConnect(s.port());
  ASSERT_EQ(::write(fd, "\x7f\xff\xff\xff", 4), 4);  // a length far above the cap
  ReadUntilEof(fd);  // Error{FRAME_TOO_LARGE}, then close
  ::close(fd);
  const HttpReply r = Get(s.port(), "/metrics");
  EXPECT_EQ(SeriesValue(r.body, "muxchat_connections_closed_total{reason=\"frame_too_large\"}"), 1) << r.body;
}

TEST_P(ServerHttpTest, HeadMetricsSendsTheHeadersOnly) {
  RunningServer s(Options());
  const HttpReply r = Exchange(s.port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_TRUE(absl::StrContains(r.head, "\r\nContent-Length: ")) << r.head;
  EXPECT_EQ(r.body, "");
}

TEST_P(ServerHttpTest, UnknownPathsAre404) {
  RunningServer s(Options());
  EXPECT_EQ(Get(s.port(), "/").status, 404);
  EXPECT_EQ(Get(s.port(), "/metrics/x").status, 404);
}

TEST_P(ServerHttpTest, OtherMethodsAre405WithAllow) {
  RunningServer s(Options());
  const HttpReply r = Exchange(s.port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(r.status, 405) << r.head;
  EXPECT_TRUE(absl::StrContains(r.head, "\r\nAllow: GET, HEAD\r\n")) << r.head;
}

TEST_P(ServerHttpTest, MalformedRequestsAre400) {
  RunningServer s(Options());
  EXPECT_EQ(Exchange(s.port(), "GXT / HTTP/1.1\r\nHost: x\r\n\r\n").status, 400);
  EXPECT_EQ(Exchange(s.port(), "GET / HTTP/1.1\r\n\r\n").status, 400);  // no Host
}

TEST_P(ServerHttpTest, OversizeHeadIs431) {
  RunningServer s(Options());
  const HttpReply r =
      Exchange(s.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.status, 431) << r.head;
}

TEST_P(ServerHttpTest, AHalfClosedPartialRequestIs400) {
  RunningServer s(Options());
  const int fd = RawConnect(s.port());
  const std::string part = "GET /healthz HTTP/1.1\r\nHo";
  ASSERT_EQ(::write(fd, part.data(), part.size()), static_cast<ssize_t>(part.size()));
  ::shutdown(fd, SHUT_WR);
  absl::StatusOr<HttpReply> r = ParseHttpReply(ReadUntilEof(fd));
  ::close(fd);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400);
}

TEST_P(ServerHttpTest, ARequestThatNeverEndsGets408AtTheHandshakeTimeout) {
  ServerOptions o = Options();
  o.handshake_timeout = absl::Milliseconds(300);
  RunningServer s(o);
  const int fd = RawConnect(s.port());
  const std::string part = "GET /metrics HTTP/1.1\r\n";
  ASSERT_EQ(::write(fd, part.data(), part.size()), static_cast<ssize_t>(part.size()));
  const absl::Time start = absl::Now();
  absl::StatusOr<HttpReply> r = ParseHttpReply(ReadUntilEof(fd));
  ::close(fd);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 408);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
}

TEST_P(ServerHttpTest, APendingRequestGets503WhenTheServerShutsDown) {
  RunningServer s(Options());
  const int fd = RawConnect(s.port());
  const std::string part = "GET /healthz HTTP/1.1\r\n";
  ASSERT_EQ(::write(fd, part.data(), part.size()), static_cast<ssize_t>(part.size()));
  // The server must have seen the bytes (state http) before the shutdown:
  // a scrape served after them shows the connection in that state.
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    seen = SeriesValue(Get(s.port(), "/metrics").body, "muxchat_connections{transport=\"tcp\",state=\"http\"}") == 2;
  }
  ASSERT_TRUE(seen) << "the pending request never reached the server";
  s.server().RequestShutdown();
  absl::StatusOr<HttpReply> r = ParseHttpReply(ReadUntilEof(fd));
  ::close(fd);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "shutting down\n");
}

TEST_P(ServerHttpTest, MetricsOffIs404AndHealthzStillServes) {
  ServerOptions o = Options();
  o.metrics = MetricsAccess::kOff;
  RunningServer s(o);
  EXPECT_EQ(Get(s.port(), "/metrics").status, 404);
  EXPECT_EQ(Get(s.port(), "/healthz").status, 200);
}

TEST_P(ServerHttpTest, ChatAndHttpShareThePortWithoutLoss) {
  RunningServer s(Options());
  auto alice = ConnectAs(s.port(), "alice");
  auto bob = ConnectAs(s.port(), "bob");
  ASSERT_TRUE(alice && bob);
  ASSERT_TRUE(alice->CreateRoom("lobby", kTimeout).ok());
  auto joined = alice->JoinRoom("lobby", kTimeout);
  ASSERT_TRUE(joined.ok());
  ASSERT_TRUE(bob->JoinRoom("lobby", kTimeout).ok());
  constexpr int kMessages = 50;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(alice->SendAndWait(joined->room_id(), absl::StrCat("m", i), kTimeout).ok());
    if (i % 10 == 0) {
      EXPECT_EQ(Get(s.port(), "/metrics").status, 200);
    }
  }
  int seen = 0;
  while (seen < kMessages) {
    auto ev = bob->NextEvent(kTimeout);
    ASSERT_TRUE(ev.ok()) << ev.status();
    if (ev->has_chat_message()) {
      EXPECT_EQ(ev->chat_message().text(), absl::StrCat("m", seen++));
    }
  }
}

// GET over TLS (ALPN http/1.1) with a blocking OpenSSL client (bounded by SO_RCVTIMEO);
// returns everything read until the server closes.
std::string GetOverTls(uint16_t port, const std::string& target) {
  const int fd = RawConnect(port);
  timeval bound{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  // Inside TLS the server tells HTTP from muxchat by ALPN, as browsers and
  // Prometheus offer it.
  const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx.get(), alpn, sizeof alpn);
  std::unique_ptr<SSL, void (*)(SSL*)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  std::string response;
  if (SSL_connect(ssl.get()) == 1) {
    const std::string request = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    size_t written = 0;
    if (SSL_write_ex(ssl.get(), request.data(), request.size(), &written) == 1) {
      char buf[16384];
      size_t n = 0;
      while (SSL_read_ex(ssl.get(), buf, sizeof buf, &n) == 1) response.append(buf, n);
    }
  }
  ::close(fd);
  return response;
}

TEST_P(ServerHttpTest, MetricsInsideTlsCountTlsConnectionsApart) {
  muxchat::testing::TempDir dir;
  muxchat::testing::TestCa ca;
  const auto pair = ca.Issue("muxchat test server", "DNS:localhost,IP:127.0.0.1");
  ServerOptions o = Options();
  o.tls.cert_file = dir.Write("server.crt", pair.cert);
  o.tls.key_file = dir.Write("server.key", pair.key);
  RunningServer s(o);
  client::ClientTlsOptions tls;
  tls.enabled = true;
  tls.ca_file = dir.Write("ca.crt", ca.cert_pem());
  auto alice = client::ChatClient::Connect("localhost", s.port(), kTimeout, tls);
  ASSERT_TRUE(alice.ok()) << alice.status();
  ASSERT_TRUE((*alice)->Hello("alice", kTimeout).ok());

  absl::StatusOr<HttpReply> r = ParseHttpReply(GetOverTls(s.port(), "/metrics"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << r->head;
  EXPECT_EQ(SeriesValue(r->body, "muxchat_connections{transport=\"tls\",state=\"open\"}"), 1) << r->body;
  EXPECT_EQ(SeriesValue(r->body, "muxchat_connections{transport=\"tls\",state=\"http\"}"), 1) << r->body;
  EXPECT_EQ(SeriesValue(r->body, "muxchat_connections{transport=\"tcp\",state=\"open\"}"), 0) << r->body;
  EXPECT_GT(SeriesValue(r->body, "muxchat_received_bytes_total{transport=\"tls\"}"), 0) << r->body;
  EXPECT_GT(SeriesValue(r->body, "muxchat_sent_bytes_total{transport=\"tls\"}"), 0) << r->body;
  EXPECT_EQ(SeriesValue(r->body, "muxchat_received_bytes_total{transport=\"tcp\"}"), 0) << r->body;
}

// A built web client beside a file the server must never serve.
struct WebDir {
  muxchat::testing::TempDir dir;
  std::string root;
  WebDir() {
    dir.Write("secret.txt", "secret");
    root = dir.path() + "/dist";
    EXPECT_EQ(::mkdir(root.c_str(), 0755), 0);
    dir.Write("dist/index.html", "<!doctype html><title>muxchat</title>");
    dir.Write("dist/app.js", "console.log('hi')");
    dir.Write("dist/app.js.map", "{}");
  }
};

TEST_P(ServerHttpTest, WebRootServesIndexAtSlashWithPolicyAndNosniff) {
  WebDir web;
  ServerOptions o = Options();
  o.web_root = web.root;
  RunningServer s(o);
  const HttpReply r = Get(s.port(), "/");
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(r.body, "<!doctype html><title>muxchat</title>");
  EXPECT_TRUE(absl::StrContains(r.head, "\r\nContent-Type: text/html; charset=utf-8\r\n")) << r.head;
  EXPECT_TRUE(absl::StrContains(r.head, std::string("\r\nContent-Security-Policy: ") + kWebContentSecurityPolicy +
                                            "\r\n"))
      << r.head;
  EXPECT_TRUE(absl::StrContains(r.head, "\r\nX-Content-Type-Options: nosniff\r\n")) << r.head;
}

TEST_P(ServerHttpTest, WebRootServesAssetsWithTheirTypes) {
  WebDir web;
  ServerOptions o = Options();
  o.web_root = web.root;
  RunningServer s(o);
  const HttpReply js = Get(s.port(), "/app.js");
  ASSERT_EQ(js.status, 200) << js.head;
  EXPECT_EQ(js.body, "console.log('hi')");
  EXPECT_TRUE(absl::StrContains(js.head, "\r\nContent-Type: text/javascript; charset=utf-8\r\n")) << js.head;
  const HttpReply map = Get(s.port(), "/app.js.map");
  ASSERT_EQ(map.status, 200) << map.head;
  EXPECT_TRUE(absl::StrContains(map.head, "\r\nContent-Type: application/json\r\n")) << map.head;
  const HttpReply head = Exchange(s.port(), "HEAD /app.js HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(head.status, 200) << head.head;
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(Get(s.port(), "/missing.js").status, 404);
}

TEST_P(ServerHttpTest, WebRootRefusesTraversal) {
  WebDir web;
  ServerOptions o = Options();
  o.web_root = web.root;
  RunningServer s(o);
  for (const char* target : {"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/..%5csecret.txt"}) {
    const HttpReply r = Exchange(s.port(), absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_TRUE(r.status == 400 || r.status == 404) << target << ": " << r.head;
    EXPECT_FALSE(absl::StrContains(r.body, "secret")) << target;
  }
  // The server is still serving.
  EXPECT_EQ(Get(s.port(), "/").status, 200);
}

TEST_P(ServerHttpTest, WithoutABuiltWebRootSlashSaysHowToBuild) {
  muxchat::testing::TempDir empty;
  ServerOptions o = Options();
  o.web_root = empty.path() + "/dist";  // never built
  RunningServer s(o);
  const HttpReply r = Get(s.port(), "/");
  EXPECT_EQ(r.status, 404) << r.head;
  EXPECT_TRUE(absl::StrContains(r.body, "scripts/web-build.sh")) << r.body;
  EXPECT_EQ(Get(s.port(), "/healthz").status, 200);
}

TEST_P(ServerHttpTest, WebRootIsServedInsideTls) {
  WebDir web;
  muxchat::testing::TempDir dir;
  muxchat::testing::TestCa ca;
  const auto pair = ca.Issue("muxchat test server", "DNS:localhost,IP:127.0.0.1");
  ServerOptions o = Options();
  o.tls.cert_file = dir.Write("server.crt", pair.cert);
  o.tls.key_file = dir.Write("server.key", pair.key);
  o.web_root = web.root;
  RunningServer s(o);
  absl::StatusOr<HttpReply> r = ParseHttpReply(GetOverTls(s.port(), "/"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << r->head;
  EXPECT_EQ(r->body, "<!doctype html><title>muxchat</title>");
  EXPECT_TRUE(absl::StrContains(r->head, "\r\nX-Content-Type-Options: nosniff\r\n")) << r->head;
}

INSTANTIATE_TEST_SUITE_P(Pollers, ServerHttpTest, ::testing::Values("epoll", "poll"));

}  // namespace
}  // namespace muxchat::server
