// Several real muxchatd processes sharing rooms through one real
// redis-server (--cluster_redis, issue 12): one order per room across nodes,
// presence across nodes, and the faults of docs/SCALING.md §5 — a node
// killed mid-flood, Redis wedged, a node stopped with SIGSTOP.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/muxchat.pb.h"
#include "tests/server/frame_client.h"
#include "tests/server/muxchatd_process.h"
#include "tests/server/redis_process.h"

namespace muxchat::server::testing {
namespace {

uint64_t next_request = 1;

v1::ClientFrame Frame() {
  v1::ClientFrame f;
  f.set_request_id(next_request++);
  return f;
}

// A guest client of one node, as the frames see it.
class Member {
 public:
  // A guest's Hello asks Redis (the nickname is the cluster's): retried
  // while the node is still connecting to it.
  Member(uint16_t port, const std::string& nick) : c_(port) {
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    for (;;) {
      v1::ClientFrame f = Frame();
      f.mutable_hello()->set_nickname(nick);
      f.mutable_hello()->set_protocol_version(1);
      c_.Send(f);
      std::optional<v1::ServerFrame> w = c_.Await(f.request_id());
      welcomed_ = w.has_value() && w->has_welcome();
      const bool retry = w.has_value() && w->has_reply() && w->reply().status() == v1::FAILURE_STORAGE;
      if (welcomed_ || !retry || absl::Now() > deadline) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  bool welcomed() const { return welcomed_; }
  FrameClient& client() { return c_; }

  v1::Reply Call(v1::ClientFrame f) {
    c_.Send(f);
    for (;;) {
      std::optional<v1::ServerFrame> r = c_.Read();
      if (!r.has_value()) return v1::Reply();
      if (r->request_id() == f.request_id() && r->has_reply()) return r->reply();
      events_.push_back(std::move(*r));
    }
  }
  // Retried while the node is still connecting to Redis (or has not heard
  // of a room just created elsewhere): each try is a round trip.
  v1::Reply CallUntilOk(const v1::ClientFrame& f, absl::Duration timeout = absl::Seconds(15)) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      v1::ClientFrame again = f;
      again.set_request_id(next_request++);
      v1::Reply r = Call(again);
      if (r.status() == v1::SUCCESS) return r;
      if (absl::Now() > deadline) {
        ADD_FAILURE() << "still refused after " << timeout << ": " << r.ShortDebugString();
        return r;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  v1::Reply Create(const std::string& room) {
    v1::ClientFrame f = Frame();
    f.mutable_create_room()->set_name(room);
    return CallUntilOk(f);
  }
  v1::Reply Join(const std::string& room) {
    v1::ClientFrame f = Frame();
    f.mutable_join_room()->set_name(room);
    v1::Reply r = CallUntilOk(f);
    room_id_ = r.room_id();
    return r;
  }
  // Sends without waiting; the answer (own copy) comes as an event.
  void Send(const std::string& text) {
    v1::ClientFrame f = Frame();
    f.set_room_id(room_id_);
    f.mutable_send_message()->set_text(text);
    c_.Send(f);
  }
  // The next event that is not a reply, or nullopt after `timeout`.
  std::optional<v1::ServerFrame> NextEvent(absl::Duration timeout = absl::Seconds(10)) {
    if (!events_.empty()) {
      v1::ServerFrame f = std::move(events_.front());
      events_.erase(events_.begin());
      return f;
    }
    for (;;) {
      std::optional<v1::ServerFrame> f = c_.Read(timeout);
      if (!f.has_value() || !f->has_reply()) return f;
    }
  }
  // Chat messages until `count` have arrived (other events kept aside in
  // `others` if given); fewer if the stream stalls for `timeout`.
  std::vector<v1::ChatMessage> Messages(size_t count, std::vector<v1::ServerFrame>* others = nullptr,
                                        absl::Duration timeout = absl::Seconds(15)) {
    std::vector<v1::ChatMessage> out;
    while (out.size() < count) {
      std::optional<v1::ServerFrame> f = NextEvent(timeout);
      if (!f.has_value()) break;
      if (f->has_chat_message()) {
        out.push_back(f->chat_message());
      } else if (others != nullptr) {
        others->push_back(std::move(*f));
      }
    }
    return out;
  }
  // Waits for an event matching `pred`, skipping others.
  template <typename Pred>
  std::optional<v1::ServerFrame> WaitFor(Pred pred, absl::Duration timeout = absl::Seconds(15)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      std::optional<v1::ServerFrame> f = NextEvent(deadline - absl::Now());
      if (!f.has_value()) return f;
      if (pred(*f)) return f;
    }
    return std::nullopt;
  }
  uint64_t room_id() const { return room_id_; }

 private:
  FrameClient c_;
  bool welcomed_ = false;
  uint64_t room_id_ = 0;
  std::vector<v1::ServerFrame> events_;
};

class ClusterNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveRedisServer()) GTEST_SKIP() << "redis-server not installed";
    ASSERT_TRUE(redis_.Start().ok());
  }

