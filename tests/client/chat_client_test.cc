#include "src/client/chat_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/wire/buffer.h"
#include "src/wire/frame_codec.h"

namespace muxchat::client {
namespace {

constexpr absl::Duration kLong = absl::Seconds(5);  // only ever hit when a test fails

// A fake muxchat server: one listening socket on the loopback address (port 0)
// and one accepted connection, spoken to with the wire codec. Its blocking
// helpers wait with poll() bounded by kLong. A script may run on a thread;
// it is joined by Join() or the destructor.
class FakeServer {
 public:
  explicit FakeServer(int family = AF_INET) {
    listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage addr{};
    socklen_t len;
    if (family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&addr);
      in->sin_family = AF_INET;
      in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *in;
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
      in6->sin6_family = AF_INET6;
      in6->sin6_addr = in6addr_loopback;
      len = sizeof *in6;
    }
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 4) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  ~FakeServer() {
    Join();
    CloseConnection();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  bool listening() const { return port_ != 0; }
  uint16_t port() const { return port_; }

  bool Accept() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kLong))) != 1) return false;
    conn_fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    return conn_fd_ >= 0;
  }

  void RunInThread(std::function<void(FakeServer&)> script) {
    thread_ = std::thread([this, script = std::move(script)] { script(*this); });
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  bool Write(const v1::ServerFrame& frame) {
    const std::string bytes = wire::EncodeFrameToString(frame);
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(conn_fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads the next ClientFrame; false on timeout, EOF or garbage.
  bool Read(v1::ClientFrame* frame) {
    for (;;) {
      absl::StatusOr<bool> got = decoder_.Next(&in_, frame);
      if (!got.ok()) return false;
      if (*got) return true;
      if (!WaitReadable()) return false;
      if (in_.ReadFromFd(conn_fd_, 1 << 20) <= 0) return false;
    }
  }

  // True once the client has closed (or shut down) its side, all data read.
  bool ReadsEof() {
    for (;;) {
      if (!WaitReadable()) return false;
      const ssize_t n = in_.ReadFromFd(conn_fd_, 1 << 20);
      if (n == 0) return true;
      if (n < 0) return false;
    }
  }

  void CloseConnection() {
    if (conn_fd_ >= 0) ::close(conn_fd_);
    conn_fd_ = -1;
  }

 private:
  bool WaitReadable() {
    pollfd p{conn_fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kLong))) == 1;
  }

  int listen_fd_ = -1;
  int conn_fd_ = -1;
  uint16_t port_ = 0;
  wire::Buffer in_;
  wire::FrameDecoder decoder_{1 << 20};
  std::thread thread_;
};

v1::ServerFrame ChatFrame(uint64_t room, const std::string& sender, const std::string& text,
                          uint64_t seq) {
  v1::ServerFrame f;
  f.set_room_id(room);
  v1::ChatMessage* m = f.mutable_chat_message();
  m->set_sender(sender);
  m->set_text(text);
  m->set_seq(seq);
  return f;
}

v1::ServerFrame ReplyFrame(uint64_t request_id, v1::Status status, const std::string& message = "") {
  v1::ServerFrame f;
  f.set_request_id(request_id);
  f.mutable_reply()->set_status(status);
  f.mutable_reply()->set_message(message);
  return f;
}

// Blocks until the client's socket is readable, then pumps it once.
void AwaitAndPump(ChatClient& client) {
  pollfd p{client.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kLong))), 1);
  ASSERT_TRUE(client.Pump().ok());
}

class ChatClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.listening());
    absl::StatusOr<std::unique_ptr<ChatClient>> c = ChatClient::Connect("127.0.0.1", server_.port(), kLong);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    ASSERT_TRUE(server_.Accept());
  }

  // Completes the handshake as `nickname`.
  void Handshake(const std::string& nickname) {
    server_.RunInThread([nickname](FakeServer& s) {
      v1::ClientFrame hello;
      ASSERT_TRUE(s.Read(&hello));
      v1::ServerFrame welcome;
      welcome.set_request_id(hello.request_id());
      welcome.mutable_welcome()->set_nickname(nickname);
      welcome.mutable_welcome()->set_protocol_version(1);
      ASSERT_TRUE(s.Write(welcome));
    });
    ASSERT_TRUE(client_->Hello(nickname, kLong).ok());
    server_.Join();
  }

  FakeServer server_;
  std::unique_ptr<ChatClient> client_;
};

