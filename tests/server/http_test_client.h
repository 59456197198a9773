// Test helper: a blocking HTTP/1.0 client for loopback (one request per
// connection, body read to EOF, so no chunked decoding is needed), and a raw
// variant that sends any bytes and returns everything the peer wrote back.
#ifndef MUXCHAT_TESTS_SERVER_HTTP_TEST_CLIENT_H_
#define MUXCHAT_TESTS_SERVER_HTTP_TEST_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace muxchat::server::testing {

// Connects to 127.0.0.1:port, writes `request`, then reads until the peer
// closes or `timeout` passes (an error then).
inline absl::StatusOr<std::string> RawHttpExchange(uint16_t port, const std::string& request,
                                                   absl::Duration timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("connect to port ", port, ": errno ", err));
  }
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the peer may answer and close before reading it all
    sent += static_cast<size_t>(n);
  }
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      ::close(fd);
      return absl::DeadlineExceededError(absl::StrCat("no end of response in time; got: ", out));
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EOF, or a reset after the response
  }
  ::close(fd);
  return out;
}

struct HttpReply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// Splits a raw HTTP/1.x response into status, head and body.
inline absl::StatusOr<HttpReply> ParseHttpReply(const std::string& raw) {
  HttpReply r;
  const size_t end = raw.find("\r\n\r\n");
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0 && raw.compare(0, 9, "HTTP/1.0 ") != 0) {
    return absl::DataLossError(absl::StrCat("not an HTTP response: ", raw.substr(0, 80)));
  }
  if (end == std::string::npos || !absl::SimpleAtoi(raw.substr(9, 3), &r.status)) {
    return absl::DataLossError(absl::StrCat("malformed HTTP response: ", raw.substr(0, 80)));
  }
  r.head = raw.substr(0, end + 2);
  r.body = raw.substr(end + 4);
  return r;
}

// GET `target` from 127.0.0.1:port over HTTP/1.0.
inline absl::StatusOr<HttpReply> HttpGet(uint16_t port, const std::string& target,
                                         absl::Duration timeout = absl::Seconds(10)) {
  absl::StatusOr<std::string> raw = RawHttpExchange(
      port, absl::StrCat("GET ", target, " HTTP/1.0\r\nHost: 127.0.0.1:", port, "\r\n\r\n"), timeout);
  if (!raw.ok()) return raw.status();
  return ParseHttpReply(*raw);
}

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_HTTP_TEST_CLIENT_H_
