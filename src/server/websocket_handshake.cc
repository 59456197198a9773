// The WebSocket opening handshake, server side. See websocket_handshake.h.
#include "src/server/websocket_handshake.h"

#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace muxchat::server {
namespace {

// RFC 6455 §1.3: appended to the key before hashing.
constexpr absl::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// Whether a comma-separated header value lists `token` (case-insensitive).
bool HasToken(absl::string_view value, absl::string_view token) {
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(part), token)) return true;
  }
  return false;
}

bool IsBase64Char(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
}

// A Sec-WebSocket-Key is base64 of exactly 16 bytes: 22 characters and "==".
bool IsValidKey(absl::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (size_t i = 0; i < 22; ++i) {
    if (!IsBase64Char(key[i])) return false;
  }
  std::string raw;
  return absl::Base64Unescape(key, &raw) && raw.size() == 16;
}

// "host[:port]" lower-cased, without the scheme's default port.
std::string NormalizeAuthority(absl::string_view authority, absl::string_view scheme) {
  std::string a = absl::AsciiStrToLower(absl::StripAsciiWhitespace(authority));
  const bool secure = scheme == "https" || scheme == "wss";
  const absl::string_view default_port = secure ? ":443" : ":80";
  // An IPv6 literal ends in ']' unless a port follows, so a suffix test is safe.
  if (absl::EndsWith(a, default_port)) a.resize(a.size() - default_port.size());
  return a;
}

// Splits "scheme://authority" (no path); false if it is not that shape.
bool SplitOrigin(absl::string_view origin, absl::string_view* scheme, absl::string_view* authority) {
  const size_t sep = origin.find("://");
  if (sep == absl::string_view::npos || sep == 0) return false;
  *scheme = origin.substr(0, sep);
  *authority = origin.substr(sep + 3);
  if (authority->empty() || absl::StrContains(*authority, '/')) return false;
  for (char c : *scheme) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// The canonical form an allowed entry and an Origin are compared in.
std::string CanonicalOrigin(absl::string_view scheme, absl::string_view authority) {
  const std::string s = absl::AsciiStrToLower(scheme);
  return absl::StrCat(s, "://", NormalizeAuthority(authority, s));
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 405:
      return "Method Not Allowed";
    case 426:
      return "Upgrade Required";
    default:
      return "Internal Server Error";
  }
}

}  // namespace

absl::StatusOr<OriginPolicy> ParseAllowedOrigins(absl::string_view flag) {
  OriginPolicy policy;
  for (absl::string_view entry : absl::StrSplit(flag, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry == "*") {
      policy.allowed.emplace_back("*");
      continue;
    }
    absl::string_view scheme, authority;
    if (!SplitOrigin(entry, &scheme, &authority)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allowed_origins: '", entry, "' is not scheme://host[:port] or *"));
    }
    policy.allowed.push_back(CanonicalOrigin(scheme, authority));
  }
  return policy;
}

std::string ComputeWebSocketAccept(absl::string_view key) {
  const std::string input = absl::StrCat(key, kWebSocketGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), digest_len));
}

bool IsOriginAllowed(absl::string_view origin, absl::string_view host, const OriginPolicy& policy) {
  if (origin.empty()) return true;  // not a browser page (see OriginPolicy)
  absl::string_view scheme, authority;
  const bool well_formed = SplitOrigin(origin, &scheme, &authority);
  for (const std::string& allowed : policy.allowed) {
    if (allowed == "*") return true;
    if (well_formed && allowed == CanonicalOrigin(scheme, authority)) return true;
  }
  if (!policy.allowed.empty() || !well_formed || host.empty()) return false;
  const std::string s = absl::AsciiStrToLower(scheme);
  return NormalizeAuthority(authority, s) == NormalizeAuthority(host, s);
}

absl::StatusOr<std::string> AcceptWebSocketUpgrade(const WebSocketUpgradeRequest& request,
                                                   const OriginPolicy& policy) {
  if (!request.is_get) return absl::UnimplementedError("a WebSocket upgrade must be a GET");
  if (request.version_major < 1 || (request.version_major == 1 && request.version_minor < 1)) {
    return absl::InvalidArgumentError("a WebSocket upgrade needs HTTP/1.1");
  }
  if (absl::StripAsciiWhitespace(request.host).empty()) {
    return absl::InvalidArgumentError("no Host header");
  }
  if (!HasToken(request.upgrade, "websocket")) {
    return absl::InvalidArgumentError("Upgrade header does not name websocket");
  }
  if (!HasToken(request.connection, "upgrade")) {
    return absl::InvalidArgumentError("Connection header lacks the upgrade token");
  }
  const absl::string_view version = absl::StripAsciiWhitespace(request.sec_websocket_version);
  if (version.empty()) return absl::InvalidArgumentError("no Sec-WebSocket-Version header");
  if (version != "13") {
    return absl::FailedPreconditionError(
        absl::StrCat("Sec-WebSocket-Version ", version, " is not supported; use 13"));
  }
  const absl::string_view key = absl::StripAsciiWhitespace(request.sec_websocket_key);
  if (!IsValidKey(key)) {
    return absl::InvalidArgumentError("Sec-WebSocket-Key is not base64 of 16 bytes");
  }
  if (!IsOriginAllowed(request.origin, request.host, policy)) {
    return absl::PermissionDeniedError(
        absl::StrCat("origin ", request.origin, " is not allowed (--allowed_origins)"));
  }
  return absl::StrCat(
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ",
      ComputeWebSocketAccept(key), "\r\n\r\n");
}

int UpgradeErrorHttpStatus(const absl::Status& error) {
  switch (error.code()) {
    case absl::StatusCode::kUnimplemented:
      return 405;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kFailedPrecondition:
      return 426;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    default:
      return 500;
  }
}

std::string BuildUpgradeRejection(const absl::Status& error) {
  const int status = UpgradeErrorHttpStatus(error);
  const std::string body = absl::StrCat(error.message(), "\n");
  std::string extra;
  if (status == 426) extra = "Sec-WebSocket-Version: 13\r\n";
  if (status == 405) extra = "Allow: GET\r\n";
  return absl::StrCat("HTTP/1.1 ", status, " ", ReasonPhrase(status),
                      "\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: ",
                      body.size(), "\r\n", extra, "Connection: close\r\n\r\n", body);
}

WebSocketUpgradeRequest UpgradeRequestFrom(const HttpRequest& request) {
  WebSocketUpgradeRequest upgrade;
  upgrade.is_get = request.method == HttpRequest::Method::kGet;
  upgrade.version_major = request.version_major;
  upgrade.version_minor = request.version_minor;
  upgrade.host = request.host;
  upgrade.origin = request.origin;
  upgrade.connection = request.connection;
  upgrade.upgrade = request.upgrade;
  upgrade.sec_websocket_key = request.sec_websocket_key;
  upgrade.sec_websocket_version = request.sec_websocket_version;
  return upgrade;
}

}  // namespace muxchat::server