  uint16_t StartNode(const std::string& name) {
    auto d = std::make_unique<MuxchatdProcess>(std::vector<std::string>{
        "--listen=127.0.0.1:0", "--log_level=warn", absl::StrCat("--cluster_redis=127.0.0.1:", redis_.port()),
        "--node_name=" + name, "--messages_per_second=0", "--password_test_cost"});
    const uint16_t port = d->ReadPort();
    nodes_[name] = std::move(d);
    return port;
  }
  MuxchatdProcess& node(const std::string& name) { return *nodes_[name]; }

  RedisProcess redis_;
  std::map<std::string, std::unique_ptr<MuxchatdProcess>> nodes_;
};

// The status line of GET `path` on the node's port (HTTP on the same port).
std::string HttpStatusLine(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[512];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return got.substr(0, got.find("\r\n"));
}

// The status line of `path` once it is `want`, or the last one seen when
// `within` runs out. /healthz has no event to wait for: a node reports up
// once its command link, its subscriber and its registry read are all back,
// which happen independently, so it is asked again until then.
std::string AwaitStatusLine(uint16_t port, const std::string& path, const std::string& want, absl::Duration within) {
  const absl::Time deadline = absl::Now() + within;
  std::string got = HttpStatusLine(port, path);
  while (got != want && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    got = HttpStatusLine(port, path);
  }
  return got;
}

// Seqs 1..n in order, each once.
void ExpectGapless(const std::vector<v1::ChatMessage>& got, size_t n, const std::string& who) {
  ASSERT_EQ(got.size(), n) << who;
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].seq(), i + 1) << who << " at " << i;
}

TEST_F(ClusterNodesTest, MembersOnThreeNodesSeeOneOrderOfMessagesSentOnAllThree) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2"), p3 = StartNode("n3");
  ASSERT_TRUE(p1 != 0 && p2 != 0 && p3 != 0);
  Member a(p1, "alice"), b(p2, "bob"), c(p3, "carol");
  ASSERT_TRUE(a.welcomed() && b.welcomed() && c.welcomed());
  ASSERT_EQ(a.Create("lobby").status(), v1::SUCCESS);
  // The same name cannot be created twice, on any node.
  v1::ClientFrame again = Frame();
  again.mutable_create_room()->set_name("LOBBY");
  EXPECT_EQ(b.Call(again).status(), v1::FAILURE_ALREADY_EXISTS);
  const uint64_t room = a.Join("lobby").room_id();
  ASSERT_NE(room, 0u);
  EXPECT_EQ(b.Join("lobby").room_id(), room);
  EXPECT_EQ(c.Join("lobby").room_id(), room);

  constexpr int kEach = 200;
  // Three senders at once, one per node.
  std::vector<std::thread> senders;
  for (Member* m : {&a, &b, &c}) {
    senders.emplace_back([m] {
      for (int i = 0; i < kEach; ++i) m->Send(absl::StrCat("m", i));
    });
  }
  for (auto& t : senders) t.join();
  std::vector<v1::ChatMessage> ga = a.Messages(3 * kEach), gb = b.Messages(3 * kEach), gc = c.Messages(3 * kEach);
  ExpectGapless(ga, 3 * kEach, "alice");
  ExpectGapless(gb, 3 * kEach, "bob");
  ExpectGapless(gc, 3 * kEach, "carol");
  for (size_t i = 0; i < ga.size(); ++i) {
    ASSERT_EQ(ga[i].sender(), gb[i].sender()) << i;
    ASSERT_EQ(ga[i].text(), gb[i].text()) << i;
    ASSERT_EQ(ga[i].sender(), gc[i].sender()) << i;
    ASSERT_EQ(ga[i].text(), gc[i].text()) << i;
  }
  // Each sender's own messages in its own order.
  int next[3] = {0, 0, 0};
  const char* names[3] = {"alice", "bob", "carol"};
  for (const v1::ChatMessage& m : ga) {
    for (int s = 0; s < 3; ++s) {
      if (m.sender() == names[s]) {
        ASSERT_EQ(m.text(), absl::StrCat("m", next[s]++));
      }
    }
  }
}

