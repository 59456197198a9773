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
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "src/client/account_login.h"
#include "src/client/room_table.h"
#include "src/client/server_status.h"
#include "src/client/session_common.h"

namespace muxchat::client {
namespace {

std::string Members(uint32_t n) { return absl::StrCat(n, n == 1 ? " member" : " members"); }

}  // namespace

InteractiveSession::InteractiveSession(const CliOptions& options, int signal_fd, LineStyle style)
    : options_(options), signal_fd_(signal_fd), style_(style), servers_(options.ServerList()) {}

int InteractiveSession::Run() {
  auto connected = ConnectToFirstServer(servers_, options_.TlsOptions(), [](const std::string& line) {
    std::fprintf(stderr, "muxchat: %s\n", line.c_str());
  });
  if (!connected.ok()) return kExitConnectFailed;
  client_ = std::move(*connected);
  client_->set_interrupt_fd(signal_fd_);
  servers_.Connected();
  std::printf("connected to %s port %u%s; Ctrl+C or Ctrl+D quits\n", servers_.current().host.c_str(),
              servers_.current().port, options_.tls ? (" over " + client_->transport()).c_str() : "");
  std::fflush(stdout);
  if (!options_.user.empty() && !LogInUser()) {
    client_->Close();
    return *exit_code_;
  }
  ui_.Start(PromptText());
  if (logged_in_) {
    System(absl::StrCat("logged in as ", client_->nickname(), " (account; server ", client_->welcome().server_version(),
                        "); type HELP for commands"));
    if (!join_after_resume_) JoinInitialRooms();
  } else if (!options_.nick.empty()) {
    TryNick(options_.nick);
  }

  while (!exit_code_.has_value()) {
    while (!down_ && !exit_code_.has_value() && client_->HasQueuedEvent()) {
      auto ev = client_->NextEvent(absl::ZeroDuration());
      if (ev.ok()) HandleEvent(*ev);
    }
    if (exit_code_.has_value()) break;
    if (!down_ && !prompt_closed_ && client_->closed()) {
      if (!logged_in_ && IsLoginTimeout(client_->close_status())) {
        prompt_closed_ = true;  // said nothing: the nickname reconnects
      } else {
        ConnectionLost(DescribeLoss(*client_, client_->close_status()));
        if (exit_code_.has_value()) break;
      }
    }
    if (down_ && absl::Now() >= reconnect_at_) {
      TryReconnect();
      continue;
    }
    int timeout_ms = -1;
    if (down_) {
      timeout_ms = static_cast<int>(
          std::max<int64_t>(0, absl::ToInt64Milliseconds(absl::Ceil(reconnect_at_ - absl::Now(), absl::Milliseconds(1)))));
    }
    pollfd fds[4] = {
        {signal_fd_, POLLIN, 0},
        {STDIN_FILENO, POLLIN, 0},
        {down_ || prompt_closed_ ? -1 : client_->fd(),
         static_cast<short>(POLLIN | (client_->HasPendingOutput() ? POLLOUT : 0)), 0},
        {ui_.resize_fd(), POLLIN, 0},
    };
    // A lone Esc is told from an escape sequence by a short wait, not by the
    // next key; while disconnected, the next reconnect attempt is due too.
    const int escape_ms = ui_.EscapeTimeoutMillis();
    if (escape_ms >= 0 && (timeout_ms < 0 || escape_ms < timeout_ms)) timeout_ms = escape_ms;
    if (::poll(fds, 4, timeout_ms) < 0) {
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
    if (!down_ && fds[2].revents != 0) client_->Pump().IgnoreError();  // closure is noticed above
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

bool InteractiveSession::LogInUser() {
  if (auto path = TokenStore::DefaultPath(); path.ok()) {
    tokens_.emplace(*path);
  } else {
    std::fprintf(stderr, "muxchat: %s; the session token will not be kept\n", std::string(path.status().message()).c_str());
  }
  AccountLoginOptions a;
  a.server = servers_.current().ToString();
  a.token_keys = TokenKeys(servers_.servers());
  a.user = options_.user;
  a.register_account = options_.register_account;
  a.resume = std::vector<v1::RoomCursor>();  // a kept token restores the account's rooms
  a.signal_fd = signal_fd_;
  a.notice = [](const std::string& text) { std::fprintf(stderr, "muxchat: %s\n", text.c_str()); };
  a.reopen = [this] { return Reopen(); };
  auto r = LogInAccount(*client_, tokens_.has_value() ? &*tokens_ : nullptr, a);
  if (!r.ok()) {
    if (absl::IsCancelled(r.status())) {
      exit_code_ = kExitOk;
      return false;
    }
    const std::string why = client_->closed() ? DescribeLoss(*client_, r.status()) : std::string(r.status().message());
    std::fprintf(stderr, "muxchat: %s as %s: %s\n", options_.register_account ? "cannot register" : "cannot log in",
                 options_.user.c_str(), why.c_str());
    exit_code_ = client_->closed() ? kExitConnectionLost : ExitCodeFor(r.status());
    return false;
  }
  logged_in_ = true;
  stage_ = Stage::kPrompt;
  resume_id_ = r->resumed ? client_->resume_request_id() : 0;
  join_after_resume_ = resume_id_ != 0;
  return true;
}

void InteractiveSession::ConnectionLost(const std::string& why) {
  if (!options_.reconnect || !logged_in_ || (!shutdown_seen_ && !ShouldReconnect(client_->close_status()))) {
    Lost(why);
    return;
  }
  if (!shutdown_seen_) Error(absl::StrCat(why, "; reconnecting (Ctrl+C quits)"));
  shutdown_seen_ = false;
  down_ = true;
  cursor_ = last_seq_;
  resume_id_ = 0;
  reconnect_at_ = absl::Now() + servers_.Lost();
}

void InteractiveSession::ScheduleReconnect() { reconnect_at_ = absl::Now() + servers_.Failed(); }

void InteractiveSession::TryReconnect() {
  const ServerAddress server = servers_.current();
  auto connected = ChatClient::Connect(server.host, server.port, kRequestTimeout, options_.TlsOptions());
  if (!connected.ok()) {
    ScheduleReconnect();
    return;
  }
  client_ = std::move(*connected);
  client_->set_interrupt_fd(signal_fd_);
  absl::Status failed;
  if (!options_.user.empty()) {
    AccountLoginOptions a;
    a.server = server.ToString();
    a.token_keys = TokenKeys(servers_.servers());
    a.user = options_.user;
    a.token_only = true;  // no password prompt in the middle of a session
    a.signal_fd = signal_fd_;
    std::vector<v1::RoomCursor> cursors;
    for (const auto& [id, name] : joined_) {
      v1::RoomCursor c;
      c.set_room_id(id);
      c.set_last_seq(cursor_.count(id) != 0 ? cursor_[id] : 0);
      cursors.push_back(c);
    }
    a.resume = std::move(cursors);
    auto r = LogInAccount(*client_, tokens_.has_value() ? &*tokens_ : nullptr, a);
    if (r.ok()) {
      resume_id_ = r->resumed ? client_->resume_request_id() : 0;
      resumed_rooms_.clear();
    } else {
      failed = r.status();
    }
  } else {
    auto w = client_->Hello(guest_nick_, kRequestTimeout, kClientName);
    if (!w.ok()) failed = w.status();
  }
  if (!failed.ok()) {
    if (absl::IsCancelled(failed)) return;  // Ctrl+C: the signal is still pending; the loop exits
    const auto server = ServerStatusOf(failed);
    if (client_->closed() || server == v1::FAILURE_ALREADY_EXISTS || server == v1::FAILURE_RATE_LIMITED) {
      ScheduleReconnect();  // our old session may not have timed out yet (or that server is failing)
      return;
    }
    Lost(absl::StrCat("cannot log in again: ", failed.message(),
                      options_.user.empty() ? "" : " (start muxchat --user again)"));
    return;
  }
  down_ = false;
  servers_.Connected();
  reconnect_at_ = absl::InfiniteFuture();
  System(absl::StrCat("reconnected to ", server.ToString()));
  if (resume_id_ == 0) AfterReconnect();  // with Resume: once its Reply ends it
}

void InteractiveSession::AfterReconnect() {
  // Rooms the Resume did not restore (or every room, for a guest): join by name.
  const std::map<uint64_t, std::string> rooms = joined_;
  for (const auto& [id, name] : rooms) {
    if (resumed_rooms_.count(id) != 0) continue;
    auto reply = client_->JoinRoom(name, kRequestTimeout);
    if (!reply.ok()) {
      if (client_->closed() || absl::IsCancelled(reply.status())) return;  // the loop handles it
      Error(absl::StrCat("cannot rejoin ", name, ": ", reply.status().message()));
      DropPending(id);
      joined_.erase(id);
      members_.erase(id);
      continue;
    }
    const uint64_t now_id = reply->room_id();
    uint64_t cursor = cursor_.count(id) != 0 ? cursor_[id] : 0;
    if (now_id != id) {
      // A new room under the same name (the server forgot the old one).
      joined_.erase(id);
      joined_[now_id] = reply->room_name();
      members_.erase(id);
      for (Pending& p : pending_) {
        if (p.room_id == id) p.room_id = now_id;
      }
      if (active_ == id) active_ = now_id;
      last_seq_.erase(id);
      oldest_seq_.erase(id);
      cursor = 0;
    }
    members_[now_id].SetCount(reply->member_count());
    members_[now_id].Add(client_->nickname());
    const uint64_t missed = reply->last_seq() > cursor ? reply->last_seq() - cursor : 0;
    if (missed > reply->history_count()) {
      oldest_seq_[now_id] = reply->last_seq() - reply->history_count() + 1;
      System(absl::StrCat(reply->room_name(), ": ", missed, " missed; /history to page"));
    } else {
      System(absl::StrCat("reconnected to ", reply->room_name(), ", ", missed, " missed message", missed == 1 ? "" : "s"));
    }
  }
  resumed_rooms_.clear();
  if (join_after_resume_) {
    join_after_resume_ = false;
    JoinInitialRooms();
  }
  if (stage_ == Stage::kChat) LeaveChatIfEmpty();
  ui_.SetPrompt(PromptText());
  // Before sending anything again: the rooms' replays may hold messages of
  // ours whose echo was lost (the server recognises a resent client_msg_id
  // only within an account's sessions, not a guest's). A round trip puts
  // every replay in the queue; handling them confirms those messages.
  if (!client_->closed() && client_->Ping(1, kRequestTimeout).ok()) {
    while (!exit_code_.has_value() && client_->HasQueuedEvent()) {
      auto ev = client_->NextEvent(absl::ZeroDuration());
      if (ev.ok()) HandleEvent(*ev);
    }
  }
  ResendPending();
}

void InteractiveSession::ResendPending() {
  for (Pending& p : pending_) {
    if (joined_.count(p.room_id) == 0) continue;
    auto sent = client_->Send(p.room_id, p.text, p.client_msg_id);
    if (!sent.ok()) return;  // closed again: the loop notices
    p.request_id = *sent;
    p.client_msg_id = client_->last_client_msg_id();
  }
  ShowPending();
}

void InteractiveSession::NoteSeq(uint64_t room_id, uint64_t seq) {
  uint64_t& last = last_seq_[room_id];
  last = std::max(last, seq);
  auto [it, inserted] = oldest_seq_.emplace(room_id, seq);
  if (!inserted) it->second = std::min(it->second, seq);
}

void InteractiveSession::ShowHistory(const std::string& arg) {
  const auto room = joined_.find(active_);
  if (room == joined_.end()) {
    Error("/history pages the active room: join one first");
    return;
  }
  v1::History query;
  const auto oldest = oldest_seq_.find(active_);
  if (oldest != oldest_seq_.end()) {
    if (oldest->second <= 1) {
      System(absl::StrCat("no older messages in ", room->second));
      return;
    }
    query.set_before_seq(oldest->second);
  }
  uint32_t limit = 0;
  if (!arg.empty()) (void)absl::SimpleAtoi(arg, &limit);
  query.set_limit(limit);
  auto reply = client_->History(active_, query, kRequestTimeout);
  if (!reply.ok()) return Fail("cannot page the history", reply.status());
  if (reply->history_count() == 0) {
    System(absl::StrCat("no older messages stored in ", room->second));
    return;
  }
  page_left_[active_] = reply->history_count();
  System(absl::StrCat("history of ", room->second, ": ", reply->history_count(), " older message",
                      reply->history_count() == 1 ? "" : "s"));
}

void InteractiveSession::Logout() {
  if (options_.user.empty()) {
    Error("you are a guest (no account session to end); QUIT leaves");
    return;
  }
  auto reply = client_->Logout(kRequestTimeout);
  if (!reply.ok() && !client_->closed()) return Fail("cannot log out", reply.status());
  if (tokens_.has_value()) {
    for (const std::string& key : TokenKeys(servers_.servers())) (void)tokens_->Remove(key, options_.user);
  }
  System("logged out: the session token is revoked and forgotten");
  exit_code_ = kExitOk;
}

absl::StatusOr<ChatClient*> InteractiveSession::Reopen() {
  auto connected = ConnectAgainForLogin(servers_.current(), options_.TlsOptions(), signal_fd_);
  if (!connected.ok()) return connected.status();
  client_ = std::move(*connected);
  prompt_closed_ = false;
  return client_.get();
}

void InteractiveSession::TryNick(const std::string& nick) {
  absl::StatusOr<v1::Welcome> welcome;
  for (bool again = false;; again = true) {
    if (prompt_closed_) {
      if (auto reopened = Reopen(); !reopened.ok()) return Lost(std::string(reopened.status().message()));
    }
    welcome = client_->Hello(nick, kRequestTimeout, kClientName);
    // The server's timeout may also come as the answer, unread until now.
    if (welcome.ok() || again || !client_->closed() || !IsLoginTimeout(client_->close_status())) break;
    prompt_closed_ = true;
  }
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
  logged_in_ = true;
  guest_nick_ = welcome->nickname();
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
  if (down_ && NeedsServer(command.kind)) {
    Error("not connected: reconnecting (Ctrl+C quits)");
    return;
  }
  switch (command.kind) {
    case CommandKind::kHistory:
      ShowHistory(command.arg);
      return;
    case CommandKind::kLogout:
      Logout();
      return;
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
  if (down_) {
    // Kept, shown as pending, and sent once the connection is back.
    pending_.push_back({0, active_, text, 0});
    ShowPending();
    return;
  }
  auto sent = client_->Send(active_, text);
  if (!sent.ok()) {
    if (client_->closed()) {
      pending_.push_back({0, active_, text, 0});  // the reconnect sends it
      ShowPending();
      return;
    }
    return Fail("message not sent", sent.status());
  }
  pending_.push_back({*sent, active_, text, client_->last_client_msg_id()});
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
      const auto page = page_left_.find(frame.room_id());
      const bool paging = m.replay() && page != page_left_.end();
      const auto seen = last_seq_.find(frame.room_id());
      // A replay after a reconnect repeats what we showed already: skip it.
      if (m.replay() && !paging && seen != last_seq_.end() && m.seq() <= seen->second) return;
      if (!m.replay() && joined != joined_.end()) members_[frame.room_id()].Add(m.sender());
      // Our own message confirmed (by its client_msg_id; from a server that
      // echoes none, our oldest pending one in the room): it leaves the
      // pending rows and is printed once, as the server stamped it.
      auto it = pending_.end();
      if (m.client_msg_id() != 0) {
        it = std::find_if(pending_.begin(), pending_.end(),
                          [&](const Pending& p) { return p.client_msg_id == m.client_msg_id(); });
      } else if (!m.replay() && m.sender() == client_->nickname()) {
        it = std::find_if(pending_.begin(), pending_.end(),
                          [&](const Pending& p) { return p.room_id == frame.room_id(); });
      }
      if (it != pending_.end()) {
        pending_.erase(it);
        ShowPending();
      }
      if (joined != joined_.end()) NoteSeq(frame.room_id(), m.seq());
      ui_.Print(FormatChatLines(m, frame.room_id() == active_ ? "" : room, style_));
      if (paging && --page->second == 0) {
        page_left_.erase(page);
        System(absl::StrCat("end of the history page of ", room, "; /history for more"));
        return;
      }
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
    case v1::ServerFrame::kRoomResumed: {
      const v1::RoomResumed& r = frame.room_resumed();
      const uint64_t id = frame.room_id();
      resumed_rooms_.insert(id);
      members_[id].SetCount(r.member_count());
      members_[id].Add(client_->nickname());
      if (joined != joined_.end()) {
        const uint64_t cursor = cursor_.count(id) != 0 ? cursor_[id] : 0;
        const uint64_t missed = r.last_seq() > cursor ? r.last_seq() - cursor : 0;
        if (missed > r.replay_count()) {
          // /history pages back from the first replayed message, into the gap.
          oldest_seq_[id] = r.last_seq() - r.replay_count() + 1;
          System(absl::StrCat(joined->second, ": ", missed, " missed; /history to page"));
        } else {
          System(absl::StrCat("reconnected to ", joined->second, ", ", missed, " missed message",
                              missed == 1 ? "" : "s"));
        }
        return;
      }
      // The account's rooms, restored at start.
      joined_[id] = r.name();
      Activate(id);
      System(absl::StrCat("joined ", r.name(), " (", Members(r.member_count()), "); type to chat, /help for commands"));
      if (r.replay_count() > 0) {
        history_left_[id] = r.replay_count();
        System(absl::StrCat("history: the last ", r.replay_count(), " message", r.replay_count() == 1 ? "" : "s"));
      }
      return;
    }
    case v1::ServerFrame::kReply: {
      if (resume_id_ != 0 && frame.request_id() == resume_id_) {
        resume_id_ = 0;  // the Resume is complete
        AfterReconnect();
        return;
      }
      // An answer nobody waited for: a refused message (Send does not
      // wait), or SUCCESS for a resent one the server already had.
      if (frame.reply().status() == v1::SUCCESS) {
        auto it = std::find_if(pending_.begin(), pending_.end(),
                               [&](const Pending& p) { return p.request_id == frame.request_id(); });
        if (it != pending_.end()) {
          pending_.erase(it);
          ShowPending();
        }
        return;
      }
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
      if (options_.reconnect && logged_in_) {
        // Servers restart: say it once, and reconnect when it closes.
        Error(absl::StrCat(DescribeServerEnd(frame), "; reconnecting (Ctrl+C quits)"));
        shutdown_seen_ = true;
        return;
      }
      Lost(DescribeServerEnd(frame));
      return;
    case v1::ServerFrame::kError:
      if (!logged_in_ && frame.error().status() == v1::FAILURE_TIMEOUT) return;  // see prompt_closed_
      if (options_.reconnect && logged_in_ &&
          ShouldReconnect(StatusFromServer(frame.error().status(), frame.error().message()))) {
        return;  // the connection's end says it and reconnects
      }
      Lost(DescribeServerEnd(frame));
      return;
    default:
      return;
  }
}

}  // namespace muxchat::client
