// Accounts, sessions, ownership, resume, history, resend dedupe and the
// slow-consumer Gap, driven through in-memory connections. Passwords are
// hashed for real (at libsodium's minimum cost) on the hasher's thread;
// the tests wait for its completion fd, never sleep.
#include <poll.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/server/chat_service.h"
#include "src/wire/frame_codec.h"
#include "tests/server/chat_service_fixture.h"
#include "tests/server/fake_storage.h"
#include "tests/wire/decode_all.h"

namespace muxchat::server {
namespace {

class AccountsTest : public testing::ChatServiceFixture {
 protected:
  void SetUp() override {
    options_.password_opslimit = 1;
    options_.password_memlimit = 8192;
    Start();
  }
  Connection* NewConnection(const std::string& peer = "10.0.0.1:5000") { return ChatServiceFixture::NewConnection(peer); }
  // Waits for the hasher to answer (its eventfd) and runs the follow-ups.
  void AwaitPasswords() {
    pollfd p{service_->password_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1) << "no answer from the password hasher";
    service_->OnPasswordResults(now_);
  }
  // Register (or Login), answered after hashing (and storing).
  v1::ServerFrame Auth(Connection* c, bool register_account, const std::string& name, const std::string& password) {
    v1::ClientFrame f;
    v1::Login* login = register_account ? nullptr : f.mutable_login();
    v1::Register* reg = register_account ? f.mutable_register_() : nullptr;
    if (reg != nullptr) {
      reg->set_name(name);
      reg->set_password(password);
      reg->set_protocol_version(1);
    } else {
      login->set_name(name);
      login->set_password(password);
      login->set_protocol_version(1);
    }
    Request(c, f);
    auto early = Take(c);
    if (!early.empty()) return early[0];  // refused before hashing
    AwaitPasswords();
    if (storage_ != nullptr) CommitAll();
    return TakeOne(c);
  }
  Connection* Account(const std::string& name, std::string* token = nullptr) {
    Connection* c = NewConnection();
    v1::ServerFrame w = Auth(c, true, name, "correct horse");
    EXPECT_TRUE(w.has_welcome()) << w.DebugString();
    if (token != nullptr) *token = w.welcome().session_token();
    return c;
  }
  uint64_t CreateAndJoin(Connection* c, const std::string& name) {
    v1::ClientFrame f;
    f.mutable_create_room()->set_name(name);
    Request(c, f);
    if (storage_ != nullptr) CommitAll();
    const uint64_t id = TakeOne(c).reply().room_id();
    Join(c, name);
    return id;
  }
  std::vector<v1::ServerFrame> Join(Connection* c, const std::string& name) {
    v1::ClientFrame f;
    f.mutable_join_room()->set_name(name);
    Request(c, f);
    if (storage_ != nullptr) CommitAll();
    return Take(c);
  }
  void Send(Connection* c, uint64_t room, const std::string& text, uint64_t msg_id = 0) {
    v1::ClientFrame f;
    f.set_room_id(room);
    f.mutable_send_message()->set_text(text);
    f.mutable_send_message()->set_client_msg_id(msg_id);
    Request(c, f);
  }
  void Disconnect(Connection* c) {
    c->Close(CloseReason::kClientClosed);
    service_->OnDisconnect(c);
  }
  // Durable mode with the fake: every submitted batch committed.
  void CommitAll(absl::Status status = absl::OkStatus()) {
    service_->FlushStorage();
    while (!storage_->submitted().empty()) {
      storage_->CompleteNext(status);
      service_->OnStorageReady(now_);
    }
  }
  void UseFakeStorage(LoadedState state = LoadedState()) {
    storage_ = std::make_unique<testing::FakeStorage>();
    ASSERT_TRUE(service_->AttachStorage(storage_.get(), std::move(state), now_).ok());
  }
  std::vector<uint64_t> Seqs(const std::vector<v1::ServerFrame>& frames) {
    std::vector<uint64_t> seqs;
    for (const auto& f : frames) {
      if (f.has_chat_message()) seqs.push_back(f.chat_message().seq());
    }
    return seqs;
  }

  // The service goes first: it borrows the storage.
  void TearDown() override { service_.reset(); }

