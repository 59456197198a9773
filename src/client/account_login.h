// AccountLogin: logs a fresh connection in as an account for the CLI — with
// the session token kept in the TokenStore when there is one (Resume, which
// restores the account's rooms, or Hello{token}), else with the password
// (Register or Login; asked on the terminal, or $MUXCHAT_PASSWORD; a kept
// token wins over Register too: the account exists), asking
// again after a wrong password when it came from the terminal (a new
// password typed on the terminal is asked twice). A token the
// server refuses is forgotten and the password asked for instead; a new
// token is stored for the next start. With several token keys (the servers
// of one cluster) every different token kept under them is tried in key
// order before the password, and the one that works is kept under all.
//
// Thread rule: main thread only. Borrows the ChatClient, the TokenStore and
// `signal_fd` for the call.
#ifndef MUXCHAT_CLIENT_ACCOUNT_LOGIN_H_
#define MUXCHAT_CLIENT_ACCOUNT_LOGIN_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/muxchat.pb.h"
#include "src/client/chat_client.h"
#include "src/client/token_store.h"

namespace muxchat::client {

struct AccountLoginOptions {
  std::string server;         // "host:port" of the connection: named in the password prompt
  // The token file's keys (TokenKeys: every server of the run); empty: `server`.
  std::vector<std::string> token_keys;
  std::string user;           // account name
  bool register_account = false;
  // Resume (with these cursors) when a token is kept; nullopt: Hello{token}.
  std::optional<std::vector<v1::RoomCursor>> resume;
  // Only the token: a refused or missing token is kPermissionDenied instead
  // of asking for the password (a reconnect in the middle of a session).
  bool token_only = false;
  int signal_fd = -1;
  // Told each notice worth a line ("token refused; asking for the password").
  std::function<void(const std::string&)> notice;
  // Opens a fresh connection to the same server in place of the borrowed
  // one and returns it (the caller owns it). Called when the server closed
  // the connection while the password was being typed: it allows
  // --handshake_timeout (10 s by default) between connect and login, and
  // people take longer. Unset: that login fails with the server's reason.
  std::function<absl::StatusOr<ChatClient*>()> reopen;
};

struct AccountLoginResult {
  v1::Welcome welcome;
  bool resumed = false;  // Resume was used: its rooms follow as events (ChatClient::resume_request_id)
};

// kCancelled: Ctrl+C at the password prompt. A refused login:
// StatusFromServer(...) (FAILURE_AUTH, FAILURE_ALREADY_EXISTS for a taken
// name with --register, ...). Problems with the token file are notices only.
absl::StatusOr<AccountLoginResult> LogInAccount(ChatClient& client, TokenStore* tokens,
                                                const AccountLoginOptions& options);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_ACCOUNT_LOGIN_H_
