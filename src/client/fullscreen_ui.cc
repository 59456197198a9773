#include "src/client/fullscreen_ui.h"

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <langinfo.h>

#include <clocale>
#include <ctime>
#include <cstdio>
#include <string>

// ncursesw: wide-character aware curses; its macros (e.g. `clear`, `move`)
// stay confined to this file.
#include <ncursesw/curses.h>
#include <ncursesw/term.h>

#include "src/client/nick_colour.h"
#include "src/client/tui_text.h"

namespace muxchat::client {
namespace {

// Colour pairs: 1..12 nick colours, then one per style.
enum Pair : short {
  kPairNickBase = 1,
  kPairTime = kPairNickBase + kNickColours,
  kPairSystem,
  kPairError,
  kPairMention,
  kPairMarker,
  kPairBar,
  kPairTabActive,
  kPairTabUnread,
  kPairTabMention,
  kPairPending,
};

int64_t NowMillis() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

bool FullscreenUi::TerminalSupported() {
  int error = 0;
  if (::setupterm(nullptr, STDOUT_FILENO, &error) != OK) return false;
  char* cup = ::tigetstr(const_cast<char*>("cup"));
  const bool addressable = cup != nullptr && cup != reinterpret_cast<char*>(-1);
  ::del_curterm(cur_term);
  return addressable;
}

FullscreenUi::~FullscreenUi() { Stop(); }

bool FullscreenUi::Start(bool colour) {
  if (started_) return true;
  // ncursesw draws and measures wide characters only in a UTF-8 locale; the
  // protocol is UTF-8 whatever the environment says.
  const char* locale = std::setlocale(LC_CTYPE, "");
  if (locale == nullptr || std::string(::nl_langinfo(CODESET)) != "UTF-8") std::setlocale(LC_CTYPE, "C.UTF-8");
  std::fflush(stdout);
  SCREEN* screen = ::newterm(nullptr, stdout, stdin);
  if (screen == nullptr) return false;
  screen_ = screen;
  started_ = true;
  // cbreak, not raw: Ctrl+C stays SIGINT, which reaches the caller's signalfd
  // and so also cuts short a request the session is waiting for. Flow
  // control is switched off so Ctrl+S/Ctrl+Q do not freeze the screen.
  ::cbreak();
  termios modes{};
  if (::tcgetattr(STDIN_FILENO, &modes) == 0) {
    modes.c_iflag &= ~static_cast<tcflag_t>(IXON);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &modes);
    ::def_prog_mode();
  }
  ::noecho();
  ::nonl();
  ::keypad(stdscr, TRUE);
  ::nodelay(stdscr, TRUE);
  // A function key's sequence is told from a lone ESC quickly; ReadKeys
  // then waits kEscapeDelayMillis more to tell Alt+key from a lone Esc.
  ::set_escdelay(25);
  ::leaveok(stdscr, FALSE);
  colour_ = colour && ::has_colors();
  if (colour_) {
    ::start_color();
    ::use_default_colors();
    bright_ = COLORS >= 16;
    static const short kBase[6] = {COLOR_RED, COLOR_GREEN, COLOR_YELLOW, COLOR_BLUE, COLOR_MAGENTA, COLOR_CYAN};
    // On 256-colour terminals, twelve hues far enough apart to tell nicks
    // apart (bright variants of the base six look too alike).
    static const short k256[kNickColours] = {203, 41, 220, 75, 170, 44, 208, 141, 118, 39, 211, 180};
    for (int i = 0; i < kNickColours; ++i) {
      short fg = kBase[i % 6];
      if (COLORS >= 256) {
        fg = k256[i];
      } else if (i >= 6 && bright_) {
        fg = static_cast<short>(fg + 8);
      }
      ::init_pair(static_cast<short>(kPairNickBase + i), fg, -1);
    }
    ::init_pair(kPairTime, bright_ ? 8 : COLOR_WHITE, -1);
    ::init_pair(kPairSystem, COLOR_YELLOW, -1);
    ::init_pair(kPairError, COLOR_RED, -1);
    ::init_pair(kPairMention, COLOR_BLACK, COLOR_YELLOW);
    ::init_pair(kPairMarker, COLOR_RED, -1);
    ::init_pair(kPairBar, COLOR_WHITE, COLOR_BLUE);
    ::init_pair(kPairTabActive, COLOR_WHITE, COLOR_BLUE);
    ::init_pair(kPairTabUnread, COLOR_YELLOW, COLOR_BLUE);
    ::init_pair(kPairTabMention, COLOR_WHITE, COLOR_MAGENTA);
    ::init_pair(kPairPending, bright_ ? 8 : COLOR_WHITE, -1);
  }
  return true;
}

void FullscreenUi::Stop() {
  if (!started_) return;
  started_ = false;
  ::endwin();  // leaves the alternate screen, restores the saved tty modes
  ::delscreen(static_cast<SCREEN*>(screen_));
  screen_ = nullptr;
  std::fflush(stdout);
}

void FullscreenUi::Resize() {
  if (!started_) return;
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
    ::resizeterm(ws.ws_row, ws.ws_col);
  }
  ::clearok(stdscr, TRUE);  // repaint everything: the terminal may have reflowed the old screen
}

void FullscreenUi::RepaintAll() {
  // On curscr, not stdscr: ncurses then forgets what it believes is on the
  // terminal and repaints from scratch on the next refresh.
  if (started_) ::clearok(curscr, TRUE);
}

int FullscreenUi::rows() const { return started_ ? LINES : 0; }
int FullscreenUi::cols() const { return started_ ? COLS : 0; }

