// Accounts across nodes: two ChatServices (two "nodes") on one loop, each
// with its own RedisLink and ClusterAccounts, sharing one real redis-server.
// Passwords are hashed for real (at libsodium's minimum cost); the loop
// waits on the hashers' completion fds and on Redis, never sleeps.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/server/chat_service.h"
#include "src/server/cluster_accounts.h"
#include "tests/server/chat_service_fixture.h"  // TakeFrames
#include "tests/server/redis_process.h"

namespace muxchat::server {
namespace {

using ::muxchat::server::testing::RedisTest;
using ::muxchat::server::testing::RunLoopUntil;
using ::muxchat::server::testing::TakeFrames;
using ::muxchat::server::testing::TestRedisLinkOptions;

// One node. Members in this order: the link goes before the service, so its
// pending replies (run when it is destroyed) find the service alive.
class Node : public EventLoop::Handler {
 public:
  Node(EventLoop* loop, const ServerOptions& options, Logger* logger, const RedisLinkOptions& redis)
      : loop_(loop), service(options, logger), link(loop, redis), accounts(&link, "t") {
    service.AttachClusterAccounts(&accounts);
    EXPECT_TRUE(loop_->Add(service.password_fd(), kPollRead, this, 0).ok());
  }
  ~Node() { loop_->Remove(service.password_fd()); }

  void OnEvent(uint64_t, const PollEvent&, absl::Time now) override { service.OnPasswordResults(now); }

 private:
  EventLoop* const loop_;

 public:
  ChatService service;
  RedisLink link;
  ClusterAccounts accounts;
};

class ClusterAccountsServiceTest : public RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    options_.password_opslimit = 1;
    options_.password_memlimit = 8192;
    redis_options_ = TestRedisLinkOptions(redis_.port());
    a_ = std::make_unique<Node>(loop_.get(), options_, &logger_, redis_options_);
    b_ = std::make_unique<Node>(loop_.get(), options_, &logger_, redis_options_);
    a_->link.Start();
    b_->link.Start();
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return a_->link.up() && b_->link.up(); }));
  }

  void TearDown() override {
    // Nodes first: their links' pending replies may still look connections up.
    a_.reset();
    b_.reset();
  }

  Connection* NewConnection() {
    conns_.push_back(std::make_unique<Connection>(next_id_++, -1, "10.0.0.1:5000", absl::Now(),
                                                  options_.max_output_bytes, &dirty_));
    return conns_.back().get();
  }

  // Sends `f` to `node` for `c` and returns the first frame `c` gets
  // (waiting for Redis and the hasher as needed); the rest is dropped.
  v1::ServerFrame Ask(Node* node, Connection* c, v1::ClientFrame f) {
    if (f.request_id() == 0) f.set_request_id(++next_request_);
    node->service.HandleFrame(c, f, absl::Now());
    if (!RunLoopUntil(loop_.get(), [&] { return c->OwesOutput(); })) {
      ADD_FAILURE() << "no answer";
      return v1::ServerFrame();
    }
    auto frames = Take(c);
    return frames.empty() ? v1::ServerFrame() : frames[0];
  }

  std::vector<v1::ServerFrame> Take(Connection* c) { return TakeFrames(c); }

  static v1::ClientFrame Register(const std::string& name, const std::string& password = "correct horse") {
    v1::ClientFrame f;
    f.mutable_register_()->set_name(name);
    f.mutable_register_()->set_password(password);
    f.mutable_register_()->set_protocol_version(1);
    return f;
  }
  static v1::ClientFrame Login(const std::string& name, const std::string& password = "correct horse") {
    v1::ClientFrame f;
    f.mutable_login()->set_name(name);
    f.mutable_login()->set_password(password);
    f.mutable_login()->set_protocol_version(1);
    return f;
  }
  static v1::ClientFrame Hello(const std::string& nickname, const std::string& token = "") {
    v1::ClientFrame f;
    f.mutable_hello()->set_nickname(nickname);
    f.mutable_hello()->set_token(token);
    f.mutable_hello()->set_protocol_version(1);
    return f;
  }
  static v1::ClientFrame Resume(const std::string& token) {
    v1::ClientFrame f;
    f.mutable_resume()->set_token(token);
    f.mutable_resume()->set_protocol_version(1);
    return f;
  }

  // Registers `name` on `node`; its session token.
  std::string RegisterOn(Node* node, const std::string& name) {
    v1::ServerFrame w = Ask(node, NewConnection(), Register(name));
    EXPECT_TRUE(w.has_welcome()) << w.DebugString();
    return w.welcome().session_token();
  }

  void KillRedis() {
    redis_.Kill();
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return !a_->link.up() && !b_->link.up(); }));
  }

  ServerOptions options_;
  RedisLinkOptions redis_options_;
  Logger logger_{LogLevel::kOff};
  std::vector<Connection*> dirty_;
  std::vector<std::unique_ptr<Connection>> conns_;  // outlive the nodes
  std::unique_ptr<Node> a_, b_;
  uint64_t next_id_ = 100;
  uint64_t next_request_ = 0;
};

