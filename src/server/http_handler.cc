#include "src/server/http_handler.h"

#include "src/server/metrics.h"

namespace muxchat::server {

HttpResponse HttpErrorResponse(HttpStatus status) {
  HttpResponse r = HttpResponse::Text(status, HttpReasonPhrase(status));
  if (status == HttpStatus::kMethodNotAllowed) r.headers.push_back({"Allow", "GET, HEAD"});
  return r;
}

HttpResponse HandleHttpRequest(const HttpRequest& request, const HttpHandlerContext& context,
                               absl::FunctionRef<std::string()> render_metrics) {
  if (request.path == "/healthz") {
    if (context.shutting_down) return HttpResponse::Text(HttpStatus::kServiceUnavailable, "shutting down");
    if (context.cluster_unreachable) {
      return HttpResponse::Text(HttpStatus::kServiceUnavailable, "cluster redis unreachable");
    }
    return HttpResponse::Text(HttpStatus::kOk, "ok");
  }
  if (request.path == "/metrics") {
    if (context.metrics_access == MetricsAccess::kOff) return HttpErrorResponse(HttpStatus::kNotFound);
    if (!context.metrics_allowed) {
      return HttpResponse::Text(HttpStatus::kForbidden, "metrics are served to loopback peers only (--metrics)");
    }
    HttpResponse r;
    r.content_type = kPrometheusTextContentType;
    r.body = render_metrics();
    return r;
  }
  if (context.web_root != nullptr) return context.web_root->Serve(request.path);
  if (request.path == "/" || request.path == "/index.html") return WebClientNotBuiltResponse();
  return HttpErrorResponse(HttpStatus::kNotFound);
}

}  // namespace muxchat::server
