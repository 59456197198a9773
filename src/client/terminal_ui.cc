#include "src/client/terminal_ui.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/client/display_width.h"

namespace muxchat::client {
namespace {

// Input read per OnReadable before redrawing: a paste of any size is taken
// in a few large reads instead of a redraw per key.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadPerCall = 1 << 20;
// Pending lines shown at most; the rest are summarised on one more row.
constexpr size_t kMaxPendingShown = 5;

// `s` without ANSI CSI escape sequences (the colours FormatChatLine adds).
std::string StripEscapes(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

// Rows `text` (printable, one line) takes on a terminal `cols` wide.
size_t RowsOf(absl::string_view text, size_t cols) {
  size_t row = 0, col = 0;
  LayoutPosition(text, text.size(), cols, &row, &col);
  return col == 0 && row > 0 ? row : row + 1;
}

int64_t NowMillis() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

TerminalUi::~TerminalUi() { Stop(); }

void TerminalUi::Write(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

void TerminalUi::QueryWidth() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    cols_ = ws.ws_col;
    rows_ = ws.ws_row > 0 ? ws.ws_row : 24;
  }
}

void TerminalUi::Start(const std::string& prompt) {
  if (started_) return;
  prompt_ = prompt;
  have_termios_ = ::tcgetattr(STDIN_FILENO, &original_) == 0;
  if (have_termios_) {
    termios raw = original_;
    // Keys one at a time, no echo, no flow control, Enter as '\r'. ISIG
    // stays: Ctrl+C is SIGINT, read from the caller's signalfd. Ctrl+Z and
    // Ctrl+\ are disabled: stopping with the terminal in raw mode would
    // leave the shell a broken terminal.
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO | IEXTEN));
    raw.c_iflag &= static_cast<tcflag_t>(~(IXON | ICRNL | INLCR | ISTRIP));
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    raw.c_cc[VSUSP] = _POSIX_VDISABLE;
    raw.c_cc[VQUIT] = _POSIX_VDISABLE;
    ::tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
  }
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  ::sigprocmask(SIG_BLOCK, &winch, nullptr);
  resize_fd_ = ::signalfd(-1, &winch, SFD_NONBLOCK | SFD_CLOEXEC);
  QueryWidth();
  started_ = true;
  std::string out = "\x1b[?2004h";  // bracketed paste on
  out += Draw();
  Write(out);
}

void TerminalUi::SetPrompt(const std::string& prompt) {
  if (prompt == prompt_) return;
  prompt_ = prompt;
  if (started_) Redraw();
}

void TerminalUi::OnReadable() {
  if (!started_) return;
  char buf[kReadChunk];
  size_t taken = 0;
  const size_t dropped_before = editor_.dropped_bytes();
  while (taken < kMaxReadPerCall) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      lines_.push_back(std::nullopt);  // the terminal went away
      return;
    }
    editor_.Feed(absl::string_view(buf, static_cast<size_t>(n)));
    taken += static_cast<size_t>(n);
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1 || (p.revents & POLLIN) == 0) break;
  }
  if (editor_.dropped_bytes() != dropped_before) {
    // Said once per read, not per key: the input line is full.
    std::string out = Erase(cols_);
    absl::StrAppend(&out, "error: the input line holds at most ", LineEditor::kMaxLineBytes >> 20, " MiB; ",
                    editor_.dropped_bytes() - dropped_before, " bytes of input were dropped\n");
    Write(out);
  }
  if (editor_.escape_pending()) escape_at_ms_ = NowMillis();
  TakeEditorEvents();
}

int TerminalUi::EscapeTimeoutMillis() const {
  if (!started_ || !editor_.escape_pending()) return -1;
  const int64_t left = escape_at_ms_ + kEscapeDelayMillis - NowMillis();
  return left > 0 ? static_cast<int>(left) : 0;
}

void TerminalUi::OnEscapeTimeout() {
  if (EscapeTimeoutMillis() != 0) return;
  editor_.EscapeTimeout();
  if (editor_.escape_pending()) escape_at_ms_ = NowMillis();  // what followed began another
  TakeEditorEvents();
}

void TerminalUi::TakeEditorEvents() {
  while (auto ev = editor_.TakeEvent()) {
    switch (ev->kind) {
      case LineEditor::EventKind::kEndOfInput:
        lines_.push_back(std::nullopt);
        break;
      case LineEditor::EventKind::kLine:
        lines_.push_back(std::move(ev->text));
        break;
      case LineEditor::EventKind::kClearScreen:
        clear_screen_ = true;
        break;
    }
  }
  Redraw();
}