TEST_F(ClusterNodesTest, AGuestNicknameIsUniqueAcrossNodesAndFreedOnDisconnect) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2");
  auto sam = std::make_unique<Member>(p1, "sam");
  ASSERT_TRUE(sam->welcomed());
  FrameClient other(p2);
  v1::ClientFrame hello = Frame();
  hello.mutable_hello()->set_nickname("SAM");
  hello.mutable_hello()->set_protocol_version(1);
  other.Send(hello);
  std::optional<v1::ServerFrame> refused = other.Await(hello.request_id());
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->has_reply() ? refused->reply().status() : v1::SUCCESS, v1::FAILURE_ALREADY_EXISTS)
      << refused->ShortDebugString();
  sam.reset();  // disconnects: the nickname is free on every node (soon)
  std::unique_ptr<Member> again;
  for (absl::Time deadline = absl::Now() + absl::Seconds(15); absl::Now() < deadline;) {
    again = std::make_unique<Member>(p2, "sam");
    if (again->welcomed()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(again->welcomed());
}

TEST_F(ClusterNodesTest, ARoomDeletedOnOneNodeClosesForMembersOnEveryNode) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2");
  Member owner(p1, "owner"), other(p2, "other");
  ASSERT_EQ(owner.Create("doomed").status(), v1::SUCCESS);
  ASSERT_NE(other.Join("doomed").room_id(), 0u);
  v1::ClientFrame del = Frame();
  del.mutable_delete_room()->set_name("doomed");
  // Only the owner may; the other node knows who that is.
  v1::ClientFrame del_other = Frame();
  del_other.mutable_delete_room()->set_name("doomed");
  EXPECT_EQ(other.Call(del_other).status(), v1::FAILURE_PERMISSION_DENIED);
  EXPECT_EQ(owner.Call(del).status(), v1::SUCCESS);
  std::optional<v1::ServerFrame> closed = other.WaitFor([](const v1::ServerFrame& f) { return f.has_room_closed(); });
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->room_closed().closed_by(), "owner");
  // The name is free again, everywhere.
  EXPECT_EQ(other.Create("doomed").status(), v1::SUCCESS);
}

TEST_F(ClusterNodesTest, JoinsAndLeavesOnOneNodeAreSeenOnAnotherWithTheClustersCount) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2");
  Member a(p1, "alice");
  ASSERT_EQ(a.Create("hall").status(), v1::SUCCESS);
  ASSERT_NE(a.Join("hall").room_id(), 0u);
  {
    Member b(p2, "bob");
    ASSERT_NE(b.Join("hall").room_id(), 0u);
    std::optional<v1::ServerFrame> joined =
        a.WaitFor([](const v1::ServerFrame& f) { return f.has_member_joined(); });
    ASSERT_TRUE(joined.has_value());
    EXPECT_EQ(joined->member_joined().nickname(), "bob");
    EXPECT_EQ(joined->member_joined().member_count(), 2u);
    // ListMembers names the members of every node.
    v1::ClientFrame names = Frame();
    names.set_room_id(a.room_id());
    names.mutable_list_members();
    v1::Reply listed = a.Call(names);
    ASSERT_EQ(listed.status(), v1::SUCCESS);
    EXPECT_EQ(std::vector<std::string>(listed.members().begin(), listed.members().end()),
              (std::vector<std::string>{"alice", "bob"}));
  }  // bob's connection closes
  std::optional<v1::ServerFrame> left = a.WaitFor([](const v1::ServerFrame& f) { return f.has_member_left(); });
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->member_left().nickname(), "bob");
  EXPECT_EQ(left->member_left().member_count(), 1u);
}

