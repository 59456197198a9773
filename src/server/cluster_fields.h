// The field encoding of every payload muxchat puts in Redis (messages, room
// records and events, presence): "<decimal length>:<bytes>", one after the
// other, so any byte may appear in a field. The Lua scripts write the same
// form. Pure functions, any thread.
#ifndef MUXCHAT_SERVER_CLUSTER_FIELDS_H_
#define MUXCHAT_SERVER_CLUSTER_FIELDS_H_

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace muxchat::server {

// Longer than any text muxchatd accepts (--max_text_bytes is bounded by the
// frame cap); a length above it is corruption, refused before it is trusted.
inline constexpr uint64_t kMaxClusterFieldBytes = 16 * 1024 * 1024;

void AppendField(std::string* out, absl::string_view field);
// Decimal digits only: SimpleAtoi alone would also take a sign and spaces.
bool AllDigits(absl::string_view s);
// Takes one field off the front of *in; false if *in does not start with one.
bool TakeField(absl::string_view* in, absl::string_view* field);
// `s` as a decimal number: digits only, at least one, no overflow.
bool ParseDecimal(absl::string_view s, uint64_t* value);

// One field holding a decimal number that fits `Int`. A receiving node takes
// five per message (cluster_message.h), so this is a plain digit loop, not
// AllDigits + SimpleAtoi (most of its decoding time in a profile: §11.6).
template <typename Int>
bool TakeNumber(absl::string_view* in, Int* value) {
  static_assert(std::is_integral_v<Int>);
  absl::string_view field;
  uint64_t v = 0;
  if (!TakeField(in, &field) || !ParseDecimal(field, &v) ||
      v > static_cast<uint64_t>(std::numeric_limits<Int>::max())) {
    return false;
  }
  *value = static_cast<Int>(v);
  return true;
}

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_FIELDS_H_
