// The field encoding of every payload muxchat puts in Redis (messages, room
// records and events, presence): "<decimal length>:<bytes>", one after the
// other, so any byte may appear in a field. The Lua scripts write the same
// form. Pure functions, any thread.
#ifndef MUXCHAT_SERVER_CLUSTER_FIELDS_H_
#define MUXCHAT_SERVER_CLUSTER_FIELDS_H_

#include <cstdint>
#include <string>

#include "absl/strings/numbers.h"
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

template <typename Int>
bool TakeNumber(absl::string_view* in, Int* value) {
  absl::string_view field;
  return TakeField(in, &field) && AllDigits(field) && absl::SimpleAtoi(field, value);
}

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_FIELDS_H_
