// InteractiveSession: the terminal client — nickname prompt, command prompt
// (CREATE/JOIN/DELETE/LIST/HELP/QUIT) and chat mode over several joined rooms
// on one connection, as a guest or (--user) an account. A lost connection is
// re-established with backoff, the rooms restored (Resume for accounts,
// JoinRoom for guests) with one line per room saying what was missed, and
// unacknowledged messages are sent again under their client_msg_id. One poll loop over stdin, the connection and a signalfd;
// nothing blocks except bounded request/reply calls.
//
// Thread rule: main thread only. Borrows `signal_fd` (must outlive Run()).
#ifndef MUXCHAT_CLIENT_INTERACTIVE_SESSION_H_
#define MUXCHAT_CLIENT_INTERACTIVE_SESSION_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "src/client/chat_client.h"
#include "src/client/cli_options.h"
#include "src/client/command_parser.h"
#include "src/client/message_format.h"
#include "src/client/room_members.h"
#include "src/client/server_list.h"
#include "src/client/terminal_ui.h"
#include "src/client/token_store.h"

namespace muxchat::client {

class InteractiveSession {
 public:
  InteractiveSession(const CliOptions& options, int signal_fd, LineStyle style);
  InteractiveSession(const InteractiveSession&) = delete;
  InteractiveSession& operator=(const InteractiveSession&) = delete;

  // Runs until QUIT, Ctrl+C/Ctrl+D, or the connection ends; returns the exit code.
  int Run();

 private:
  enum class Stage { kNick, kPrompt, kChat };

  // A message sent and not yet echoed back by the server (request_id 0:
  // typed while disconnected, sent after the reconnect).
  struct Pending {
    uint64_t request_id;
    uint64_t room_id;
    std::string text;
    uint64_t client_msg_id = 0;  // the echo carrying it acknowledges the message
  };

  void TryNick(const std::string& nick);
  // A fresh connection in place of one the server closed before login
  // (see ConnectAgainForLogin); the client it returns is client_.
  absl::StatusOr<ChatClient*> Reopen();
  // --user: logs in to the account before the terminal UI starts (the
  // password prompt needs the terminal). False if the session must end.
  bool LogInUser();
  // The connection is gone: say so, and reconnect to the next server, with
  // backoff between passes over the list (or end).
  void ConnectionLost(const std::string& why);
  // One reconnect attempt (when reconnect_at_ has come).
  void TryReconnect();
  // The attempt on the current server failed: the next one, when due.
  void ScheduleReconnect();
  // After a (re)connect's login: rooms not restored by Resume are joined by
  // name; unacknowledged messages are sent again with their client_msg_id.
  void AfterReconnect();
  void ResendPending();
  // Remembers seqs seen in a room: the newest (the reconnect cursor) and the oldest (/history).
  void NoteSeq(uint64_t room_id, uint64_t seq);
  void ShowHistory(const std::string& arg);
  void Logout();
  void JoinInitialRooms();
  void SendMessage(const std::string& text);
  void ShowPending();
  void DropPending(uint64_t room_id);
  // "/join" in chat mode, "JOIN" at the prompt.
  std::string Form(const char* verb) const;
  void HandleLine(const std::optional<std::string>& line);
  void HandleCommand(const Command& command);
  void HandleEvent(const v1::ServerFrame& frame);
  void Join(const std::string& room);
  void Leave(const std::string& room);
  void Activate(uint64_t room_id);
  void LeaveChatIfEmpty();
  // Reports a failed request: a refusal in one line, or the end of the session.
  void Fail(const std::string& what, const absl::Status& status);
  void Lost(const std::string& why);
  std::optional<uint64_t> FindJoined(const std::string& name) const;
  std::string PromptText() const;
  // Prints what the user typed after the prompt, as the terminal showed it.
  void Echo(const std::string& typed);
  void System(const std::string& text);
  void Error(const std::string& text);

  const CliOptions& options_;
  const int signal_fd_;
  const LineStyle style_;
  TerminalUi ui_;
  std::unique_ptr<ChatClient> client_;
  Stage stage_ = Stage::kNick;
  std::map<uint64_t, std::string> joined_;    // room id -> name
  std::map<uint64_t, uint32_t> history_left_;  // room id -> replayed messages still to come
  std::map<uint64_t, RoomMembers> members_;    // room id -> who is there, as far as we know (/names)
  std::deque<Pending> pending_;                // in send order
  // Text typed in chat mode that stayed on the input line when the last
  // joined room went away: not to be run as a command by accident.
  std::string kept_text_;
  uint64_t active_ = 0;
  std::optional<int> exit_code_;

  // Accounts and reconnecting.
  std::optional<TokenStore> tokens_;       // with --user
  std::string guest_nick_;                 // a guest logs in again under this name
  bool logged_in_ = false;
  // The server closed the connection while the nickname was being chosen
  // (its --handshake_timeout): the nickname, once entered, reconnects first.
  bool prompt_closed_ = false;
  bool down_ = false;                      // disconnected, reconnecting
  bool shutdown_seen_ = false;             // the server announced its shutdown (already said)
  ServerRotation servers_;                 // which server to (re)connect to, and when
  absl::Time reconnect_at_ = absl::InfiniteFuture();
  uint64_t resume_id_ = 0;                 // the Resume in progress (0: none)
  bool join_after_resume_ = false;         // --room rooms wait for the first Resume to end
  std::set<uint64_t> resumed_rooms_;       // rooms its RoomResumed frames named
  std::map<uint64_t, uint64_t> last_seq_;    // room -> newest seq seen
  std::map<uint64_t, uint64_t> oldest_seq_;  // room -> oldest seq seen
  std::map<uint64_t, uint64_t> cursor_;      // room -> newest seq seen when the connection was lost
  std::map<uint64_t, uint32_t> page_left_;   // room -> /history messages still to come
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_INTERACTIVE_SESSION_H_
