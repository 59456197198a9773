#include "src/server/cluster_fields.h"

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
  const size_t colon = in->find(':');
  if (colon == absl::string_view::npos || colon > 10 || !AllDigits(in->substr(0, colon))) return false;
  uint64_t len = 0;
  if (!absl::SimpleAtoi(in->substr(0, colon), &len) || len > kMaxClusterFieldBytes) return false;
  if (in->size() - colon - 1 < len) return false;
  *field = in->substr(colon + 1, len);
  in->remove_prefix(colon + 1 + len);
  return true;
}

}  // namespace muxchat::server