TEST_F(ClusterNodesTest, ANodeKilledMidFloodCostsTheOtherNodesNothingAndItsMembersLeave) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2"), p3 = StartNode("n3");
  Member a(p1, "alice"), b(p2, "bob");
  auto c = std::make_unique<Member>(p3, "carol");
  ASSERT_EQ(a.Create("flood").status(), v1::SUCCESS);
  ASSERT_NE(a.Join("flood").room_id(), 0u);
  ASSERT_NE(b.Join("flood").room_id(), 0u);
  ASSERT_NE(c->Join("flood").room_id(), 0u);
  // Each member sees the others' joins before the flood (so no presence
  // event is still in flight when counting).
  ASSERT_TRUE(a.WaitFor([](const v1::ServerFrame& f) {
                 return f.has_member_joined() && f.member_joined().nickname() == "carol";
               }).has_value());

  constexpr int kEach = 1000;
  std::thread ta([&] {
    for (int i = 0; i < kEach; ++i) a.Send(absl::StrCat("a", i));
  });
  std::thread tc([&] {
    for (int i = 0; i < kEach / 2; ++i) c->Send(absl::StrCat("c", i));
  });
  for (int i = 0; i < kEach; ++i) {
    b.Send(absl::StrCat("b", i));
    if (i == kEach / 4) node("n3").Signal(SIGKILL);  // mid-flood
  }
  ta.join();
  tc.join();
  // alice and bob sent 2 * kEach, carol some (what Redis took before n3
  // died): everyone left sees one gapless order, and the same one.
  std::vector<v1::ServerFrame> other_a;
  std::vector<v1::ChatMessage> ga = a.Messages(2 * kEach + kEach / 2, &other_a, absl::Seconds(5));
  std::vector<v1::ChatMessage> gb = b.Messages(ga.size(), nullptr, absl::Seconds(5));
  ASSERT_GE(ga.size(), 2u * kEach);
  ExpectGapless(ga, ga.size(), "alice");
  ExpectGapless(gb, ga.size(), "bob");
  int from_a = 0, from_b = 0;
  for (size_t i = 0; i < ga.size(); ++i) {
    ASSERT_EQ(ga[i].text(), gb[i].text());
    from_a += ga[i].sender() == "alice";
    from_b += ga[i].sender() == "bob";
  }
  EXPECT_EQ(from_a, kEach);
  EXPECT_EQ(from_b, kEach);
  // carol leaves for everyone, by the cluster's liveness check.
  bool saw = false;
  for (const v1::ServerFrame& f : other_a) saw |= f.has_member_left() && f.member_left().nickname() == "carol";
  if (!saw) {
    std::optional<v1::ServerFrame> left = a.WaitFor([](const v1::ServerFrame& f) {
      return f.has_member_left() && f.member_left().nickname() == "carol";
    });
    ASSERT_TRUE(left.has_value());
    EXPECT_EQ(left->member_left().reason(), "node lost");
  }
  // carol reconnects to another node (her nickname was freed with her
  // node) and reads what she missed: nothing lost, nothing twice.
  Member c2(p2, "carol");
  ASSERT_TRUE(c2.welcomed());
  ASSERT_NE(c2.Join("flood").room_id(), 0u);
  v1::ClientFrame hist = Frame();
  hist.set_room_id(c2.room_id());
  hist.mutable_history()->set_after_seq(0);
  hist.mutable_history()->set_limit(500);
  v1::Reply page = c2.Call(hist);
  ASSERT_EQ(page.status(), v1::SUCCESS);
  EXPECT_EQ(page.history_count(), 500u);
}

