// Formatting of what the CLI prints: chat lines `[HH:MM:SS] <nick> text`,
// system lines, and one-line JSON objects for --json. Text from the network is
// made safe for a terminal here (control characters shown as ^X / U+XXXX), so
// a message cannot move the cursor or change the terminal's state.
// Pure functions; safe from any thread.
#ifndef MUXCHAT_CLIENT_MESSAGE_FORMAT_H_
#define MUXCHAT_CLIENT_MESSAGE_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/muxchat.pb.h"

namespace muxchat::client {

struct LineStyle {
  bool colour = false;           // ANSI colour escapes
  absl::TimeZone zone = absl::UTCTimeZone();  // for HH:MM:SS
};

// "HH:MM:SS" of a server timestamp in `zone`.
std::string FormatClock(int64_t unix_micros, absl::TimeZone zone);

// Replaces C0/C1 control characters and DEL by visible stand-ins (^[ for ESC,
// <U+0085> for C1) so that untrusted text cannot drive the terminal. Tabs stay.
std::string SanitizeForTerminal(absl::string_view text);

// `[HH:MM:SS] <nick> text`, prefixed by `[room] ` when `room` is non-empty
// (messages from a joined room that is not the active one), and by
// `history | ` for replayed history.
std::string FormatChatLine(const v1::ChatMessage& message, absl::string_view room, const LineStyle& style);

// FormatChatLine for the interactive client: a multi-line message shows as
// several lines, the second and later indented under the first line's text
// (each line still has its control characters made visible).
std::string FormatChatLines(const v1::ChatMessage& message, absl::string_view room, const LineStyle& style);

// One row for a message we sent that the server has not echoed yet:
// `[sending] <nick> text` (its first line, then "…" if it has more),
// prefixed by `[room] ` when `room` is non-empty.
std::string FormatPendingLine(absl::string_view nick, absl::string_view text, absl::string_view room);

// `-- text` (colour: dim yellow): joins, leaves, deletions, notices.
std::string FormatSystemLine(absl::string_view text, const LineStyle& style);

// `error: text` (colour: red): a refusal or failure, one line.
std::string FormatErrorLine(absl::string_view text, const LineStyle& style);

// A JSON string literal (with quotes) for `text`: escapes ", \, and control
// characters; other bytes pass through (the server only relays valid UTF-8).
std::string JsonString(absl::string_view text);

// One JSON object, no newline:
// {"room":"R","seq":N,"sender":"S","time":"2026-11-25T08:00:00.123456Z","time_unix_micros":N,"text":"T"}
std::string FormatMessageJson(absl::string_view room, const v1::ChatMessage& message);

// RFC 3339 UTC with microseconds, e.g. 2026-11-25T08:00:00.123456Z.
std::string FormatUtcTime(int64_t unix_micros);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_MESSAGE_FORMAT_H_
