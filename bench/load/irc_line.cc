#include "bench/load/irc_line.h"

#include <cstring>

namespace muxchat::bench {

bool NextIrcLine(absl::string_view in, absl::string_view* line, size_t* consumed) {
  const void* nl = std::memchr(in.data(), '\n', in.size());
  if (nl == nullptr) {
    *consumed = 0;
    return false;
  }
  const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - in.data());
  *line = in.substr(0, end);
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  *consumed = end + 1;
  return true;
}

bool ParseIrcLine(absl::string_view line, IrcMessage* msg) {
  msg->prefix = {};
  msg->command = {};
  msg->params.clear();
  auto skip_spaces = [&line] {
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  };
  auto take_word = [&line] {
    const size_t sp = line.find(' ');
    const absl::string_view w = line.substr(0, sp);
    line.remove_prefix(sp == absl::string_view::npos ? line.size() : sp);
    return w;
  };
  if (!line.empty() && line.front() == ':') {
    line.remove_prefix(1);
    msg->prefix = take_word();
  }
  skip_spaces();
  msg->command = take_word();
  if (msg->command.empty()) return false;
  for (;;) {
    skip_spaces();
    if (line.empty()) break;
    if (line.front() == ':' || msg->params.size() == 14) {
      if (line.front() == ':') line.remove_prefix(1);
      msg->params.push_back(line);
      break;
    }
    msg->params.push_back(take_word());
  }
  return true;
}

}  // namespace muxchat::bench
