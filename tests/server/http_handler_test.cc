#include "src/server/http_handler.h"

#include <string>

#include "gtest/gtest.h"
#include "src/server/metrics.h"

namespace muxchat::server {
namespace {

HttpRequest Get(std::string path) {
  HttpRequest r;
  r.path = std::move(path);
  r.target = r.path;
  return r;
}

HttpHandlerContext Allowed() { return {MetricsAccess::kLoopback, /*metrics_allowed=*/true, false}; }

TEST(HttpHandler, MetricsServesTheRenderedTextAsPrometheus004) {
  int renders = 0;
  const HttpResponse r = HandleHttpRequest(Get("/metrics"), Allowed(), [&] {
    ++renders;
    return std::string("muxchat_x 1\n");
  });
  EXPECT_EQ(r.status, HttpStatus::kOk);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "muxchat_x 1\n");
  EXPECT_EQ(renders, 1);
}

TEST(HttpHandler, MetricsForAPeerTheRuleRefusesIs403WithoutRendering) {
  bool rendered = false;
  const HttpResponse r =
      HandleHttpRequest(Get("/metrics"), {MetricsAccess::kLoopback, false, false}, [&] {
        rendered = true;
        return std::string();
      });
  EXPECT_EQ(r.status, HttpStatus::kForbidden);
  EXPECT_FALSE(rendered);
}

TEST(HttpHandler, MetricsOffIs404) {
  const HttpResponse r = HandleHttpRequest(Get("/metrics"), {MetricsAccess::kOff, false, false},
                                           [] { return std::string("x"); });
  EXPECT_EQ(r.status, HttpStatus::kNotFound);
}

TEST(HttpHandler, HealthzIsOkWhileServingAnd503WhileShuttingDown) {
  auto none = [] { return std::string(); };
  const HttpResponse up = HandleHttpRequest(Get("/healthz"), Allowed(), none);
  EXPECT_EQ(up.status, HttpStatus::kOk);
  EXPECT_EQ(up.body, "ok\n");
  const HttpResponse down = HandleHttpRequest(Get("/healthz"), {MetricsAccess::kLoopback, true, true}, none);
  EXPECT_EQ(down.status, HttpStatus::kServiceUnavailable);
}

TEST(HttpHandler, HealthzIs503WhileAClusterNodeCannotReachRedis) {
  HttpHandlerContext context = Allowed();
  context.cluster_unreachable = true;
  const HttpResponse r = HandleHttpRequest(Get("/healthz"), context, [] { return std::string(); });
  EXPECT_EQ(r.status, HttpStatus::kServiceUnavailable);
  EXPECT_EQ(r.body, "cluster redis unreachable\n");
}

TEST(HttpHandler, HealthzDoesNotNeedTheMetricsRule) {
  const HttpResponse r =
      HandleHttpRequest(Get("/healthz"), {MetricsAccess::kOff, false, false}, [] { return std::string(); });
  EXPECT_EQ(r.status, HttpStatus::kOk);
}

TEST(HttpHandler, OtherPathsAre404) {
  for (const char* path : {"/", "/metrics/", "/METRICS", "/healthz/x", "/index.html"}) {
    EXPECT_EQ(HandleHttpRequest(Get(path), Allowed(), [] { return std::string(); }).status, HttpStatus::kNotFound)
        << path;
  }
}

TEST(HttpHandler, WithoutAWebRootSlashSaysHowToBuildTheClient) {
  const HttpResponse r = HandleHttpRequest(Get("/"), Allowed(), [] { return std::string(); });
  EXPECT_EQ(r.status, HttpStatus::kNotFound);
  EXPECT_NE(r.body.find("scripts/web-build.sh"), std::string::npos) << r.body;
}

TEST(HttpHandler, MethodNotAllowedSaysWhichAreAllowed) {
  const HttpResponse r = HttpErrorResponse(HttpStatus::kMethodNotAllowed);
  EXPECT_EQ(r.status, HttpStatus::kMethodNotAllowed);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "GET, HEAD");
}

}  // namespace
}  // namespace muxchat::server
