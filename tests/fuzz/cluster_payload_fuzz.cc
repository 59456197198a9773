// FuzzClusterPayload: what a cluster node reads from a room's Redis channel
// (DecodeClusterPayload, "m1;", "mb2;" and "mb1;"). Any bytes either decode to the
// channel's room's messages, seqs strictly ascending, that encode back to a
// payload decoding to the same messages, or are refused with
// kInvalidArgument; the one-message form reads the same through
// DecodeClusterMessage. See fuzz_targets.h.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/server/cluster_message.h"
#include "tests/fuzz/fuzz_targets.h"

namespace muxchat::fuzz {

int FuzzClusterPayload(const uint8_t* data, size_t size) {
  constexpr uint64_t kRoom = 7;
  const absl::string_view in(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<std::vector<server::ClusterMessage>> got = server::DecodeClusterPayload(kRoom, in);
  const absl::StatusOr<server::ClusterMessage> one = server::DecodeClusterMessage(kRoom, in);
  if (one.ok()) FUZZ_CHECK(got.ok() && got->size() == 1 && (*got)[0] == *one);
  if (!got.ok()) {
    FUZZ_CHECK(got.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(!got->empty());
  size_t bytes = 0;
  for (size_t i = 0; i < got->size(); ++i) {
    const server::ClusterMessage& m = (*got)[i];
    FUZZ_CHECK(m.room_id == kRoom);
    if (i > 0) FUZZ_CHECK(m.seq > (*got)[i - 1].seq);
    bytes += m.sender.size() + m.text.size();
  }
  // Nothing is made up: every byte of a name or text came from the input.
  FUZZ_CHECK(bytes <= size);
  const std::string again = server::EncodeClusterPayload(*got);
  const absl::StatusOr<std::vector<server::ClusterMessage>> back = server::DecodeClusterPayload(kRoom, again);
  FUZZ_CHECK(back.ok() && *back == *got);
  return 0;
}

}  // namespace muxchat::fuzz
