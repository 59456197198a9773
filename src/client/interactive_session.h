// InteractiveSession: the terminal client — nickname prompt, command prompt
// (CREATE/JOIN/DELETE/LIST/HELP/QUIT) and chat mode over several joined rooms
// on one connection. One poll loop over stdin, the connection and a signalfd;
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
#include <string>

#include "src/client/chat_client.h"
#include "src/client/cli_options.h"
#include "src/client/command_parser.h"
#include "src/client/message_format.h"
#include "src/client/room_members.h"
#include "src/client/terminal_ui.h"

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

  // A message sent and not yet echoed back by the server.
  struct Pending {
    uint64_t request_id;
    uint64_t room_id;
    std::string text;
  };

  void TryNick(const std::string& nick);
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
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_INTERACTIVE_SESSION_H_
