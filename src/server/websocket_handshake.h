// The server side of the WebSocket opening handshake (RFC 6455 §4.2), on an
// HTTP request head someone else has parsed: validates the upgrade request,
// checks its Origin, computes Sec-WebSocket-Accept and builds the 101 answer
// or the rejection. Pure functions, no sockets; callable from any thread.
#ifndef MUXCHAT_SERVER_WEBSOCKET_HANDSHAKE_H_
#define MUXCHAT_SERVER_WEBSOCKET_HANDSHAKE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/server/http_request_parser.h"

namespace muxchat::server {

// What the handshake reads from the request head. Header values as sent (a
// header sent twice joined with ", "); empty when absent. The field names
// match HttpRequest (src/server/http_request_parser.h) so one is filled from
// the other field by field.
struct WebSocketUpgradeRequest {
  bool is_get = true;  // false for HEAD and anything else
  int version_major = 1;
  int version_minor = 1;
  std::string host;
  std::string origin;
  std::string connection;
  std::string upgrade;
  std::string sec_websocket_key;
  std::string sec_websocket_version;
};

// The fields of a parsed request head that the handshake reads.
WebSocketUpgradeRequest UpgradeRequestFrom(const HttpRequest& request);

// Which browser pages may open a WebSocket (--allowed_origins). A request
// without an Origin header is not from a browser page and is always allowed:
// Origin protects users' browsers from other sites' scripts; any other client
// can send whatever Origin it likes anyway.
struct OriginPolicy {
  // Lower-case "scheme://host[:port]" entries, or "*" for any origin. Empty:
  // only pages served by this server, i.e. an Origin whose host[:port] is the
  // request's Host (default ports ignored).
  std::vector<std::string> allowed;
};

// Parses the --allowed_origins flag: comma-separated origins
// ("https://chat.example.com,http://localhost:8080") or "*"; empty gives the
// same-host default. kInvalidArgument for an entry that is not
// scheme://host[:port] (no path, no trailing slash).
absl::StatusOr<OriginPolicy> ParseAllowedOrigins(absl::string_view flag);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string ComputeWebSocketAccept(absl::string_view key);

// Validates an upgrade request and returns the complete "101 Switching
// Protocols" response to write. Errors, each answered by
// BuildUpgradeRejection with the HTTP status in brackets:
//   kUnimplemented      not GET (405)
//   kInvalidArgument    HTTP/1.0, no Host, Upgrade without "websocket",
//                       Connection without "upgrade", no version, or a key
//                       that is not base64 of 16 bytes (400)
//   kFailedPrecondition Sec-WebSocket-Version other than 13 (426, with
//                       "Sec-WebSocket-Version: 13")
//   kPermissionDenied   Origin not allowed by `policy` (403)
absl::StatusOr<std::string> AcceptWebSocketUpgrade(const WebSocketUpgradeRequest& request,
                                                   const OriginPolicy& policy);

// Whether `origin` may connect to a server reached as `host` under `policy`.
bool IsOriginAllowed(absl::string_view origin, absl::string_view host, const OriginPolicy& policy);

// The HTTP status for an AcceptWebSocketUpgrade error (see above).
int UpgradeErrorHttpStatus(const absl::Status& error);
// A complete HTTP response refusing the upgrade: status line, the headers the
// RFC asks for (Sec-WebSocket-Version on 426, Allow on 405), Connection:
// close, and the error's message as a short text/plain body.
std::string BuildUpgradeRejection(const absl::Status& error);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_WEBSOCKET_HANDSHAKE_H_
