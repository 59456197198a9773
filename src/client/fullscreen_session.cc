#include "src/client/fullscreen_session.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "src/client/account_login.h"
#include "src/client/mention.h"
#include "src/client/token_store.h"
#include "src/client/room_table.h"
#include "src/client/server_status.h"
#include "src/client/session_common.h"
#include "src/client/tui_text.h"

namespace muxchat::client {
namespace {

using KeyName = FullscreenUi::KeyName;

constexpr char32_t kCtrl(char c) { return static_cast<char32_t>(c & 0x1f); }

std::string Members(uint32_t n) { return absl::StrCat(n, n == 1 ? " member" : " members"); }

// Network text made safe to draw: control characters neutralised line by
// line, newlines kept (shown as indented continuation lines), tabs as spaces.
std::string SafeText(absl::string_view text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string safe = SanitizeForTerminal(line);
    std::replace(safe.begin(), safe.end(), '\t', ' ');
    lines.push_back(std::move(safe));
  }
  return absl::StrJoin(lines, "\n");
}

constexpr const char* kLocalHelp =
    "full-screen keys and commands:\n"
    "  /win N          go to window N (also Alt+N; Ctrl+N/Ctrl+P next/previous)\n"
    "  PgUp/PgDn       scroll back and forth; Tab completes commands, rooms, nicks\n"
    "  Up/Down         input history; Ctrl+A/E/K/U/W, Home/End, Left/Right edit\n"
    "  Esc             undo a Tab completion, or leave the scrollback\n"
    "  Ctrl+L          repaint the screen\n"
    "  --plain         starts the line mode instead (also used when TERM=dumb)";

}  // namespace

FullscreenSession::FullscreenSession(const CliOptions& options, int signal_fd, LineStyle style)
    : options_(options), signal_fd_(signal_fd), style_(style), servers_(options.ServerList()) {}

int FullscreenSession::Run() {
  auto connected = ConnectToFirstServer(servers_, options_.TlsOptions(), [](const std::string& line) {
    // Say the address once: the library's message may already name it.
    std::fprintf(stderr, "muxchat: %s%s\n", absl::StartsWith(line, "connect to ") ? "cannot " : "", line.c_str());
  });
  if (!connected.ok()) return kExitConnectFailed;
  servers_.Connected();
  client_ = std::move(*connected);
  client_->set_interrupt_fd(signal_fd_);
  // --user: log in before the screen is taken (the password prompt needs the terminal).
  bool resuming = false;
  if (!options_.user.empty()) {
    if (auto path = TokenStore::DefaultPath(); path.ok()) tokens_.emplace(*path);
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
      if (absl::IsCancelled(r.status())) return kExitOk;
      std::fprintf(stderr, "muxchat: %s as %s: %s\n", options_.register_account ? "cannot register" : "cannot log in",
                   options_.user.c_str(), std::string(r.status().message()).c_str());
      return client_->closed() ? kExitConnectionLost : ExitCodeFor(r.status());
    }
    logged_in_ = true;
    resuming = r->resumed;
    resume_id_ = resuming ? client_->resume_request_id() : 0;
  }

  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  ::sigprocmask(SIG_BLOCK, &winch, nullptr);
  winch_fd_ = ::signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);

  if (!ui_.Start(style_.colour)) {
    std::fprintf(stderr, "muxchat: cannot drive this terminal (TERM=%s); try --plain\n",
                 std::getenv("TERM") != nullptr ? std::getenv("TERM") : "");
    if (winch_fd_ >= 0) ::close(winch_fd_);
    return kExitUsage;
  }
  System(absl::StrCat("connected to ", servers_.current().host, " port ", servers_.current().port,
                      "; Ctrl+C, Ctrl+D or /quit exits"));
  if (logged_in_) {
    System(absl::StrCat("logged in as ", client_->nickname(), " (account; server ",
                        client_->welcome().server_version(), "); /join ROOM to chat, /help for commands"));
    if (!resuming) {
      for (const std::string& room : options_.rooms) Join(room);
    } else {
      join_after_resume_ = true;
    }
  } else if (!options_.nick.empty()) {
    Redraw();  // show the screen while the login request waits
    TryNick(options_.nick);
  } else {
    System("choose a nickname and press Enter");
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
      Redraw();
      TryReconnect();
      continue;
    }
    Redraw();
    pollfd fds[4] = {
        {signal_fd_, POLLIN, 0},
        {winch_fd_, POLLIN, 0},
        {STDIN_FILENO, POLLIN, 0},
        {down_ || prompt_closed_ ? -1 : client_->fd(),
         static_cast<short>(POLLIN | (client_->HasPendingOutput() ? POLLOUT : 0)), 0},
    };
    // A lone ESC acts once its delay ends, without waiting for another key;
    // while disconnected, the next reconnect attempt is due too.
    int timeout_ms = ui_.EscapeTimeoutMillis();
    if (down_) {
      const int reconnect_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(absl::Ceil(reconnect_at_ - absl::Now(), absl::Milliseconds(1)))));
      if (timeout_ms < 0 || reconnect_ms < timeout_ms) timeout_ms = reconnect_ms;
    }
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
    if (fds[1].revents & POLLIN) {
      while (ReadSignal(winch_fd_) != 0) {
      }
      ui_.Resize();
    }
    if (!down_ && fds[3].revents != 0) client_->Pump().IgnoreError();  // closure is noticed above
    if (fds[2].revents & (POLLHUP | POLLERR)) exit_code_ = kExitOk;  // the terminal went away
    if ((fds[2].revents & POLLIN) || ui_.EscapeTimeoutMillis() == 0) {
      std::vector<FullscreenUi::Key> keys;
      ui_.ReadKeys(&keys);
      for (const auto& key : keys) {
        if (exit_code_.has_value()) break;
        HandleKey(key);
      }
    }
  }
  ui_.Stop();
  if (winch_fd_ >= 0) ::close(winch_fd_);
  ::sigprocmask(SIG_UNBLOCK, &winch, nullptr);
  if (!farewell_.empty()) std::fprintf(stderr, "muxchat: %s\n", farewell_.c_str());
  client_->Close();
  return *exit_code_;
}

