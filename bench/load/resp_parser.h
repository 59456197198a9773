// Incremental parser for the subset of RESP2 that the Redis adapters read:
// simple strings, errors, integers, bulk strings and arrays of those (flat for
// pub/sub; nested, as stream replies are, with ParseRespTree). Parsing never
// copies: values are views into the input, valid until it is consumed.
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

// One value of a nested reply, in pre-order: an array is followed by its
// elements, each followed by its own elements.
struct RespNode {
  char type = 0;          // '+', '-', ':', '$', '*'
  absl::string_view str;  // '+', '-', '$'
  int64_t integer = 0;    // ':'; for '$' and '*' the declared length
  bool is_null = false;   // "$-1" or "*-1"
  size_t end = 0;         // index one past this node's last descendant
};

// Parses one value, arrays nested up to kMaxRespDepth deep (XREAD, XRANGE
// replies), from the front of `in` into `nodes` (cleared first; nodes[0] is
// the value). Returns the bytes it spans, 0 if incomplete, kInvalidArgument if
// malformed or nested deeper.
inline constexpr int kMaxRespDepth = 8;
absl::StatusOr<size_t> ParseRespTree(absl::string_view in, std::vector<RespNode>* nodes);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_RESP_PARSER_H_
