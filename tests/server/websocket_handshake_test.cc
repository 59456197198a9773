#include "src/server/websocket_handshake.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

// RFC 6455 §1.3's example key and its accept value.
constexpr char kKey[] = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr char kAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

WebSocketUpgradeRequest GoodRequest() {
  WebSocketUpgradeRequest r;
  r.host = "chat.example.com:7000";
  r.origin = "http://chat.example.com:7000";
  r.connection = "keep-alive, Upgrade";
  r.upgrade = "websocket";
  r.sec_websocket_key = kKey;
  r.sec_websocket_version = "13";
  return r;
}

absl::StatusCode CodeOf(const WebSocketUpgradeRequest& r, const OriginPolicy& p = {}) {
  return AcceptWebSocketUpgrade(r, p).status().code();
}

TEST(WebSocketAccept, MatchesRfcExample) { EXPECT_EQ(ComputeWebSocketAccept(kKey), kAccept); }

TEST(WebSocketUpgrade, GoodRequestGets101WithAccept) {
  absl::StatusOr<std::string> r = AcceptWebSocketUpgrade(GoodRequest(), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(absl::StartsWith(*r, "HTTP/1.1 101 Switching Protocols\r\n"));
  EXPECT_TRUE(absl::StrContains(*r, "\r\nUpgrade: websocket\r\n"));
  EXPECT_TRUE(absl::StrContains(*r, "\r\nConnection: Upgrade\r\n"));
  EXPECT_TRUE(absl::StrContains(*r, std::string("\r\nSec-WebSocket-Accept: ") + kAccept + "\r\n"));
  EXPECT_TRUE(absl::EndsWith(*r, "\r\n\r\n"));
}

TEST(WebSocketUpgrade, HeaderTokensAreCaseInsensitive) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.upgrade = "WebSocket";
  r.connection = "UPGRADE";
  EXPECT_TRUE(AcceptWebSocketUpgrade(r, {}).ok());
}

TEST(WebSocketUpgrade, NotGetIs405) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.is_get = false;
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(UpgradeErrorHttpStatus(AcceptWebSocketUpgrade(r, {}).status()), 405);
}

TEST(WebSocketUpgrade, Http10IsRejected) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.version_minor = 0;
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketUpgrade, MissingHostIsRejected) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.host.clear();
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketUpgrade, UpgradeWithoutWebsocketIsRejected) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.upgrade = "h2c";
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
  r.upgrade.clear();
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketUpgrade, ConnectionWithoutUpgradeTokenIsRejected) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.connection = "keep-alive";
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
  r.connection = "upgrades";  // a token, not a substring
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketUpgrade, MissingVersionIsRejected) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.sec_websocket_version.clear();
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketUpgrade, OtherVersionIs426WithVersionHeader) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.sec_websocket_version = "8";
  const absl::Status s = AcceptWebSocketUpgrade(r, {}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  const std::string resp = BuildUpgradeRejection(s);
  EXPECT_TRUE(absl::StartsWith(resp, "HTTP/1.1 426 Upgrade Required\r\n"));
  EXPECT_TRUE(absl::StrContains(resp, "\r\nSec-WebSocket-Version: 13\r\n"));
}

TEST(WebSocketUpgrade, MissingKeyIsRejected) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.sec_websocket_key.clear();
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketUpgrade, KeyOfWrongLengthIsRejected) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.sec_websocket_key = "dGhlIHNhbXBsZQ==";  // 10 bytes
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
  r.sec_websocket_key = "dGhlIHNhbXBsZSBub25jZSEh";  // 18 bytes, no padding
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketUpgrade, KeyThatIsNotBase64IsRejected) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.sec_websocket_key = "dGhlIHNhbXBsZSBub25jZ!==";
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
  r.sec_websocket_key = "dGhlIHNhbXBsZSBub25jZQ=A";
  EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketUpgrade, KeyWithSurroundingSpacesIsAccepted) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.sec_websocket_key = std::string(" ") + kKey + " ";
  absl::StatusOr<std::string> resp = AcceptWebSocketUpgrade(r, {});
  ASSERT_TRUE(resp.ok());
  EXPECT_TRUE(absl::StrContains(*resp, kAccept));
}

TEST(WebSocketUpgrade, ForeignOriginIs403) {
  WebSocketUpgradeRequest r = GoodRequest();
  r.origin = "https://evil.example";
  const absl::Status s = AcceptWebSocketUpgrade(r, {}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StartsWith(BuildUpgradeRejection(s), "HTTP/1.1 403 Forbidden\r\n"));
}

