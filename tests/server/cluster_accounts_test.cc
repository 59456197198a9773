#include "src/server/cluster_accounts.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server/redis_process.h"

namespace muxchat::server {
namespace {

using ::muxchat::server::testing::RedisTest;
using ::muxchat::server::testing::RunLoopUntil;
using ::muxchat::server::testing::TestRedisLinkOptions;

// A 32-byte token hash with bytes that are not text.
std::string TokenHash(char seed) {
  std::string h(32, '\0');
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<char>(seed + static_cast<char>(i * 7));
  return h;
}

// One "node": its own link and ClusterAccounts, on the shared test loop.
struct Node {
  Node(EventLoop* loop, const RedisLinkOptions& options) : link(loop, options), accounts(&link, "t") {}
  RedisLink link;
  ClusterAccounts accounts;
};

class ClusterAccountsTest : public RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    options_ = TestRedisLinkOptions(redis_.port());
    a_ = StartNode();
    b_ = StartNode();
  }

  std::unique_ptr<Node> StartNode() {
    auto node = std::make_unique<Node>(loop_.get(), options_);
    node->link.Start();
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return node->link.up(); }));
    return node;
  }

  // Runs the loop until the callback of an accepted call ran.
  template <typename T>
  T Await(absl::Status sent, std::optional<T>& out) {
    if (!sent.ok()) return T(sent);
    if (!RunLoopUntil(loop_.get(), [&] { return out.has_value(); })) return T(absl::DeadlineExceededError("no reply"));
    return *std::move(out);
  }

  absl::StatusOr<uint64_t> Register(Node* n, const std::string& name, const std::string& hash = "$argon2id$x") {
    std::optional<absl::StatusOr<uint64_t>> out;
    return Await(n->accounts.RegisterAccount(name, hash, absl::FromUnixSeconds(1700000000),
                                             [&](absl::StatusOr<uint64_t> r) { out = std::move(r); }),
                 out);
  }
  absl::StatusOr<ClusterAccount> ByName(Node* n, const std::string& name) {
    std::optional<absl::StatusOr<ClusterAccount>> out;
    return Await(n->accounts.LookupAccountByName(name, [&](absl::StatusOr<ClusterAccount> r) { out = std::move(r); }),
                 out);
  }
  absl::StatusOr<ClusterAccount> ById(Node* n, uint64_t id) {
    std::optional<absl::StatusOr<ClusterAccount>> out;
    return Await(n->accounts.LookupAccountById(id, [&](absl::StatusOr<ClusterAccount> r) { out = std::move(r); }),
                 out);
  }
  absl::Status CreateSession(Node* n, const std::string& hash, uint64_t account, absl::Duration ttl) {
    std::optional<absl::Status> out;
    return Await(n->accounts.CreateSession(hash, account, ttl, [&](absl::Status st) { out = st; }), out);
  }
  absl::StatusOr<ClusterAccount> Session(Node* n, const std::string& hash) {
    std::optional<absl::StatusOr<ClusterAccount>> out;
    return Await(n->accounts.LookupSession(hash, [&](absl::StatusOr<ClusterAccount> r) { out = std::move(r); }), out);
  }
  absl::Status Revoke(Node* n, const std::string& hash) {
    std::optional<absl::Status> out;
    return Await(n->accounts.RevokeSession(hash, [&](absl::Status st) { out = st; }), out);
  }
  absl::StatusOr<std::vector<uint64_t>> Rooms(Node* n, uint64_t account) {
    std::optional<absl::StatusOr<std::vector<uint64_t>>> out;
    return Await(n->accounts.ListMemberships(account, [&](auto r) { out = std::move(r); }), out);
  }
  // PTTL of a key through node `n`'s link (-2: no such key).
  int64_t Pttl(Node* n, const std::string& key) {
    std::optional<int64_t> out;
    EXPECT_TRUE(n->link.Command({"PTTL", key}, [&](redisReply* r) { out = r != nullptr ? r->integer : -100; }).ok());
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return out.has_value(); }));
    return out.value_or(-100);
  }

  RedisLinkOptions options_;
  std::unique_ptr<Node> a_, b_;
};

TEST_F(ClusterAccountsTest, RegistersAndLooksUpByNameAndId) {
  absl::StatusOr<uint64_t> id = Register(a_.get(), "Alice", "$argon2id$alice");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_GT(*id, 0u);
  absl::StatusOr<ClusterAccount> by_name = ByName(b_.get(), "ALICE");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->id, *id);
  EXPECT_EQ(by_name->name, "Alice");
  EXPECT_EQ(by_name->password_hash, "$argon2id$alice");
  EXPECT_EQ(by_name->created, absl::FromUnixSeconds(1700000000));
  absl::StatusOr<ClusterAccount> by_id = ById(b_.get(), *id);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->name, "Alice");
}

