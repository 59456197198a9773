#include "src/client/interactive_session.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/client/room_table.h"
#include "src/client/server_status.h"
#include "src/client/session_common.h"

namespace muxchat::client {
namespace {

std::string Members(uint32_t n) { return absl::StrCat(n, n == 1 ? " member" : " members"); }

}  // namespace

InteractiveSession::InteractiveSession(const CliOptions& options, int signal_fd, LineStyle style)
    : options_(options), signal_fd_(signal_fd), style_(style) {}

int InteractiveSession::Run() {
  auto connected = ChatClient::Connect(options_.host, options_.port, kRequestTimeout, options_.TlsOptions());
  if (!connected.ok()) {
    std::fprintf(stderr, "muxchat: %s\n", ConnectFailure(options_.host, options_.port, connected.status()).c_str());
    return kExitConnectFailed;
  }
  client_ = std::move(*connected);
  client_->set_interrupt_fd(signal_fd_);
  std::printf("connected to %s port %u%s; Ctrl+C or Ctrl+D quits\n", options_.host.c_str(), options_.port,
              options_.tls ? (" over " + client_->transport()).c_str() : "");
  ui_.Start(PromptText());
  if (!options_.nick.empty()) TryNick(options_.nick);

  while (!exit_code_.has_value()) {
    while (!exit_code_.has_value() && client_->HasQueuedEvent()) {
      auto ev = client_->NextEvent(absl::ZeroDuration());
      if (ev.ok()) HandleEvent(*ev);
    }
    if (exit_code_.has_value()) break;
    if (client_->closed()) {
      Lost(DescribeLoss(*client_, client_->close_status()));
      break;
    }
    pollfd fds[4] = {
        {signal_fd_, POLLIN, 0},
        {STDIN_FILENO, POLLIN, 0},
        {client_->fd(), static_cast<short>(POLLIN | (client_->HasPendingOutput() ? POLLOUT : 0)), 0},
        {ui_.resize_fd(), POLLIN, 0},
    };
    // A lone Esc is told from an escape sequence by a short wait, not by the next key.
    if (::poll(fds, 4, ui_.EscapeTimeoutMillis()) < 0) {
      if (errno == EINTR) continue;
      Lost("poll failed");
      break;
    }
    if (fds[0].revents & POLLIN) {
      ReadSignal(signal_fd_);
      exit_code_ = kExitOk;  // Ctrl+C, SIGTERM, SIGHUP: a clean exit
      break;
    }
    if (fds[3].revents & POLLIN) ui_.OnResize();
    if (fds[2].revents != 0) client_->Pump().IgnoreError();  // closure is noticed above
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (fds[1].revents & POLLIN) {
        ui_.OnReadable();
      } else {
        exit_code_ = kExitOk;  // the terminal went away
      }
    }
    if (ui_.EscapeTimeoutMillis() == 0) ui_.OnEscapeTimeout();
    std::optional<std::string> line;
    while (!exit_code_.has_value() && ui_.TakeLine(&line)) HandleLine(line);
  }
  ui_.Stop();
  client_->Close();
  return *exit_code_;
}

std::string InteractiveSession::PromptText() const {
  switch (stage_) {
    case Stage::kNick:
      return "nickname: ";
    case Stage::kPrompt:
      return "muxchat> ";
    case Stage::kChat: {
      auto it = joined_.find(active_);
      return absl::StrCat("[", it == joined_.end() ? "?" : SanitizeForTerminal(it->second), "]> ");
    }
  }
  return "> ";
}

std::string InteractiveSession::Form(const char* verb) const { return CommandForm(verb, stage_ == Stage::kChat); }

void InteractiveSession::Echo(const std::string& typed) {
  ui_.Print(absl::StrCat(SanitizeForTerminal(PromptText()), SanitizeForTerminal(typed)));
}

void InteractiveSession::System(const std::string& text) { ui_.Print(FormatSystemLine(text, style_)); }
void InteractiveSession::Error(const std::string& text) { ui_.Print(FormatErrorLine(text, style_)); }

void InteractiveSession::Lost(const std::string& why) {
  Error(why);
  exit_code_ = kExitConnectionLost;
}

void InteractiveSession::Fail(const std::string& what, const absl::Status& status) {
  // Ctrl+C during a request: the signal is still pending on signal_fd_, so
  // the main loop exits cleanly on its next poll.
  if (absl::IsCancelled(status)) return;
  if (IsConnectionLoss(status) || client_->closed()) {
    Lost(DescribeLoss(*client_, status));
    return;
  }
  Error(absl::StrCat(what, ": ", status.message()));
}