TEST_F(ChatClientTest, HelloReturnsWelcome) {
  server_.RunInThread([](FakeServer& s) {
    v1::ClientFrame hello;
    ASSERT_TRUE(s.Read(&hello));
    EXPECT_TRUE(hello.has_hello());
    EXPECT_NE(hello.request_id(), 0u);
    EXPECT_EQ(hello.hello().nickname(), "alice");
    EXPECT_EQ(hello.hello().client_name(), "muxchat-lib");
    EXPECT_EQ(hello.hello().protocol_version(), 1u);
    v1::ServerFrame welcome;
    welcome.set_request_id(hello.request_id());
    welcome.mutable_welcome()->set_session_id(7);
    welcome.mutable_welcome()->set_nickname("Alice");
    welcome.mutable_welcome()->set_protocol_version(1);
    welcome.mutable_welcome()->mutable_limits()->set_max_text_bytes(16384);
    ASSERT_TRUE(s.Write(welcome));
  });
  absl::StatusOr<v1::Welcome> welcome = client_->Hello("alice", kLong);
  server_.Join();
  ASSERT_TRUE(welcome.ok()) << welcome.status();
  EXPECT_EQ(welcome->session_id(), 7u);
  EXPECT_EQ(client_->nickname(), "Alice");  // as registered by the server
  EXPECT_EQ(client_->welcome().limits().max_text_bytes(), 16384u);
  EXPECT_FALSE(client_->HasQueuedEvent());
}

TEST_F(ChatClientTest, WaitForReplyMatchesRequestIdWhileEventsInterleave) {
  v1::ClientFrame create;
  create.mutable_create_room()->set_name("lobby");
  v1::ClientFrame list;
  list.mutable_list_rooms();
  absl::StatusOr<uint64_t> a = client_->SendRequest(create);
  absl::StatusOr<uint64_t> b = client_->SendRequest(list);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_NE(*a, *b);

  v1::ClientFrame got;
  ASSERT_TRUE(server_.Read(&got));
  EXPECT_EQ(got.request_id(), *a);
  ASSERT_TRUE(server_.Read(&got));
  EXPECT_EQ(got.request_id(), *b);
  v1::ServerFrame joined;
  joined.set_room_id(3);
  joined.mutable_member_joined()->set_nickname("bob");
  ASSERT_TRUE(server_.Write(joined));
  ASSERT_TRUE(server_.Write(ReplyFrame(*b, v1::SUCCESS)));
  ASSERT_TRUE(server_.Write(ChatFrame(3, "bob", "hi", 1)));
  v1::ServerFrame reply_a = ReplyFrame(*a, v1::SUCCESS);
  reply_a.mutable_reply()->set_room_id(9);
  ASSERT_TRUE(server_.Write(reply_a));

  absl::StatusOr<v1::ServerFrame> answer_a = client_->WaitForReply(*a, kLong);
  ASSERT_TRUE(answer_a.ok()) << answer_a.status();
  EXPECT_EQ(answer_a->request_id(), *a);
  EXPECT_EQ(answer_a->reply().room_id(), 9u);
  // b's answer arrived earlier and was kept: no waiting needed.
  absl::StatusOr<v1::ServerFrame> answer_b = client_->WaitForReply(*b, absl::ZeroDuration());
  ASSERT_TRUE(answer_b.ok()) << answer_b.status();
  EXPECT_EQ(answer_b->request_id(), *b);

  absl::StatusOr<v1::ServerFrame> e1 = client_->NextEvent(absl::ZeroDuration());
  ASSERT_TRUE(e1.ok()) << e1.status();
  EXPECT_EQ(e1->member_joined().nickname(), "bob");
  absl::StatusOr<v1::ServerFrame> e2 = client_->NextEvent(absl::ZeroDuration());
  ASSERT_TRUE(e2.ok()) << e2.status();
  EXPECT_EQ(e2->chat_message().text(), "hi");
  EXPECT_TRUE(absl::IsDeadlineExceeded(client_->NextEvent(absl::ZeroDuration()).status()));
}

TEST_F(ChatClientTest, FailureReplyBecomesSpecificCodeWithServerStatusPayload) {
  server_.RunInThread([](FakeServer& s) {
    v1::ClientFrame create;
    ASSERT_TRUE(s.Read(&create));
    EXPECT_EQ(create.create_room().name(), "lobby");
    ASSERT_TRUE(s.Write(ReplyFrame(create.request_id(), v1::FAILURE_ALREADY_EXISTS, "room taken")));
  });
  absl::StatusOr<v1::Reply> reply = client_->CreateRoom("lobby", kLong);
  server_.Join();
  EXPECT_TRUE(absl::IsAlreadyExists(reply.status())) << reply.status();
  EXPECT_EQ(reply.status().message(), "room taken");
  EXPECT_EQ(ServerStatusOf(reply.status()), v1::FAILURE_ALREADY_EXISTS);
  EXPECT_FALSE(client_->HasQueuedEvent());
}