TEST_F(ClusterAccountsServiceTest, AnAccountRegisteredOnALogsInOnB) {
  RegisterOn(a_.get(), "alice");
  v1::ServerFrame w = Ask(b_.get(), NewConnection(), Login("alice"));
  ASSERT_TRUE(w.has_welcome()) << w.DebugString();
  EXPECT_EQ(w.welcome().nickname(), "alice");
  EXPECT_FALSE(w.welcome().guest());
  EXPECT_FALSE(w.welcome().session_token().empty());
  // Sessions are Redis's: none piles up in the nodes' caches.
  EXPECT_EQ(a_->service.accounts().session_count(), 0u);
  EXPECT_EQ(b_->service.accounts().session_count(), 0u);
}

TEST_F(ClusterAccountsServiceTest, AWrongPasswordIsRefusedOnB) {
  RegisterOn(a_.get(), "alice");
  v1::ServerFrame r = Ask(b_.get(), NewConnection(), Login("alice", "wrong horse"));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_AUTH) << r.DebugString();
  r = Ask(b_.get(), NewConnection(), Login("nobody"));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_AUTH) << r.DebugString();
}

TEST_F(ClusterAccountsServiceTest, ATokenIssuedOnAWorksOnB) {
  const std::string token = RegisterOn(a_.get(), "alice");
  v1::ServerFrame w = Ask(b_.get(), NewConnection(), Hello("", token));
  ASSERT_TRUE(w.has_welcome()) << w.DebugString();
  EXPECT_EQ(w.welcome().nickname(), "alice");
  // And a token from a login on B works back on A.
  v1::ServerFrame login = Ask(b_.get(), NewConnection(), Login("alice"));
  ASSERT_TRUE(login.has_welcome());
  w = Ask(a_.get(), NewConnection(), Hello("", login.welcome().session_token()));
  EXPECT_TRUE(w.has_welcome()) << w.DebugString();
}

TEST_F(ClusterAccountsServiceTest, ANameTakenOnAIsRefusedOnBLikeADuplicate) {
  RegisterOn(a_.get(), "alice");
  // B has never seen alice: only Redis knows the name is taken.
  v1::ServerFrame r = Ask(b_.get(), NewConnection(), Register("ALICE"));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_ALREADY_EXISTS) << r.DebugString();
  EXPECT_TRUE(absl::StrContains(r.reply().message(), "is taken")) << r.reply().message();
  // The same answer as a duplicate on A itself.
  v1::ServerFrame local = Ask(a_.get(), NewConnection(), Register("alice"));
  EXPECT_EQ(local.reply().status(), v1::FAILURE_ALREADY_EXISTS);
}

TEST_F(ClusterAccountsServiceTest, AGuestCannotTakeANameRegisteredOnAnotherNode) {
  RegisterOn(a_.get(), "alice");
  v1::ServerFrame r = Ask(b_.get(), NewConnection(), Hello("Alice"));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_AUTH) << r.DebugString();
  v1::ServerFrame w = Ask(b_.get(), NewConnection(), Hello("bob"));
  EXPECT_TRUE(w.has_welcome()) << w.DebugString();
}

