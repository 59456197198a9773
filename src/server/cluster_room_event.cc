#include "src/server/cluster_room_event.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/server/cluster_fields.h"

namespace muxchat::server {
namespace {

constexpr absl::string_view kRecordTag = "r1;";
// Parses a record and advances *in past it.
absl::StatusOr<ClusterRoomRecord> TakeRecord(absl::string_view* in) {
  if (in->substr(0, kRecordTag.size()) != kRecordTag) return absl::InvalidArgumentError("room record: unknown tag");
  in->remove_prefix(kRecordTag.size());
  ClusterRoomRecord r;
  absl::string_view name, owner_name, owner_node;
  if (!TakeNumber(in, &r.id) || !TakeField(in, &name) || !TakeNumber(in, &r.owner_account_id) ||
      !TakeField(in, &owner_name) || !TakeField(in, &owner_node) || !TakeNumber(in, &r.owner_conn_id) ||
      !TakeNumber(in, &r.created_unix_micros)) {
    return absl::InvalidArgumentError("room record: malformed field");
  }
  if (r.id == 0 || name.empty()) return absl::InvalidArgumentError("room record: no id or name");
  r.name = std::string(name);
  r.owner_name = std::string(owner_name);
  r.owner_node = std::string(owner_node);
  return r;
}

}  // namespace

std::string EncodeRoomRecordTail(const ClusterRoomRecord& r) {
  std::string out;
  AppendField(&out, r.name);
  AppendField(&out, absl::StrCat(r.owner_account_id));
  AppendField(&out, r.owner_name);
  AppendField(&out, r.owner_node);
  AppendField(&out, absl::StrCat(r.owner_conn_id));
  AppendField(&out, absl::StrCat(r.created_unix_micros));
  return out;
}

std::string EncodeRoomRecord(const ClusterRoomRecord& r) {
  std::string out(kRecordTag);
  AppendField(&out, absl::StrCat(r.id));
  out += EncodeRoomRecordTail(r);
  return out;
}

absl::StatusOr<ClusterRoomRecord> DecodeRoomRecord(absl::string_view payload) {
  absl::StatusOr<ClusterRoomRecord> r = TakeRecord(&payload);
  if (r.ok() && !payload.empty()) return absl::InvalidArgumentError("room record: bytes after the last field");
  return r;
}

std::string EncodeRoomEvent(const ClusterRoomEvent& e) {
  if (e.kind == ClusterRoomEvent::Kind::kCreated) return "c" + EncodeRoomRecord(e.room);
  std::string out = "d";
  AppendField(&out, absl::StrCat(e.room.id));
  AppendField(&out, e.closed_by);
  return out;
}

absl::StatusOr<ClusterRoomEvent> DecodeRoomEvent(absl::string_view payload) {
  ClusterRoomEvent e;
  if (payload.empty()) return absl::InvalidArgumentError("room event: empty");
  const char kind = payload.front();
  payload.remove_prefix(1);
  if (kind == 'c') {
    e.kind = ClusterRoomEvent::Kind::kCreated;
    absl::StatusOr<ClusterRoomRecord> r = DecodeRoomRecord(payload);
    if (!r.ok()) return r.status();
    e.room = std::move(*r);
    return e;
  }
  if (kind == 'd') {
    e.kind = ClusterRoomEvent::Kind::kDeleted;
    absl::string_view closed_by;
    if (!TakeNumber(&payload, &e.room.id) || !TakeField(&payload, &closed_by) || !payload.empty() ||
        e.room.id == 0) {
      return absl::InvalidArgumentError("room event: malformed delete");
    }
    e.closed_by = std::string(closed_by);
    return e;
  }
  return absl::InvalidArgumentError("room event: unknown kind");
}

}  // namespace muxchat::server