TEST_F(ChatClientTest, SendAndWaitFailureIsResourceExhaustedWithRateLimitedPayload) {
  Handshake("alice");
  server_.RunInThread([](FakeServer& s) {
    v1::ClientFrame send;
    ASSERT_TRUE(s.Read(&send));
    EXPECT_EQ(send.room_id(), 5u);
    EXPECT_EQ(send.send_message().text(), "spam");
    ASSERT_TRUE(s.Write(ReplyFrame(send.request_id(), v1::FAILURE_RATE_LIMITED, "slow down")));
  });
  absl::StatusOr<v1::ChatMessage> msg = client_->SendAndWait(5, "spam", kLong);
  server_.Join();
  EXPECT_TRUE(absl::IsResourceExhausted(msg.status())) << msg.status();
  EXPECT_EQ(ServerStatusOf(msg.status()), v1::FAILURE_RATE_LIMITED);
  EXPECT_EQ(client_->PendingAcks(), 0u);
  EXPECT_FALSE(client_->HasQueuedEvent());
}

TEST_F(ChatClientTest, OwnEchoesAckSendsFifoPerRoomAndAFailedSendIsSkipped) {
  Handshake("alice");
  absl::StatusOr<uint64_t> s1 = client_->Send(5, "one");
  absl::StatusOr<uint64_t> s2 = client_->Send(5, "two");    // will be rate limited
  absl::StatusOr<uint64_t> s3 = client_->Send(6, "three");  // another room
  ASSERT_TRUE(s1.ok() && s2.ok() && s3.ok());
  EXPECT_EQ(client_->PendingAcks(), 3u);

  server_.RunInThread([&](FakeServer& s) {
    v1::ClientFrame f[4];
    for (auto& frame : f) ASSERT_TRUE(s.Read(&frame));
    EXPECT_EQ(f[3].send_message().text(), "four");
    ASSERT_TRUE(s.Write(ReplyFrame(*s2, v1::FAILURE_RATE_LIMITED, "slow down")));
    ASSERT_TRUE(s.Write(ChatFrame(5, "bob", "not mine", 1)));
    ASSERT_TRUE(s.Write(ChatFrame(5, "alice", "one", 2)));
    ASSERT_TRUE(s.Write(ChatFrame(6, "alice", "three", 1)));
    ASSERT_TRUE(s.Write(ChatFrame(5, "alice", "four", 3)));
  });
  absl::StatusOr<v1::ChatMessage> four = client_->SendAndWait(5, "four", kLong);
  server_.Join();
  ASSERT_TRUE(four.ok()) << four.status();
  EXPECT_EQ(four->text(), "four");
  EXPECT_EQ(four->seq(), 3u);
  EXPECT_EQ(client_->PendingAcks(), 0u);

  // The fire-and-forget outcomes are events, in arrival order; the echo that
  // answered SendAndWait is not repeated.
  absl::StatusOr<v1::ServerFrame> e = client_->NextEvent(absl::ZeroDuration());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->request_id(), *s2);
  EXPECT_EQ(e->reply().status(), v1::FAILURE_RATE_LIMITED);
  for (const char* text : {"not mine", "one", "three"}) {
    e = client_->NextEvent(absl::ZeroDuration());
    ASSERT_TRUE(e.ok()) << text;
    EXPECT_EQ(e->chat_message().text(), text);
  }
  EXPECT_TRUE(absl::IsDeadlineExceeded(client_->NextEvent(absl::ZeroDuration()).status()));
}

TEST_F(ChatClientTest, EverySendCarriesADistinctNonZeroClientMsgId) {
  Handshake("alice");
  ASSERT_TRUE(client_->Send(5, "one").ok());
  const uint64_t first = client_->last_client_msg_id();
  ASSERT_TRUE(client_->Send(5, "two").ok());
  v1::ClientFrame f1, f2;
  ASSERT_TRUE(server_.Read(&f1));
  ASSERT_TRUE(server_.Read(&f2));
  EXPECT_NE(f1.send_message().client_msg_id(), 0u);
  EXPECT_EQ(f1.send_message().client_msg_id(), first);
  EXPECT_NE(f2.send_message().client_msg_id(), f1.send_message().client_msg_id());
  EXPECT_EQ(f2.send_message().client_msg_id(), client_->last_client_msg_id());
}

