#include "src/client/message_format.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "src/client/display_width.h"

namespace muxchat::client {
namespace {

constexpr const char* kReset = "\x1b[0m";
constexpr const char* kDim = "\x1b[2m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kCyan = "\x1b[36m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kRed = "\x1b[31m";
constexpr const char* kMagenta = "\x1b[35m";

}  // namespace

std::string FormatClock(int64_t unix_micros, absl::TimeZone zone) {
  return absl::FormatTime("%H:%M:%S", absl::FromUnixMicros(unix_micros), zone);
}

std::string FormatUtcTime(int64_t unix_micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(unix_micros), absl::UTCTimeZone());
}

std::string SanitizeForTerminal(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\t') {
      out.push_back('\t');
    } else if (c < 0x20) {
      out.push_back('^');
      out.push_back(static_cast<char>(c + 0x40));
    } else if (c == 0x7f) {
      out += "^?";
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      // C1 control (U+0080..U+009F), encoded as C2 80..C2 9F.
      absl::StrAppendFormat(&out, "<U+%04X>", static_cast<unsigned char>(text[i + 1]));
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string FormatChatLine(const v1::ChatMessage& message, absl::string_view room, const LineStyle& style) {
  std::string out;
  const bool c = style.colour;
  if (message.replay()) absl::StrAppend(&out, c ? kDim : "", "history | ");
  if (!room.empty()) absl::StrAppend(&out, c ? kMagenta : "", "[", SanitizeForTerminal(room), "] ", c ? kReset : "",
                                     c && message.replay() ? kDim : "");
  absl::StrAppend(&out, "[", FormatClock(message.timestamp_unix_micros(), style.zone), "] ");
  absl::StrAppend(&out, c ? kBold : "", c ? kCyan : "", "<", SanitizeForTerminal(message.sender()), ">",
                  c ? kReset : "", c && message.replay() ? kDim : "", " ");
  absl::StrAppend(&out, SanitizeForTerminal(message.text()), c ? kReset : "");
  return out;
}

std::string FormatChatLines(const v1::ChatMessage& message, absl::string_view room, const LineStyle& style) {
  if (message.text().find('\n') == std::string::npos) return FormatChatLine(message, room, style);
  // Format the first line as a whole message, then indent the others by the
  // display width of everything before the text: "[room] [HH:MM:SS] <nick> ".
  std::vector<absl::string_view> lines = absl::StrSplit(message.text(), '\n');
  v1::ChatMessage first = message;
  first.set_text(std::string(absl::StripSuffix(lines[0], "\r")));
  std::string out = FormatChatLine(first, room, style);
  v1::ChatMessage bare = message;
  bare.set_text("");
  const LineStyle plain{false, style.zone};
  const size_t indent = DisplayWidth(FormatChatLine(bare, room, plain));
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::StrAppend(&out, "\n", std::string(indent, ' '), style.colour && message.replay() ? kDim : "",
                    SanitizeForTerminal(absl::StripSuffix(lines[i], "\r")), style.colour && message.replay() ? kReset : "");
  }
  return out;
}

std::string FormatPendingLine(absl::string_view nick, absl::string_view text, absl::string_view room) {
  const size_t newline = text.find('\n');
  const absl::string_view first = newline == absl::string_view::npos ? text : text.substr(0, newline);
  return absl::StrCat(room.empty() ? "" : absl::StrCat("[", SanitizeForTerminal(room), "] "), "[sending] <",
                      SanitizeForTerminal(nick), "> ", SanitizeForTerminal(absl::StripSuffix(first, "\r")),
                      newline == absl::string_view::npos ? "" : " \xe2\x80\xa6");
}

std::string FormatSystemLine(absl::string_view text, const LineStyle& style) {
  if (!style.colour) return absl::StrCat("-- ", SanitizeForTerminal(text));
  return absl::StrCat(kYellow, "-- ", SanitizeForTerminal(text), kReset);
}

std::string FormatErrorLine(absl::string_view text, const LineStyle& style) {
  if (!style.colour) return absl::StrCat("error: ", SanitizeForTerminal(text));
  return absl::StrCat(kRed, "error: ", SanitizeForTerminal(text), kReset);
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(ch);
        }
    }
  }
  out += "\"";
  return out;
}

std::string FormatMessageJson(absl::string_view room, const v1::ChatMessage& message) {
  return absl::StrCat("{\"room\":", JsonString(room), ",\"seq\":", message.seq(),
                      ",\"sender\":", JsonString(message.sender()),
                      ",\"time\":", JsonString(FormatUtcTime(message.timestamp_unix_micros())),
                      ",\"time_unix_micros\":", message.timestamp_unix_micros(),
                      ",\"text\":", JsonString(message.text()), "}");
}

}  // namespace muxchat::client
