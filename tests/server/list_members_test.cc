// ChatService's ListMembers (docs/PROTOCOL.md §7.5.1) through in-memory
// connections: paging, order, refusals and the frame-size bound.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/server/chat_service.h"
#include "tests/server/chat_service_fixture.h"
#include "tests/wire/decode_all.h"

namespace muxchat::server {
namespace {

class ListMembersTest : public testing::ChatServiceFixture {
 protected:
  void SetUp() override {
    options_.messages_per_second = 0;  // hundreds of requests in no time
    Start();
  }

  uint64_t Create(Connection* c, const std::string& name) {
    v1::ClientFrame f;
    f.mutable_create_room()->set_name(name);
    Request(c, f);
    return TakeOne(c).reply().room_id();
  }

  void Join(Connection* c, const std::string& name) {
    v1::ClientFrame f;
    f.mutable_join_room()->set_name(name);
    Request(c, f);
    Take(c);
  }

  // Logs each nick in and joins it to `room`; the others' join events are dropped.
  void Populate(const std::string& room, const std::vector<std::string>& nicks) {
    for (const std::string& nick : nicks) Join(LogIn(nick), room);
    for (auto& c : conns_) Take(c.get());
  }

  v1::ServerFrame Page(Connection* c, uint64_t room, const std::string& after, uint32_t limit) {
    v1::ClientFrame f;
    f.set_room_id(room);
    f.mutable_list_members()->set_after(after);
    f.mutable_list_members()->set_limit(limit);
    Request(c, f);
    return TakeOne(c);
  }