TEST_F(ChatClientTest, AcksAreMatchedByClientMsgIdNotByNickname) {
  Handshake("alice");
  ASSERT_TRUE(client_->Send(5, "mine").ok());
  v1::ClientFrame sent;
  ASSERT_TRUE(server_.Read(&sent));
  // The same account on another device: same nickname, another id.
  v1::ServerFrame other = ChatFrame(5, "alice", "from my phone", 1);
  other.mutable_chat_message()->set_client_msg_id(sent.send_message().client_msg_id() + 1);
  v1::ServerFrame echo = ChatFrame(5, "alice", "mine", 2);
  echo.mutable_chat_message()->set_client_msg_id(sent.send_message().client_msg_id());
  ASSERT_TRUE(server_.Write(other));
  AwaitAndPump(*client_);
  EXPECT_EQ(client_->PendingAcks(), 1u) << "another device's message acknowledged our send";
  ASSERT_TRUE(server_.Write(echo));
  AwaitAndPump(*client_);
  EXPECT_EQ(client_->PendingAcks(), 0u);
}

TEST_F(ChatClientTest, UnackedSendsKeepTheirIdsForAResendAndASuccessReplyAcksIt) {
  Handshake("alice");
  ASSERT_TRUE(client_->Send(5, "one").ok());
  ASSERT_TRUE(client_->Send(6, "two").ok());
  const std::vector<ChatClient::UnackedSend> unacked = client_->UnackedSends();
  ASSERT_EQ(unacked.size(), 2u);
  EXPECT_EQ(unacked[0].text, "one");
  EXPECT_EQ(unacked[0].room_id, 5u);
  EXPECT_EQ(unacked[1].text, "two");
  v1::ClientFrame f1, f2;
  ASSERT_TRUE(server_.Read(&f1));
  ASSERT_TRUE(server_.Read(&f2));
  EXPECT_EQ(unacked[0].client_msg_id, f1.send_message().client_msg_id());

  // The resend (as on a new connection) carries the same id; the server
  // already has it and answers with a Reply naming the original seq.
  auto resent = client_->Send(7, "three", 12345);
  ASSERT_TRUE(resent.ok());
  v1::ClientFrame f3;
  ASSERT_TRUE(server_.Read(&f3));
  EXPECT_EQ(f3.send_message().client_msg_id(), 12345u);
  v1::ServerFrame dup = ReplyFrame(*resent, v1::SUCCESS);
  dup.mutable_reply()->set_last_seq(9);
  ASSERT_TRUE(server_.Write(dup));
  AwaitAndPump(*client_);
  EXPECT_EQ(client_->PendingAcks(), 2u);
  auto ev = client_->NextEvent(absl::ZeroDuration());
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->request_id(), *resent);
  EXPECT_EQ(ev->reply().last_seq(), 9u);
}

TEST_F(ChatClientTest, AClientMsgIdStillAwaitingItsEchoCannotBeReused) {
  Handshake("alice");
  ASSERT_TRUE(client_->Send(5, "one", 77).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(client_->Send(5, "again", 77).status()));
}

TEST_F(ChatClientTest, ResumeReturnsTheWelcomeAndTheRoomsFollowAsEvents) {
  server_.RunInThread([](FakeServer& s) {
    v1::ClientFrame resume;
    ASSERT_TRUE(s.Read(&resume));
    ASSERT_TRUE(resume.has_resume());
    EXPECT_EQ(resume.resume().token(), "tok");
    ASSERT_EQ(resume.resume().cursors_size(), 1);
    EXPECT_EQ(resume.resume().cursors(0).room_id(), 4u);
    EXPECT_EQ(resume.resume().cursors(0).last_seq(), 10u);
    v1::ServerFrame welcome;
    welcome.set_request_id(resume.request_id());
    welcome.mutable_welcome()->set_nickname("ann");
    welcome.mutable_welcome()->set_session_token("tok");
    ASSERT_TRUE(s.Write(welcome));
    v1::ServerFrame resumed;
    resumed.set_request_id(resume.request_id());
    resumed.set_room_id(4);
    resumed.mutable_room_resumed()->set_name("lobby");
    resumed.mutable_room_resumed()->set_replay_count(1);
    ASSERT_TRUE(s.Write(resumed));
    v1::ServerFrame msg = ChatFrame(4, "bob", "missed", 11);
    msg.mutable_chat_message()->set_replay(true);
    ASSERT_TRUE(s.Write(msg));
    ASSERT_TRUE(s.Write(ReplyFrame(resume.request_id(), v1::SUCCESS)));
  });
  v1::RoomCursor cursor;
  cursor.set_room_id(4);
  cursor.set_last_seq(10);
  auto welcome = client_->Resume("tok", {cursor}, kLong);
  server_.Join();
  ASSERT_TRUE(welcome.ok()) << welcome.status();
  EXPECT_EQ(client_->nickname(), "ann");
  std::vector<v1::ServerFrame> events;
  while (events.size() < 3) {
    auto ev = client_->NextEvent(kLong);
    ASSERT_TRUE(ev.ok()) << ev.status();
    events.push_back(*ev);
  }
  EXPECT_TRUE(events[0].has_room_resumed());
  EXPECT_EQ(events[0].request_id(), client_->resume_request_id());
  EXPECT_EQ(events[1].chat_message().text(), "missed");
  EXPECT_TRUE(events[2].has_reply());
  EXPECT_EQ(events[2].request_id(), client_->resume_request_id());
}