void InteractiveSession::TryNick(const std::string& nick) {
  auto welcome = client_->Hello(nick, kRequestTimeout, kClientName);
  if (!welcome.ok()) {
    if (absl::IsCancelled(welcome.status())) return;  // Ctrl+C: the main loop exits
    if (IsConnectionLoss(welcome.status()) || client_->closed()) {
      Fail("login failed", welcome.status());
      return;
    }
    const auto server = ServerStatusOf(welcome.status());
    if (server == v1::FAILURE_ALREADY_EXISTS) {
      Error(absl::StrCat("the nickname '", nick, "' is taken; choose another"));
    } else {
      Error(absl::StrCat("nickname '", nick, "' refused: ", welcome.status().message(), "; choose another"));
    }
    return;
  }
  stage_ = Stage::kPrompt;
  System(absl::StrCat("logged in as ", welcome->nickname(), " (server ", welcome->server_version(),
                      "); type HELP for commands"));
  ui_.SetPrompt(PromptText());
  JoinInitialRooms();
}

void InteractiveSession::JoinInitialRooms() {
  for (const std::string& room : options_.rooms) {
    if (exit_code_.has_value()) return;
    Join(room);
  }
}

void InteractiveSession::HandleLine(const std::optional<std::string>& line) {
  if (!line.has_value()) {  // Ctrl+D
    exit_code_ = kExitOk;
    return;
  }
  // A multi-line paste arrives as one text: each line in order.
  std::vector<std::string> lines = absl::StrSplit(*line, '\n');
  for (std::string& l : lines) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
  }
  if (stage_ == Stage::kNick) {
    const std::string nick(absl::StripAsciiWhitespace(lines.front()));
    if (!nick.empty()) {
      Echo(nick);
      TryNick(nick);
    }
    return;
  }
  const bool in_chat = stage_ == Stage::kChat;
  std::vector<Command> commands;
  for (const std::string& l : lines) commands.push_back(ParseCommand(l, in_chat));
  // Refuse the whole text, and give it back, if any message in it is over
  // the server's limit: nothing is sent and nothing is lost.
  const uint32_t max_text = client_->welcome().limits().max_text_bytes();
  for (const Command& c : commands) {
    if (c.kind == CommandKind::kMessage && max_text > 0 && c.arg.size() > max_text) {
      Error(absl::StrCat("not sent: a message of ", c.arg.size(), " bytes is over the server's limit of ", max_text,
                         " bytes; it stays on the input line"));
      ui_.SetInput(*line);
      return;
    }
  }
  // Text typed as a message before our last room went away is not a
  // command: keep it until it can be sent.
  if (!kept_text_.empty() && !in_chat && absl::StartsWith(*line, kept_text_)) {
    for (const Command& c : commands) {
      if (c.kind == CommandKind::kInvalid) {
        Error("not sent: you are in no room now; JOIN one, then press Enter to send it");
        ui_.SetInput(*line);
        return;
      }
    }
  }
  kept_text_.clear();
  for (size_t i = 0; i < commands.size(); ++i) {
    if (exit_code_.has_value()) return;
    // A command stays in the scrollback as typed; a message shows as
    // pending, then as the server's echo.
    if (commands[i].kind != CommandKind::kMessage && commands[i].kind != CommandKind::kEmpty) Echo(lines[i]);
    HandleCommand(commands[i]);
  }
}

std::optional<uint64_t> InteractiveSession::FindJoined(const std::string& name) const {
  for (const auto& [id, room] : joined_) {
    if (absl::EqualsIgnoreCase(room, name)) return id;
  }
  return std::nullopt;
}

void InteractiveSession::Activate(uint64_t room_id) {
  active_ = room_id;
  kept_text_.clear();
  stage_ = Stage::kChat;
  ui_.SetPrompt(PromptText());
}

void InteractiveSession::LeaveChatIfEmpty() {
  if (joined_.count(active_) != 0) return;
  if (!joined_.empty()) {
    Activate(joined_.begin()->first);
    System(absl::StrCat("now chatting in ", joined_.begin()->second));
    return;
  }
  active_ = 0;
  stage_ = Stage::kPrompt;
  kept_text_ = ui_.input();
  System(kept_text_.empty() ? "back at the command prompt (HELP for commands)"
                            : "back at the command prompt (HELP for commands); your unsent text stays on the input "
                              "line until you JOIN a room");
  ui_.SetPrompt(PromptText());
}