std::string FullscreenSession::Prompt() {
  if (!logged_in_) return "nickname: ";
  RoomWindow& w = windows_.active();
  if (w.room_id() == 0) return "muxchat> ";
  return absl::StrCat("[", w.name(), "] ");
}

void FullscreenSession::Redraw() {
  const int width = ui_.cols();
  RoomWindow& w = windows_.active();
  ScreenRow title;
  if (w.room_id() == 0) {
    title.push_back({absl::StrCat(" muxchat ", client_->nickname().empty() ? "" : client_->nickname() + "@",
                                  servers_.current().ToString(), " | status: server and command output"),
                     Style::kBar, 0});
  } else {
    title.push_back({absl::StrCat(" ", windows_.active_index() + 1, ":", w.name(), " | ", Members(w.members().count()),
                                  " | you are ", client_->nickname()),
                     Style::kBar, 0});
  }
  if (w.scrolled()) title.push_back({"  [scrolled back: PgDn]", Style::kTabUnread, 0});
  std::vector<ScreenRow> body = w.Render(width, ui_.body_rows());
  const std::string prompt = Prompt();
  const InputLine::View view = input_.Layout(std::max(2, width - TextColumns(prompt)));
  // Rows are cut to the width by the renderers; the title is cut here.
  int used = 0;
  for (Segment& s : title) {
    const std::vector<std::string> rows = WrapToWidth(s.text, std::max(2, width - used));
    if (rows.size() > 1 || used >= width) s.text = used >= width ? "" : rows.front();
    used += TextColumns(s.text);
  }
  ui_.Draw(title, body, windows_.StatusBar(width), prompt, view);
}

void FullscreenSession::System(const std::string& text, RoomWindow* window) {
  ScrollLine line;
  line.kind = LineKind::kSystem;
  line.time = absl::FormatTime("%H:%M", absl::Now(), style_.zone);
  line.text = text;
  (window != nullptr ? *window : windows_.active()).Add(std::move(line));
}

void FullscreenSession::Error(const std::string& text, RoomWindow* window) {
  ScrollLine line;
  line.kind = LineKind::kError;
  line.time = absl::FormatTime("%H:%M", absl::Now(), style_.zone);
  line.text = text;
  (window != nullptr ? *window : windows_.active()).Add(std::move(line));
}

void FullscreenSession::Lost(const std::string& why) {
  farewell_ = why;
  exit_code_ = kExitConnectionLost;
}

void FullscreenSession::Fail(const std::string& what, const absl::Status& status) {
  if (absl::IsCancelled(status)) return;  // Ctrl+C: the signal is still pending; the loop exits
  if (IsConnectionLoss(status) || client_->closed()) {
    Lost(DescribeLoss(*client_, status));
    return;
  }
  Error(absl::StrCat(what, ": ", status.message()));
}