TEST_F(ClusterNodesTest, WhileRedisIsWedgedSendsAreRefusedConnectionsStayAndSeqsContinueAfter) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2");
  Member a(p1, "alice"), b(p2, "bob");
  ASSERT_EQ(a.Create("calm").status(), v1::SUCCESS);
  ASSERT_NE(a.Join("calm").room_id(), 0u);
  ASSERT_NE(b.Join("calm").room_id(), 0u);
  a.Send("before");
  ExpectGapless(b.Messages(1), 1, "bob");
  redis_.Pause();
  // A node notices when a reply is overdue (command_timeout, 2 s): until
  // then sends wait, after it they are refused at once.
  v1::Reply refused;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (absl::Now() < deadline) {
    v1::ClientFrame f = Frame();
    f.set_room_id(a.room_id());
    f.mutable_post_message()->set_text("during");
    refused = a.Call(f);
    if (refused.status() == v1::FAILURE_STORAGE) break;
  }
  EXPECT_EQ(refused.status(), v1::FAILURE_STORAGE) << refused.message();
  // Load balancers see it too.
  EXPECT_EQ(HttpStatusLine(p1, "/healthz"), "HTTP/1.1 503 Service Unavailable");
  // The connection is still served.
  v1::ClientFrame ping = Frame();
  ping.mutable_ping()->set_nonce(7);
  a.client().Send(ping);
  EXPECT_TRUE(a.WaitFor([](const v1::ServerFrame& f) { return f.has_pong() && f.pong().nonce() == 7; }).has_value());
  redis_.Resume();
  // Back by itself: the next send succeeds and numbering continues.
  v1::ClientFrame post = Frame();
  post.set_room_id(a.room_id());
  post.mutable_post_message()->set_text("after");
  v1::Reply ok = a.CallUntilOk(post);
  ASSERT_EQ(ok.status(), v1::SUCCESS) << ok.message();
  EXPECT_EQ(AwaitStatusLine(p1, "/healthz", "HTTP/1.1 200 OK", absl::Seconds(15)), "HTTP/1.1 200 OK");
  // Posts that were waiting on the wedged Redis when it stopped may have
  // got in (each then once); "after" follows them with the next seq.
  ASSERT_GE(ok.last_seq(), 2u);
  std::vector<v1::ChatMessage> got = b.Messages(ok.last_seq() - 1);
  ASSERT_EQ(got.size(), ok.last_seq() - 1);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].seq(), i + 2);
  EXPECT_EQ(got.back().text(), "after");
}

// A node whose command connection drops and comes back (a blip, or a
// reply overdue) reconciles its members with Redis: nobody on any node sees
// its members leave and join again.
TEST_F(ClusterNodesTest, ACommandConnectionBlipAnnouncesNoLeavesOrJoins) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2");
  Member a(p1, "alice"), b(p2, "bob");
  ASSERT_EQ(a.Create("steady").status(), v1::SUCCESS);
  ASSERT_NE(a.Join("steady").room_id(), 0u);
  ASSERT_NE(b.Join("steady").room_id(), 0u);
  ASSERT_TRUE(a.WaitFor([](const v1::ServerFrame& f) { return f.has_member_joined(); }).has_value());
  // Cut every node's command connection (not the subscribers').
  ASSERT_EQ(std::system(absl::StrCat("redis-cli -p ", redis_.port(), " CLIENT KILL TYPE normal > /dev/null").c_str()),
            0);
  v1::ClientFrame post = Frame();
  post.set_room_id(b.room_id());
  post.mutable_post_message()->set_text("still here");
  ASSERT_EQ(b.CallUntilOk(post).status(), v1::SUCCESS);
  std::vector<v1::ServerFrame> other;
  ASSERT_EQ(a.Messages(1, &other).size(), 1u);
  // A Ping round trip after the message: presence sent by the reconnect
  // would have come before it.
  v1::ClientFrame ping = Frame();
  ping.mutable_ping()->set_nonce(9);
  a.client().Send(ping);
  a.WaitFor([&](const v1::ServerFrame& f) {
    if (!f.has_pong()) other.push_back(f);
    return f.has_pong();
  });
  for (const v1::ServerFrame& f : other) {
    EXPECT_FALSE(f.has_member_left() || f.has_member_joined()) << f.ShortDebugString();
  }
}