TEST_F(ClusterAccountsTest, UnknownNameAndIdAreNotFound) {
  EXPECT_EQ(ByName(a_.get(), "nobody").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ById(a_.get(), 77).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClusterAccountsTest, RegisteringATakenNameFailsWithAlreadyExistsFromAnyNode) {
  ASSERT_TRUE(Register(a_.get(), "bob").ok());
  EXPECT_EQ(Register(a_.get(), "bob").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Register(b_.get(), "BoB").status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ClusterAccountsTest, TwoNodesRegisteringOneNameAtOnceGetOneAccount) {
  // Both sent before either is answered: exactly one wins, and the name
  // points at the winner's account.
  constexpr int kRounds = 20;
  for (int i = 0; i < kRounds; ++i) {
    const std::string name = absl::StrCat("race", i);
    std::optional<absl::StatusOr<uint64_t>> from_a, from_b;
    ASSERT_TRUE(a_->accounts
                    .RegisterAccount(name, "$a", absl::Now(), [&](absl::StatusOr<uint64_t> r) { from_a = std::move(r); })
                    .ok());
    ASSERT_TRUE(b_->accounts
                    .RegisterAccount(name, "$b", absl::Now(), [&](absl::StatusOr<uint64_t> r) { from_b = std::move(r); })
                    .ok());
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return from_a.has_value() && from_b.has_value(); }));
    ASSERT_NE(from_a->ok(), from_b->ok()) << from_a->status() << " / " << from_b->status();
    const absl::StatusOr<uint64_t>& winner = from_a->ok() ? *from_a : *from_b;
    const absl::StatusOr<uint64_t>& loser = from_a->ok() ? *from_b : *from_a;
    EXPECT_EQ(loser.status().code(), absl::StatusCode::kAlreadyExists);
    absl::StatusOr<ClusterAccount> stored = ByName(a_.get(), name);
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->id, *winner);
    EXPECT_EQ(stored->password_hash, from_a->ok() ? "$a" : "$b");
  }
}

TEST_F(ClusterAccountsTest, ASessionCreatedOnOneNodeIsFoundOnAnother) {
  absl::StatusOr<uint64_t> id = Register(a_.get(), "carol");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(CreateSession(a_.get(), TokenHash('x'), *id, absl::Hours(1)).ok());
  absl::StatusOr<ClusterAccount> found = Session(b_.get(), TokenHash('x'));
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->id, *id);
  EXPECT_EQ(found->name, "carol");
  EXPECT_EQ(Session(b_.get(), TokenHash('y')).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClusterAccountsTest, ASessionCarriesItsTtlInRedis) {
  absl::StatusOr<uint64_t> id = Register(a_.get(), "dave");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(CreateSession(a_.get(), TokenHash('d'), *id, absl::Hours(2)).ok());
  const int64_t pttl = Pttl(a_.get(), a_->accounts.SessionKey(TokenHash('d')));
  EXPECT_GT(pttl, absl::ToInt64Milliseconds(absl::Hours(2) - absl::Minutes(1)));
  EXPECT_LE(pttl, absl::ToInt64Milliseconds(absl::Hours(2)));
}

TEST_F(ClusterAccountsTest, AnExpiredSessionIsNotFound) {
  absl::StatusOr<uint64_t> id = Register(a_.get(), "erin");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(CreateSession(a_.get(), TokenHash('e'), *id, absl::Milliseconds(300)).ok());
  // Found before it expires (300 ms leaves room for a loaded machine)...
  absl::StatusOr<ClusterAccount> before = Session(b_.get(), TokenHash('e'));
  ASSERT_TRUE(before.ok()) << before.status();
  // ...then await Redis expiring it: each poll is one round trip answered
  // by Redis, at most 100 of them 50 ms apart (timer events, bounded).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = Pttl(a_.get(), a_->accounts.SessionKey(TokenHash('e'))) == -2;
    if (!gone) {
      bool tick = false;
      loop_->RunAt(absl::Now() + absl::Milliseconds(50), [&](absl::Time) { tick = true; });
      ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return tick; }));
    }
  }
  ASSERT_TRUE(gone) << "Redis did not expire the session within 5 s";
  EXPECT_EQ(Session(b_.get(), TokenHash('e')).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClusterAccountsTest, ARevokedSessionIsNotFoundOnAnyNode) {
  absl::StatusOr<uint64_t> id = Register(a_.get(), "frank");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(CreateSession(a_.get(), TokenHash('f'), *id, absl::Hours(1)).ok());
  ASSERT_TRUE(Session(b_.get(), TokenHash('f')).ok());
  ASSERT_TRUE(Revoke(b_.get(), TokenHash('f')).ok());
  EXPECT_EQ(Session(a_.get(), TokenHash('f')).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Session(b_.get(), TokenHash('f')).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Revoke(a_.get(), TokenHash('f')).ok()) << "revoking twice is not an error";
}