void FullscreenSession::HandleKey(const FullscreenUi::Key& key) {
  const bool alt = key.alt;
  if (key.name == KeyName::kEscape) {
    // Esc backs out: of a Tab completion (the word as typed comes back),
    // else of the scrollback (to the newest line); otherwise it does nothing.
    std::u32string text = input_.text();
    size_t cursor = input_.cursor();
    if (completer_.Cancel(&text, &cursor)) {
      input_.Set(std::move(text), cursor);
    } else {
      windows_.active().ScrollToBottom();
    }
    return;
  }
  if (key.name == KeyName::kChar && key.ch == U'\t') {
    std::u32string text = input_.text();
    size_t cursor = input_.cursor();
    if (completer_.Complete(&text, &cursor, Sources())) input_.Set(std::move(text), cursor);
    return;
  }
  completer_.Reset();
  switch (key.name) {
    case KeyName::kEnter:
      Submit();
      return;
    case KeyName::kBackspace:
      input_.Backspace();
      return;
    case KeyName::kDelete:
      input_.Delete();
      return;
    case KeyName::kLeft:
      input_.Left();
      return;
    case KeyName::kRight:
      input_.Right();
      return;
    case KeyName::kUp:
      input_.HistoryUp();
      return;
    case KeyName::kDown:
      input_.HistoryDown();
      return;
    case KeyName::kHome:
      input_.Home();
      return;
    case KeyName::kEnd:
      input_.End();
      return;
    case KeyName::kPageUp:
      windows_.active().ScrollUp(std::max(1, ui_.body_rows() - 1));
      return;
    case KeyName::kPageDown:
      windows_.active().ScrollDown(std::max(1, ui_.body_rows() - 1));
      return;
    case KeyName::kEscape:
    case KeyName::kOther:
      return;
    case KeyName::kChar:
      break;
  }
  const char32_t c = key.ch;
  if (alt) {
    if (c >= U'0' && c <= U'9') {
      windows_.Activate(c == U'0' ? 9 : static_cast<size_t>(c - U'1'));
      return;
    }
    if (c == U'b') return input_.WordLeft();
    if (c == U'f') return input_.WordRight();
  }
  switch (c) {
    case U'\r':
    case U'\n':
      Submit();
      return;
    case kCtrl('C'):  // only if the terminal does not turn it into SIGINT
    case kCtrl('D'):
      exit_code_ = kExitOk;
      return;
    case kCtrl('A'):
      return input_.Home();
    case kCtrl('E'):
      return input_.End();
    case kCtrl('B'):
      return input_.Left();
    case kCtrl('F'):
      return input_.Right();
    case kCtrl('K'):
      return input_.KillToEnd();
    case kCtrl('U'):
      return input_.KillToStart();
    case kCtrl('W'):
      return input_.KillWordBack();
    case kCtrl('H'):
    case 0x7f:
      return input_.Backspace();
    case kCtrl('N'):
      return windows_.Next();
    case kCtrl('P'):
      return windows_.Previous();
    case kCtrl('L'):
      ui_.RepaintAll();
      return;
    default:
      break;
  }
  if (c < 0x20 || (c >= 0x80 && c < 0xa0)) return;  // other control keys do nothing
  if (!input_.Insert(c)) {
    if (!input_full_reported_) Error(absl::StrCat("the input line is full (", InputLine::kMaxChars, " characters)"));
    input_full_reported_ = true;
  }
}

void FullscreenSession::Submit() {
  input_full_reported_ = false;
  const std::string line = input_.Utf8();
  const uint32_t max_text = client_->welcome().limits().max_text_bytes();
  const bool is_text = logged_in_ && windows_.active().room_id() != 0 &&
                       !absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "/");
  if (is_text && max_text > 0 && line.size() > max_text) {
    // Refused whole: nothing is sent, and the text stays on the line to edit.
    Error(absl::StrCat("message not sent: it is ", line.size(), " bytes and the server takes at most ", max_text,
                       " (the text is still on the input line)"));
    return;
  }
  input_.Submit();
  windows_.active().ScrollToBottom();
  HandleLine(line);
  // Events that arrived while a request waited (e.g. a joined room's
  // history) go in before the next pasted line adds anything.
  while (!exit_code_.has_value() && client_->HasQueuedEvent()) {
    auto ev = client_->NextEvent(absl::ZeroDuration());
    if (ev.ok()) HandleEvent(*ev);
  }
}

void FullscreenSession::HandleLine(const std::string& line) {
  if (!logged_in_) {
    const std::string nick(absl::StripAsciiWhitespace(line));
    if (!nick.empty()) TryNick(nick);
    return;
  }
  if (HandleLocalCommand(line)) return;
  const bool in_room = windows_.active().room_id() != 0;
  // In the status window everything is a command, with or without '/'.
  std::string text = line;
  if (!in_room && !absl::StartsWith(absl::StripLeadingAsciiWhitespace(text), "/") &&
      !absl::StripAsciiWhitespace(text).empty()) {
    if (!IsCommandWord(text)) {
      // Most likely chat typed before joining a room: say where it goes.
      Error("not sent: this is the status window, where lines are commands; /join ROOM to chat there (/list "
            "shows the rooms, /help the commands)");
      return;
    }
    text = absl::StrCat("/", absl::StripLeadingAsciiWhitespace(text));
  }
  HandleCommand(ParseCommand(text, true));
}

bool FullscreenSession::HandleLocalCommand(const std::string& line) {
  absl::string_view rest = absl::StripAsciiWhitespace(line);
  const bool in_room = windows_.active().room_id() != 0;
  if (!rest.empty() && rest[0] == '/') {
    rest.remove_prefix(1);
  } else if (in_room) {
    return false;  // chat text
  }
  const size_t space = rest.find(' ');
  const std::string word = absl::AsciiStrToLower(rest.substr(0, space));
  const std::string arg(space == absl::string_view::npos ? "" : absl::StripAsciiWhitespace(rest.substr(space)));
  if (word == "win" || word == "window") {
    size_t n = 0;
    if (!absl::SimpleAtoi(arg, &n) || n == 0 || !windows_.Activate(n - 1)) {
      Error(absl::StrCat("no window '", arg, "' (windows 1 to ", windows_.size(), ")"));
    }
    return true;
  }
  if (word == "help") {
    System(absl::StrCat(CommandHelp(true), "\n", kLocalHelp));
    return true;
  }
  return false;
}