// A Redis restarted without persistence comes back empty: the nodes put
// back the rooms they have, under their IDs, and numbering continues above
// what their members saw; new rooms get new IDs.
TEST_F(ClusterNodesTest, AfterRedisLosesItsDataTheNodesPutTheirRoomsBack) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2");
  Member a(p1, "alice"), b(p2, "bob");
  ASSERT_EQ(a.Create("keep").status(), v1::SUCCESS);
  const uint64_t room = a.Join("keep").room_id();
  ASSERT_EQ(b.Join("keep").room_id(), room);
  for (int i = 0; i < 3; ++i) a.Send(absl::StrCat("before ", i));
  ExpectGapless(b.Messages(3), 3, "bob");
  ExpectGapless(a.Messages(3), 3, "alice");  // acknowledged: alice's node has seen them
  const uint16_t port = redis_.port();
  redis_.Kill();
  ASSERT_TRUE(redis_.StartOn(port).ok());
  // The room is still there for both (no RoomClosed), and a post goes in
  // once the nodes are back, numbered after what they had seen.
  v1::ClientFrame post = Frame();
  post.set_room_id(room);
  post.mutable_post_message()->set_text("after");
  v1::Reply ok = a.CallUntilOk(post);
  ASSERT_EQ(ok.status(), v1::SUCCESS) << ok.message();
  EXPECT_EQ(ok.last_seq(), 4u);
  std::vector<v1::ServerFrame> other;
  std::vector<v1::ChatMessage> got = b.Messages(1, &other);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].seq(), 4u);
  for (const v1::ServerFrame& f : other) EXPECT_FALSE(f.has_room_closed()) << f.ShortDebugString();
  std::vector<v1::ServerFrame> other_a;
  a.Messages(1, &other_a);
  for (const v1::ServerFrame& f : other_a) EXPECT_FALSE(f.has_room_closed()) << f.ShortDebugString();
  v1::ClientFrame list = Frame();
  list.mutable_list_rooms();
  v1::Reply rooms = b.Call(list);
  ASSERT_EQ(rooms.rooms_size(), 1);
  EXPECT_EQ(rooms.rooms(0).room_id(), room);
  // A new room does not take the old ID.
  v1::Reply fresh = b.Create("fresh");
  ASSERT_EQ(fresh.status(), v1::SUCCESS);
  EXPECT_GT(fresh.room_id(), room);
}

TEST_F(ClusterNodesTest, ANodeStoppedForSecondsDoesNotStallTheOthersAndCatchesUpAfter) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2"), p3 = StartNode("n3");
  Member a(p1, "alice"), b(p2, "bob"), c(p3, "carol");
  ASSERT_EQ(a.Create("slow").status(), v1::SUCCESS);
  ASSERT_NE(a.Join("slow").room_id(), 0u);
  ASSERT_NE(b.Join("slow").room_id(), 0u);
  ASSERT_NE(c.Join("slow").room_id(), 0u);
  // carol's presence is in Redis before n3 stops (seen by bob).
  ASSERT_TRUE(b.WaitFor([](const v1::ServerFrame& f) {
                 return f.has_member_joined() && f.member_joined().nickname() == "carol";
               }).has_value());
  node("n3").Signal(SIGSTOP);
  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i) a.Send(absl::StrCat("x", i));
  // bob gets everything while n3 is stopped.
  ExpectGapless(b.Messages(kCount), kCount, "bob");
  // n3 is taken for dead after its liveness expires (3 s): carol leaves.
  std::optional<v1::ServerFrame> left = b.WaitFor([](const v1::ServerFrame& f) {
    return f.has_member_left() && f.member_left().nickname() == "carol";
  });
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->member_left().reason(), "node lost");
  node("n3").Signal(SIGCONT);
  // carol gets every message (or a Gap for what Redis no longer has), in order.
  std::vector<v1::ServerFrame> other;
  std::vector<v1::ChatMessage> got = c.Messages(kCount, &other);
  bool gap = false;
  for (const v1::ServerFrame& f : other) gap |= f.has_gap();
  if (!gap) ExpectGapless(got, kCount, "carol");
  // And n3 announces her again: bob sees her back.
  EXPECT_TRUE(b.WaitFor([](const v1::ServerFrame& f) {
                 return f.has_member_joined() && f.member_joined().nickname() == "carol";
               }).has_value());
}

