// Helpers shared by the interactive session and script mode: turning a
// ChatClient failure into a one-line reason and an exit code, and reading the
// signalfd both modes poll. Pure apart from ReadSignal (one read(2)).
#ifndef MUXCHAT_CLIENT_SESSION_COMMON_H_
#define MUXCHAT_CLIENT_SESSION_COMMON_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/client/chat_client.h"
#include "src/client/exit_codes.h"
#include "src/client/room_members.h"
#include "src/client/server_list.h"

namespace muxchat::client {

// How long a request may wait for its answer.
inline constexpr absl::Duration kRequestTimeout = absl::Seconds(10);
inline constexpr const char* kClientName = "muxchat-cli/0.1";

// True when `status` means the connection is gone (closed, dropped, or a
// connection-fatal server error) rather than a refusal of one request.
bool IsConnectionLoss(const absl::Status& status);

// kExitConnectionLost, kExitRefused (the server said no), or kExitInternal
// (a local timeout or other failure).
ExitCode ExitCodeFor(const absl::Status& status);

// The one line for a server's Shutdown notice or fatal Error frame (`frame`
// holds one of them).
std::string DescribeServerEnd(const v1::ServerFrame& frame);

// Why the connection ended, in one line: the server's shutdown notice or
// Error if one is queued in `client` (consumed), else `status`'s message.
std::string DescribeLoss(ChatClient& client, const absl::Status& status);

// The one line for a failed ChatClient::Connect to `host`:`port`, naming the
// address once: the status as is when it names it already ("connect to
// 127.0.0.1:7399: Connection refused", "cannot resolve nosuch: ..."), else
// prefixed with "cannot connect to HOST:PORT: " (TLS failures, timeouts).
std::string ConnectFailure(const std::string& host, uint16_t port, const absl::Status& status);

// The first connect of a run: tries each server of `rotation` once, from
// current() in list order, and returns the first connection made, leaving
// `rotation` at that server. `failed` is told the ConnectFailure line of
// each server that did not answer. If none did: the last failure, with the
// rotation back at the entry it started from.
absl::StatusOr<std::unique_ptr<ChatClient>> ConnectToFirstServer(
    ServerRotation& rotation, const ClientTlsOptions& tls, const std::function<void(const std::string&)>& failed);

// A fresh connection to `server` for a login whose first connection the
// server closed while a person was at the nickname or password prompt (it
// allows --handshake_timeout, 10 s by default, between connect and login):
// interrupted by `signal_fd`; failures carry the ConnectFailure line.
absl::StatusOr<std::unique_ptr<ChatClient>> ConnectAgainForLogin(const ServerAddress& server,
                                                                 const ClientTlsOptions& tls, int signal_fd);

// True if `close_status` is the server giving up on a connection that did
// not log in within its --handshake_timeout.
bool IsLoginTimeout(const absl::Status& close_status);

// The token file's keys for a run with `servers`: every entry's "host:port".
// A login token belongs to the cluster, not to one node: it is kept under
// each entry and looked up under each in order, so a token from node A is
// offered to node B, whatever the order of the list or which nodes a later
// run names, and a one-server run uses the same key as always.
std::vector<std::string> TokenKeys(const std::vector<ServerAddress>& servers);

// The nickname when --nick is not given in script mode: the login name
// (getpwuid, else $USER), so the same user is the same owner run after run;
// muxchat-<pid> only if neither is known.
std::string DefaultNickname();

// True if a client that lost its connection with `close_status` should
// reconnect: a dropped socket, a keepalive or slow-consumer disconnect, the
// server shutting down (servers restart). False when the server refused us
// for good: FAILURE_AUTH (token revoked), a protocol or version mismatch.
bool ShouldReconnect(const absl::Status& close_status);

// Sleeps `duration`, or less if a quit signal arrives on `signal_fd`
// (left unread); returns false then.
bool SleepUnlessSignalled(int signal_fd, absl::Duration duration);

// Asks the server who is in room `room_id` (every ListMembers page) and
// makes `*members` that list. OK too, leaving `*members` as it was, when the
// server predates ListMembers (it refuses the request as FAILURE_INVALID);
// any other failure is returned.
absl::Status FetchMembers(ChatClient& client, uint64_t room_id, RoomMembers* members);

// Reads one pending signal from `signal_fd`; returns its number, 0 if none.
int ReadSignal(int signal_fd);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_SESSION_COMMON_H_