CompletionSources FullscreenSession::Sources() const {
  CompletionSources s;
  s.commands = {"/create", "/delete", "/help", "/history", "/join", "/leave", "/list", "/logout", "/names",
                "/quit",   "/rooms",  "/switch", "/win"};
  s.rooms = windows_.RoomNames();
  s.rooms.insert(s.rooms.end(), known_rooms_.begin(), known_rooms_.end());
  for (const std::string& nick : windows_.active().members().Known()) {
    if (!absl::EqualsIgnoreCase(nick, client_->nickname())) s.nicks.push_back(nick);
  }
  return s;
}

absl::StatusOr<ChatClient*> FullscreenSession::Reopen() {
  auto connected = ConnectAgainForLogin(servers_.current(), options_.TlsOptions(), signal_fd_);
  if (!connected.ok()) return connected.status();
  client_ = std::move(*connected);
  prompt_closed_ = false;
  return client_.get();
}

void FullscreenSession::TryNick(const std::string& nick) {
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
    if (absl::IsCancelled(welcome.status())) return;
    if (IsConnectionLoss(welcome.status()) || client_->closed()) return Fail("login failed", welcome.status());
    if (ServerStatusOf(welcome.status()) == v1::FAILURE_ALREADY_EXISTS) {
      Error(absl::StrCat("the nickname '", nick, "' is taken; choose another"));
    } else {
      Error(absl::StrCat("nickname '", nick, "' refused: ", welcome.status().message(), "; choose another"));
    }
    return;
  }
  logged_in_ = true;
  guest_nick_ = welcome->nickname();
  System(absl::StrCat("logged in as ", welcome->nickname(), " (server ", welcome->server_version(),
                      "); /join ROOM to chat, /list for rooms, /help for commands"));
  // `muxchat --room R [--room S]` on a terminal: join them, the last one active.
  for (const std::string& room : options_.rooms) {
    if (exit_code_.has_value()) break;
    Join(room);
  }
}

void FullscreenSession::ConnectionLost(const std::string& why) {
  if (!options_.reconnect || !logged_in_ || (!shutdown_seen_ && !ShouldReconnect(client_->close_status()))) {
    Lost(why);
    return;
  }
  if (!shutdown_seen_) {
    const std::string line = absl::StrCat(why, "; reconnecting (Ctrl+C quits)");
    Error(line, &windows_.status());
    if (windows_.active().room_id() != 0) Error(line);
  }
  shutdown_seen_ = false;
  down_ = true;
  cursor_ = last_seq_;
  resume_id_ = 0;
  // What the server never acknowledged goes out again, first, in order.
  std::vector<Outgoing> again;
  for (const ChatClient::UnackedSend& u : client_->UnackedSends()) {
    const auto line = line_of_msg_.find(u.client_msg_id);
    again.push_back({u.room_id, u.text, u.client_msg_id, line != line_of_msg_.end() ? line->second : 0});
  }
  again.insert(again.end(), outgoing_.begin(), outgoing_.end());
  outgoing_ = std::move(again);
  pending_.clear();
  line_of_request_.clear();
  reconnect_at_ = absl::Now() + servers_.Lost();
}

void FullscreenSession::TryReconnect() {
  const ServerAddress server = servers_.current();
  auto connected = ChatClient::Connect(server.host, server.port, kRequestTimeout, options_.TlsOptions());
  if (!connected.ok()) {
    reconnect_at_ = absl::Now() + servers_.Failed();  // the next server: at once within a pass
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
    for (size_t i = 1; i < windows_.size(); ++i) {
      v1::RoomCursor c;
      c.set_room_id(windows_.at(i).room_id());
      c.set_last_seq(cursor_.count(c.room_id()) != 0 ? cursor_[c.room_id()] : 0);
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
      // Our old session may not have timed out yet (or that server is failing).
      reconnect_at_ = absl::Now() + servers_.Failed();
      return;
    }
    Lost(absl::StrCat("cannot log in again: ", failed.message(),
                      options_.user.empty() ? "" : " (start muxchat --user again)"));
    return;
  }
  down_ = false;
  servers_.Connected();
  reconnect_at_ = absl::InfiniteFuture();
  // Said where the loss was said: the status window and the active room's.
  const std::string line = absl::StrCat("reconnected to ", server.ToString());
  System(line, &windows_.status());
  if (windows_.active().room_id() != 0) System(line);
  if (resume_id_ == 0) AfterReconnect();  // with Resume: once its Reply ends it
}