TEST_F(ChatClientTest, AFailedLoginLeavesTheConnectionOpenForAnotherTry) {
  server_.RunInThread([](FakeServer& s) {
    v1::ClientFrame login;
    ASSERT_TRUE(s.Read(&login));
    EXPECT_EQ(login.login().name(), "ann");
    EXPECT_EQ(login.login().password(), "wrong");
    ASSERT_TRUE(s.Write(ReplyFrame(login.request_id(), v1::FAILURE_AUTH, "wrong name or password")));
    ASSERT_TRUE(s.Read(&login));
    v1::ServerFrame welcome;
    welcome.set_request_id(login.request_id());
    welcome.mutable_welcome()->set_nickname("ann");
    welcome.mutable_welcome()->set_session_token("tok");
    ASSERT_TRUE(s.Write(welcome));
  });
  auto first = client_->Login("ann", "wrong", kLong);
  EXPECT_EQ(ServerStatusOf(first.status()), v1::FAILURE_AUTH);
  EXPECT_FALSE(client_->closed());
  auto second = client_->Login("ann", "right password", kLong);
  server_.Join();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->session_token(), "tok");
}

TEST_F(ChatClientTest, KeepalivePingIsAnsweredWithPongAndNotSurfaced) {
  v1::ServerFrame ping;
  ping.mutable_ping()->set_nonce(42);
  ASSERT_TRUE(server_.Write(ping));
  AwaitAndPump(*client_);
  v1::ClientFrame pong;
  ASSERT_TRUE(server_.Read(&pong));
  ASSERT_TRUE(pong.has_pong());
  EXPECT_EQ(pong.pong().nonce(), 42u);
  EXPECT_FALSE(client_->HasQueuedEvent());
  EXPECT_TRUE(absl::IsDeadlineExceeded(client_->NextEvent(absl::ZeroDuration()).status()));
}

TEST_F(ChatClientTest, ErrorFrameClosesConnectionAndFailsLaterCalls) {
  v1::ClientFrame list;
  list.mutable_list_rooms();
  absl::StatusOr<uint64_t> id = client_->SendRequest(list);
  ASSERT_TRUE(id.ok());
  v1::ClientFrame got;
  ASSERT_TRUE(server_.Read(&got));
  v1::ServerFrame error;
  error.mutable_error()->set_status(v1::FAILURE_SLOW_CONSUMER);
  error.mutable_error()->set_message("too slow");
  ASSERT_TRUE(server_.Write(error));  // and the fake keeps its side open

  absl::StatusOr<v1::ServerFrame> answer = client_->WaitForReply(*id, kLong);
  EXPECT_TRUE(absl::IsUnavailable(answer.status())) << answer.status();
  EXPECT_EQ(answer.status().message(), "too slow");
  EXPECT_EQ(ServerStatusOf(answer.status()), v1::FAILURE_SLOW_CONSUMER);

  absl::StatusOr<v1::Pong> pong = client_->Ping(1, kLong);
  EXPECT_EQ(ServerStatusOf(pong.status()), v1::FAILURE_SLOW_CONSUMER);
  EXPECT_EQ(ServerStatusOf(client_->Pump()), v1::FAILURE_SLOW_CONSUMER);
  EXPECT_EQ(ServerStatusOf(client_->Send(1, "x").status()), v1::FAILURE_SLOW_CONSUMER);

  absl::StatusOr<v1::ServerFrame> event = client_->NextEvent(absl::ZeroDuration());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->error().status(), v1::FAILURE_SLOW_CONSUMER);
  EXPECT_TRUE(absl::IsUnavailable(client_->NextEvent(kLong).status()));
  // The client really let go of the connection.
  EXPECT_TRUE(server_.ReadsEof());
}

