#include "src/server/http_response.h"

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

TEST(HttpResponse, RendersStatusLineHeadersAndBody) {
  EXPECT_EQ(RenderHttpResponse(HttpResponse::Text(HttpStatus::kOk, "ok"), /*head_only=*/false),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 3\r\n"
            "Connection: close\r\n"
            "\r\n"
            "ok\n");
}

TEST(HttpResponse, HeadKeepsTheContentLengthButSendsNoBody) {
  EXPECT_EQ(RenderHttpResponse(HttpResponse::Text(HttpStatus::kServiceUnavailable, "shutting down"),
                               /*head_only=*/true),
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 14\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(HttpResponse, ExtraHeadersComeInOrderBeforeConnection) {
  HttpResponse r = HttpResponse::Text(HttpStatus::kMethodNotAllowed, "only GET and HEAD");
  r.headers.push_back({"Allow", "GET, HEAD"});
  const std::string out = RenderHttpResponse(r, false);
  EXPECT_NE(out.find("Content-Length: 18\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n"), std::string::npos)
      << out;
  EXPECT_EQ(out.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
}

TEST(HttpResponse, DateIsAnImfFixdateInGmt) {
  const std::string out = RenderHttpResponse(HttpResponse::Text(HttpStatus::kOk, ""), false,
                                             absl::FromUnixSeconds(784111777));
  EXPECT_NE(out.find("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), std::string::npos) << out;
}

TEST(HttpResponse, ContentTypeIsTheResponses) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = "x 1\n";
  EXPECT_NE(RenderHttpResponse(r, false).find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
}

}  // namespace
}  // namespace muxchat::server