void InteractiveSession::HandleCommand(const Command& command) {
  switch (command.kind) {
    case CommandKind::kEmpty:
      return;
    case CommandKind::kInvalid:
      Error(command.arg);
      return;
    case CommandKind::kHelp:
      ui_.Print(CommandHelp(stage_ == Stage::kChat));
      return;
    case CommandKind::kQuit:
      exit_code_ = kExitOk;
      return;
    case CommandKind::kMessage:
      SendMessage(command.arg);
      return;
    case CommandKind::kCreate: {
      auto reply = client_->CreateRoom(command.arg, kRequestTimeout);
      if (!reply.ok()) return Fail(absl::StrCat("cannot create ", command.arg), reply.status());
      System(absl::StrCat("created room ", reply->room_name(), "; ", Form("join"), " ", reply->room_name(),
                          " to enter it"));
      return;
    }
    case CommandKind::kDelete: {
      auto reply = client_->DeleteRoom(command.arg, kRequestTimeout);
      if (!reply.ok()) return Fail(absl::StrCat("cannot delete ", command.arg), reply.status());
      System(absl::StrCat("deleted room ", reply->room_name()));
      return;
    }
    case CommandKind::kList: {
      auto reply = client_->ListAllRooms(kRequestTimeout);
      if (!reply.ok()) return Fail("cannot list rooms", reply.status());
      std::string table = FormatRoomTable(reply->rooms(), absl::Now());
      if (!table.empty() && table.back() == '\n') table.pop_back();
      ui_.Print(table);
      return;
    }
    case CommandKind::kJoin:
      Join(command.arg);
      return;
    case CommandKind::kLeave:
      Leave(command.arg);
      return;
    case CommandKind::kSwitch: {
      const auto id = FindJoined(command.arg);
      if (!id.has_value()) {
        Error(absl::StrCat("you are not in ", command.arg, " (/join ", command.arg, " first)"));
        return;
      }
      Activate(*id);
      System(absl::StrCat("now chatting in ", joined_[*id]));
      return;
    }
    case CommandKind::kNames: {
      const auto id = command.arg.empty() ? std::optional<uint64_t>(active_) : FindJoined(command.arg);
      if (!id.has_value() || joined_.count(*id) == 0) {
        Error(absl::StrCat("you are not in ", command.arg, " (/join ", command.arg, " first)"));
        return;
      }
      if (absl::Status st = FetchMembers(*client_, *id, &members_[*id]); !st.ok()) {
        return Fail(absl::StrCat("cannot list names in ", joined_[*id]), st);
      }
      System(members_[*id].Describe(joined_[*id]));
      return;
    }
    case CommandKind::kRooms: {
      std::string text = "your rooms:";
      for (const auto& [id, name] : joined_) absl::StrAppend(&text, " ", name, id == active_ ? " (active)" : "");
      System(text);
      return;
    }
  }
}

void InteractiveSession::Join(const std::string& room) {
  if (const auto id = FindJoined(room); id.has_value()) {
    Activate(*id);
    System(absl::StrCat("now chatting in ", joined_[*id]));
    return;
  }
  auto reply = client_->JoinRoom(room, kRequestTimeout);
  if (!reply.ok()) {
    if (ServerStatusOf(reply.status()) == v1::FAILURE_NOT_EXISTS && !client_->closed()) {
      Error(absl::StrCat("cannot join ", room, ": ", reply.status().message(), "; ", Form("create"), " ", room,
                         " creates it"));
      return;
    }
    return Fail(absl::StrCat("cannot join ", room), reply.status());
  }
  joined_[reply->room_id()] = reply->room_name();
  members_[reply->room_id()].SetCount(reply->member_count());
  members_[reply->room_id()].Add(client_->nickname());
  Activate(reply->room_id());
  System(absl::StrCat("joined ", reply->room_name(), " (", Members(reply->member_count()),
                      "); type to chat, /help for commands"));
  if (reply->history_count() > 0) {
    history_left_[reply->room_id()] = reply->history_count();
    System(absl::StrCat("history: the last ", reply->history_count(), " message",
                        reply->history_count() == 1 ? "" : "s"));
  }
}

void InteractiveSession::Leave(const std::string& room) {
  uint64_t id = active_;
  if (!room.empty()) {
    const auto found = FindJoined(room);
    if (!found.has_value()) {
      Error(absl::StrCat("you are not in ", room));
      return;
    }
    id = *found;
  }
  auto reply = client_->LeaveRoom(id, kRequestTimeout);
  if (!reply.ok()) return Fail(absl::StrCat("cannot leave ", joined_[id]), reply.status());
  System(absl::StrCat("left ", joined_[id]));
  DropPending(id);
  joined_.erase(id);
  history_left_.erase(id);
  members_.erase(id);
  LeaveChatIfEmpty();
}