TEST(WebSocketUpgrade, RejectionIsCompleteHttpResponse) {
  const std::string resp = BuildUpgradeRejection(absl::InvalidArgumentError("bad key"));
  EXPECT_TRUE(absl::StartsWith(resp, "HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_TRUE(absl::StrContains(resp, "\r\nContent-Length: 8\r\n"));
  EXPECT_TRUE(absl::StrContains(resp, "\r\nConnection: close\r\n"));
  EXPECT_TRUE(absl::EndsWith(resp, "\r\n\r\nbad key\n"));
}

// ------------------------------------------------------------------ Origin

TEST(OriginPolicy, NoOriginHeaderIsAllowed) {
  EXPECT_TRUE(IsOriginAllowed("", "chat.example.com", {}));
}

TEST(OriginPolicy, DefaultAllowsSameHostAndPort) {
  EXPECT_TRUE(IsOriginAllowed("http://chat.example.com:7000", "chat.example.com:7000", {}));
  EXPECT_TRUE(IsOriginAllowed("HTTP://Chat.Example.COM:7000", "chat.example.com:7000", {}));
}

TEST(OriginPolicy, DefaultIgnoresDefaultPorts) {
  EXPECT_TRUE(IsOriginAllowed("http://chat.example.com", "chat.example.com:80", {}));
  EXPECT_TRUE(IsOriginAllowed("https://chat.example.com", "chat.example.com:443", {}));
  EXPECT_TRUE(IsOriginAllowed("https://chat.example.com:443", "chat.example.com", {}));
}

TEST(OriginPolicy, DefaultRejectsOtherPortOrHost) {
  EXPECT_FALSE(IsOriginAllowed("http://chat.example.com:8080", "chat.example.com:7000", {}));
  EXPECT_FALSE(IsOriginAllowed("http://evil.example:7000", "chat.example.com:7000", {}));
  EXPECT_FALSE(IsOriginAllowed("http://chat.example.com.evil:7000", "chat.example.com:7000", {}));
}

TEST(OriginPolicy, DefaultRejectsNullAndMalformedOrigins) {
  EXPECT_FALSE(IsOriginAllowed("null", "chat.example.com", {}));
  EXPECT_FALSE(IsOriginAllowed("chat.example.com", "chat.example.com", {}));
  EXPECT_FALSE(IsOriginAllowed("http://chat.example.com/path", "chat.example.com", {}));
}

TEST(OriginPolicy, DefaultHandlesIpv6Literals) {
  EXPECT_TRUE(IsOriginAllowed("http://[::1]:7000", "[::1]:7000", {}));
  EXPECT_FALSE(IsOriginAllowed("http://[::1]:7001", "[::1]:7000", {}));
}

TEST(OriginPolicy, ListedOriginsOnlyWhenListGiven) {
  absl::StatusOr<OriginPolicy> p = ParseAllowedOrigins("https://a.example, http://b.example:8080");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(IsOriginAllowed("https://a.example", "muxchat.internal:7000", *p));
  EXPECT_TRUE(IsOriginAllowed("https://A.example:443", "muxchat.internal:7000", *p));
  EXPECT_TRUE(IsOriginAllowed("http://b.example:8080", "muxchat.internal:7000", *p));
  EXPECT_FALSE(IsOriginAllowed("http://a.example", "muxchat.internal:7000", *p));  // scheme differs
  // With a list, the same-host default no longer applies.
  EXPECT_FALSE(IsOriginAllowed("http://muxchat.internal:7000", "muxchat.internal:7000", *p));
}

TEST(OriginPolicy, StarAllowsAnyOrigin) {
  absl::StatusOr<OriginPolicy> p = ParseAllowedOrigins("*");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(IsOriginAllowed("https://anything.example", "h", *p));
  EXPECT_TRUE(IsOriginAllowed("null", "h", *p));
}

TEST(OriginPolicy, EmptyFlagIsSameHostDefault) {
  absl::StatusOr<OriginPolicy> p = ParseAllowedOrigins("");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->allowed.empty());
}

TEST(OriginPolicy, MalformedFlagEntriesAreRejected) {
  EXPECT_FALSE(ParseAllowedOrigins("chat.example.com").ok());
  EXPECT_FALSE(ParseAllowedOrigins("https://chat.example.com/").ok());
  EXPECT_FALSE(ParseAllowedOrigins("https://").ok());
  EXPECT_FALSE(ParseAllowedOrigins("://x").ok());
}

}  // namespace
}  // namespace muxchat::server
