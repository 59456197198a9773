#include "src/server/http_request_parser.h"

#include <string>

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

using Result = HttpRequestParser::Result;

constexpr char kScrape[] =
    "GET /metrics?name[]=x HTTP/1.1\r\n"
    "Host: 127.0.0.1:7000\r\n"
    "User-Agent: Prometheus/2.42.0\r\n"
    "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n"
    "\r\n";

// Feeds `text` in one piece.
Result FeedAll(HttpRequestParser* p, const std::string& text, wire::Buffer* in) {
  in->Append(text);
  return p->Feed(in);
}

TEST(HttpRequestParser, ParsesAScrapeRequest) {
  HttpRequestParser p;
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p, kScrape, &in), Result::kComplete) << p.error();
  const HttpRequest& r = p.request();
  EXPECT_EQ(r.method, HttpRequest::Method::kGet);
  EXPECT_EQ(r.target, "/metrics?name[]=x");
  EXPECT_EQ(r.path, "/metrics");
  EXPECT_EQ(r.query, "name[]=x");
  EXPECT_EQ(r.version_major, 1);
  EXPECT_EQ(r.version_minor, 1);
  EXPECT_EQ(r.host, "127.0.0.1:7000");
  EXPECT_FALSE(r.upgrade_requested);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(p.head_bytes(), std::string(kScrape).size());
}

TEST(HttpRequestParser, HeadIsParsedAsHead) {
  HttpRequestParser p;
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p, "HEAD /healthz HTTP/1.0\r\n\r\n", &in), Result::kComplete) << p.error();
  EXPECT_EQ(p.request().method, HttpRequest::Method::kHead);
  EXPECT_EQ(p.request().path, "/healthz");
  EXPECT_EQ(p.request().version_minor, 0);
}

TEST(HttpRequestParser, AnySplitIntoTwoPiecesGivesTheSameRequest) {
  const std::string text = kScrape;
  for (size_t cut = 1; cut < text.size(); ++cut) {
    HttpRequestParser p;
    wire::Buffer in;
    ASSERT_EQ(FeedAll(&p, text.substr(0, cut), &in), Result::kNeedMore) << "cut " << cut << ": " << p.error();
    ASSERT_EQ(FeedAll(&p, text.substr(cut), &in), Result::kComplete) << "cut " << cut << ": " << p.error();
    EXPECT_EQ(p.request().path, "/metrics") << cut;
    EXPECT_EQ(p.request().host, "127.0.0.1:7000") << cut;
    EXPECT_TRUE(in.empty()) << cut;
  }
}

TEST(HttpRequestParser, OneByteAtATimeGivesTheSameRequest) {
  const std::string text =
      "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  HttpRequestParser p;
  wire::Buffer in;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    ASSERT_EQ(FeedAll(&p, text.substr(i, 1), &in), Result::kNeedMore) << "byte " << i << ": " << p.error();
  }
  ASSERT_EQ(FeedAll(&p, text.substr(text.size() - 1), &in), Result::kComplete) << p.error();
  const HttpRequest& r = p.request();
  EXPECT_EQ(r.host, "example.com");
  EXPECT_EQ(r.upgrade, "websocket");
  EXPECT_EQ(r.connection, "Upgrade");
  EXPECT_EQ(r.sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(r.sec_websocket_version, "13");
  EXPECT_EQ(r.origin, "http://example.com");
  EXPECT_TRUE(r.upgrade_requested);
}

TEST(HttpRequestParser, UpgradeLeavesTheNewProtocolsBytesInTheBuffer) {
  HttpRequestParser p;
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p,
                    "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                    "\x81\x85" "frame",
                    &in),
            Result::kComplete)
      << p.error();
  EXPECT_TRUE(p.request().upgrade_requested);
  EXPECT_EQ(in.View(), "\x81\x85" "frame");
}

TEST(HttpRequestParser, LeavesAPipelinedSecondRequestInTheBuffer) {
  HttpRequestParser p;
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p, "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n", &in), Result::kComplete);
  EXPECT_EQ(p.request().path, "/a");
  EXPECT_EQ(in.View(), "GET /b HTTP/1.1\r\n");
}

TEST(HttpRequestParser, ResultIsStickyAndLaterCallsConsumeNothing) {
  HttpRequestParser p;
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &in), Result::kComplete);
  EXPECT_EQ(FeedAll(&p, "more", &in), Result::kComplete);
  EXPECT_EQ(in.View(), "more");
}