TEST_F(ChatClientTest, PeerCloseIsUnavailableAfterQueuedEventsDrain) {
  v1::ServerFrame shutdown;
  shutdown.mutable_shutdown()->set_reason("bye");
  ASSERT_TRUE(server_.Write(shutdown));
  server_.CloseConnection();

  absl::StatusOr<v1::ServerFrame> event = client_->NextEvent(kLong);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->shutdown().reason(), "bye");
  EXPECT_TRUE(absl::IsUnavailable(client_->NextEvent(kLong).status()));
  EXPECT_TRUE(absl::IsUnavailable(client_->Ping(1, kLong).status()));
  EXPECT_TRUE(absl::IsUnavailable(client_->Pump()));
  EXPECT_TRUE(client_->closed());
}

TEST_F(ChatClientTest, InterruptFdCutsABlockingCallShortAndIsLeftUnread) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_EQ(::write(p[1], "x", 1), 1);  // e.g. a signal already pending on a signalfd
  client_->set_interrupt_fd(p[0]);
  const absl::Time start = absl::Now();
  // The fake server never answers: without the interrupt this waits kLong.
  EXPECT_TRUE(absl::IsCancelled(client_->ListRooms(kLong).status()));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_FALSE(client_->closed());
  char c;
  EXPECT_EQ(::read(p[0], &c, 1), 1);  // the caller still gets to read it
  // The request was given up on: its late answer arrives as an event.
  client_->set_interrupt_fd(-1);
  v1::ClientFrame got;
  ASSERT_TRUE(server_.Read(&got));
  v1::ServerFrame answer;
  answer.set_request_id(got.request_id());
  answer.mutable_reply()->set_status(v1::SUCCESS);
  ASSERT_TRUE(server_.Write(answer));
  auto ev = client_->NextEvent(kLong);
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->request_id(), got.request_id());
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(ChatClientTest, NextEventTimesOutWithDeadlineExceeded) {
  EXPECT_TRUE(absl::IsDeadlineExceeded(client_->NextEvent(absl::ZeroDuration()).status()));
  const absl::Time start = absl::Now();
  EXPECT_TRUE(absl::IsDeadlineExceeded(client_->NextEvent(absl::Milliseconds(50)).status()));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_FALSE(client_->closed());
}

TEST_F(ChatClientTest, AnswerArrivingAfterWaitTimedOutBecomesAnEvent) {
  v1::ClientFrame ping;
  ping.mutable_ping()->set_nonce(9);
  absl::StatusOr<uint64_t> id = client_->SendRequest(ping);
  ASSERT_TRUE(id.ok());
  v1::ClientFrame got;
  ASSERT_TRUE(server_.Read(&got));
  EXPECT_TRUE(absl::IsDeadlineExceeded(client_->WaitForReply(*id, absl::ZeroDuration()).status()));

  v1::ServerFrame pong;
  pong.set_request_id(*id);
  pong.mutable_pong()->set_nonce(9);
  ASSERT_TRUE(server_.Write(pong));
  absl::StatusOr<v1::ServerFrame> event = client_->NextEvent(kLong);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->request_id(), *id);
  EXPECT_EQ(event->pong().nonce(), 9u);
  EXPECT_TRUE(absl::IsNotFound(client_->WaitForReply(*id, absl::ZeroDuration()).status()));
}

