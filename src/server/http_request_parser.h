// An incremental, bounded parser for one HTTP/1.x request head, on Joyent's
// http_parser (Debian's libhttp-parser). The port's sniffer hands it the
// bytes of a connection that starts with an HTTP method; it yields one
// complete GET or HEAD request (method, target, version and the few headers
// muxchatd reads), or the status to answer a bad one with. Bodies are refused:
// only GET and HEAD are served, and every response closes the connection, so
// one parser reads one request. Single-threaded; owned by its connection.
#ifndef MUXCHAT_SERVER_HTTP_REQUEST_PARSER_H_
#define MUXCHAT_SERVER_HTTP_REQUEST_PARSER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "src/server/http_status.h"
#include "src/wire/buffer.h"

namespace muxchat::server {

struct HttpRequest {
  enum class Method { kGet, kHead };
  Method method = Method::kGet;
  std::string target;  // as sent: "/metrics?x=1" or absolute "http://h/metrics"
  std::string path;    // the target's path, "/" when it has none
  std::string query;   // after '?', without it; empty if none
  int version_major = 1;
  int version_minor = 1;
  // The headers muxchatd reads (names matched case-insensitively). A header
  // sent twice is joined with ", " (RFC 9110 §5.3), except Host, which must
  // be unique. Empty when absent.
  std::string host;
  std::string origin;
  std::string connection;
  std::string upgrade;
  std::string sec_websocket_key;
  std::string sec_websocket_version;
  // True when the request asks to switch protocols (Connection: upgrade plus
  // an Upgrade header); the bytes after the head then belong to that protocol
  // and are left in the buffer.
  bool upgrade_requested = false;
};

struct HttpParserLimits {
  // Request line plus headers, CRLFs included. 8 KiB is the common default of
  // nginx and Apache for one header line; a scraper sends a few hundred bytes.
  size_t max_head_bytes = 8 * 1024;
  // Header fields; a scraper sends under ten, a browser about twenty.
  size_t max_headers = 64;
};

class HttpRequestParser {
 public:
  enum class Result {
    kNeedMore,  // the head is not complete; feed more bytes
    kComplete,  // request() holds the request
    kError,     // error_status() says how to answer, error() why
  };

  explicit HttpRequestParser(HttpParserLimits limits = {});
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses bytes from the front of `in` and consumes those it used. Call again
  // with more bytes after kNeedMore; bytes after a complete head (pipelined
  // requests, an upgraded protocol's data) are left in `in`. Once kComplete or
  // kError is returned, later calls return the same and consume nothing.
  //
  // Errors: 405 for a method other than GET or HEAD (as soon as the method is
  // read), 413 for a GET or HEAD that announces a body (Content-Length > 0 or
  // Transfer-Encoding), 431 past max_head_bytes or max_headers, 400 for
  // anything malformed (request line, version other than 1.0/1.1, header
  // syntax, HTTP/1.1 without exactly one Host, a target that is not a path).
  Result Feed(wire::Buffer* in);

  const HttpRequest& request() const { return request_; }
  HttpStatus error_status() const { return error_status_; }
  // For logs: what was wrong, e.g. "invalid HTTP method".
  const std::string& error() const { return error_; }
  // Head bytes consumed so far.
  size_t head_bytes() const { return head_bytes_; }

 private:
  struct Callbacks;
  struct Impl;

  Result Fail(HttpStatus status, std::string why);
  bool StartValue();  // at a header's first value byte: picks value_
  bool FinishHead();  // at headers-complete: checks and fills path/query

  const HttpParserLimits limits_;
  std::unique_ptr<Impl> impl_;  // http_parser state, kept out of this header
  Result result_ = Result::kNeedMore;
  HttpRequest request_;
  HttpStatus error_status_ = HttpStatus::kBadRequest;
  std::string error_;
  size_t head_bytes_ = 0;

  // Header bookkeeping across callbacks (a name or value may arrive in pieces).
  size_t header_count_ = 0;
  bool in_value_ = false;         // last callback was a header value
  std::string field_;             // the current header name (first 32 bytes)
  std::string* value_ = nullptr;  // where the current value goes, null if ignored
  unsigned seen_ = 0;             // bit per header of ours already seen
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_HTTP_REQUEST_PARSER_H_