TEST(HttpRequestParser, EmptyBufferNeedsMoreAndIsNotEndOfStream) {
  HttpRequestParser p;
  wire::Buffer in;
  EXPECT_EQ(p.Feed(&in), Result::kNeedMore);
  EXPECT_EQ(FeedAll(&p, "GET / HTTP/1.0\r\n\r\n", &in), Result::kComplete) << p.error();
}

TEST(HttpRequestParser, PostIsRefusedWith405AsSoonAsTheMethodIsRead) {
  HttpRequestParser p;
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "POST /metrics", &in), Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kMethodNotAllowed);
  EXPECT_EQ(p.error(), "method POST not allowed");
}

TEST(HttpRequestParser, AMalformedPostIs405HoweverItIsSplit) {
  const std::string text = "POST /metric\x1a HTTP/1.1\r\nHost: h\r\n\r\n";
  for (size_t cut = 0; cut < text.size(); ++cut) {
    HttpRequestParser p;
    wire::Buffer in;
    Result r = cut == 0 ? Result::kNeedMore : FeedAll(&p, text.substr(0, cut), &in);
    if (r == Result::kNeedMore) r = FeedAll(&p, text.substr(cut), &in);
    EXPECT_EQ(r, Result::kError) << cut;
    EXPECT_EQ(p.error_status(), HttpStatus::kMethodNotAllowed) << cut << ": " << p.error();
  }
}

TEST(HttpRequestParser, OtherKnownMethodsAre405) {
  for (const char* method : {"PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE"}) {
    HttpRequestParser p;
    wire::Buffer in;
    EXPECT_EQ(FeedAll(&p, std::string(method) + " /x HTTP/1.1\r\nHost: h\r\n\r\n", &in), Result::kError) << method;
    EXPECT_EQ(p.error_status(), HttpStatus::kMethodNotAllowed) << method;
  }
}

TEST(HttpRequestParser, MalformedRequestLinesAre400) {
  for (const char* text : {
           "GARBAGE / HTTP/1.1\r\n\r\n",       // no such method
           "get / HTTP/1.1\r\n\r\n",           // methods are case-sensitive
           "GET\r\n\r\n",                      // no target
           "GET / HTTX/1.1\r\n\r\n",           // not HTTP
           "GET / HTTP/1.1 extra\r\n\r\n",     // junk after the version
           "GET /\r\n\r\n",                    // HTTP/0.9
           "GET /a b HTTP/1.1\r\n\r\n",        // space in the target
           "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
           "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n",  // control byte in a value
       }) {
    HttpRequestParser p;
    wire::Buffer in;
    EXPECT_EQ(FeedAll(&p, text, &in), Result::kError) << text;
    EXPECT_EQ(p.error_status(), HttpStatus::kBadRequest) << text << ": " << p.error();
  }
}

TEST(HttpRequestParser, VersionsOtherThan10And11Are400) {
  for (const char* text : {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", "GET / HTTP/1.2\r\nHost: h\r\n\r\n",
                           "GET / HTTP/0.9\r\n\r\n"}) {
    HttpRequestParser p;
    wire::Buffer in;
    EXPECT_EQ(FeedAll(&p, text, &in), Result::kError) << text;
    EXPECT_EQ(p.error_status(), HttpStatus::kBadRequest) << text;
  }
}

TEST(HttpRequestParser, Http11WithoutHostIs400) {
  HttpRequestParser p;
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "GET /metrics HTTP/1.1\r\n\r\n", &in), Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kBadRequest);
  EXPECT_EQ(p.error(), "HTTP/1.1 request without Host");
}

TEST(HttpRequestParser, TwoHostHeadersAre400) {
  HttpRequestParser p;
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", &in), Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kBadRequest);
}

TEST(HttpRequestParser, AsteriskTargetIs400) {
  HttpRequestParser p;
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "GET * HTTP/1.1\r\nHost: h\r\n\r\n", &in), Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kBadRequest);
}

TEST(HttpRequestParser, AbsoluteFormTargetGivesItsPath) {
  HttpRequestParser p;
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p, "GET http://h:7000/healthz?x HTTP/1.1\r\nHost: h:7000\r\n\r\n", &in), Result::kComplete)
      << p.error();
  EXPECT_EQ(p.request().path, "/healthz");
  EXPECT_EQ(p.request().query, "x");
}

