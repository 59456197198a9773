#include "src/client/terminal_ui.h"

#include <stdio.h>
// libedit's readline emulation; after <stdio.h>, which it needs.
#include <editline/readline.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace muxchat::client {
namespace {

TerminalUi* g_active = nullptr;
// Set by ReadKey when the user pressed Ctrl+D.
bool g_eof_key = false;

// Reads one byte from stdin; -1 at end of input or on error.
int ReadByte() {
  unsigned char c = 0;
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n == 1) return c;
    if (n < 0 && errno == EINTR) continue;
    return -1;
  }
}

// libedit's key reader: returns one character (a Unicode code point, decoded
// from UTF-8; libedit stores it as a wchar_t). Ctrl+D ends the session at
// once, even with text on the line (libedit alone would delete a character
// there): it is reported as end of input, so libedit returns without a line.
int ReadKey(FILE* /*unused*/) {
  const int lead = ReadByte();
  if (lead < 0) return EOF;
  if (lead == 0x04) {
    g_eof_key = true;
    return EOF;
  }
  int more = 0;
  int code = lead;
  if ((lead & 0xe0) == 0xc0) {
    more = 1;
    code = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    more = 2;
    code = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    more = 3;
    code = lead & 0x07;
  } else if (lead >= 0x80) {
    return 0xfffd;  // a stray continuation or invalid byte
  }
  for (int i = 0; i < more; ++i) {
    const int next = ReadByte();  // the rest of a character arrives with its lead byte
    if (next < 0) return EOF;
    if ((next & 0xc0) != 0x80) return 0xfffd;
    code = (code << 6) | (next & 0x3f);
  }
  return code;
}

void WriteAll(absl::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
}

// Code points in a UTF-8 string.
size_t Width(absl::string_view s) {
  size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
  return n;
}

}  // namespace

TerminalUi::TerminalUi() { g_active = this; }

TerminalUi::~TerminalUi() {
  Stop();
  if (g_active == this) g_active = nullptr;
}

void TerminalUi::Start(const std::string& prompt) {
  if (started_) return;
  have_termios_ = ::tcgetattr(STDIN_FILENO, &original_) == 0;
  prompt_ = prompt;
  // Signals stay ours (a signalfd in the caller's loop): libedit must not
  // install handlers of its own.
  rl_catch_signals = 0;
  rl_getc_function = &ReadKey;
  rl_instream = stdin;
  rl_outstream = stdout;
  std::fflush(stdout);
  rl_callback_handler_install(prompt_.c_str(), &TerminalUi::OnLine);
  started_ = true;
}

void TerminalUi::SetPrompt(const std::string& prompt) {
  if (prompt == prompt_) return;
  prompt_ = prompt;
  if (!started_) return;
  Print("");
}

void TerminalUi::OnReadable() {
  if (!started_) return;
  const size_t before = lines_.size();
  g_eof_key = false;
  rl_callback_read_char();
  if (g_eof_key && lines_.size() == before) lines_.push_back(std::nullopt);
  if (lines_.size() != before) {
    // libedit 3.1-20221030 leaves its unbuffered (one key per call) mode when
    // it hands over a line, so the next call would block until Enter.
    // Installing the handler again restores that mode, resets the line and
    // draws the prompt.
    rl_callback_handler_install(prompt_.c_str(), &TerminalUi::OnLine);
  }
}

void TerminalUi::OnLine(char* line) {
  if (g_active == nullptr) {
    std::free(line);
    return;
  }
  if (line == nullptr) {
    g_active->lines_.push_back(std::nullopt);
    return;
  }
  if (*line != '\0') add_history(line);
  g_active->lines_.push_back(std::string(line));
  std::free(line);
}

bool TerminalUi::TakeLine(std::optional<std::string>* line) {
  if (lines_.empty()) return false;
  *line = std::move(lines_.front());
  lines_.pop_front();
  return true;
}

void TerminalUi::Print(absl::string_view text) {
  if (!started_) {
    if (!text.empty()) {
      WriteAll(text);
      WriteAll("\n");
    }
    std::fflush(stdout);
    return;
  }
  // Erase the prompt and the partial input (which may wrap over several
  // rows), print, then let libedit redraw from a cleared display.
  winsize ws{};
  const size_t cols = ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
  const size_t point = rl_point > 0 ? Width(absl::string_view(rl_line_buffer, static_cast<size_t>(rl_point))) : 0;
  const size_t row = (Width(prompt_) + point) / cols;
  std::string out = "\r";
  if (row > 0) absl::StrAppend(&out, "\x1b[", row, "A");
  out += "\x1b[J";
  if (!text.empty()) absl::StrAppend(&out, text, "\n");
  WriteAll(out);
  std::fflush(stdout);
  rl_set_prompt(prompt_.c_str());
  rl_forced_update_display();
  std::fflush(stdout);
}

void TerminalUi::Stop() {
  if (!started_) return;
  started_ = false;
  rl_callback_handler_remove();
  // Erase the prompt line, so the shell's prompt starts at column 0.
  WriteAll("\r\x1b[J");
  std::fflush(stdout);
  if (have_termios_) ::tcsetattr(STDIN_FILENO, TCSADRAIN, &original_);
}

}  // namespace muxchat::client