void FullscreenSession::AfterReconnect() {
  std::vector<std::pair<uint64_t, std::string>> rooms;
  for (size_t i = 1; i < windows_.size(); ++i) rooms.emplace_back(windows_.at(i).room_id(), windows_.at(i).name());
  for (const auto& [id, name] : rooms) {
    if (resumed_rooms_.count(id) != 0) continue;
    auto reply = client_->JoinRoom(name, kRequestTimeout);
    if (!reply.ok()) {
      if (client_->closed() || absl::IsCancelled(reply.status())) return;  // the loop handles it
      Error(absl::StrCat("cannot rejoin ", name, ": ", reply.status().message()), &windows_.status());
      windows_.Close(id);
      continue;
    }
    RoomWindow* w = windows_.Find(id);
    uint64_t cursor = cursor_.count(id) != 0 ? cursor_[id] : 0;
    if (reply->room_id() != id) {
      // A new room under the same name (the server forgot the old one, or
      // this is another server): a new window, still in front if the old one was.
      const bool active = windows_.active().room_id() == id;
      windows_.Close(id);
      w = windows_.Open(reply->room_id(), SafeText(reply->room_name()));
      if (active) windows_.ActivateRoom(reply->room_id());
      for (Outgoing& o : outgoing_) {
        if (o.room_id == id) o.room_id = reply->room_id();
      }
      last_seq_.erase(id);
      cursor = 0;
    }
    w->members().SetCount(reply->member_count());
    w->members().Add(client_->nickname());
    const uint64_t missed = reply->last_seq() > cursor ? reply->last_seq() - cursor : 0;
    if (missed > reply->history_count()) {
      oldest_seq_[reply->room_id()] = reply->last_seq() - reply->history_count() + 1;
      System(absl::StrCat(missed, " missed; /history to page"), w);
    } else {
      System(absl::StrCat("reconnected, ", missed, " missed message", missed == 1 ? "" : "s"), w);
    }
  }
  resumed_rooms_.clear();
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
  // Unacknowledged and offline-typed messages, in order, under their ids.
  std::vector<Outgoing> out = std::move(outgoing_);
  outgoing_.clear();
  for (Outgoing& o : out) {
    if (windows_.Find(o.room_id) == nullptr) continue;
    auto sent = client_->Send(o.room_id, o.text, o.client_msg_id);
    if (!sent.ok()) {
      outgoing_.push_back(std::move(o));  // closed again: the next reconnect sends it
      continue;
    }
    pending_[o.room_id].push_back(o.line_id);
    line_of_request_[*sent] = o.line_id;
    line_of_msg_[client_->last_client_msg_id()] = o.line_id;
  }
}

bool FullscreenSession::ConfirmLine(uint64_t room_id, uint64_t line_id) {
  auto it = pending_.find(room_id);
  if (it != pending_.end()) {
    auto pos = std::find(it->second.begin(), it->second.end(), line_id);
    if (pos != it->second.end()) it->second.erase(pos);
  }
  RoomWindow* w = windows_.Find(room_id);
  return w != nullptr && w->Confirm(line_id);
}

void FullscreenSession::HandleCommand(const Command& command) {
  if (down_ && NeedsServer(command.kind)) {
    Error("not connected: reconnecting (Ctrl+C quits)");
    return;
  }
  switch (command.kind) {
    case CommandKind::kEmpty:
      return;
    case CommandKind::kInvalid:
      Error(command.arg);
      return;
    case CommandKind::kHelp:
      System(absl::StrCat(CommandHelp(true), "\n", kLocalHelp));
      return;
    case CommandKind::kQuit:
      exit_code_ = kExitOk;
      return;
    case CommandKind::kMessage:
      SendText(command.arg);
      return;
    case CommandKind::kCreate: {
      auto reply = client_->CreateRoom(command.arg, kRequestTimeout);
      if (!reply.ok()) return Fail(absl::StrCat("cannot create ", command.arg), reply.status());
      known_rooms_.push_back(reply->room_name());
      System(absl::StrCat("created room ", reply->room_name(), "; /join ", reply->room_name(), " to enter it"));
      return;
    }
    case CommandKind::kDelete: {
      auto reply = client_->DeleteRoom(command.arg, kRequestTimeout);
      if (!reply.ok()) return Fail(absl::StrCat("cannot delete ", command.arg), reply.status());
      System(absl::StrCat("deleted room ", reply->room_name()), &windows_.status());
      if (windows_.active().room_id() != 0) System(absl::StrCat("deleted room ", reply->room_name()));
      return;
    }
    case CommandKind::kList: {
      auto reply = client_->ListRooms(kRequestTimeout);
      if (!reply.ok()) return Fail("cannot list rooms", reply.status());
      known_rooms_.clear();
      for (const auto& room : reply->rooms()) known_rooms_.push_back(room.name());
      std::string table = FormatRoomTable(reply->rooms(), absl::Now());
      if (!table.empty() && table.back() == '\n') table.pop_back();
      System(SafeText(table));
      return;
    }
    case CommandKind::kJoin:
      Join(command.arg);
      return;
    case CommandKind::kLeave:
      Leave(command.arg);
      return;
    case CommandKind::kSwitch: {
      RoomWindow* w = windows_.FindByName(command.arg);
      if (w == nullptr) {
        Error(absl::StrCat("you are not in ", command.arg, " (/join ", command.arg, " first)"));
        return;
      }
      windows_.ActivateRoom(w->room_id());
      return;
    }
    case CommandKind::kNames:
      Names(command.arg);
      return;
    case CommandKind::kHistory:
      History(command.arg);
      return;
    case CommandKind::kLogout: {
      if (options_.user.empty()) {
        Error("you are a guest (no account session to end); /quit leaves");
        return;
      }
      auto reply = client_->Logout(kRequestTimeout);
      if (!reply.ok() && !client_->closed()) return Fail("cannot log out", reply.status());
      if (tokens_.has_value()) {
        for (const std::string& key : TokenKeys(servers_.servers())) (void)tokens_->Remove(key, options_.user);
      }
      farewell_ = "logged out: the session token is revoked and forgotten";
      exit_code_ = kExitOk;
      return;
    }
    case CommandKind::kRooms: {
      std::string text = "your rooms:";
      for (size_t i = 1; i < windows_.size(); ++i) absl::StrAppend(&text, " ", i + 1, ":", windows_.at(i).name());
      if (windows_.size() == 1) absl::StrAppend(&text, " none (/join ROOM)");
      System(text);
      return;
    }
  }
}

