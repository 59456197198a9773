// Renders one complete HTTP/1.1 response: status line, headers, body. Every
// response muxchatd sends closes the connection (one request per connection:
// scrapes are seconds apart, and no keep-alive state is kept per socket).
// Pure functions; any thread.
#ifndef MUXCHAT_SERVER_HTTP_RESPONSE_H_
#define MUXCHAT_SERVER_HTTP_RESPONSE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "src/server/http_status.h"

namespace muxchat::server {

inline constexpr char kTextPlain[] = "text/plain; charset=utf-8";

struct HttpResponse {
  HttpStatus status = HttpStatus::kOk;
  std::string content_type = kTextPlain;
  std::string body;
  // Further headers in order, e.g. {"Allow", "GET, HEAD"} for a 405.
  std::vector<std::pair<std::string, std::string>> headers;

  // A short text/plain response whose body is `text` plus a newline.
  static HttpResponse Text(HttpStatus status, std::string text);
};

// The bytes to send. `head_only` (a HEAD request) leaves out the body but
// keeps its Content-Length. `date`, if given, adds an RFC 9110 Date header.
std::string RenderHttpResponse(const HttpResponse& response, bool head_only,
                               std::optional<absl::Time> date = std::nullopt);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_HTTP_RESPONSE_H_
