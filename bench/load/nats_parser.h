// Incremental parser for what a NATS server sends a client (text protocol):
// INFO, MSG and HMSG (with their payloads), PING, PONG, +OK and -ERR. Views into the
// input, valid until it is consumed; a partial operation is re-parsed when
// more bytes arrive. Single-threaded.
#ifndef MUXCHAT_BENCH_LOAD_NATS_PARSER_H_
#define MUXCHAT_BENCH_LOAD_NATS_PARSER_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::bench {

struct NatsOp {
  enum Kind { kInfo, kMsg, kPing, kPong, kOk, kErr } kind = kOk;
  absl::string_view args;     // INFO's JSON, -ERR's text
  absl::string_view subject;  // MSG
  absl::string_view sid;      // MSG
  absl::string_view reply_to; // MSG, may be empty
  absl::string_view payload;  // MSG; for HMSG the body after the headers
  absl::string_view headers;  // HMSG ("NATS/1.0 ..." through the blank line); empty for MSG
};

// HMSG (a message with headers, JetStream's status messages among them) is
// reported as kind kMsg with `headers` set.
// Parses one operation from the front of `in`: bytes spanned, 0 if
// incomplete, kInvalidArgument if malformed.
absl::StatusOr<size_t> ParseNatsOp(absl::string_view in, NatsOp* op);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_NATS_PARSER_H_