TEST_F(ClusterAccountsServiceTest, LogoutOnARevokesTheTokenOnB) {
  Connection* c = NewConnection();
  v1::ServerFrame w = Ask(a_.get(), c, Register("alice"));
  ASSERT_TRUE(w.has_welcome());
  const std::string token = w.welcome().session_token();
  ASSERT_TRUE(Ask(b_.get(), NewConnection(), Hello("", token)).has_welcome());
  v1::ClientFrame logout;
  logout.mutable_logout();
  v1::ServerFrame r = Ask(a_.get(), c, logout);
  EXPECT_EQ(r.reply().status(), v1::SUCCESS) << r.DebugString();
  r = Ask(b_.get(), NewConnection(), Hello("", token));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_AUTH) << r.DebugString();
  r = Ask(b_.get(), NewConnection(), Resume(token));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_AUTH) << r.DebugString();
}

TEST_F(ClusterAccountsServiceTest, ResumeOnBRestoresTheMembershipsRedisHolds) {
  const std::string token = RegisterOn(a_.get(), "alice");
  // A room on B (made by a guest there), and alice's membership of it as
  // the room code records it (ClusterAccounts::AddMembership).
  Connection* guest = NewConnection();
  ASSERT_TRUE(Ask(b_.get(), guest, Hello("bob")).has_welcome());
  v1::ClientFrame create;
  create.mutable_create_room()->set_name("lobby");
  v1::ServerFrame created = Ask(b_.get(), guest, create);
  ASSERT_EQ(created.reply().status(), v1::SUCCESS) << created.DebugString();
  const uint64_t room_id = created.reply().room_id();
  v1::ClientFrame whoami = Hello("", token);
  v1::ServerFrame who = Ask(a_.get(), NewConnection(), whoami);
  ASSERT_TRUE(who.has_welcome());
  std::optional<absl::StatusOr<ClusterAccount>> alice;
  ASSERT_TRUE(a_->accounts.LookupAccountByName("alice", [&](auto r) { alice = std::move(r); }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return alice.has_value(); }));
  ASSERT_TRUE(alice->ok());
  std::optional<absl::Status> added;
  ASSERT_TRUE(a_->accounts.AddMembership((*alice)->id, room_id, [&](absl::Status st) { added = st; }).ok());
  ASSERT_TRUE(a_->accounts.AddMembership((*alice)->id, 999999, nullptr).ok());  // a room B does not know
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return added.has_value(); }));

  Connection* c = NewConnection();
  v1::ClientFrame f = Resume(token);
  f.set_request_id(++next_request_);
  b_->service.HandleFrame(c, f, absl::Now());
  std::vector<v1::ServerFrame> frames;
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] {
    for (auto& fr : Take(c)) frames.push_back(std::move(fr));
    return !frames.empty() && frames.back().has_reply();
  }));
  ASSERT_TRUE(frames.front().has_welcome()) << frames.front().DebugString();
  bool resumed = false;
  for (const auto& fr : frames) resumed = resumed || (fr.has_room_resumed() && fr.room_id() == room_id);
  EXPECT_TRUE(resumed);
  EXPECT_EQ(frames.back().reply().status(), v1::SUCCESS);
  EXPECT_TRUE(absl::StartsWith(frames.back().reply().message(), "resumed 1 rooms")) << frames.back().reply().message();
}