TEST(HttpRequestParser, HeaderNamesMatchInAnyCaseAndRepeatsAreJoined) {
  HttpRequestParser p;
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nhOsT: h\r\nCONNECTION: keep-alive\r\nconnection: Upgrade\r\n\r\n", &in),
            Result::kComplete)
      << p.error();
  EXPECT_EQ(p.request().host, "h");
  EXPECT_EQ(p.request().connection, "keep-alive, Upgrade");
}

TEST(HttpRequestParser, EmptyHeaderValueDoesNotRunIntoTheNextHeader) {
  HttpRequestParser p;
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nX-Empty:\r\nHost: h\r\nOrigin:\r\n\r\n", &in), Result::kComplete)
      << p.error();
  EXPECT_EQ(p.request().host, "h");
  EXPECT_EQ(p.request().origin, "");
}

TEST(HttpRequestParser, LongHeaderNamesThatStartLikeOursAreIgnored) {
  HttpRequestParser p;
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nHost: h\r\nHost" + std::string(100, 'x') + ": evil\r\n\r\n", &in),
            Result::kComplete)
      << p.error();
  EXPECT_EQ(p.request().host, "h");
}

TEST(HttpRequestParser, GetWithABodyIs413) {
  HttpRequestParser p;
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", &in), Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kPayloadTooLarge);
}

TEST(HttpRequestParser, GetWithAChunkedBodyIs413) {
  HttpRequestParser p;
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", &in),
            Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kPayloadTooLarge);
}

TEST(HttpRequestParser, ContentLengthZeroIsNoBody) {
  HttpRequestParser p;
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &in), Result::kComplete)
      << p.error();
}

TEST(HttpRequestParser, HeadLongerThanTheLimitIs431AndIsNotReadPastIt) {
  HttpRequestParser p(HttpParserLimits{.max_head_bytes = 256, .max_headers = 64});
  wire::Buffer in;
  const std::string text = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(1000, 'a') + "\r\n\r\n";
  EXPECT_EQ(FeedAll(&p, text, &in), Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kHeaderFieldsTooLarge);
  EXPECT_EQ(p.head_bytes(), 256u);
  EXPECT_EQ(in.ReadableBytes(), text.size() - 256);
}

TEST(HttpRequestParser, HeadLongerThanTheLimitIs431WhenFedInPieces) {
  HttpRequestParser p(HttpParserLimits{.max_head_bytes = 256, .max_headers = 64});
  wire::Buffer in;
  ASSERT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ", &in), Result::kNeedMore);
  Result r = Result::kNeedMore;
  for (int i = 0; i < 100 && r == Result::kNeedMore; ++i) r = FeedAll(&p, std::string(10, 'a'), &in);
  EXPECT_EQ(r, Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kHeaderFieldsTooLarge);
}

TEST(HttpRequestParser, LongTargetCountsTowardTheHeadLimit) {
  HttpRequestParser p(HttpParserLimits{.max_head_bytes = 128, .max_headers = 64});
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "GET /" + std::string(200, 'a') + " HTTP/1.1\r\n", &in), Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kHeaderFieldsTooLarge);
}

TEST(HttpRequestParser, HeadOfExactlyTheLimitIsAccepted) {
  std::string text = "GET / HTTP/1.1\r\nHost: h\r\nX: \r\n\r\n";
  const size_t pad = 100 - text.size();
  text.insert(text.size() - 4, std::string(pad, 'v'));
  ASSERT_EQ(text.size(), 100u);
  HttpRequestParser p(HttpParserLimits{.max_head_bytes = 100, .max_headers = 64});
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, text, &in), Result::kComplete) << p.error();
}

TEST(HttpRequestParser, MoreHeadersThanTheLimitIs431) {
  HttpRequestParser p(HttpParserLimits{.max_head_bytes = 8192, .max_headers = 4});
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", &in), Result::kError);
  EXPECT_EQ(p.error_status(), HttpStatus::kHeaderFieldsTooLarge);
}

TEST(HttpRequestParser, HeadersUpToTheLimitAreAccepted) {
  HttpRequestParser p(HttpParserLimits{.max_head_bytes = 8192, .max_headers = 4});
  wire::Buffer in;
  EXPECT_EQ(FeedAll(&p, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &in), Result::kComplete)
      << p.error();
}

}  // namespace
}  // namespace muxchat::server
