// FullscreenUi: the full-screen client's terminal, through ncursesw — a
// title row, the active window's rows, the status bar of room tabs and the
// input line — and non-blocking key reading for the caller's poll loop. It
// only draws what it is given (see RoomWindow::Render, WindowList::StatusBar,
// InputLine::Layout); all chat logic lives in FullscreenSession.
//
// Thread rule: main thread only; at most one instance (ncurses state is
// global). Stop() (or the destructor) leaves the alternate screen and
// restores the terminal's modes.
#ifndef MUXCHAT_CLIENT_FULLSCREEN_UI_H_
#define MUXCHAT_CLIENT_FULLSCREEN_UI_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/client/input_line.h"
#include "src/client/room_window.h"

namespace muxchat::client {

class FullscreenUi {
 public:
  // One key: a character (kChar; control keys are code points below 0x20,
  // Enter is '\r', Tab 9) or a named function key. ESC followed within
  // kEscapeDelay by another key is that key with `alt` set (Alt+key as
  // terminals send it); an ESC with nothing after it is kEscape.
  enum class KeyName {
    kChar, kEnter, kBackspace, kDelete, kLeft, kRight, kUp, kDown, kHome, kEnd, kPageUp, kPageDown, kEscape, kOther,
  };
  struct Key {
    KeyName name = KeyName::kChar;
    char32_t ch = 0;
    bool alt = false;
  };
  // How long an ESC waits for a key that would make it Alt+key, after
  // ncurses' own ESCDELAY (25 ms) for function-key sequences: a terminal
  // sends ESC and the key in one write, a person cannot type them this fast.
  static constexpr int kEscapeDelayMillis = 25;

  // True if terminfo knows the terminal on stdout (TERM) and it can address
  // the cursor; otherwise the caller should use the line mode.
  static bool TerminalSupported();

  FullscreenUi() = default;
  ~FullscreenUi();
  FullscreenUi(const FullscreenUi&) = delete;
  FullscreenUi& operator=(const FullscreenUi&) = delete;

  // Takes over the terminal on stdin/stdout; `colour` false draws with
  // attributes only (NO_COLOR). False if ncurses cannot drive this terminal.
  bool Start(bool colour);
  void Stop();
  // After SIGWINCH: adopts the terminal's new size.
  void Resize();
  // Ctrl+L: the next Draw() clears the terminal and paints every cell, for
  // a screen something else has written over.
  void RepaintAll();
  int rows() const;
  int cols() const;
  // Rows available to a window's text.
  int body_rows() const { return rows() > 3 ? rows() - 3 : 0; }

  // Appends every key stdin has now to `*keys` (never blocks), and a lone
  // kEscape once an ESC has waited kEscapeDelayMillis with no key after it.
  void ReadKeys(std::vector<Key>* keys);
  // While an ESC waits: milliseconds until ReadKeys() turns it into kEscape
  // (poll stdin at most this long, then call ReadKeys); -1 when none waits.
  int EscapeTimeoutMillis() const;

  void Draw(const ScreenRow& title, const std::vector<ScreenRow>& body, const ScreenRow& status,
            const std::string& prompt, const InputLine::View& input);

 private:
  int Attr(const Segment& segment) const;
  void DrawRow(int y, const ScreenRow& row, int base_attr);

  bool started_ = false;
  bool escape_pending_ = false;  // an ESC read, its key not yet
  int64_t escape_at_ms_ = 0;     // when it was read (CLOCK_MONOTONIC)
  bool colour_ = false;
  bool bright_ = false;  // 16+ colours: bright nick variants
  void* screen_ = nullptr;  // SCREEN*, opaque here to keep curses.h out of headers
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_FULLSCREEN_UI_H_
