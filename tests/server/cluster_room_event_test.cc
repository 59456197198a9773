#include "src/server/cluster_room_event.h"

#include "gtest/gtest.h"
#include "src/server/cluster_presence.h"

namespace muxchat::server {
namespace {

ClusterRoomRecord Sample() {
  ClusterRoomRecord r;
  r.id = 42;
  r.name = "caf\xC3\xA9 :7:";  // a ':' and digits inside a field
  r.owner_account_id = 7;
  r.owner_name = "alice";
  r.owner_node = "n-1";
  r.owner_conn_id = 0;
  r.created_unix_micros = 1796000000123456;
  return r;
}

TEST(ClusterRoomEvent, RecordsRoundTrip) {
  absl::StatusOr<ClusterRoomRecord> back = DecodeRoomRecord(EncodeRoomRecord(Sample()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Sample());
}

TEST(ClusterRoomEvent, TheScriptsFormIsTheTailAfterTheId) {
  // The create script prepends "r1;" and the id field to the tail.
  EXPECT_EQ(EncodeRoomRecord(Sample()), "r1;2:42" + EncodeRoomRecordTail(Sample()));
}

TEST(ClusterRoomEvent, CreatedAndDeletedEventsRoundTrip) {
  ClusterRoomEvent created;
  created.room = Sample();
  absl::StatusOr<ClusterRoomEvent> c = DecodeRoomEvent(EncodeRoomEvent(created));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ClusterRoomEvent::Kind::kCreated);
  EXPECT_EQ(c->room, Sample());
  ClusterRoomEvent deleted;
  deleted.kind = ClusterRoomEvent::Kind::kDeleted;
  deleted.room.id = 9;
  deleted.closed_by = "bob";
  absl::StatusOr<ClusterRoomEvent> d = DecodeRoomEvent(EncodeRoomEvent(deleted));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, ClusterRoomEvent::Kind::kDeleted);
  EXPECT_EQ(d->room.id, 9u);
  EXPECT_EQ(d->closed_by, "bob");
}

TEST(ClusterRoomEvent, MalformedPayloadsAreRefused) {
  const std::string good = EncodeRoomRecord(Sample());
  for (const std::string& bad : {std::string(), std::string("r2;") + good.substr(3), good.substr(0, good.size() - 1),
                                 good + "x", std::string("r1;1:01:x1:01:01:01:01:0"), std::string("x"),
                                 std::string("d1:5"), std::string("d1:01:x")}) {
    EXPECT_FALSE(DecodeRoomRecord(bad).ok()) << bad;
    EXPECT_FALSE(DecodeRoomEvent("c" + bad).ok()) << bad;
  }
  EXPECT_FALSE(DecodeRoomEvent("d1:5").ok());    // no closed_by
  EXPECT_FALSE(DecodeRoomEvent("d1:01:x").ok());  // room 0
}

TEST(PresenceEvent, JoinsAndLeavesDecodeAsTheScriptsWriteThem) {
  absl::StatusOr<PresenceEvent> j = DecodePresenceEvent("pj2:n12:165:alice1:3");
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE(j->joined);
  EXPECT_EQ(j->node, "n1");
  EXPECT_EQ(j->conn_id, 16u);
  EXPECT_EQ(j->nickname, "alice");
  EXPECT_EQ(j->member_count, 3u);
  absl::StatusOr<PresenceEvent> l = DecodePresenceEvent("pl2:n32:165:carol1:29:node lost");
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l->joined);
  EXPECT_EQ(l->reason, "node lost");
  EXPECT_EQ(l->member_count, 2u);
  EXPECT_FALSE(DecodePresenceEvent("pl2:n32:165:carol1:2").ok());  // a leave without its reason
  EXPECT_FALSE(DecodePresenceEvent("px2:n1").ok());
  EXPECT_FALSE(DecodePresenceEvent("pj2:n12:x5:alice1:3").ok());
}

}  // namespace
}  // namespace muxchat::server