void FullscreenSession::SendText(const std::string& text) {
  RoomWindow& w = windows_.active();
  if (w.room_id() == 0) {
    Error("this is the status window: /join a room or switch to one (Alt+N, Ctrl+N)");
    return;
  }
  uint64_t line_id = 0;
  if (down_) {
    // Shown pending now, sent once the connection is back.
    line_id = next_local_line_++;
    outgoing_.push_back({w.room_id(), text, 0, line_id});
  } else {
    auto sent = client_->Send(w.room_id(), text);
    if (!sent.ok()) return Fail("message not sent", sent.status());
    line_id = *sent;
    pending_[w.room_id()].push_back(line_id);
    line_of_msg_[client_->last_client_msg_id()] = line_id;
  }
  ScrollLine line;
  line.kind = LineKind::kOwn;
  line.time = absl::FormatTime("%H:%M", absl::Now(), style_.zone);
  line.nick = SafeText(client_->nickname());
  line.text = SafeText(text);
  line.pending = true;
  line.request_id = line_id;
  w.Add(std::move(line));
}

void FullscreenSession::Join(const std::string& room) {
  if (RoomWindow* w = windows_.FindByName(room); w != nullptr) {
    windows_.ActivateRoom(w->room_id());
    return;
  }
  auto reply = client_->JoinRoom(room, kRequestTimeout);
  if (!reply.ok() && ServerStatusOf(reply.status()) == v1::FAILURE_NOT_EXISTS) {
    Error(absl::StrCat("cannot join ", room, ": there is no such room (/create ", room, " makes it)"));
    return;
  }
  if (!reply.ok()) return Fail(absl::StrCat("cannot join ", room), reply.status());
  RoomWindow* w = windows_.Open(reply->room_id(), SafeText(reply->room_name()));
  w->members().SetCount(reply->member_count());
  w->members().Add(client_->nickname());
  windows_.ActivateRoom(reply->room_id());
  // Who is here, for Tab completion and /names: the server's list, kept
  // current by MemberJoined/MemberLeft from now on.
  if (absl::Status st = FetchMembers(*client_, reply->room_id(), &w->members()); !st.ok()) {
    Fail(absl::StrCat("cannot list names in ", w->name()), st);  // the join stands; the count is known
    if (exit_code_.has_value()) return;
  }
  System(absl::StrCat("joined ", w->name(), " (", Members(reply->member_count()),
                      "); type to chat, /names for who is here, /help for commands"),
         w);
  if (reply->history_count() > 0) {
    history_left_[reply->room_id()] = reply->history_count();
    System(absl::StrCat("history: the last ", reply->history_count(), " message",
                        reply->history_count() == 1 ? "" : "s"),
           w);
  }
}

void FullscreenSession::Leave(const std::string& room) {
  RoomWindow* w = room.empty() ? &windows_.active() : windows_.FindByName(room);
  if (w == nullptr || w->room_id() == 0) {
    Error(room.empty() ? "this is the status window: /leave ROOM, or leave from the room's window"
                       : absl::StrCat("you are not in ", room));
    return;
  }
  const uint64_t id = w->room_id();
  const std::string name = w->name();
  auto reply = client_->LeaveRoom(id, kRequestTimeout);
  if (!reply.ok()) return Fail(absl::StrCat("cannot leave ", name), reply.status());
  windows_.Close(id);
  pending_.erase(id);
  history_left_.erase(id);
  System(absl::StrCat("left ", name));
}

