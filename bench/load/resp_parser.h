// Incremental parser for the subset of RESP2 that Redis pub/sub sends: simple
// strings, errors, integers, bulk strings and flat arrays of those. Parsing
// never copies: values are views into the input, valid until it is consumed.
// Stateless between calls (a partial value is simply re-parsed when more bytes
// arrive). Single-threaded.
#ifndef MUXCHAT_BENCH_LOAD_RESP_PARSER_H_
#define MUXCHAT_BENCH_LOAD_RESP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::bench {

struct RespValue {
  char type = 0;           // '+', '-', ':', '$', '*'
  absl::string_view str;   // '+', '-', '$' (null bulk: is_null)
  int64_t integer = 0;     // ':'; for '$' and '*' the declared length
  bool is_null = false;    // "$-1" or "*-1"
  std::vector<RespValue> elements;  // '*': scalars only
};

// Parses one value from the front of `in`. Returns the bytes it spans, 0 if
// `in` holds only part of it, or kInvalidArgument for malformed input
// (including nested arrays, which pub/sub never sends).
absl::StatusOr<size_t> ParseResp(absl::string_view in, RespValue* out);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_RESP_PARSER_H_