  std::unique_ptr<testing::FakeStorage> storage_;
};

TEST_F(AccountsTest, RegisterAnswersWelcomeWithASessionToken) {
  Connection* c = NewConnection();
  v1::ServerFrame w = Auth(c, true, "alice", "correct horse");
  ASSERT_TRUE(w.has_welcome()) << w.DebugString();
  EXPECT_EQ(w.welcome().nickname(), "alice");
  EXPECT_FALSE(w.welcome().guest());
  EXPECT_EQ(w.welcome().session_token().size(), 43u);
  EXPECT_GT(w.welcome().token_expires_unix_micros(), absl::ToUnixMicros(now_));
  EXPECT_TRUE(c->logged_in());
  EXPECT_NE(c->account_id(), 0u);
}

TEST_F(AccountsTest, ANameIsRegisteredOnce) {
  Account("alice");
  v1::ServerFrame again = Auth(NewConnection(), true, "ALICE", "another password");
  ASSERT_TRUE(again.has_reply());
  EXPECT_EQ(again.reply().status(), v1::FAILURE_ALREADY_EXISTS);
}

TEST_F(AccountsTest, AShortPasswordIsRefusedWithoutHashing) {
  v1::ServerFrame r = Auth(NewConnection(), true, "alice", "short");
  ASSERT_TRUE(r.has_reply());
  EXPECT_EQ(r.reply().status(), v1::FAILURE_INVALID);
}

TEST_F(AccountsTest, AGuestCannotTakeARegisteredName) {
  Account("alice");
  Connection* c = NewConnection();
  v1::ClientFrame f;
  f.mutable_hello()->set_nickname("Alice");
  f.mutable_hello()->set_protocol_version(1);
  Request(c, f);
  v1::ServerFrame r = TakeOne(c);
  ASSERT_TRUE(r.has_reply());
  EXPECT_EQ(r.reply().status(), v1::FAILURE_AUTH);
  EXPECT_FALSE(c->logged_in());
}

TEST_F(AccountsTest, GuestsCanBeTurnedOff) {
  options_.allow_guests = false;
  Start();
  Connection* c = NewConnection();
  v1::ClientFrame f;
  f.mutable_hello()->set_nickname("bob");
  f.mutable_hello()->set_protocol_version(1);
  Request(c, f);
  EXPECT_EQ(TakeOne(c).reply().status(), v1::FAILURE_AUTH);
}

TEST_F(AccountsTest, LoginWithTheRightPasswordOnly) {
  Account("alice");
  v1::ServerFrame ok = Auth(NewConnection(), false, "alice", "correct horse");
  ASSERT_TRUE(ok.has_welcome()) << ok.DebugString();
  v1::ServerFrame wrong = Auth(NewConnection(), false, "alice", "wrong horse");
  ASSERT_TRUE(wrong.has_reply());
  EXPECT_EQ(wrong.reply().status(), v1::FAILURE_AUTH);
  v1::ServerFrame unknown = Auth(NewConnection(), false, "nobody", "wrong horse");
  ASSERT_TRUE(unknown.has_reply());
  EXPECT_EQ(unknown.reply().status(), v1::FAILURE_AUTH);
  EXPECT_EQ(unknown.reply().message(), wrong.reply().message()) << "an unknown name must look like a wrong password";
}

TEST_F(AccountsTest, RepeatedWrongPasswordsAreThrottled) {
  Account("alice");
  v1::Status last = v1::SUCCESS;
  for (int i = 0; i < 8 && last != v1::FAILURE_RATE_LIMITED; ++i) {
    last = Auth(NewConnection(), false, "alice", "wrong horse").reply().status();
  }
  EXPECT_EQ(last, v1::FAILURE_RATE_LIMITED);
}

TEST_F(AccountsTest, OtherRequestsWaitForTheLoginAnswer) {
  Account("alice");
  Connection* c = NewConnection();
  v1::ClientFrame login;
  login.mutable_login()->set_name("alice");
  login.mutable_login()->set_password("correct horse");
  login.mutable_login()->set_protocol_version(1);
  Request(c, login);
  v1::ClientFrame list;
  list.mutable_list_rooms();
  Request(c, list);
  v1::ServerFrame early = TakeOne(c);
  ASSERT_TRUE(early.has_reply());
  EXPECT_EQ(early.reply().status(), v1::FAILURE_HANDSHAKE);
  EXPECT_FALSE(c->closing());
  AwaitPasswords();
  EXPECT_TRUE(TakeOne(c).has_welcome());
}

TEST_F(AccountsTest, ATokenLogsInWithoutThePasswordUntilItExpires) {
  std::string token;
  Account("alice", &token);
  Connection* c = NewConnection();
  v1::ClientFrame hello;
  hello.mutable_hello()->set_token(token);
  hello.mutable_hello()->set_protocol_version(1);
  Request(c, hello);
  v1::ServerFrame w = TakeOne(c);
  ASSERT_TRUE(w.has_welcome());
  EXPECT_EQ(w.welcome().nickname(), "alice");

  now_ += options_.session_ttl + absl::Seconds(1);
  Connection* late = NewConnection();
  Request(late, hello);
  EXPECT_EQ(TakeOne(late).reply().status(), v1::FAILURE_AUTH);
}

TEST_F(AccountsTest, AGarbageTokenIsRefused) {
  Connection* c = NewConnection();
  v1::ClientFrame hello;
  hello.mutable_hello()->set_token(std::string(5000, 'A'));
  hello.mutable_hello()->set_protocol_version(1);
  Request(c, hello);
  EXPECT_EQ(TakeOne(c).reply().status(), v1::FAILURE_AUTH);
}

TEST_F(AccountsTest, LogoutRevokesTheTokenAndClosesItsOtherConnections) {
  std::string token;
  Connection* first = Account("alice", &token);
  Connection* second = NewConnection();
  v1::ClientFrame hello;
  hello.mutable_hello()->set_token(token);
  hello.mutable_hello()->set_protocol_version(1);
  Request(second, hello);
  ASSERT_TRUE(TakeOne(second).has_welcome());
  v1::ClientFrame logout;
  logout.mutable_logout();
  Request(first, logout);
  EXPECT_EQ(TakeOne(first).reply().status(), v1::SUCCESS);
  EXPECT_TRUE(first->closing());
  EXPECT_TRUE(second->closing());
  Connection* third = NewConnection();
  Request(third, hello);
  EXPECT_EQ(TakeOne(third).reply().status(), v1::FAILURE_AUTH);
}

TEST_F(AccountsTest, OwnershipFollowsTheAccountNotTheConnection) {
  std::string token;
  Connection* alice = Account("alice", &token);
  CreateAndJoin(alice, "den");
  Disconnect(alice);
  Connection* bob = Account("bob");
  v1::ClientFrame del;
  del.mutable_delete_room()->set_name("den");
  Request(bob, del);
  EXPECT_EQ(TakeOne(bob).reply().status(), v1::FAILURE_PERMISSION_DENIED);
  Connection* alice_again = NewConnection();
  v1::ClientFrame hello;
  hello.mutable_hello()->set_token(token);
  hello.mutable_hello()->set_protocol_version(1);
  Request(alice_again, hello);
  Take(alice_again);
  Request(alice_again, del);
  EXPECT_EQ(TakeOne(alice_again).reply().status(), v1::SUCCESS);
}

TEST_F(AccountsTest, AGuestsOwnershipEndsWithItsConnection) {
  Connection* g = LogIn("gus");
  CreateAndJoin(g, "tent");
  Disconnect(g);
  Connection* impostor = LogIn("gus");  // the same nickname, free again
  v1::ClientFrame del;
  del.mutable_delete_room()->set_name("tent");
  Request(impostor, del);
  EXPECT_EQ(TakeOne(impostor).reply().status(), v1::FAILURE_PERMISSION_DENIED);
}

TEST_F(AccountsTest, AClientMsgIdIsEchoedAndAResendIsNotDuplicated) {
  Connection* a = Account("alice");
  Connection* b = LogIn("bob");
  const uint64_t room = CreateAndJoin(a, "den");
  Join(b, "den");
  Take(a);
  Send(a, room, "hello", 42);
  v1::ServerFrame echo = TakeOne(a);
  ASSERT_TRUE(echo.has_chat_message());
  EXPECT_EQ(echo.chat_message().client_msg_id(), 42u);
  EXPECT_EQ(TakeOne(b).chat_message().seq(), echo.chat_message().seq());
  Send(a, room, "hello", 42);
  v1::ServerFrame again = TakeOne(a);
  ASSERT_TRUE(again.has_reply());
  EXPECT_EQ(again.reply().status(), v1::SUCCESS);
  EXPECT_EQ(again.reply().last_seq(), echo.chat_message().seq());
  EXPECT_TRUE(Take(b).empty()) << "members must not get the resend";
}

TEST_F(AccountsTest, RememberedMsgIdsAreBoundedOldestFirst) {
  options_.dedupe_max_entries = 2;
  Start();
  Connection* a = Account("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  for (uint64_t id = 1; id <= 3; ++id) Send(a, room, "x", id);
  Take(a);
  Send(a, room, "x", 3);  // still remembered
  EXPECT_TRUE(TakeOne(a).has_reply());
  Send(a, room, "x", 1);  // forgotten: taken as new
  v1::ServerFrame again = TakeOne(a);
  ASSERT_TRUE(again.has_chat_message());
  EXPECT_EQ(again.chat_message().seq(), 4u);
}

TEST_F(AccountsTest, RememberedMsgIdsExpireAfterTheWindow) {
  Connection* a = Account("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  Send(a, room, "x", 9);
  Take(a);
  now_ += options_.dedupe_window + absl::Seconds(1);
  service_->Sweep(now_);
  Send(a, room, "x", 9);
  EXPECT_TRUE(TakeOne(a).has_chat_message());
}

TEST_F(AccountsTest, ResumeRestoresRoomsAndReplaysOnlyWhatWasMissed) {
  std::string token;
  Connection* a = Account("alice", &token);
  Connection* b = LogIn("bob");
  const uint64_t r1 = CreateAndJoin(a, "one");
  const uint64_t r2 = CreateAndJoin(a, "two");
  Join(b, "one");
  Join(b, "two");
  for (int i = 0; i < 3; ++i) Send(b, r1, absl::StrCat("early ", i));
  Disconnect(a);
  for (int i = 0; i < 2; ++i) Send(b, r1, absl::StrCat("missed ", i));
  Send(b, r2, "missed in two");
  Take(b);

  Connection* back = NewConnection();
  v1::ClientFrame resume;
  resume.mutable_resume()->set_token(token);
  resume.mutable_resume()->set_protocol_version(1);
  v1::RoomCursor* c1 = resume.mutable_resume()->add_cursors();
  c1->set_room_id(r1);
  c1->set_last_seq(3);
  v1::RoomCursor* c2 = resume.mutable_resume()->add_cursors();
  c2->set_room_id(r2);
  c2->set_last_seq(0);
  v1::RoomCursor* stranger = resume.mutable_resume()->add_cursors();
  stranger->set_room_id(9999);
  stranger->set_last_seq(5);
  Request(back, resume);
  std::vector<v1::ServerFrame> out = Take(back);
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(out.front().has_welcome());
  EXPECT_TRUE(out.back().has_reply());
  EXPECT_EQ(out.back().reply().status(), v1::SUCCESS);
  EXPECT_NE(out.back().reply().message().find("1 cursors"), std::string::npos) << out.back().reply().message();
  std::vector<uint64_t> one, two;
  int resumed = 0;
  for (const auto& f : out) {
    if (f.has_room_resumed()) ++resumed;
    if (f.has_chat_message()) {
      EXPECT_TRUE(f.chat_message().replay());
      (f.room_id() == r1 ? one : two).push_back(f.chat_message().seq());
    }
  }
  EXPECT_EQ(resumed, 2);
  EXPECT_EQ(one, (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(two, (std::vector<uint64_t>{1}));
  EXPECT_TRUE(service_->rooms().FindById(r1)->HasMember(back));
  bool announced = false;
  for (const auto& f : Take(b)) announced |= f.has_member_joined() && f.member_joined().nickname() == "alice";
  EXPECT_TRUE(announced);
}

TEST_F(AccountsTest, ResumeBeyondTheRingSendsAGap) {
  options_.history = 3;
  Start();
  std::string token;
  Connection* a = Account("alice", &token);
  const uint64_t room = CreateAndJoin(a, "den");
  Connection* b = LogIn("bob");
  Join(b, "den");
  Disconnect(a);
  for (int i = 0; i < 10; ++i) Send(b, room, absl::StrCat("m", i));
  Connection* back = NewConnection();
  v1::ClientFrame resume;
  resume.mutable_resume()->set_token(token);
  resume.mutable_resume()->set_protocol_version(1);
  v1::RoomCursor* c = resume.mutable_resume()->add_cursors();
  c->set_room_id(room);
  c->set_last_seq(2);
  Request(back, resume);
  std::vector<v1::ServerFrame> out = Take(back);
  const v1::Gap* gap = nullptr;
  for (const auto& f : out) {
    if (f.has_gap()) gap = &f.gap();
  }
  ASSERT_NE(gap, nullptr);
  EXPECT_EQ(gap->first_missing_seq(), 3u);
  EXPECT_EQ(gap->last_missing_seq(), 7u);
  EXPECT_EQ(Seqs(out), (std::vector<uint64_t>{8, 9, 10}));
}

TEST_F(AccountsTest, ACursorBeyondTheNewestReplaysNothing) {
  std::string token;
  Connection* a = Account("alice", &token);
  const uint64_t room = CreateAndJoin(a, "den");
  Send(a, room, "x");
  Disconnect(a);
  Connection* back = NewConnection();
  v1::ClientFrame resume;
  resume.mutable_resume()->set_token(token);
  resume.mutable_resume()->set_protocol_version(1);
  v1::RoomCursor* c = resume.mutable_resume()->add_cursors();
  c->set_room_id(room);
  c->set_last_seq(1000000);
  Request(back, resume);
  EXPECT_TRUE(Seqs(Take(back)).empty());
}

TEST_F(AccountsTest, HistoryPagesBackwardsAndIsBounded) {
  options_.history_page = 4;
  Start();
  Connection* a = Account("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  for (int i = 0; i < 10; ++i) Send(a, room, absl::StrCat("m", i));
  Take(a);
  v1::ClientFrame h;
  h.set_room_id(room);
  h.mutable_history()->set_before_seq(9);
  h.mutable_history()->set_limit(1000);
  Request(a, h);
  std::vector<v1::ServerFrame> out = Take(a);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].reply().history_count(), 4u);
  EXPECT_EQ(Seqs(out), (std::vector<uint64_t>{5, 6, 7, 8}));
  v1::ClientFrame after;
  after.set_room_id(room);
  after.mutable_history()->set_after_seq(8);
  Request(a, after);
  EXPECT_EQ(Seqs(Take(a)), (std::vector<uint64_t>{9, 10}));
}

TEST_F(AccountsTest, HistoryAfterZeroPagesFromTheOldest) {
  Connection* a = Account("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  for (int i = 0; i < 6; ++i) Send(a, room, absl::StrCat("m", i));
  Take(a);
  v1::ClientFrame h;
  h.set_room_id(room);
  h.mutable_history()->set_after_seq(0);  // set, so "after nothing", not "the newest"
  h.mutable_history()->set_limit(2);
  Request(a, h);
  EXPECT_EQ(Seqs(Take(a)), (std::vector<uint64_t>{1, 2}));
  v1::ClientFrame newest;
  newest.set_room_id(room);
  newest.mutable_history()->set_limit(2);
  Request(a, newest);
  EXPECT_EQ(Seqs(Take(a)), (std::vector<uint64_t>{5, 6}));
}

TEST_F(AccountsTest, HistoryIsForMembers) {
  Connection* a = Account("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  Connection* b = LogIn("bob");
  v1::ClientFrame h;
  h.set_room_id(room);
  h.mutable_history();
  Request(b, h);
  EXPECT_EQ(TakeOne(b).reply().status(), v1::FAILURE_NOT_MEMBER);
}

TEST_F(AccountsTest, ASlowReaderGetsAGapInsteadOfBeingDisconnected) {
  options_.soft_output_bytes = 2000;
  Start();
  Connection* a = LogIn("alice");
  Connection* slow = LogIn("slow");
  const uint64_t room = CreateAndJoin(a, "den");
  Join(slow, "den");
  Take(a);
  const std::string text(300, 'x');
  for (int i = 0; i < 20; ++i) Send(a, room, text);  // ~6 KB: past the soft limit
  EXPECT_FALSE(slow->closing());
  std::vector<v1::ServerFrame> first = Take(slow);  // drains it
  const std::vector<uint64_t> got = Seqs(first);
  ASSERT_FALSE(got.empty());
  ASSERT_LT(got.size(), 20u);
  Send(a, room, "after");
  std::vector<v1::ServerFrame> next = Take(slow);
  ASSERT_EQ(next.size(), 2u);
  ASSERT_TRUE(next[0].has_gap());
  EXPECT_EQ(next[0].gap().first_missing_seq(), got.back() + 1);
  EXPECT_EQ(next[0].gap().last_missing_seq(), 20u);
  EXPECT_EQ(next[0].gap().reason(), "slow_consumer");
  EXPECT_EQ(next[1].chat_message().seq(), 21u);
}

TEST_F(AccountsTest, AnOwedGapIsSentByTheSweepWhenTheRoomGoesQuiet) {
  options_.soft_output_bytes = 2000;
  Start();
  Connection* a = LogIn("alice");
  Connection* slow = LogIn("slow");
  const uint64_t room = CreateAndJoin(a, "den");
  Join(slow, "den");
  for (int i = 0; i < 20; ++i) Send(a, room, std::string(300, 'x'));
  Take(slow);
  service_->Sweep(now_);
  std::vector<v1::ServerFrame> out = Take(slow);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].has_gap());
}

// ---- durable (a fake storage that commits when the test says)

TEST_F(AccountsTest, ADurableMessageIsDeliveredOnlyOnceCommitted) {
  UseFakeStorage();
  Connection* a = LogIn("alice");
  Connection* b = LogIn("bob");
  const uint64_t room = CreateAndJoin(a, "den");
  Join(b, "den");
  Take(a);
  Send(a, room, "hello", 7);
  service_->FlushStorage();
  EXPECT_TRUE(Take(a).empty()) << "acknowledged before commit";
  EXPECT_TRUE(Take(b).empty()) << "delivered before commit";
  ASSERT_EQ(storage_->submitted().size(), 1u);
  storage_->CompleteNext();
  service_->OnStorageReady(now_);
  v1::ServerFrame echo = TakeOne(a);
  EXPECT_EQ(echo.chat_message().seq(), 1u);
  EXPECT_EQ(echo.chat_message().client_msg_id(), 7u);
  EXPECT_EQ(TakeOne(b).chat_message().text(), "hello");
  const auto* stored = std::get_if<AppendMessage>(&storage_->committed().back());
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->message.seq, 1u);
  EXPECT_EQ(stored->message.client_msg_id, 7u);
}

TEST_F(AccountsTest, TwoBatchesCommitAtATimeAndTheNextGathersMeanwhile) {
  UseFakeStorage();
  Connection* a = LogIn("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  Take(a);
  Send(a, room, "1");
  service_->FlushStorage();
  Send(a, room, "2");
  service_->FlushStorage();
  ASSERT_EQ(storage_->submitted().size(), 2u) << "the second batch queues behind the first";
  Send(a, room, "3");
  Send(a, room, "4");
  service_->FlushStorage();
  ASSERT_EQ(storage_->submitted().size(), 2u) << "a third batch while two commit";
  storage_->CompleteNext();
  service_->OnStorageReady(now_);  // delivers 1 and submits {3, 4}
  ASSERT_EQ(storage_->submitted().size(), 2u);
  EXPECT_EQ(storage_->submitted().back().ops.size(), 2u);
  EXPECT_EQ(Seqs(Take(a)), (std::vector<uint64_t>{1}));
  storage_->CompleteNext();
  storage_->CompleteNext();
  service_->OnStorageReady(now_);
  EXPECT_EQ(Seqs(Take(a)), (std::vector<uint64_t>{2, 3, 4}));
}

// A committed message is delivered from the op its commit hands back; a
// Storage that does not hand it back costs that live delivery (the message
// is stored), never a seq: the next message is numbered after it.
TEST_F(AccountsTest, ACommitWithoutItsMessagesBackDeliversNothingAndReusesNoSeq) {
  UseFakeStorage();
  Connection* a = LogIn("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  Take(a);
  Send(a, room, "1");
  service_->FlushStorage();
  storage_->CompleteNext(absl::OkStatus(), /*hand_back_ops=*/false);
  service_->OnStorageReady(now_);
  EXPECT_TRUE(Seqs(Take(a)).empty());
  Send(a, room, "2");
  service_->FlushStorage();
  storage_->CompleteNext();
  service_->OnStorageReady(now_);
  EXPECT_EQ(Seqs(Take(a)), (std::vector<uint64_t>{2}));
}

// A turn whose read stopped at its budget holds its batch for the rest of
// the input, one turn at most (docs/BENCHMARKS.md §9.2.4).
TEST_F(AccountsTest, ABatchIsHeldOneTurnWhileInputIsPending) {
  UseFakeStorage();
  Connection* a = LogIn("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  Take(a);
  Send(a, room, "1");
  EXPECT_TRUE(service_->FlushStorage(/*input_pending=*/true)) << "held: the caller must run the next turn at once";
  EXPECT_TRUE(storage_->submitted().empty());
  Send(a, room, "2");  // the rest of the input, read the next turn
  EXPECT_FALSE(service_->FlushStorage(/*input_pending=*/true)) << "held a second turn";
  ASSERT_EQ(storage_->submitted().size(), 1u);
  EXPECT_EQ(storage_->submitted().back().ops.size(), 2u) << "one commit for both turns' messages";
  storage_->CompleteNext();
  service_->OnStorageReady(now_);
  EXPECT_EQ(Seqs(Take(a)), (std::vector<uint64_t>{1, 2}));
}

TEST_F(AccountsTest, AHeldBatchIsNotSubmittedByACommitCompletingMeanwhile) {
  UseFakeStorage();
  Connection* a = LogIn("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  Take(a);
  Send(a, room, "1");
  service_->FlushStorage();
  Send(a, room, "2");
  EXPECT_TRUE(service_->FlushStorage(/*input_pending=*/true));
  storage_->CompleteNext();
  service_->OnStorageReady(now_);  // delivers 1; {2} waits for the next turn's reads
  EXPECT_TRUE(storage_->submitted().empty());
  EXPECT_EQ(Seqs(Take(a)), (std::vector<uint64_t>{1}));
  Send(a, room, "3");
  EXPECT_FALSE(service_->FlushStorage());
  ASSERT_EQ(storage_->submitted().size(), 1u);
  EXPECT_EQ(storage_->submitted().back().ops.size(), 2u);
  storage_->CompleteNext();
  service_->OnStorageReady(now_);
  EXPECT_EQ(Seqs(Take(a)), (std::vector<uint64_t>{2, 3}));
}

TEST_F(AccountsTest, ABatchOfManyWritesIsNotHeld) {
  UseFakeStorage();
  Connection* a = LogIn("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  Take(a);
  for (int i = 0; i < 1024; ++i) Send(a, room, "x");
  EXPECT_FALSE(service_->FlushStorage(/*input_pending=*/true));
  ASSERT_EQ(storage_->submitted().size(), 1u);
  EXPECT_EQ(storage_->submitted().back().ops.size(), 1024u);
}

TEST_F(AccountsTest, AFailedCommitRefusesItsSendsAndReusesNoSeq) {
  UseFakeStorage();
  Connection* a = LogIn("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  Take(a);
  Send(a, room, "lost 1");
  service_->FlushStorage();
  Send(a, room, "lost 2");  // gathered while the first batch commits
  storage_->CompleteNext(absl::ResourceExhaustedError("disk full"));
  service_->OnStorageReady(now_);
  std::vector<v1::ServerFrame> out = Take(a);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& f : out) {
    ASSERT_TRUE(f.has_reply());
    EXPECT_EQ(f.reply().status(), v1::FAILURE_STORAGE);
  }
  Send(a, room, "refused at once");
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_STORAGE);
  now_ += options_.storage_retry;
  Send(a, room, "kept");
  CommitAll();
  v1::ServerFrame echo = TakeOne(a);
  EXPECT_EQ(echo.chat_message().seq(), 1u) << "the failed seqs were rolled back";
  EXPECT_EQ(echo.chat_message().text(), "kept");
}

// The batch behind a failed one carries the seqs after its own: it fails
// with it at once (Storage refuses it too; its late result is ignored).
TEST_F(AccountsTest, AFailedCommitFailsTheBatchInFlightBehindItAndReusesNoSeq) {
  UseFakeStorage();
  Connection* a = LogIn("alice");
  Connection* b = LogIn("bob");
  const uint64_t room = CreateAndJoin(a, "den");
  Join(b, "den");
  Take(a);
  Take(b);
  Send(a, room, "lost 1");
  service_->FlushStorage();
  Send(a, room, "lost 2");
  service_->FlushStorage();
  Send(a, room, "lost 3");  // gathered while both commit
  ASSERT_EQ(storage_->submitted().size(), 2u);
  storage_->CompleteNext(absl::UnavailableError("I/O error"));
  service_->OnStorageReady(now_);
  std::vector<v1::ServerFrame> out = Take(a);
  ASSERT_EQ(out.size(), 3u);
  for (const auto& f : out) {
    ASSERT_TRUE(f.has_reply());
    EXPECT_EQ(f.reply().status(), v1::FAILURE_STORAGE);
  }
  storage_->CompleteNext(absl::UnavailableError("refused after an earlier batch failed"));
  service_->OnStorageReady(now_);
  EXPECT_TRUE(Take(a).empty()) << "the refused batch was answered already";
  EXPECT_TRUE(Take(b).empty()) << "nothing of a failed batch is delivered";
  now_ += options_.storage_retry;
  Send(a, room, "kept");
  CommitAll();
  v1::ServerFrame echo = TakeOne(a);
  EXPECT_EQ(echo.chat_message().seq(), 1u) << "the failed seqs were rolled back";
  EXPECT_EQ(echo.chat_message().text(), "kept");
  EXPECT_EQ(TakeOne(b).chat_message().seq(), 1u);
}

TEST_F(AccountsTest, ACreatedRoomIsConfirmedOnceStored) {
  UseFakeStorage();
  Connection* a = Account("alice");
  v1::ClientFrame f;
  f.mutable_create_room()->set_name("den");
  Request(a, f);
  service_->FlushStorage();
  EXPECT_TRUE(Take(a).empty());
  CommitAll();
  EXPECT_EQ(TakeOne(a).reply().status(), v1::SUCCESS);
  const auto* stored = std::get_if<NewRoom>(&storage_->committed().back());
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->room.owner_account_id, a->account_id());
}

TEST_F(AccountsTest, StateLoadedFromStorageComesBack) {
  LoadedState state;
  state.accounts.push_back(AccountRecord{5, "alice", "$argon2id$x", 0});
  const std::string token_hash(32, 'h');
  state.sessions.push_back(SessionRecord{token_hash, 5, absl::ToUnixMicros(now_ + absl::Hours(1))});
  RoomRecord room;
  room.id = 40;
  room.name = "den";
  room.owner_account_id = 5;
  room.owner_name = "alice";
  room.last_seq = 12;
  state.rooms.push_back(room);
  state.max_room_id = 77;
  state.memberships.push_back(MembershipRecord{5, 40});
  for (uint64_t seq = 11; seq <= 12; ++seq) {
    state.recent.push_back(MessageRecord{40, seq, "bob", 0, 0, 0, absl::StrCat("m", seq)});
  }
  UseFakeStorage(std::move(state));
  const Room* den = service_->rooms().FindByName("den");
  ASSERT_NE(den, nullptr);
  EXPECT_EQ(den->last_seq(), 12u);
  EXPECT_EQ(den->history().size(), 2u);
  ASSERT_NE(service_->accounts().FindById(5), nullptr);
  Connection* g = LogIn("gus");
  std::vector<v1::ServerFrame> joined = Join(g, "den");
  EXPECT_EQ(joined[0].reply().oldest_seq(), 11u);
  EXPECT_EQ(Seqs(joined), (std::vector<uint64_t>{11, 12}));
  v1::ClientFrame f;
  f.mutable_create_room()->set_name("new");
  Request(g, f);
  CommitAll();
  EXPECT_EQ(TakeOne(g).reply().room_id(), 78u) << "room IDs are never reused";
}

TEST_F(AccountsTest, HistoryOlderThanTheRingIsReadFromStorage) {
  options_.history = 2;
  Start();
  UseFakeStorage();
  Connection* a = LogIn("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  for (int i = 0; i < 5; ++i) Send(a, room, absl::StrCat("m", i));
  CommitAll();
  Take(a);
  v1::ClientFrame h;
  h.set_room_id(room);
  h.mutable_history()->set_before_seq(3);
  h.mutable_history()->set_limit(2);
  Request(a, h);
  EXPECT_TRUE(Take(a).empty()) << "answered before storage read";
  ASSERT_EQ(storage_->reads().size(), 1u);
  EXPECT_EQ(storage_->reads().front().before_seq, 3u);
  storage_->AnswerRead({MessageRecord{room, 1, "alice", 0, 0, 0, "m0"}, MessageRecord{room, 2, "alice", 0, 0, 0, "m1"}},
                       1);
  service_->OnStorageReady(now_);
  std::vector<v1::ServerFrame> out = Take(a);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].reply().history_count(), 2u);
  EXPECT_EQ(out[0].reply().oldest_seq(), 1u);
  EXPECT_EQ(Seqs(out), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace muxchat::server
