#include "bench/load/resp_parser.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace muxchat::bench {
namespace {

constexpr int64_t kMaxBulkBytes = 512 * 1024 * 1024;
constexpr int64_t kMaxArray = 1 << 20;

// Finds "\r\n" at or after `from`; npos if absent.
size_t FindCrlf(absl::string_view in, size_t from) {
  while (from < in.size()) {
    const void* p = std::memchr(in.data() + from, '\r', in.size() - from);
    if (p == nullptr) return absl::string_view::npos;
    const size_t at = static_cast<size_t>(static_cast<const char*>(p) - in.data());
    if (at + 1 >= in.size()) return absl::string_view::npos;
    if (in[at + 1] == '\n') return at;
    from = at + 1;
  }
  return absl::string_view::npos;
}

// Parses a scalar at `pos`; 0 = incomplete.
absl::StatusOr<size_t> ParseScalar(absl::string_view in, size_t pos, RespValue* out) {
  if (pos >= in.size()) return 0;
  const size_t eol = FindCrlf(in, pos + 1);
  if (eol == absl::string_view::npos) return 0;
  const absl::string_view line = in.substr(pos + 1, eol - pos - 1);
  out->type = in[pos];
  out->is_null = false;
  out->elements.clear();
  switch (out->type) {
    case '+':
    case '-':
      out->str = line;
      return eol + 2 - pos;
    case ':':
      if (!absl::SimpleAtoi(line, &out->integer)) {
        return absl::InvalidArgumentError(absl::StrCat("bad RESP integer: ", line));
      }
      return eol + 2 - pos;
    case '$': {
      if (!absl::SimpleAtoi(line, &out->integer) || out->integer < -1 || out->integer > kMaxBulkBytes) {
        return absl::InvalidArgumentError(absl::StrCat("bad RESP bulk length: ", line));
      }
      if (out->integer == -1) {
        out->is_null = true;
        out->str = {};
        return eol + 2 - pos;
      }
      const size_t start = eol + 2;
      const size_t n = static_cast<size_t>(out->integer);
      if (in.size() < start + n + 2) return 0;
      if (in[start + n] != '\r' || in[start + n + 1] != '\n') {
        return absl::InvalidArgumentError("RESP bulk string not terminated by CRLF");
      }
      out->str = in.substr(start, n);
      return start + n + 2 - pos;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("unexpected RESP type byte 0x",
                                                     absl::Hex(static_cast<unsigned char>(in[pos]))));
  }
}

// Appends the value at `pos` and its descendants to `nodes`; 0 = incomplete.
absl::StatusOr<size_t> ParseTreeAt(absl::string_view in, size_t pos, int depth, std::vector<RespNode>* nodes) {
  if (pos >= in.size()) return 0;
  const size_t self = nodes->size();
  nodes->emplace_back();
  if (in[pos] != '*') {
    RespValue v;
    absl::StatusOr<size_t> used = ParseScalar(in, pos, &v);
    if (!used.ok() || *used == 0) return used;
    RespNode& n = (*nodes)[self];
    n.type = v.type;
    n.str = v.str;
    n.integer = v.integer;
    n.is_null = v.is_null;
    n.end = self + 1;
    return used;
  }
  if (depth >= kMaxRespDepth) return absl::InvalidArgumentError("RESP arrays nested too deep");
  const size_t eol = FindCrlf(in, pos + 1);
  if (eol == absl::string_view::npos) return 0;
  int64_t count;
  if (!absl::SimpleAtoi(in.substr(pos + 1, eol - pos - 1), &count) || count < -1 || count > kMaxArray) {
    return absl::InvalidArgumentError("bad RESP array length");
  }
  size_t at = eol + 2;
  for (int64_t i = 0; i < count; ++i) {
    absl::StatusOr<size_t> used = ParseTreeAt(in, at, depth + 1, nodes);
    if (!used.ok() || *used == 0) return used;
    at += *used;
  }
  RespNode& n = (*nodes)[self];  // after the children: emplace_back may have moved it
  n.type = '*';
  n.integer = count;
  n.is_null = count == -1;
  n.end = nodes->size();
  return at - pos;
}

}  // namespace

absl::StatusOr<size_t> ParseRespTree(absl::string_view in, std::vector<RespNode>* nodes) {
  nodes->clear();
  return ParseTreeAt(in, 0, 0, nodes);
}

absl::StatusOr<size_t> ParseResp(absl::string_view in, RespValue* out) {
  if (in.empty()) return 0;
  if (in[0] != '*') return ParseScalar(in, 0, out);
  const size_t eol = FindCrlf(in, 1);
  if (eol == absl::string_view::npos) return 0;
  int64_t n;
  if (!absl::SimpleAtoi(in.substr(1, eol - 1), &n) || n < -1 || n > kMaxArray) {
    return absl::InvalidArgumentError("bad RESP array length");
  }
  out->type = '*';
  out->integer = n;
  out->is_null = n == -1;
  out->str = {};
  if (n <= 0) {
    out->elements.clear();
    return eol + 2;
  }
  out->elements.resize(static_cast<size_t>(n));
  size_t pos = eol + 2;
  for (auto& e : out->elements) {
    if (pos < in.size() && in[pos] == '*') {
      return absl::InvalidArgumentError("nested RESP arrays are not supported");
    }
    absl::StatusOr<size_t> used = ParseScalar(in, pos, &e);
    if (!used.ok()) return used.status();
    if (*used == 0) return 0;
    pos += *used;
  }
  return pos;
}

}  // namespace muxchat::bench
