#include "src/client/session_common.h"

#include <poll.h>
#include <pwd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/clock.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/client/server_status.h"

namespace muxchat::client {

bool IsConnectionLoss(const absl::Status& status) {
  if (status.ok()) return false;
  if (const auto server = ServerStatusOf(status); server.has_value()) {
    switch (*server) {
      case v1::FAILURE_HANDSHAKE:
      case v1::FAILURE_VERSION_MISMATCH:
      case v1::FAILURE_FRAME_TOO_LARGE:
      case v1::FAILURE_PROTOCOL:
      case v1::FAILURE_SLOW_CONSUMER:
      case v1::FAILURE_TIMEOUT:
      case v1::FAILURE_SERVER_FULL:
        return true;
      default:
        return false;
    }
  }
  return status.code() == absl::StatusCode::kUnavailable || status.code() == absl::StatusCode::kDataLoss;
}

ExitCode ExitCodeFor(const absl::Status& status) {
  // Cancelled: the user's Ctrl+C (or SIGTERM) cut a blocking request short.
  if (status.ok() || absl::IsCancelled(status)) return kExitOk;
  if (IsConnectionLoss(status)) return kExitConnectionLost;
  if (ServerStatusOf(status).has_value()) return kExitRefused;
  return kExitInternal;
}

std::string DescribeServerEnd(const v1::ServerFrame& frame) {
  if (frame.has_shutdown()) {
    // A reason that only says it again ("server shutting down", muxchatd's
    // own) is left out: "the server is shutting down: server shutting down".
    const std::string& reason = frame.shutdown().reason();
    const bool says_more = !reason.empty() && !absl::EqualsIgnoreCase(reason, "server shutting down");
    return absl::StrCat("the server is shutting down", says_more ? absl::StrCat(": ", reason) : "");
  }
  return absl::StrCat("the server closed the connection: ", frame.error().message());
}

std::string DescribeLoss(ChatClient& client, const absl::Status& status) {
  for (;;) {
    auto ev = client.NextEvent(absl::ZeroDuration());
    if (!ev.ok()) break;
    if (ev->has_shutdown() || ev->has_error()) return DescribeServerEnd(*ev);
  }
  return absl::StrCat("connection to the server lost: ", status.message());
}

std::string ConnectFailure(const std::string& host, uint16_t port, const absl::Status& status) {
  const std::string address =
      host.find(':') != std::string::npos && host.front() != '[' ? absl::StrCat("[", host, "]:", port)
                                                                 : absl::StrCat(host, ":", port);
  const absl::string_view message = status.message();
  if (absl::StrContains(message, address) || absl::StartsWith(message, "cannot resolve")) return std::string(message);
  return absl::StrCat("cannot connect to ", address, ": ", message);
}

absl::StatusOr<std::unique_ptr<ChatClient>> ConnectToFirstServer(
    ServerRotation& rotation, const ClientTlsOptions& tls, const std::function<void(const std::string&)>& failed) {
  absl::Status last;
  for (size_t tried = 0; tried < rotation.servers().size(); ++tried) {
    const ServerAddress& server = rotation.current();
    auto connected = ChatClient::Connect(server.host, server.port, kRequestTimeout, tls);
    if (connected.ok()) return connected;
    last = connected.status();
    if (failed) failed(ConnectFailure(server.host, server.port, last));
    (void)rotation.Failed();  // the delay is for reconnects; a first connect fails after one pass
  }
  return last;
}

absl::StatusOr<std::unique_ptr<ChatClient>> ConnectAgainForLogin(const ServerAddress& server,
                                                                 const ClientTlsOptions& tls, int signal_fd) {
  auto connected = ChatClient::Connect(server.host, server.port, kRequestTimeout, tls);
  if (!connected.ok()) {
    return absl::Status(connected.status().code(), ConnectFailure(server.host, server.port, connected.status()));
  }
  (*connected)->set_interrupt_fd(signal_fd);
  return connected;
}

bool IsLoginTimeout(const absl::Status& close_status) {
  return ServerStatusOf(close_status) == v1::FAILURE_TIMEOUT;
}

std::vector<std::string> TokenKeys(const std::vector<ServerAddress>& servers) {
  std::vector<std::string> keys;
  keys.reserve(servers.size());
  for (const ServerAddress& s : servers) keys.push_back(s.ToString());
  return keys;
}

std::string DefaultNickname() {
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_name != nullptr && pw->pw_name[0] != '\0') {
    return pw->pw_name;
  }
  if (const char* user = std::getenv("USER"); user != nullptr && user[0] != '\0') return user;
  return absl::StrCat("muxchat-", ::getpid());
}

bool ShouldReconnect(const absl::Status& close_status) {
  if (close_status.ok()) return false;
  if (const auto server = ServerStatusOf(close_status); server.has_value()) {
    switch (*server) {
      case v1::FAILURE_AUTH:
      case v1::FAILURE_HANDSHAKE:
      case v1::FAILURE_VERSION_MISMATCH:
      case v1::FAILURE_FRAME_TOO_LARGE:
      case v1::FAILURE_PROTOCOL:
      case v1::FAILURE_PERMISSION_DENIED:
        return false;
      default:
        return true;
    }
  }
  return close_status.code() == absl::StatusCode::kUnavailable ||
         close_status.code() == absl::StatusCode::kDeadlineExceeded;
}

bool SleepUnlessSignalled(int signal_fd, absl::Duration duration) {
  const absl::Time end = absl::Now() + duration;
  for (;;) {
    const absl::Duration left = end - absl::Now();
    if (left <= absl::ZeroDuration()) return true;
    pollfd p{signal_fd, POLLIN, 0};
    const int n = ::poll(&p, signal_fd >= 0 ? 1 : 0,
                         static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))));
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) return false;
  }
}

int ReadSignal(int signal_fd) {
  signalfd_siginfo info{};
  const ssize_t n = ::read(signal_fd, &info, sizeof info);
  return n == static_cast<ssize_t>(sizeof info) ? static_cast<int>(info.ssi_signo) : 0;
}

absl::Status FetchMembers(ChatClient& client, uint64_t room_id, RoomMembers* members) {
  absl::StatusOr<v1::Reply> all = client.ListAllMembers(room_id, kRequestTimeout);
  if (!all.ok()) {
    if (ServerStatusOf(all.status()) == v1::FAILURE_INVALID && !client.closed()) return absl::OkStatus();
    return all.status();
  }
  members->Replace(std::vector<std::string>(all->members().begin(), all->members().end()));
  return absl::OkStatus();
}

}  // namespace muxchat::client