TEST_F(ClusterAccountsTest, MembershipsAreSharedAndRemovable) {
  std::optional<absl::Status> added;
  ASSERT_TRUE(a_->accounts.AddMembership(4, 30, [&](absl::Status st) { added = st; }).ok());
  ASSERT_TRUE(a_->accounts.AddMembership(4, 7, nullptr).ok());
  ASSERT_TRUE(a_->accounts.AddMembership(4, 30, nullptr).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return added.has_value(); }));
  EXPECT_TRUE(added->ok()) << *added;
  absl::StatusOr<std::vector<uint64_t>> rooms = Rooms(b_.get(), 4);
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  EXPECT_EQ(*rooms, (std::vector<uint64_t>{7, 30}));
  ASSERT_TRUE(b_->accounts.RemoveMembership(4, 30, nullptr).ok());
  rooms = Rooms(a_.get(), 4);
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  EXPECT_EQ(*rooms, (std::vector<uint64_t>{7}));
  rooms = Rooms(a_.get(), 5);
  ASSERT_TRUE(rooms.ok());
  EXPECT_TRUE(rooms->empty());
}

TEST_F(ClusterAccountsTest, RefusesAtOnceWhileRedisIsDownAndWorksAfterItReturns) {
  const uint16_t port = redis_.port();
  redis_.Kill();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return !a_->link.up(); }));
  bool called = false;
  const absl::Time start = absl::Now();
  absl::Status st = a_->accounts.RegisterAccount("gina", "$h", absl::Now(), [&](auto) { called = true; });
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(a_->accounts.LookupAccountByName("gina", [&](auto) { called = true; }).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(a_->accounts.LookupSession(TokenHash('g'), [&](auto) { called = true; }).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(a_->accounts.CreateSession(TokenHash('g'), 1, absl::Hours(1), [&](auto) { called = true; }).code(),
            absl::StatusCode::kUnavailable);
  // Refused without waiting for anything: no round trip, no timeout.
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_FALSE(called);

  ASSERT_TRUE(redis_.StartOn(port).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return a_->link.up(); }));
  absl::StatusOr<uint64_t> id = Register(a_.get(), "gina");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(ByName(a_.get(), "gina").ok());
}

TEST_F(ClusterAccountsTest, ACallInFlightWhenRedisDiesCompletesWithUnavailable) {
  std::optional<absl::StatusOr<ClusterAccount>> out;
  redis_.Pause();  // the command is written but never answered
  ASSERT_TRUE(a_->accounts.LookupAccountByName("hank", [&](auto r) { out = std::move(r); }).ok());
  redis_.Kill();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return out.has_value(); }));
  EXPECT_EQ(out->status().code(), absl::StatusCode::kUnavailable) << out->status();
}

TEST_F(ClusterAccountsTest, RejectsBadArgumentsWithoutCallingBack) {
  auto never = [](auto) { ADD_FAILURE() << "called back"; };
  EXPECT_EQ(a_->accounts.RegisterAccount("", "$h", absl::Now(), never).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->accounts.CreateSession("", 1, absl::Hours(1), never).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->accounts.CreateSession(TokenHash('z'), 1, absl::ZeroDuration(), never).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->accounts.AddMembership(0, 1, nullptr).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClusterAccountsTest, KeysUseThePrefix) {
  EXPECT_EQ(a_->accounts.ByNameKey(), "t:acct:byname");
  EXPECT_EQ(a_->accounts.IdsKey(), "t:acct:ids");
  EXPECT_EQ(a_->accounts.AccountKey(12), "t:acct:12");
  EXPECT_EQ(a_->accounts.MembershipsKey(12), "t:acct:12:rooms");
  EXPECT_EQ(a_->accounts.SessionKey(std::string("\x01\xab", 2)), "t:sess:01ab");
}

}  // namespace
}  // namespace muxchat::server