void FullscreenSession::History(const std::string& arg) {
  RoomWindow& w = windows_.active();
  if (w.room_id() == 0) {
    Error("this is the status window: /history pages the messages of a room's window");
    return;
  }
  v1::History query;
  const auto oldest = oldest_seq_.find(w.room_id());
  if (oldest != oldest_seq_.end()) {
    if (oldest->second <= 1) {
      System("no older messages", &w);
      return;
    }
    query.set_before_seq(oldest->second);
  }
  uint32_t limit = 0;
  if (!arg.empty()) (void)absl::SimpleAtoi(arg, &limit);
  query.set_limit(limit);
  auto reply = client_->History(w.room_id(), query, kRequestTimeout);
  if (!reply.ok()) return Fail("cannot page the history", reply.status());
  if (reply->history_count() == 0) {
    System("no older messages stored", &w);
    return;
  }
  System(absl::StrCat("history: ", reply->history_count(), " older message", reply->history_count() == 1 ? "" : "s"),
         &w);
  page_left_[w.room_id()] = reply->history_count();
}

void FullscreenSession::Names(const std::string& room) {
  RoomWindow* w = room.empty() ? &windows_.active() : windows_.FindByName(room);
  if (w == nullptr || w->room_id() == 0) {
    Error(room.empty() ? "this is the status window: /names ROOM for a room you are in"
                       : absl::StrCat("you are not in ", room, " (/join ", room, " first)"));
    return;
  }
  // Asked afresh, though events keep the list from the join current: /names
  // is where a user checks. (Events that arrive meanwhile wait in the
  // client's queue, so `w` stays valid.)
  if (absl::Status st = FetchMembers(*client_, w->room_id(), &w->members()); !st.ok()) {
    return Fail(absl::StrCat("cannot list names in ", w->name()), st);
  }
  System(w->members().Describe(w->name()));
}

