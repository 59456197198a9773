// The built web client (web/dist) served over HTTP at "/" on the one port:
// maps a request path to a file under the root, safely (no "..", encoded or
// not, no hidden files, and the realpath of the file must stay under the
// realpath of the root, so a symlink cannot lead out), and answers it with its
// Content-Type, the page's Content-Security-Policy and nosniff. Files are read
// on request (so a rebuilt web/dist is served without a restart), each bounded
// by kMaxWebFileBytes: the assets are a few hundred KiB in the page cache, so
// the blocking read on the loop thread is short and bounded.
// WebRoot is immutable after Open; any thread.
#ifndef MUXCHAT_SERVER_WEB_ROOT_H_
#define MUXCHAT_SERVER_WEB_ROOT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "src/server/http_response.h"

namespace muxchat::server {

// Larger files are not served (404, logged by the caller's status line).
inline constexpr size_t kMaxWebFileBytes = 8 << 20;

// What the page may load and connect to: its own origin only (WebSocket
// included: 'self' covers ws: and wss: to the same host and port), no inline
// script or style, no framing. The same policy web/test/mock_server.mjs sends.
inline constexpr char kWebContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// The path relative to the root that URL path `url_path` names ("/" is
// "index.html"), after percent-decoding. InvalidArgument for anything that
// could leave the root or is not a plain file name: not starting with '/',
// a bad or NUL escape, a backslash, an empty, "." or ".." segment, or a
// segment starting with '.' (hidden files). Checked after decoding, so
// "%2e%2e" and "%2F" are refused like ".." and "/..".
absl::StatusOr<std::string> WebRelativePath(std::string_view url_path);

// The Content-Type for a file name, by extension; application/octet-stream
// for one not known.
std::string_view WebContentType(std::string_view file_name);

class WebRoot {
 public:
  // The root at `dir` (made absolute with realpath). NotFound when `dir` does
  // not exist or holds no index.html, i.e. the client was not built.
  static absl::StatusOr<WebRoot> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }

  // The response for GET/HEAD of `url_path`: 200 with the file, 400 for a
  // path WebRelativePath refuses, 404 for a missing, non-regular, escaping
  // or too large file.
  HttpResponse Serve(std::string_view url_path) const;

 private:
  explicit WebRoot(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;  // realpath of the root, no trailing '/'
};

// The 404 for "/" when no web root is being served: says how to build it.
HttpResponse WebClientNotBuiltResponse();

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_WEB_ROOT_H_
