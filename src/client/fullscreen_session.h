// FullscreenSession: the full-screen terminal client (the default on a
// terminal; --plain or TERM=dumb selects InteractiveSession's line mode) —
// one window per joined room plus a status window, a status bar of room tabs
// with unread counts and mention highlights, scrollback (PgUp/PgDn), /names,
// Tab completion, an input line with history, and nick colours. Same
// commands as the line mode (CommandParser, /names included) plus /win N
// and the window keys. One poll loop over the quit signalfd, a SIGWINCH signalfd,
// stdin and the connection; nothing blocks but bounded request/reply calls.
//
// Thread rule: main thread only. Borrows `signal_fd` (must outlive Run()).
// Run() blocks SIGWINCH for the process (it arrives through its own signalfd).
#ifndef MUXCHAT_CLIENT_FULLSCREEN_SESSION_H_
#define MUXCHAT_CLIENT_FULLSCREEN_SESSION_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "src/client/chat_client.h"
#include "src/client/cli_options.h"
#include "src/client/command_parser.h"
#include "src/client/completion.h"
#include "src/client/fullscreen_ui.h"
#include "src/client/input_line.h"
#include "src/client/message_format.h"
#include "src/client/server_list.h"
#include "src/client/token_store.h"
#include "src/client/window_list.h"

namespace muxchat::client {

class FullscreenSession {
 public:
  FullscreenSession(const CliOptions& options, int signal_fd, LineStyle style);
  FullscreenSession(const FullscreenSession&) = delete;
  FullscreenSession& operator=(const FullscreenSession&) = delete;

  // Runs until /quit, Ctrl+C, Ctrl+D, a quit signal, or the connection ends;
  // returns the exit code. The terminal is restored before it returns; a
  // reason for an abnormal end is then printed to stderr.
  int Run();

 private:
  void HandleKey(const FullscreenUi::Key& key);
  void Submit();
  void HandleLine(const std::string& line);
  // Full-screen-only commands (/win, and /help with the keys); false if `line` is not one.
  bool HandleLocalCommand(const std::string& line);
  void HandleCommand(const Command& command);
  void HandleEvent(const v1::ServerFrame& frame);
  void TryNick(const std::string& nick);
  // A fresh connection in place of one the server closed before login
  // (see ConnectAgainForLogin); the client it returns is client_.
  absl::StatusOr<ChatClient*> Reopen();
  void Join(const std::string& room);
  void Leave(const std::string& room);
  void Names(const std::string& room);
  void History(const std::string& arg);
  // Reconnecting (as in the line mode, InteractiveSession): the loss, one
  // attempt, and what follows a successful login.
  void ConnectionLost(const std::string& why);
  void TryReconnect();
  void AfterReconnect();
  // Marks our message shown as line `line_id` in `room_id` as delivered;
  // false if no such pending line is shown.
  bool ConfirmLine(uint64_t room_id, uint64_t line_id);
  void SendText(const std::string& text);
  void Fail(const std::string& what, const absl::Status& status);
  void Lost(const std::string& why);
  void System(const std::string& text, RoomWindow* window = nullptr);
  void Error(const std::string& text, RoomWindow* window = nullptr);
  CompletionSources Sources() const;
  std::string Prompt();
  void Redraw();

  const CliOptions& options_;
  const int signal_fd_;
  const LineStyle style_;
  int winch_fd_ = -1;
  FullscreenUi ui_;
  WindowList windows_;
  InputLine input_;
  Completer completer_;
  std::unique_ptr<ChatClient> client_;
  bool logged_in_ = false;
  // The server closed the connection while the nickname was being chosen
  // (its --handshake_timeout): the nickname, once entered, reconnects first.
  bool prompt_closed_ = false;
  bool input_full_reported_ = false;
  std::map<uint64_t, std::deque<uint64_t>> pending_;  // room -> our unconfirmed Send() ids
  std::map<uint64_t, uint32_t> history_left_;          // room -> replayed messages still to come
  std::vector<std::string> known_rooms_;               // from the last /list, for completion
  std::optional<int> exit_code_;
  std::string farewell_;  // printed to stderr after the terminal is restored
  std::optional<TokenStore> tokens_;                  // with --user
  bool join_after_resume_ = false;                    // --room rooms wait for the Resume to end
  std::map<uint64_t, uint64_t> oldest_seq_;           // room -> oldest seq shown (/history pages before it)
  std::map<uint64_t, uint32_t> page_left_;            // room -> /history messages still to come
  // Reconnecting. A message's line in its window is keyed by the request_id
  // of its first send (its "line id"); resends and messages typed while
  // disconnected map back to it.
  struct Outgoing {
    uint64_t room_id = 0;
    std::string text;
    uint64_t client_msg_id = 0;  // 0: never sent
    uint64_t line_id = 0;
  };
  bool down_ = false;
  bool shutdown_seen_ = false;
  ServerRotation servers_;  // which server to (re)connect to, and when
  absl::Time reconnect_at_ = absl::InfiniteFuture();
  uint64_t resume_id_ = 0;
  std::string guest_nick_;
  std::set<uint64_t> resumed_rooms_;
  std::map<uint64_t, uint64_t> last_seq_;   // room -> newest seq seen
  std::map<uint64_t, uint64_t> cursor_;     // room -> newest seq seen when the connection was lost
  std::vector<Outgoing> outgoing_;          // to send once connected again
  std::map<uint64_t, uint64_t> line_of_request_;  // resend's request_id -> line id
  std::map<uint64_t, uint64_t> line_of_msg_;      // client_msg_id -> line id
  uint64_t next_local_line_ = uint64_t{1} << 62;  // line ids of messages typed while disconnected
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_FULLSCREEN_SESSION_H_