int FullscreenUi::EscapeTimeoutMillis() const {
  if (!escape_pending_) return -1;
  const int64_t left = escape_at_ms_ + kEscapeDelayMillis - NowMillis();
  return left > 0 ? static_cast<int>(left) : 0;
}

void FullscreenUi::ReadKeys(std::vector<Key>* keys) {
  if (!started_) return;
  // The key after a pending ESC is Alt+key.
  const auto push = [this, keys](Key key) {
    key.alt = escape_pending_;
    escape_pending_ = false;
    keys->push_back(key);
  };
  for (;;) {
    wint_t wch = 0;
    const int kind = ::wget_wch(stdscr, &wch);
    if (kind == ERR) break;
    if (kind == KEY_CODE_YES && wch == KEY_RESIZE) continue;  // we resize on our own SIGWINCH
    if (kind != KEY_CODE_YES && wch == 27) {
      if (escape_pending_) keys->push_back({KeyName::kEscape, 0, false});  // ESC ESC: the first was alone
      escape_pending_ = true;
      escape_at_ms_ = NowMillis();
      continue;
    }
    if (kind != KEY_CODE_YES) {
      push({KeyName::kChar, static_cast<char32_t>(wch)});
      continue;
    }
    KeyName name = KeyName::kOther;
    switch (wch) {
      case KEY_ENTER: name = KeyName::kEnter; break;
      case KEY_BACKSPACE: name = KeyName::kBackspace; break;
      case KEY_DC: name = KeyName::kDelete; break;
      case KEY_LEFT: name = KeyName::kLeft; break;
      case KEY_RIGHT: name = KeyName::kRight; break;
      case KEY_UP: name = KeyName::kUp; break;
      case KEY_DOWN: name = KeyName::kDown; break;
      case KEY_HOME: name = KeyName::kHome; break;
      case KEY_END: name = KeyName::kEnd; break;
      case KEY_PPAGE: name = KeyName::kPageUp; break;
      case KEY_NPAGE: name = KeyName::kPageDown; break;
      default: break;
    }
    push({name, 0});
  }
  if (escape_pending_ && EscapeTimeoutMillis() == 0) {
    escape_pending_ = false;
    keys->push_back({KeyName::kEscape, 0, false});
  }
}

int FullscreenUi::Attr(const Segment& segment) const {
  const auto pair = [&](short p) { return colour_ ? static_cast<int>(COLOR_PAIR(p)) : 0; };
  switch (segment.style) {
    case Style::kPlain:
      return A_NORMAL;
    case Style::kTime:
      return colour_ ? pair(kPairTime) : A_NORMAL;
    case Style::kNick:
      return colour_ ? pair(static_cast<short>(kPairNickBase + segment.colour)) : A_NORMAL;
    case Style::kOwnNick:
      return A_BOLD;
    case Style::kSystem:
      return colour_ ? pair(kPairSystem) : A_NORMAL;
    case Style::kError:
      return colour_ ? pair(kPairError) | A_BOLD : A_BOLD;
    case Style::kMention:
      return colour_ ? pair(kPairMention) | A_BOLD : A_BOLD | A_UNDERLINE;
    case Style::kMarker:
      return colour_ ? pair(kPairMarker) : A_NORMAL;
    case Style::kPending:
    case Style::kHistory:
      return colour_ ? pair(kPairPending) : A_DIM;
    case Style::kBar:
      return colour_ ? pair(kPairBar) : A_REVERSE;
    case Style::kTabActive:
      return colour_ ? pair(kPairTabActive) | A_BOLD : A_BOLD;
    case Style::kTabUnread:
      return colour_ ? pair(kPairTabUnread) | A_BOLD : A_REVERSE | A_BOLD;
    case Style::kTabMention:
      return colour_ ? pair(kPairTabMention) | A_BOLD : A_BOLD | A_UNDERLINE;
  }
  return A_NORMAL;
}

void FullscreenUi::DrawRow(int y, const ScreenRow& row, int base_attr) {
  ::move(y, 0);
  ::attrset(base_attr);
  int x = 0;
  const int width = COLS;
  for (const Segment& s : row) {
    if (x >= width) break;
    ::attrset(Attr(s));
    ::addstr(s.text.c_str());
    x += TextColumns(s.text);
  }
  ::attrset(base_attr);
  // Fill the rest of the row (in the bar's colour for bars).
  for (; x < width; ++x) ::addch(' ');
  ::attrset(A_NORMAL);
}

void FullscreenUi::Draw(const ScreenRow& title, const std::vector<ScreenRow>& body, const ScreenRow& status,
                        const std::string& prompt, const InputLine::View& input) {
  if (!started_) return;
  const int bar = Attr({"", Style::kBar, 0});
  ::erase();
  if (LINES >= 1) DrawRow(0, title, bar);
  const int height = body_rows();
  // Bottom-aligned: a short scrollback sits just above the status bar.
  const int top = 1 + height - static_cast<int>(body.size());
  for (size_t i = 0; i < body.size() && static_cast<int>(i) < height; ++i) {
    DrawRow(top + static_cast<int>(i), body[i], A_NORMAL);
  }
  if (LINES >= 3) DrawRow(LINES - 2, status, bar);
  if (LINES >= 2) {
    ::move(LINES - 1, 0);
    ::attrset(A_BOLD);
    ::addstr(prompt.c_str());
    ::attrset(A_NORMAL);
    ::addstr(input.text.c_str());
    ::move(LINES - 1, TextColumns(prompt) + input.cursor_column);
  }
  ::refresh();
}

}  // namespace muxchat::client
