#include "src/client/completion.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "src/client/tui_text.h"

namespace muxchat::client {
namespace {

std::u32string Lower(std::u32string s) {
  for (char32_t& c : s) {
    if (c < 0x80) c = static_cast<char32_t>(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

bool TakesRoom(const std::u32string& first_word) {
  std::u32string w = Lower(first_word);
  if (!w.empty() && w[0] == U'/') w.erase(0, 1);
  for (const char32_t* verb : {U"join", U"switch", U"leave", U"delete", U"names", U"create", U"win"}) {
    if (w == verb) return true;
  }
  return false;
}

}  // namespace

bool Completer::Complete(std::u32string* text, size_t* cursor, const CompletionSources& sources) {
  if (cycling_ && *text == result_ && *cursor == result_cursor_ && matches_.size() > 1) {
    index_ = (index_ + 1) % matches_.size();
  } else {
    cycling_ = false;
    size_t start = *cursor;
    while (start > 0 && (*text)[start - 1] != U' ') --start;
    const std::u32string word = Lower(text->substr(start, *cursor - start));
    size_t first_end = 0;
    while (first_end < text->size() && (*text)[first_end] != U' ') ++first_end;
    const std::vector<std::string>* pool;
    suffix_ = U" ";
    if (start == 0 && !word.empty() && word[0] == U'/') {
      pool = &sources.commands;
    } else if (start > 0 && TakesRoom(text->substr(0, first_end)) &&
               text->find_first_not_of(U' ', first_end) == start) {
      pool = &sources.rooms;
    } else {
      pool = &sources.nicks;
      if (start == 0) suffix_ = U": ";
    }
    matches_.clear();
    for (const std::string& candidate : *pool) {
      std::u32string c = ToCodePoints(candidate);
      if (Lower(c).compare(0, word.size(), word) == 0) matches_.push_back(std::move(c));
    }
    std::sort(matches_.begin(), matches_.end(),
              [](const std::u32string& a, const std::u32string& b) { return Lower(a) < Lower(b); });
    matches_.erase(std::unique(matches_.begin(), matches_.end()), matches_.end());
    if (matches_.empty()) return false;
    original_ = *text;
    original_cursor_ = *cursor;
    start_ = start;
    after_ = text->substr(*cursor);
    if (!after_.empty()) suffix_.clear();  // completing inside text: no separator
    index_ = 0;
    cycling_ = true;
  }
  std::u32string completed = text->substr(0, start_) + matches_[index_] + suffix_;
  result_cursor_ = completed.size();
  result_ = completed + after_;
  *text = result_;
  *cursor = result_cursor_;
  return true;
}

bool Completer::Cancel(std::u32string* text, size_t* cursor) {
  const bool restore = cycling_ && *text == result_ && *cursor == result_cursor_;
  cycling_ = false;
  if (!restore) return false;
  *text = original_;
  *cursor = original_cursor_;
  return true;
}

}  // namespace muxchat::client