void InteractiveSession::SendMessage(const std::string& text) {
  auto sent = client_->Send(active_, text);
  if (!sent.ok()) return Fail("message not sent", sent.status());
  pending_.push_back({*sent, active_, text});
  ShowPending();
}

void InteractiveSession::DropPending(uint64_t room_id) {
  const size_t before = pending_.size();
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [&](const Pending& p) { return p.room_id == room_id; }),
                 pending_.end());
  if (pending_.size() != before) ShowPending();
}

void InteractiveSession::ShowPending() {
  std::vector<std::string> rows;
  for (const Pending& p : pending_) {
    const auto room = joined_.find(p.room_id);
    rows.push_back(FormatPendingLine(client_->nickname(), p.text,
                                     p.room_id == active_ || room == joined_.end() ? "" : room->second));
  }
  ui_.SetPending(std::move(rows));
}

void InteractiveSession::HandleEvent(const v1::ServerFrame& frame) {
  const auto joined = joined_.find(frame.room_id());
  const std::string room = joined != joined_.end() ? joined->second : absl::StrCat("#", frame.room_id());
  switch (frame.body_case()) {
    case v1::ServerFrame::kChatMessage: {
      const v1::ChatMessage& m = frame.chat_message();
      if (!m.replay() && joined != joined_.end()) members_[frame.room_id()].Add(m.sender());
      if (!m.replay() && m.sender() == client_->nickname()) {
        // Our own message confirmed: it leaves the pending rows and is
        // printed once, as the server stamped it.
        auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&](const Pending& p) { return p.room_id == frame.room_id(); });
        if (it != pending_.end()) {
          pending_.erase(it);
          ShowPending();
        }
      }
      ui_.Print(FormatChatLines(m, frame.room_id() == active_ ? "" : room, style_));
      if (m.replay()) {
        auto it = history_left_.find(frame.room_id());
        if (it != history_left_.end() && --it->second == 0) {
          history_left_.erase(it);
          System(absl::StrCat("end of history; live messages in ", room, " follow"));
        }
      }
      return;
    }
    case v1::ServerFrame::kMemberJoined:
      if (joined != joined_.end()) {
        members_[frame.room_id()].Add(frame.member_joined().nickname());
        members_[frame.room_id()].SetCount(frame.member_joined().member_count());
      }
      System(absl::StrCat(frame.member_joined().nickname(), " joined ", room, " (",
                          Members(frame.member_joined().member_count()), ")"));
      return;
    case v1::ServerFrame::kMemberLeft:
      if (joined != joined_.end()) {
        members_[frame.room_id()].Remove(frame.member_left().nickname());
        members_[frame.room_id()].SetCount(frame.member_left().member_count());
      }
      System(absl::StrCat(frame.member_left().nickname(), " left ", room, " (", frame.member_left().reason(), "; ",
                          Members(frame.member_left().member_count()), ")"));
      return;
    case v1::ServerFrame::kRoomClosed: {
      const v1::RoomClosed& closed = frame.room_closed();
      // Our own DELETE already said "deleted room X".
      if (!absl::EqualsIgnoreCase(closed.closed_by(), client_->nickname())) System(absl::StrCat("room ", closed.name(), " was deleted by ", closed.closed_by(),
                          closed.reason().empty() ? "" : absl::StrCat(" (", closed.reason(), ")")));
      DropPending(frame.room_id());
      joined_.erase(frame.room_id());
      history_left_.erase(frame.room_id());
      members_.erase(frame.room_id());
      if (stage_ == Stage::kChat) LeaveChatIfEmpty();
      return;
    }
    case v1::ServerFrame::kReply: {
      // An answer nobody waited for: a refused message (Send does not wait).
      if (frame.reply().status() == v1::SUCCESS) return;
      auto it = std::find_if(pending_.begin(), pending_.end(),
                             [&](const Pending& p) { return p.request_id == frame.request_id(); });
      std::string what;
      if (it != pending_.end()) {
        what = absl::StrCat(" '", absl::string_view(it->text).substr(0, 40), it->text.size() > 40 ? "...'" : "'");
        pending_.erase(it);
        ShowPending();
      }
      Error(absl::StrCat("message", what, " not delivered: ", frame.reply().message()));
      return;
    }
    case v1::ServerFrame::kShutdown:
    case v1::ServerFrame::kError:
      Lost(DescribeServerEnd(frame));
      return;
    default:
      return;
  }
}

}  // namespace muxchat::client