void FullscreenSession::HandleEvent(const v1::ServerFrame& frame) {
  RoomWindow* w = windows_.Find(frame.room_id());
  const std::string room = w != nullptr ? w->name() : absl::StrCat("#", frame.room_id());
  switch (frame.body_case()) {
    case v1::ServerFrame::kChatMessage: {
      const v1::ChatMessage& m = frame.chat_message();
      const bool own = absl::EqualsIgnoreCase(m.sender(), client_->nickname());
      const bool paging = m.replay() && page_left_.count(frame.room_id()) != 0;
      if (auto seen = last_seq_.find(frame.room_id());
          m.replay() && !paging && seen != last_seq_.end() && m.seq() <= seen->second) {
        return;  // a replay after a reconnect repeats what is shown already
      }
      if (w != nullptr) {
        uint64_t& last = last_seq_[frame.room_id()];
        last = std::max(last, m.seq());
        // Noted before our own echo returns below: /history pages before
        // the oldest message shown, whoever sent it.
        auto [it, inserted] = oldest_seq_.emplace(frame.room_id(), m.seq());
        if (!inserted) it->second = std::min(it->second, m.seq());
      }
      if (auto mine = line_of_msg_.find(m.client_msg_id()); m.client_msg_id() != 0 && mine != line_of_msg_.end()) {
        // Ours, by its client_msg_id (a live echo, or a replay of one whose echo was lost).
        const uint64_t line_id = mine->second;
        const uint64_t id = m.client_msg_id();
        line_of_msg_.erase(mine);
        // Stored before the connection broke: not to be sent again.
        outgoing_.erase(std::remove_if(outgoing_.begin(), outgoing_.end(),
                                       [&](const Outgoing& o) { return o.client_msg_id == id; }),
                        outgoing_.end());
        if (ConfirmLine(frame.room_id(), line_id)) return;
      } else if (own && !m.replay() && m.client_msg_id() == 0) {
        // A server that echoes no client_msg_id: our oldest pending message here.
        auto it = pending_.find(frame.room_id());
        if (it != pending_.end() && !it->second.empty()) {
          const uint64_t id = it->second.front();
          it->second.pop_front();
          if (w != nullptr && w->Confirm(id)) return;
        }
      }
      ScrollLine line;
      line.kind = own ? LineKind::kOwn : LineKind::kChat;
      line.time = absl::FormatTime("%H:%M", absl::FromUnixMicros(m.timestamp_unix_micros()), style_.zone);
      line.nick = SafeText(m.sender());
      line.text = SafeText(m.text());
      line.history = m.replay();
      line.mention = !own && !m.replay() && MentionsNick(m.text(), client_->nickname());
      if (w == nullptr) {
        line.text = absl::StrCat("[", room, "] ", line.text);
        windows_.status().Add(std::move(line));
        return;
      }
      if (!m.replay()) w->members().Add(m.sender());
      w->Add(std::move(line));
      if (auto page = page_left_.find(frame.room_id()); m.replay() && page != page_left_.end()) {
        if (--page->second == 0) {
          page_left_.erase(page);
          System("end of the history page; /history for more", w);
        }
        return;
      }
      if (m.replay()) {
        auto it = history_left_.find(frame.room_id());
        if (it != history_left_.end() && --it->second == 0) {
          history_left_.erase(it);
          System("end of history; live messages follow", w);
        }
      }
      return;
    }
    case v1::ServerFrame::kRoomResumed: {
      const v1::RoomResumed& r = frame.room_resumed();
      resumed_rooms_.insert(frame.room_id());
      if (w != nullptr && cursor_.count(frame.room_id()) != 0) {
        // A reconnect: one line in the room's window says what was missed.
        const uint64_t cursor = cursor_[frame.room_id()];
        const uint64_t missed = r.last_seq() > cursor ? r.last_seq() - cursor : 0;
        w->members().SetCount(r.member_count());
        if (missed > r.replay_count()) {
          oldest_seq_[frame.room_id()] = r.last_seq() - r.replay_count() + 1;
          System(absl::StrCat(missed, " missed; /history to page"), w);
        } else {
          System(absl::StrCat("reconnected, ", missed, " missed message", missed == 1 ? "" : "s"), w);
        }
        return;
      }
      if (w == nullptr) w = windows_.Open(frame.room_id(), SafeText(r.name()));
      w->members().SetCount(r.member_count());
      w->members().Add(client_->nickname());
      windows_.ActivateRoom(frame.room_id());
      System(absl::StrCat("joined ", w->name(), " (", Members(r.member_count()), ")"), w);
      if (r.replay_count() > 0) {
        history_left_[frame.room_id()] = r.replay_count();
        System(absl::StrCat("history: the last ", r.replay_count(), " message", r.replay_count() == 1 ? "" : "s"), w);
      }
      return;
    }
    case v1::ServerFrame::kMemberJoined:
      if (w == nullptr) return;
      w->members().Add(frame.member_joined().nickname());
      w->members().SetCount(frame.member_joined().member_count());
      System(absl::StrCat(SafeText(frame.member_joined().nickname()), " joined (",
                          Members(frame.member_joined().member_count()), ")"),
             w);
      return;
    case v1::ServerFrame::kMemberLeft:
      if (w == nullptr) return;
      w->members().Remove(frame.member_left().nickname());
      w->members().SetCount(frame.member_left().member_count());
      System(absl::StrCat(SafeText(frame.member_left().nickname()), " left (", SafeText(frame.member_left().reason()),
                          "; ", Members(frame.member_left().member_count()), ")"),
             w);
      return;
    case v1::ServerFrame::kRoomClosed: {
      const v1::RoomClosed& closed = frame.room_closed();
      const bool ours = absl::EqualsIgnoreCase(closed.closed_by(), client_->nickname());
      // Our own /delete has said so in the status window already.
      const std::string note =
          ours ? absl::StrCat("deleted room ", SafeText(closed.name()))
               : absl::StrCat("room ", SafeText(closed.name()), " was deleted by ", SafeText(closed.closed_by()),
                              closed.reason().empty() ? "" : absl::StrCat(" (", SafeText(closed.reason()), ")"));
      if (!ours) System(note, &windows_.status());
      const bool was_active = windows_.active().room_id() == frame.room_id();
      windows_.Close(frame.room_id());
      // The user was looking at it: say why it went where they land.
      if (was_active && windows_.active().room_id() != 0) System(note);
      pending_.erase(frame.room_id());
      history_left_.erase(frame.room_id());
      return;
    }
    case v1::ServerFrame::kReply: {
      if (resume_id_ != 0 && frame.request_id() == resume_id_) {
        resume_id_ = 0;
        if (join_after_resume_) {
          join_after_resume_ = false;  // the account's rooms are back; now the --room ones
          for (const std::string& room : options_.rooms) Join(room);
        } else {
          AfterReconnect();
        }
        return;
      }
      // An answer nobody waited for: a refused message (Send does not wait),
      // or SUCCESS for a resent one the server already had.
      const auto resent = line_of_request_.find(frame.request_id());
      const uint64_t line_id = resent != line_of_request_.end() ? resent->second : frame.request_id();
      if (frame.reply().status() == v1::SUCCESS) {
        for (auto& [room_id, ids] : pending_) {
          if (std::find(ids.begin(), ids.end(), line_id) != ids.end()) {
            ConfirmLine(room_id, line_id);
            break;
          }
        }
        return;
      }
      for (auto& [room_id, ids] : pending_) {
        auto it = std::find(ids.begin(), ids.end(), line_id);
        if (it == ids.end()) continue;
        ids.erase(it);
        if (RoomWindow* target = windows_.Find(room_id); target != nullptr) target->Refuse(line_id);
      }
      Error(absl::StrCat("message not delivered: ", SafeText(frame.reply().message())));
      return;
    }
    case v1::ServerFrame::kShutdown:
      if (options_.reconnect && logged_in_) {
        // Servers restart: say it once, and reconnect when it closes.
        Error(absl::StrCat(DescribeServerEnd(frame), "; reconnecting (Ctrl+C quits)"), &windows_.status());
        if (windows_.active().room_id() != 0) Error(absl::StrCat(DescribeServerEnd(frame), "; reconnecting"));
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