TEST_F(ClusterNodesTest, AnAccountOfAKilledNodeResumesOnAnotherWithoutLossOrDuplicates) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2");
  // alice registers and joins on n1; bob talks on n2.
  FrameClient alice(p1);
  v1::ClientFrame reg = Frame();
  reg.mutable_register_()->set_name("alice");
  reg.mutable_register_()->set_password("correct horse battery");
  reg.mutable_register_()->set_protocol_version(1);
  std::string token;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (token.empty() && absl::Now() < deadline) {  // until n1 reaches Redis
    reg.set_request_id(next_request++);
    alice.Send(reg);
    std::optional<v1::ServerFrame> w = alice.Await(reg.request_id());
    ASSERT_TRUE(w.has_value());
    if (w->has_welcome()) token = w->welcome().session_token();
  }
  ASSERT_FALSE(token.empty());
  Member bob(p2, "bob");
  ASSERT_EQ(bob.Create("hall").status(), v1::SUCCESS);
  ASSERT_NE(bob.Join("hall").room_id(), 0u);
  v1::ClientFrame join = Frame();
  join.mutable_join_room()->set_name("hall");
  alice.Send(join);
  std::optional<v1::ServerFrame> joined = alice.Await(join.request_id());
  ASSERT_TRUE(joined.has_value() && joined->reply().status() == v1::SUCCESS) << joined->DebugString();
  const uint64_t room = joined->reply().room_id();
  for (int i = 1; i <= 5; ++i) bob.Send(absl::StrCat("seen ", i));
  uint64_t cursor = 0;
  while (cursor < 5) {
    std::optional<v1::ServerFrame> f = alice.Read();
    ASSERT_TRUE(f.has_value());
    if (f->has_chat_message()) cursor = f->chat_message().seq();
  }
  node("n1").Signal(SIGKILL);
  for (int i = 6; i <= 9; ++i) bob.Send(absl::StrCat("missed ", i));
  ExpectGapless(bob.Messages(9), 9, "bob");
  // alice comes back on n2 with her token and cursor: the four she missed,
  // each once, then live messages.
  FrameClient again(p2);
  v1::ClientFrame resume = Frame();
  resume.mutable_resume()->set_token(token);
  resume.mutable_resume()->set_protocol_version(1);
  v1::RoomCursor* c = resume.mutable_resume()->add_cursors();
  c->set_room_id(room);
  c->set_last_seq(cursor);
  again.Send(resume);
  std::vector<uint64_t> replayed;
  bool resumed = false, done = false;
  while (!done) {
    std::optional<v1::ServerFrame> f = again.Read();
    ASSERT_TRUE(f.has_value());
    if (f->has_room_resumed()) resumed = f->room_id() == room;
    if (f->has_chat_message()) replayed.push_back(f->chat_message().seq());
    if (f->has_reply()) {
      ASSERT_EQ(f->reply().status(), v1::SUCCESS) << f->reply().message();
      done = true;
    }
  }
  EXPECT_TRUE(resumed);
  EXPECT_EQ(replayed, (std::vector<uint64_t>{6, 7, 8, 9}));
  bob.Send("live 10");
  std::optional<v1::ServerFrame> live;
  do {
    live = again.Read();
  } while (live.has_value() && !live->has_chat_message());
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->chat_message().seq(), 10u);
}