TEST_F(ClusterAccountsServiceTest, WhileRedisIsDownAccountRequestsAreRefusedAndTheConnectionStays) {
  const std::string token = RegisterOn(a_.get(), "alice");
  Connection* logged_in = NewConnection();
  ASSERT_TRUE(Ask(b_.get(), logged_in, Hello("", token)).has_welcome());
  KillRedis();
  // Logout cannot revoke the token everywhere: refused, the session stays.
  v1::ClientFrame logout;
  logout.mutable_logout();
  v1::ServerFrame refused = Ask(b_.get(), logged_in, logout);
  EXPECT_EQ(refused.reply().status(), v1::FAILURE_STORAGE) << refused.DebugString();
  EXPECT_FALSE(logged_in->closing());
  Connection* c = NewConnection();
  v1::ServerFrame r = Ask(b_.get(), c, Login("alice"));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_STORAGE) << r.DebugString();
  r = Ask(b_.get(), c, Register("carol"));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_STORAGE) << r.DebugString();
  r = Ask(b_.get(), c, Hello("", token));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_STORAGE) << r.DebugString();
  r = Ask(b_.get(), c, Resume(token));
  EXPECT_EQ(r.reply().status(), v1::FAILURE_STORAGE) << r.DebugString();
  EXPECT_TRUE(absl::StrContains(r.reply().message(), "unavailable")) << r.reply().message();
  EXPECT_FALSE(c->closing());

  // Redis back (empty: no persistence here): the same connection registers.
  ASSERT_TRUE(redis_.StartOn(redis_options_.port).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return b_->link.up(); }));
  v1::ServerFrame w = Ask(b_.get(), c, Register("carol"));
  EXPECT_TRUE(w.has_welcome()) << w.DebugString();
}

TEST_F(ClusterAccountsServiceTest, ARequestRedisCannotBeAskedIsCountedOnceAndLeavesNothingWaiting) {
  const std::string token = RegisterOn(a_.get(), "alice");
  KillRedis();
  Connection* c = NewConnection();
  const Metrics& m = b_->service.metrics();
  for (const v1::ClientFrame& f : {Login("alice"), Hello("", token), Hello("dave"), Resume(token)}) {
    const uint64_t* counts = m.requests[static_cast<int>(MetricRequestTypeOf(f.body_case()))];
    const uint64_t failed_before = counts[v1::FAILURE_STORAGE];
    v1::ServerFrame r = Ask(b_.get(), c, f);
    EXPECT_EQ(r.reply().status(), v1::FAILURE_STORAGE) << r.DebugString();
    EXPECT_TRUE(absl::StrContains(r.reply().message(), "unavailable")) << r.reply().message();
    EXPECT_EQ(counts[v1::FAILURE_STORAGE], failed_before + 1) << f.DebugString();
    EXPECT_FALSE(c->auth_pending) << f.DebugString();
    EXPECT_FALSE(c->closing());
  }
}

TEST_F(ClusterAccountsServiceTest, ALoginInFlightWhenRedisDiesIsRefusedAndTheConnectionStays) {
  RegisterOn(a_.get(), "alice");
  redis_.Pause();  // the lookup is sent but never answered
  Connection* c = NewConnection();
  v1::ClientFrame f = Login("alice");
  f.set_request_id(++next_request_);
  b_->service.HandleFrame(c, f, absl::Now());
  EXPECT_FALSE(c->OwesOutput());  // waiting for Redis
  redis_.Kill();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return c->OwesOutput(); }));
  v1::ServerFrame r = Take(c).at(0);
  EXPECT_EQ(r.reply().status(), v1::FAILURE_STORAGE) << r.DebugString();
  EXPECT_FALSE(c->closing());
}

TEST_F(ClusterAccountsServiceTest, AConnectionGoneWhileWaitingForRedisIsSkipped) {
  const std::string token = RegisterOn(a_.get(), "alice");
  Connection* c = NewConnection();
  v1::ClientFrame f = Hello("", token);
  f.set_request_id(++next_request_);
  b_->service.HandleFrame(c, f, absl::Now());
  c->Close(CloseReason::kClientClosed);
  b_->service.OnDisconnect(c);
  conns_.back().reset();  // freed, as the server would after OnDisconnect
  // Redis answers in order: once a later command on B's link is answered,
  // the lookup's reply has been handled (and must not have touched c).
  std::optional<absl::StatusOr<ClusterAccount>> later;
  ASSERT_TRUE(b_->accounts.LookupAccountByName("alice", [&](auto r) { later = std::move(r); }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return later.has_value(); }));
  EXPECT_TRUE(later->ok());
  EXPECT_EQ(b_->service.logged_in_count(), 0u);
}

}  // namespace
}  // namespace muxchat::server