TEST_F(ChatClientTest, LargeWritesWaitForTheServerToReadAndArriveIntact) {
  // Small kernel buffers so the client's writes hit EAGAIN and must wait for POLLOUT.
  const int small = 16 * 1024;
  ASSERT_EQ(::setsockopt(client_->fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  constexpr int kFrames = 200;  // ~12 MB
  const std::string text(60000, 'x');
  int received = 0;
  server_.RunInThread([&](FakeServer& s) {
    v1::ClientFrame f;
    while (received < kFrames && s.Read(&f)) {
      if (f.send_message().text() != text) break;
      ++received;
    }
  });
  for (int i = 0; i < kFrames; ++i) {
    absl::StatusOr<uint64_t> id = client_->Send(1, text);
    ASSERT_TRUE(id.ok()) << i << ": " << id.status();
  }
  server_.Join();
  EXPECT_EQ(received, kFrames);
  EXPECT_EQ(client_->PendingAcks(), static_cast<size_t>(kFrames));
  EXPECT_FALSE(client_->HasPendingOutput());
}

TEST_F(ChatClientTest, WriteTimeoutClosesTheConnectionWhenTheServerStopsReading) {
  client_->set_write_timeout(absl::Milliseconds(100));
  const std::string text(60000, 'x');
  absl::Status status;
  for (int i = 0; i < 10000 && status.ok(); ++i) status = client_->Send(1, text).status();
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  EXPECT_TRUE(client_->closed());
  EXPECT_TRUE(absl::IsDeadlineExceeded(client_->Ping(1, kLong).status()));
}

TEST_F(ChatClientTest, OversizedFrameIsRejectedLocallyAndNothingIsSent) {
  const std::string text(wire::kDefaultMaxFrameBytes + 1, 'x');
  EXPECT_TRUE(absl::IsResourceExhausted(client_->Send(1, text).status()));
  EXPECT_EQ(client_->PendingAcks(), 0u);
  EXPECT_FALSE(client_->closed());
  ASSERT_TRUE(client_->Send(1, "ok").ok());
  v1::ClientFrame got;
  ASSERT_TRUE(server_.Read(&got));
  EXPECT_EQ(got.send_message().text(), "ok");
}

TEST_F(ChatClientTest, ListAllRoomsFollowsTheCursorUntilTheLastPage) {
  Handshake("alice");
  server_.RunInThread([](FakeServer& s) {
    for (int page = 0; page < 3; ++page) {
      v1::ClientFrame f;
      ASSERT_TRUE(s.Read(&f));
      ASSERT_TRUE(f.has_list_rooms());
      EXPECT_EQ(f.list_rooms().name_prefix(), "r");
      EXPECT_EQ(f.list_rooms().after(), page == 0 ? "" : absl::StrCat("r", page * 2 - 1));
      v1::ServerFrame out = ReplyFrame(f.request_id(), v1::SUCCESS, "");
      out.mutable_reply()->set_total_rooms(5);
      for (int i = page * 2; i < std::min(page * 2 + 2, 5); ++i) {
        out.mutable_reply()->add_rooms()->set_name(absl::StrCat("r", i));
      }
      if (page < 2) out.mutable_reply()->set_next_cursor(absl::StrCat("r", page * 2 + 1));
      ASSERT_TRUE(s.Write(out));
    }
  });
  absl::StatusOr<v1::Reply> all = client_->ListAllRooms(kLong, "r");
  server_.Join();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->rooms_size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(all->rooms(i).name(), absl::StrCat("r", i));
  EXPECT_EQ(all->total_rooms(), 5u);
  EXPECT_TRUE(all->next_cursor().empty());
}

TEST_F(ChatClientTest, ListAllRoomsStopsAtAPageWithoutRooms) {
  Handshake("alice");
  server_.RunInThread([](FakeServer& s) {
    v1::ClientFrame f;
    ASSERT_TRUE(s.Read(&f));
    v1::ServerFrame out = ReplyFrame(f.request_id(), v1::SUCCESS, "");
    out.mutable_reply()->set_next_cursor("stuck");  // a faulty server: a cursor but no rooms
    ASSERT_TRUE(s.Write(out));
  });
  absl::StatusOr<v1::Reply> all = client_->ListAllRooms(kLong);
  server_.Join();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->rooms_size(), 0);
}

TEST_F(ChatClientTest, ListAllMembersPagesTheRoomAndNamesItInTheEnvelope) {
  Handshake("alice");
  server_.RunInThread([](FakeServer& s) {
    for (int page = 0; page < 3; ++page) {
      v1::ClientFrame f;
      ASSERT_TRUE(s.Read(&f));
      ASSERT_TRUE(f.has_list_members());
      EXPECT_EQ(f.room_id(), 42u);
      EXPECT_EQ(f.list_members().after(), page == 0 ? "" : absl::StrCat("n", page * 2 - 1));
      v1::ServerFrame out = ReplyFrame(f.request_id(), v1::SUCCESS, "");
      out.mutable_reply()->set_member_count(5);
      for (int i = page * 2; i < std::min(page * 2 + 2, 5); ++i) out.mutable_reply()->add_members(absl::StrCat("n", i));
      if (page < 2) out.mutable_reply()->set_next_cursor(absl::StrCat("n", page * 2 + 1));
      ASSERT_TRUE(s.Write(out));
    }
  });
  absl::StatusOr<v1::Reply> all = client_->ListAllMembers(42, kLong);
  server_.Join();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->members_size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(all->members(i), absl::StrCat("n", i));
  EXPECT_EQ(all->member_count(), 5u);
  EXPECT_TRUE(all->next_cursor().empty());
}

TEST_F(ChatClientTest, PostIsAnsweredByItsReplyAndItsCopyAcksNoSend) {
  Handshake("alice");
  absl::StatusOr<uint64_t> s1 = client_->Send(5, "sent");
  ASSERT_TRUE(s1.ok());
  server_.RunInThread([&](FakeServer& s) {
    v1::ClientFrame send, post;
    ASSERT_TRUE(s.Read(&send));
    ASSERT_TRUE(s.Read(&post));
    ASSERT_TRUE(post.has_post_message());
    EXPECT_EQ(post.post_message().room_name(), "news");
    EXPECT_EQ(post.post_message().text(), "posted");
    // As the server orders it: the post's Reply, then (we are a member) its
    // copy, which must not be taken for the pending send's echo.
    v1::ServerFrame reply = ReplyFrame(post.request_id(), v1::SUCCESS, "posted to 'news'");
    reply.set_room_id(5);
    reply.mutable_reply()->set_room_id(5);
    reply.mutable_reply()->set_last_seq(7);
    ASSERT_TRUE(s.Write(reply));
    ASSERT_TRUE(s.Write(ChatFrame(5, "alice", "posted", 7)));
  });
  absl::StatusOr<v1::Reply> posted = client_->Post("news", "posted", kLong);
  ASSERT_TRUE(posted.ok()) << posted.status();
  EXPECT_EQ(posted->last_seq(), 7u);
  absl::StatusOr<v1::ServerFrame> e = client_->NextEvent(kLong);
  server_.Join();
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->chat_message().text(), "posted");  // the copy is an event...
  EXPECT_EQ(client_->PendingAcks(), 1u);          // ...and the send still awaits its echo
  server_.RunInThread([](FakeServer& s) { ASSERT_TRUE(s.Write(ChatFrame(5, "alice", "sent", 8))); });
  while (client_->PendingAcks() > 0) AwaitAndPump(*client_);
  server_.Join();
}

