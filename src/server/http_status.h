// The HTTP status codes muxchatd answers with, and their reason phrases. The
// HTTP side of the port serves /metrics, /healthz, the web client's static
// files and the /ws upgrade, so the set is small and closed.
#ifndef MUXCHAT_SERVER_HTTP_STATUS_H_
#define MUXCHAT_SERVER_HTTP_STATUS_H_

namespace muxchat::server {

enum class HttpStatus {
  kOk = 200,
  kBadRequest = 400,
  kForbidden = 403,
  kNotFound = 404,
  kMethodNotAllowed = 405,
  kRequestTimeout = 408,
  kPayloadTooLarge = 413,
  kHeaderFieldsTooLarge = 431,
  kServiceUnavailable = 503,
};

inline int HttpStatusCode(HttpStatus s) { return static_cast<int>(s); }

inline const char* HttpReasonPhrase(HttpStatus s) {
  switch (s) {
    case HttpStatus::kOk: return "OK";
    case HttpStatus::kBadRequest: return "Bad Request";
    case HttpStatus::kForbidden: return "Forbidden";
    case HttpStatus::kNotFound: return "Not Found";
    case HttpStatus::kMethodNotAllowed: return "Method Not Allowed";
    case HttpStatus::kRequestTimeout: return "Request Timeout";
    case HttpStatus::kPayloadTooLarge: return "Payload Too Large";
    case HttpStatus::kHeaderFieldsTooLarge: return "Request Header Fields Too Large";
    case HttpStatus::kServiceUnavailable: return "Service Unavailable";
  }
  return "Unknown";
}

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_HTTP_STATUS_H_
