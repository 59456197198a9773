#include "src/server/http_response.h"

#include "absl/strings/str_cat.h"

namespace muxchat::server {

HttpResponse HttpResponse::Text(HttpStatus status, std::string text) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(text);
  r.body.push_back('\n');
  return r;
}

std::string RenderHttpResponse(const HttpResponse& response, bool head_only, std::optional<absl::Time> date) {
  std::string out = absl::StrCat("HTTP/1.1 ", HttpStatusCode(response.status), " ",
                                 HttpReasonPhrase(response.status), "\r\n");
  if (date.has_value()) {
    // IMF-fixdate, always GMT: "Sun, 06 Nov 1994 08:49:37 GMT".
    absl::StrAppend(&out, "Date: ", absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", *date, absl::UTCTimeZone()),
                    "\r\n");
  }
  absl::StrAppend(&out, "Content-Type: ", response.content_type, "\r\n",
                  "Content-Length: ", response.body.size(), "\r\n");
  for (const auto& [name, value] : response.headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  out.append("Connection: close\r\n\r\n");
  if (!head_only) out.append(response.body);
  return out;
}

}  // namespace muxchat::server