  // Every page from the start, following next_cursor; each page must be a
  // SUCCESS within max_frame_bytes and hold at least one name.
  std::vector<std::string> ListAll(Connection* c, uint64_t room, uint32_t limit, int* pages) {
    std::vector<std::string> all;
    std::string cursor;
    *pages = 0;
    do {
      v1::ServerFrame out = Page(c, room, cursor, limit);
      EXPECT_EQ(out.reply().status(), v1::SUCCESS) << out.reply().message();
      EXPECT_EQ(out.room_id(), room);
      EXPECT_LE(out.ByteSizeLong(), options_.max_frame_bytes);
      EXPECT_GT(out.reply().members_size(), 0);
      if (limit > 0) {
        EXPECT_LE(out.reply().members_size(), static_cast<int>(limit));
      }
      for (const std::string& m : out.reply().members()) all.push_back(m);
      cursor = out.reply().next_cursor();
      ++*pages;
    } while (!cursor.empty() && *pages < 10000);
    return all;
  }
};

TEST_F(ListMembersTest, PagesFollowTheCursorToTheLastPage) {
  Connection* owner = LogIn("g");
  const uint64_t room = Create(owner, "lobby");
  Join(owner, "lobby");
  Populate("lobby", {"c", "a", "e", "b", "d", "f", "h"});
  int pages = 0;
  EXPECT_EQ(ListAll(owner, room, 3, &pages), (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h"}));
  EXPECT_EQ(pages, 3);
}

TEST_F(ListMembersTest, TheLastPageHasNoCursorAndTheTotalIsTheMemberCount) {
  Connection* owner = LogIn("a");
  const uint64_t room = Create(owner, "lobby");
  Join(owner, "lobby");
  Populate("lobby", {"b", "c"});
  v1::Reply first = Page(owner, room, "", 2).reply();
  EXPECT_EQ(first.next_cursor(), "b");
  EXPECT_EQ(first.member_count(), 3u);
  EXPECT_EQ(first.room_name(), "lobby");
  v1::Reply last = Page(owner, room, first.next_cursor(), 2).reply();
  ASSERT_EQ(last.members_size(), 1);
  EXPECT_EQ(last.members(0), "c");
  EXPECT_TRUE(last.next_cursor().empty());
}

TEST_F(ListMembersTest, NamesAreSortedByCaseFoldedNicknamePrefixFirst) {
  Connection* owner = LogIn("bob");
  const uint64_t room = Create(owner, "lobby");
  Join(owner, "lobby");
  Populate("lobby", {"Zed", "alice2", "Alice", "al", "carol"});
  int pages = 0;
  // Names come as registered; a prefix sorts before its extensions.
  EXPECT_EQ(ListAll(owner, room, 0, &pages),
            (std::vector<std::string>{"al", "Alice", "alice2", "bob", "carol", "Zed"}));
  EXPECT_EQ(pages, 1);
}

TEST_F(ListMembersTest, ACursorSurvivesTheDepartureOfItsMember) {
  Connection* owner = LogIn("a");
  const uint64_t room = Create(owner, "lobby");
  Join(owner, "lobby");
  Connection* b = LogIn("b");
  Join(b, "lobby");
  Populate("lobby", {"c", "d"});
  v1::Reply first = Page(owner, room, "", 2).reply();
  ASSERT_EQ(first.next_cursor(), "b");
  v1::ClientFrame leave;
  leave.set_room_id(room);
  leave.mutable_leave_room();
  Request(b, leave);
  Take(owner);  // b's MemberLeft
  v1::Reply second = Page(owner, room, first.next_cursor(), 2).reply();
  ASSERT_EQ(second.members_size(), 2);
  EXPECT_EQ(second.members(0), "c");
  EXPECT_EQ(second.members(1), "d");
}

TEST_F(ListMembersTest, ANonMemberMayListLikeIrcNames) {
  Connection* owner = LogIn("owner");
  const uint64_t room = Create(owner, "lobby");
  Join(owner, "lobby");
  Connection* outsider = LogIn("outsider");
  v1::Reply r = Page(outsider, room, "", 0).reply();
  EXPECT_EQ(r.status(), v1::SUCCESS);
  ASSERT_EQ(r.members_size(), 1);
  EXPECT_EQ(r.members(0), "owner");
}

TEST_F(ListMembersTest, AnEmptyRoomListsNoOne) {
  Connection* owner = LogIn("owner");
  const uint64_t room = Create(owner, "empty");
  v1::Reply r = Page(owner, room, "", 0).reply();
  EXPECT_EQ(r.status(), v1::SUCCESS);
  EXPECT_EQ(r.members_size(), 0);
  EXPECT_TRUE(r.next_cursor().empty());
}

TEST_F(ListMembersTest, AnUnknownRoomIsNotExists) {
  Connection* a = LogIn("a");
  v1::ServerFrame out = Page(a, 999, "", 0);
  EXPECT_EQ(out.reply().status(), v1::FAILURE_NOT_EXISTS);
  EXPECT_EQ(out.room_id(), 999u);
  EXPECT_NE(out.reply().message().find("999"), std::string::npos);
}

TEST_F(ListMembersTest, BeforeHelloItIsAHandshakeError) {
  Connection* c = NewConnection();
  v1::ClientFrame f;
  f.set_room_id(1);
  f.mutable_list_members();
  Request(c, f);
  v1::ServerFrame out = TakeOne(c);
  ASSERT_TRUE(out.has_error());
  EXPECT_EQ(out.error().status(), v1::FAILURE_HANDSHAKE);
}

TEST_F(ListMembersTest, ManyLongNicknamesPageWithinSmallFrames) {
  options_.max_frame_bytes = 1024;
  options_.max_text_bytes = 256;
  options_.max_room_name_bytes = 64;
  ASSERT_TRUE(ChatService::CheckOptions(options_).ok());
  Start();
  const std::string room_name(64, 'r');  // the longest room name rides on every page
  Connection* owner = LogIn(std::string(32, 'o'));
  const uint64_t room = Create(owner, room_name);
  Join(owner, room_name);
  std::vector<std::string> nicks;
  for (int i = 0; i < 300; ++i) nicks.push_back(absl::StrCat(std::string(28, 'n'), 1000 + i));  // 32 bytes
  Populate(room_name, nicks);
  int pages = 0;
  const std::vector<std::string> all = ListAll(owner, room, 0, &pages);
  ASSERT_EQ(all.size(), 301u);
  EXPECT_GT(pages, 10);  // about 25 names of 34 bytes fit in 1 KiB
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1], all[i]);
}

}  // namespace
}  // namespace muxchat::server
