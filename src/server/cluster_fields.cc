#include "src/server/cluster_fields.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace muxchat::server {

void AppendField(std::string* out, absl::string_view field) { absl::StrAppend(out, field.size(), ":", field); }

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool TakeField(absl::string_view* in, absl::string_view* field) {
  // "<at most 10 digits>:<that many bytes>", read in one pass.
  const char* p = in->data();
  const size_t size = in->size();
  uint64_t len = 0;
  size_t i = 0;
  for (; i < size && i <= 10; ++i) {
    const char c = p[i];
    if (c == ':') break;
    if (c < '0' || c > '9') return false;
    len = len * 10 + static_cast<uint64_t>(c - '0');
  }
  if (i == 0 || i > 10 || i >= size || p[i] != ':' || len > kMaxClusterFieldBytes) return false;
  if (size - i - 1 < len) return false;
  *field = in->substr(i + 1, len);
  in->remove_prefix(i + 1 + len);
  return true;
}

bool ParseDecimal(absl::string_view s, uint64_t* value) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  *value = v;
  return true;
}

}  // namespace muxchat::server
