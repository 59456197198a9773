// What muxchatd answers to an HTTP request on its port: GET/HEAD /metrics
// (Prometheus text, if --metrics allows the peer), /healthz (200 "ok", 503
// while shutting down), any other path from the web client's files
// (--web_root; 404 when none), and the error responses for
// requests the parser refused. Knows no sockets: the caller parses, renders
// and writes. Pure functions; any thread (render_metrics runs on the caller's).
#ifndef MUXCHAT_SERVER_HTTP_HANDLER_H_
#define MUXCHAT_SERVER_HTTP_HANDLER_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "src/server/http_request_parser.h"
#include "src/server/http_response.h"
#include "src/server/metrics_access.h"
#include "src/server/web_root.h"

namespace muxchat::server {

struct HttpHandlerContext {
  MetricsAccess metrics_access = MetricsAccess::kLoopback;
  bool metrics_allowed = false;  // MetricsScrapeAllowed for this peer
  bool shutting_down = false;
  // A cluster node that cannot reach its Redis (it refuses sends): a load
  // balancer should send new clients to another node.
  bool cluster_unreachable = false;
  // The built web client, served for every other path; null when there is
  // none (then "/" says how to build it). Borrowed for the call.
  const WebRoot* web_root = nullptr;
};

// The response to a parsed request. `render_metrics` is called only for an
// allowed GET or HEAD /metrics.
HttpResponse HandleHttpRequest(const HttpRequest& request, const HttpHandlerContext& context,
                               absl::FunctionRef<std::string()> render_metrics);

// The response to a request the parser refused with `status` (400, 405, 413,
// 431), or to one that did not arrive in time (408). A 405 says Allow: GET, HEAD.
HttpResponse HttpErrorResponse(HttpStatus status);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_HTTP_HANDLER_H_
