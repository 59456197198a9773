#include "bench/load/nats_parser.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace muxchat::bench {
namespace {
constexpr size_t kMaxControlLine = 4096;
constexpr size_t kMaxPayload = 64 * 1024 * 1024;
}  // namespace

absl::StatusOr<size_t> ParseNatsOp(absl::string_view in, NatsOp* op) {
  const void* nl = std::memchr(in.data(), '\n', in.size());
  if (nl == nullptr) {
    if (in.size() > kMaxControlLine) return absl::InvalidArgumentError("NATS control line too long");
    return 0;
  }
  const size_t line_end = static_cast<size_t>(static_cast<const char*>(nl) - in.data());
  absl::string_view line = in.substr(0, line_end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t after_line = line_end + 1;

  const size_t sp = line.find_first_of(" \t");
  const absl::string_view verb = line.substr(0, sp);
  const absl::string_view rest =
      sp == absl::string_view::npos ? absl::string_view() : absl::StripLeadingAsciiWhitespace(line.substr(sp));

  if (absl::EqualsIgnoreCase(verb, "HMSG")) {
    // HMSG <subject> <sid> [reply-to] <header bytes> <total bytes>
    std::vector<absl::string_view> f = absl::StrSplit(rest, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() != 4 && f.size() != 5) {
      return absl::InvalidArgumentError(absl::StrCat("bad NATS HMSG line: ", line));
    }
    size_t header_bytes, total;
    if (!absl::SimpleAtoi(f[f.size() - 2], &header_bytes) || !absl::SimpleAtoi(f.back(), &total) ||
        total > kMaxPayload || header_bytes > total) {
      return absl::InvalidArgumentError(absl::StrCat("bad NATS HMSG sizes: ", line));
    }
    if (in.size() < after_line + total + 2) return 0;
    if (in[after_line + total] != '\r' || in[after_line + total + 1] != '\n') {
      return absl::InvalidArgumentError("NATS HMSG payload not terminated by CRLF");
    }
    op->kind = NatsOp::kMsg;
    op->subject = f[0];
    op->sid = f[1];
    op->reply_to = f.size() == 5 ? f[2] : absl::string_view();
    op->headers = in.substr(after_line, header_bytes);
    op->payload = in.substr(after_line + header_bytes, total - header_bytes);
    op->args = {};
    return after_line + total + 2;
  }
  if (absl::EqualsIgnoreCase(verb, "MSG")) {
    std::vector<absl::string_view> f = absl::StrSplit(rest, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() != 3 && f.size() != 4) {
      return absl::InvalidArgumentError(absl::StrCat("bad NATS MSG line: ", line));
    }
    size_t n;
    if (!absl::SimpleAtoi(f.back(), &n) || n > kMaxPayload) {
      return absl::InvalidArgumentError(absl::StrCat("bad NATS MSG size: ", line));
    }
    if (in.size() < after_line + n + 2) return 0;
    if (in[after_line + n] != '\r' || in[after_line + n + 1] != '\n') {
      return absl::InvalidArgumentError("NATS MSG payload not terminated by CRLF");
    }
    op->kind = NatsOp::kMsg;
    op->subject = f[0];
    op->sid = f[1];
    op->reply_to = f.size() == 4 ? f[2] : absl::string_view();
    op->payload = in.substr(after_line, n);
    op->headers = {};
    op->args = {};
    return after_line + n + 2;
  }
  op->args = rest;
  op->subject = op->sid = op->reply_to = op->payload = op->headers = {};
  if (absl::EqualsIgnoreCase(verb, "PING")) {
    op->kind = NatsOp::kPing;
  } else if (absl::EqualsIgnoreCase(verb, "PONG")) {
    op->kind = NatsOp::kPong;
  } else if (absl::EqualsIgnoreCase(verb, "+OK")) {
    op->kind = NatsOp::kOk;
  } else if (absl::EqualsIgnoreCase(verb, "-ERR")) {
    op->kind = NatsOp::kErr;
  } else if (absl::EqualsIgnoreCase(verb, "INFO")) {
    op->kind = NatsOp::kInfo;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown NATS operation: ", line));
  }
  return after_line;
}

}  // namespace muxchat::bench