// A client that pipelines: many sends reach the node in one read, are
// stored in one script call per turn (ClusterPublisher), and still get one
// seq each in the order sent, with resends answered by the original seq.
TEST_F(ClusterNodesTest, APipelinedBurstIsNumberedInItsOrderAndResendsGetTheOriginalSeq) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2");
  Member a(p1, "alice"), b(p2, "bob");
  ASSERT_EQ(a.Create("burst").status(), v1::SUCCESS);
  ASSERT_NE(a.Join("burst").room_id(), 0u);
  ASSERT_NE(b.Join("burst").room_id(), 0u);
  constexpr int kBurst = 300;  // more than one script call's cap (256)
  std::vector<v1::ClientFrame> frames;
  std::map<uint64_t, uint64_t> resend_of;  // request id -> the client_msg_id it repeats
  for (int i = 1; i <= kBurst; ++i) {
    v1::ClientFrame f = Frame();
    f.set_room_id(a.room_id());
    f.mutable_send_message()->set_text(absl::StrCat("m", i));
    f.mutable_send_message()->set_client_msg_id(i);
    frames.push_back(f);
    if (i == 10 || i == 200) {  // a resend in the same burst, of a message in it
      v1::ClientFrame again = Frame();
      again.set_room_id(a.room_id());
      again.mutable_send_message()->set_text(absl::StrCat("m", i - 5));
      again.mutable_send_message()->set_client_msg_id(i - 5);
      resend_of[again.request_id()] = i - 5;
      frames.push_back(again);
    }
  }
  ASSERT_TRUE(a.client().SendAll(frames));
  std::vector<v1::ChatMessage> got = b.Messages(kBurst);
  ExpectGapless(got, kBurst, "bob");
  for (int i = 0; i < kBurst; ++i) ASSERT_EQ(got[i].text(), absl::StrCat("m", i + 1)) << i;
  // alice: her own copies, and a Reply naming the original seq per resend.
  size_t own = 0;
  std::map<uint64_t, uint64_t> answered;  // client_msg_id -> seq named
  while (own < static_cast<size_t>(kBurst) || answered.size() < resend_of.size()) {
    std::optional<v1::ServerFrame> f = a.client().Read();
    ASSERT_TRUE(f.has_value()) << own << " own copies, " << answered.size() << " resend replies";
    if (f->has_chat_message()) ++own;
    auto it = resend_of.find(f->request_id());
    if (f->has_reply() && it != resend_of.end()) {
      EXPECT_EQ(f->reply().status(), v1::SUCCESS) << f->reply().message();
      answered[it->second] = f->reply().last_seq();
    }
  }
  EXPECT_EQ(answered, (std::map<uint64_t, uint64_t>{{5, 5}, {195, 195}}));
  // Nothing more: the resends took no seq.
  v1::ClientFrame last = Frame();
  last.set_room_id(a.room_id());
  last.mutable_post_message()->set_text("last");
  EXPECT_EQ(a.Call(last).last_seq(), static_cast<uint64_t>(kBurst) + 1);
}

// Sends and a delete pipelined by the owner keep their order through Redis:
// the node's other commands go after the publishes queued before them.
TEST_F(ClusterNodesTest, SendsThenADeleteInOneWriteAreStoredThenTheRoomCloses) {
  const uint16_t p1 = StartNode("n1"), p2 = StartNode("n2");
  Member a(p1, "alice"), b(p2, "bob");
  ASSERT_EQ(a.Create("brief").status(), v1::SUCCESS);
  ASSERT_NE(a.Join("brief").room_id(), 0u);
  ASSERT_NE(b.Join("brief").room_id(), 0u);
  std::vector<v1::ClientFrame> frames;
  for (int i = 1; i <= 5; ++i) {
    v1::ClientFrame f = Frame();
    f.set_room_id(a.room_id());
    f.mutable_send_message()->set_text(absl::StrCat("m", i));
    frames.push_back(f);
  }
  v1::ClientFrame del = Frame();
  del.mutable_delete_room()->set_name("brief");
  frames.push_back(del);
  ASSERT_TRUE(a.client().SendAll(frames));
  std::optional<v1::ServerFrame> deleted = a.client().Await(del.request_id());
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->reply().status(), v1::SUCCESS) << deleted->reply().message();
  std::vector<v1::ServerFrame> others;
  ExpectGapless(b.Messages(5, &others), 5, "bob");
  bool closed = false;
  for (const v1::ServerFrame& f : others) closed |= f.has_room_closed();
  if (!closed) closed = b.WaitFor([](const v1::ServerFrame& f) { return f.has_room_closed(); }).has_value();
  EXPECT_TRUE(closed);
}

}  // namespace
}  // namespace muxchat::server::testing