bool TerminalUi::TakeLine(std::optional<std::string>* line) {
  if (lines_.empty()) return false;
  *line = std::move(lines_.front());
  lines_.pop_front();
  return true;
}

void TerminalUi::SetInput(std::string text) {
  editor_.SetBuffer(std::move(text));
  if (started_) Redraw();
}

void TerminalUi::Print(absl::string_view text) {
  if (!started_) {
    if (!text.empty()) Write(absl::StrCat(text, "\n"));
    return;
  }
  std::string out = Erase(cols_);
  if (!text.empty()) absl::StrAppend(&out, text, "\n");
  absl::StrAppend(&out, Draw());
  Write(out);
}

void TerminalUi::SetPending(std::vector<std::string> lines) {
  pending_ = std::move(lines);
  if (started_) Redraw();
}

void TerminalUi::OnResize() {
  signalfd_siginfo info;
  while (::read(resize_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
  }
  if (!started_) return;
  QueryWidth();
  // The terminal has re-wrapped what we drew to the new width; erase it as
  // it is now laid out, then draw for the new width.
  Redraw();
}

void TerminalUi::Redraw() {
  std::string out = Erase(cols_);  // before Draw(), which records the new drawing
  if (clear_screen_) {
    // Ctrl+L: clear the screen (the scrollback stays), live area at the top.
    clear_screen_ = false;
    out = "\x1b[H\x1b[2J";
  }
  out += Draw();
  Write(out);
}

std::string TerminalUi::Erase(size_t cols) {
  if (!drawn_.has_value()) return "";
  size_t up = 0;
  for (const std::string& line : drawn_->pending) up += RowsOf(line, cols);
  size_t row = 0, col = 0;
  LayoutPosition(drawn_->input, drawn_->cursor_byte, cols, &row, &col);
  up += row;
  drawn_.reset();
  std::string out = "\r";
  if (up > 0) absl::StrAppend(&out, "\x1b[", up, "A");
  out += "\x1b[J";
  return out;
}

std::string TerminalUi::Draw() {
  Drawn drawn;
  std::string out;
  // Pending lines: one row each (cut to fit), the excess summarised.
  const size_t shown = std::min(pending_.size(), kMaxPendingShown);
  for (size_t i = 0; i < shown; ++i) {
    std::string line = StripEscapes(pending_[i]);
    if (DisplayWidth(line) > cols_ - 1) {
      line = absl::StrCat(PrefixFittingWidth(line, cols_ > 2 ? cols_ - 2 : 0), "\xe2\x80\xa6");
    }
    drawn.pending.push_back(line);
  }
  if (pending_.size() > shown) drawn.pending.push_back(absl::StrCat("(", pending_.size() - shown, " more pending)"));
  for (const std::string& line : drawn.pending) absl::StrAppend(&out, line, "\n");
  const size_t max_rows = rows_ > drawn.pending.size() + 1 ? rows_ - drawn.pending.size() - 1 : 1;
  const EditorView view = editor_.View(prompt_, cols_, max_rows);
  out += view.text;
  size_t row = view.end_row;
  if (view.cursor_row > view.end_row) {
    // The cursor belongs at the start of the next row, where the terminal
    // has not moved yet (it waits to wrap): a space puts it there, on a row
    // that continues the same wrapped line.
    out += " ";
    row = view.end_row + 1;
  }
  out += "\r";
  if (row > view.cursor_row) absl::StrAppend(&out, "\x1b[", row - view.cursor_row, "A");
  if (view.cursor_col > 0) absl::StrAppend(&out, "\x1b[", view.cursor_col, "C");
  drawn.input = view.text;
  drawn.cursor_byte = view.cursor_byte;
  if (view.cursor_row > view.end_row) {
    drawn.input += " ";
    drawn.cursor_byte = drawn.input.size() - 1;
  }
  drawn_ = std::move(drawn);
  return out;
}

void TerminalUi::Stop() {
  if (!started_) return;
  std::string out = Erase(cols_);
  out += "\x1b[?2004l";  // bracketed paste off
  Write(out);
  started_ = false;
  if (have_termios_) ::tcsetattr(STDIN_FILENO, TCSADRAIN, &original_);
  if (resize_fd_ >= 0) ::close(resize_fd_);
  resize_fd_ = -1;
}

}  // namespace muxchat::client