TEST_F(ChatClientTest, APostToARoomWeAreNotInLeavesSendAcksAlone) {
  Handshake("alice");
  absl::StatusOr<uint64_t> s1 = client_->Send(5, "sent");
  ASSERT_TRUE(s1.ok());
  server_.RunInThread([&](FakeServer& s) {
    v1::ClientFrame send, post;
    ASSERT_TRUE(s.Read(&send));
    ASSERT_TRUE(s.Read(&post));
    v1::ServerFrame reply = ReplyFrame(post.request_id(), v1::SUCCESS, "posted");
    reply.mutable_reply()->set_room_id(6);  // not a member there: no copy follows
    reply.mutable_reply()->set_last_seq(3);
    ASSERT_TRUE(s.Write(reply));
    ASSERT_TRUE(s.Write(ChatFrame(5, "alice", "sent", 9)));
  });
  ASSERT_TRUE(client_->Post("elsewhere", "posted", kLong).ok());
  while (client_->PendingAcks() > 0) AwaitAndPump(*client_);
  server_.Join();
  absl::StatusOr<v1::ServerFrame> e = client_->NextEvent(absl::ZeroDuration());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->chat_message().text(), "sent");  // the send's acknowledgement, as an event
}

TEST(ChatClientConnect, ResolvesHostNames) {
  FakeServer server;
  ASSERT_TRUE(server.listening());
  // "localhost" may resolve to ::1 first, where nothing listens: the next address is tried.
  absl::StatusOr<std::unique_ptr<ChatClient>> c = ChatClient::Connect("localhost", server.port(), kLong);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(server.Accept());
}

TEST(ChatClientConnect, ConnectsToIpv6Literal) {
  FakeServer server(AF_INET6);
  if (!server.listening()) GTEST_SKIP() << "no IPv6 loopback here";
  absl::StatusOr<std::unique_ptr<ChatClient>> c = ChatClient::Connect("[::1]", server.port(), kLong);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(server.Accept());
}

TEST(ChatClientConnect, RefusedConnectionIsUnavailable) {
  // A bound socket that does not listen holds the port and refuses connections.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  absl::StatusOr<std::unique_ptr<ChatClient>> c =
      ChatClient::Connect("127.0.0.1", ntohs(addr.sin_port), kLong);
  EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
  ::close(fd);
}

}  // namespace
}  // namespace muxchat::client
