// ChatService's fan-out to WebSocket members (Connection::websocket()): each
// broadcast is framed once as a WebSocket message into a block shared by all
// of them, and what reaches each one through WebSocketTransport is exactly
// the TCP members' frames as binary messages, replies and broadcasts in
// order, under the same slow-consumer rules.
#include <sys/uio.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "src/server/chat_service.h"
#include "src/server/websocket_transport.h"
#include "src/wire/frame_format.h"
#include "src/wire/shared_frame.h"
#include "src/wire/websocket_codec.h"
#include "tests/server/chat_service_fixture.h"

namespace muxchat::server {
namespace {

// The socket under a member's WebSocketTransport: takes every gathered
// write whole and keeps the bytes.
class RecordingSocket final : public Transport {
 public:
  explicit RecordingSocket(std::string* wire) : wire_(wire) {}
  const char* Name() const override { return "tcp"; }
  IoResult Handshake() override { return IoResult{}; }
  IoResult Read(wire::Buffer*, size_t) override {
    IoResult r;
    r.code = IoResult::kWouldBlock;
    return r;
  }
  IoResult Write(wire::OutputQueue* out, size_t max_bytes) override {
    std::string all;
    out->CopyTo(&all);
    all.resize(std::min(all.size(), max_bytes));
    *wire_ += all;
    out->Consume(all.size());
    IoResult r;
    r.bytes = all.size();
    return r;
  }
  bool WritesVectors() const override { return true; }
  IoResult WriteVectors(const iovec* vec, size_t count) override {
    IoResult r;
    for (size_t i = 0; i < count; ++i) {
      wire_->append(static_cast<const char*>(vec[i].iov_base), vec[i].iov_len);
      r.bytes += vec[i].iov_len;
    }
    return r;
  }
  void ShutdownWrite() override {}

 private:
  std::string* wire_;
};

// Length-prefixed frames (a TCP member's bytes) as WebSocket messages.
std::string AsMessages(const std::string& frames) {
  std::string out;
  for (size_t at = 0; at + wire::kLengthPrefixBytes <= frames.size();) {
    const uint32_t body = wire::DecodeLength(frames.data() + at);
    out += std::string(wire::MakeWsServerHeader(body).view());
    out.append(frames, at + wire::kLengthPrefixBytes, body);
    at += wire::kLengthPrefixBytes + body;
  }
  return out;
}

class ChatServiceWebSocketTest : public testing::ChatServiceFixture {
 protected:
  // A guest logged in as `nick` on WebSocket: its bytes go through a
  // WebSocketTransport into wire_[c].
  Connection* LogInWs(const std::string& nick) {
    Connection* c = LogIn(nick);
    c->set_websocket();
    wires_.push_back(std::make_unique<std::string>());
    c->set_transport(
        std::make_unique<WebSocketTransport>(std::make_unique<RecordingSocket>(wires_.back().get()), 1 << 20, "", ""));
    return c;
  }

  // Everything owed to a WebSocket member, as it leaves its transport; the
  // queue is emptied.
  std::string Wire(Connection* c, std::string* wire) {
    while (c->OwesOutput()) {
      const IoResult r = c->transport()->Write(&c->output(), 1 << 20);
      if (r.code != IoResult::kOk || r.bytes == 0) break;
    }
    EXPECT_TRUE(c->output().empty());
    return std::exchange(*wire, std::string());
  }
  std::string WireOf(Connection* c, size_t index) { return Wire(c, wires_[index].get()); }

  // The same decoded: one ServerFrame per binary message.
  std::vector<v1::ServerFrame> Messages(const std::string& bytes) {
    wire::Buffer in(0);
    in.Append(bytes);
    wire::WebSocketDecoder client(1 << 20, wire::WebSocketDecoder::Role::kClient);
    std::vector<v1::ServerFrame> out;
    wire::WsEvent event;
    for (;;) {
      absl::StatusOr<bool> got = client.Next(&in, &event);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok() || !*got) break;
      EXPECT_EQ(event.kind, wire::WsEvent::Kind::kMessage);
      out.emplace_back();
      EXPECT_TRUE(out.back().ParseFromString(std::string(event.payload)));
    }
    EXPECT_TRUE(in.empty());
    return out;
  }

  // A TCP member's pending bytes (length-prefixed frames); emptied.
  std::string Raw(Connection* c) {
    std::string bytes;
    c->output().CopyTo(&bytes);
    c->output().Consume(bytes.size());
    return bytes;
  }

  uint64_t CreateAndJoin(Connection* c, const std::string& name) {
    v1::ClientFrame f;
    f.mutable_create_room()->set_name(name);
    Request(c, f);
    const uint64_t id = TakeOne(c).reply().room_id();
    v1::ClientFrame j;
    j.set_room_id(id);
    j.mutable_join_room();
    Request(c, j);
    Take(c);
    return id;
  }
  void Join(Connection* c, uint64_t room) {
    v1::ClientFrame j;
    j.set_room_id(room);
    j.mutable_join_room();
    Request(c, j);
  }
  void Send(Connection* c, uint64_t room, const std::string& text) {
    v1::ClientFrame f;
    f.set_room_id(room);
    f.mutable_send_message()->set_text(text);
    Request(c, f);
  }

  std::vector<std::unique_ptr<std::string>> wires_;
};

TEST_F(ChatServiceWebSocketTest, ABroadcastIsFramedOnceForEveryWebSocketMember) {
  Connection* a = LogIn("sender");
  const uint64_t room = CreateAndJoin(a, "big");
  Connection* tcp = LogIn("tcp");
  Join(tcp, room);
  std::vector<Connection*> ws;
  for (int i = 0; i < 50; ++i) {
    ws.push_back(LogInWs("w" + std::to_string(i)));
    Join(ws.back(), room);
  }
  Take(a);
  Raw(tcp);
  for (size_t i = 0; i < ws.size(); ++i) WireOf(ws[i], i);

  const uint64_t before = wire::SharedFrame::AllocationCount();
  for (int i = 0; i < 10; ++i) Send(a, room, "to everyone " + std::to_string(i));
  // At most the length-prefixed block and the framed one, for all ten
  // broadcasts and all 52 members: nothing per member.
  EXPECT_LE(wire::SharedFrame::AllocationCount() - before, 2u);
  const char* framed = ws[0]->output().FrontData();
  ASSERT_NE(framed, nullptr);
  EXPECT_NE(framed, tcp->output().FrontData());
  for (Connection* m : ws) {
    EXPECT_EQ(m->output().FrontData(), framed) << "a copy for one member";
    EXPECT_EQ(m->output().SegmentCount(), 1u);  // ten messages, one range
  }
  // The framed bytes are the TCP frames' messages, header included: the
  // range starts with the first message's WebSocket header.
  EXPECT_EQ(static_cast<uint8_t>(framed[0]), 0x82);
}

TEST_F(ChatServiceWebSocketTest, WebSocketMembersGetTheTcpMembersFramesAsMessages) {
  Connection* a = LogIn("sender");
  const uint64_t room = CreateAndJoin(a, "r");
  Connection* tcp = LogIn("tcp");
  Join(tcp, room);
  Connection* w1 = LogInWs("w1");
  Connection* w2 = LogInWs("w2");
  Join(w1, room);
  Join(w2, room);
  Take(a);
  Raw(tcp);
  WireOf(w1, 0);
  WireOf(w2, 1);
  // Chat messages of every header size, and presence broadcasts.
  Send(a, room, "short");
  Send(a, room, std::string(200, 'm'));
  Send(a, room, std::string(3000, 'L'));
  Connection* late = LogIn("late");
  Join(late, room);  // MemberJoined to all
  v1::ClientFrame leave;
  leave.set_room_id(room);
  leave.mutable_leave_room();
  Request(late, leave);  // MemberLeft to all
  const std::string expected = AsMessages(Raw(tcp));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(WireOf(w1, 0), expected);
  EXPECT_EQ(WireOf(w2, 1), expected);
}

TEST_F(ChatServiceWebSocketTest, RepliesAndBroadcastsKeepTheirOrderOnAWebSocketMember) {
  Connection* a = LogIn("sender");
  const uint64_t room = CreateAndJoin(a, "r");
  Connection* w = LogInWs("w");
  Join(w, room);  // its Reply and replay: length-prefixed, its own
  Connection* b = LogIn("b");
  Join(b, room);  // a MemberJoined for w: framed, shared
  v1::ClientFrame ping;
  ping.mutable_ping()->set_nonce(42);
  Request(w, ping);  // a Pong: length-prefixed
  Send(a, room, "one");  // framed
  Request(w, ping);
  Send(a, room, "two");
  std::vector<v1::ServerFrame> got = Messages(WireOf(w, 0));
  ASSERT_EQ(got.size(), 6u);
  EXPECT_TRUE(got[0].has_reply());
  EXPECT_TRUE(got[1].has_member_joined());
  EXPECT_TRUE(got[2].has_pong());
  EXPECT_EQ(got[3].chat_message().text(), "one");
  EXPECT_TRUE(got[4].has_pong());
  EXPECT_EQ(got[5].chat_message().text(), "two");
}

TEST_F(ChatServiceWebSocketTest, ASlowWebSocketReaderGetsAGapLikeATcpOne) {
  options_.soft_output_bytes = 2000;
  Start();
  Connection* a = LogIn("alice");
  const uint64_t room = CreateAndJoin(a, "den");
  Connection* slow = LogInWs("slow");
  Join(slow, room);
  WireOf(slow, 0);
  Take(a);
  for (int i = 0; i < 20; ++i) Send(a, room, std::string(300, 'x'));  // ~6 KB: past the soft limit
  EXPECT_FALSE(slow->closing());
  std::vector<v1::ServerFrame> first = Messages(WireOf(slow, 0));
  ASSERT_FALSE(first.empty());
  ASSERT_LT(first.size(), 20u);
  const uint64_t last = first.back().chat_message().seq();
  Send(a, room, "after");
  std::vector<v1::ServerFrame> next = Messages(WireOf(slow, 0));
  ASSERT_EQ(next.size(), 2u);
  ASSERT_TRUE(next[0].has_gap());
  EXPECT_EQ(next[0].gap().first_missing_seq(), last + 1);
  EXPECT_EQ(next[0].gap().last_missing_seq(), 20u);
  EXPECT_EQ(next[1].chat_message().seq(), 21u);
}

TEST_F(ChatServiceWebSocketTest, AWebSocketMemberPastMaxOutputBytesIsClosedAsASlowConsumer) {
  options_.max_output_bytes = 4096;
  Start();
  Connection* a = LogIn("a");
  const uint64_t room = CreateAndJoin(a, "lobby");
  Connection* slow = LogInWs("slow");
  Join(slow, room);
  for (int i = 0; i < 100 && !slow->closing(); ++i) {
    Send(a, room, std::string(100, 'x'));
    Take(a);
  }
  EXPECT_TRUE(slow->closing());
  EXPECT_EQ(slow->close_reason(), CloseReason::kSlowConsumer);
  EXPECT_LE(slow->output().PendingBytes(), options_.max_output_bytes + 256);
}

TEST_F(ChatServiceWebSocketTest, BroadcastsOfEveryHeaderSizeWrittenInPiecesBetweenThemArriveWhole) {
  // Texts whose messages take 2-, 4- and 10-byte WebSocket headers; the
  // WebSocket member is written a little after each broadcast, so each new
  // one is queued behind a framed range half written (the range grows under
  // the write in progress).
  options_.max_frame_bytes = 128 * 1024;
  options_.max_text_bytes = 100 * 1000;
  Start();
  Connection* a = LogIn("sender");
  const uint64_t room = CreateAndJoin(a, "sizes");
  Connection* tcp = LogIn("tcp");
  Join(tcp, room);
  Connection* w = LogInWs("w");
  Join(w, room);
  Take(a);
  Raw(tcp);
  WireOf(w, 0);
  const size_t sizes[] = {1, 100, 123, 124, 200, 65000, 65530, 65531, 70000, 99000};
  std::string got;
  for (int i = 0; i < 40; ++i) {
    Send(a, room, std::string(sizes[i % 10], static_cast<char>('a' + i % 26)));
    Take(a);
    const IoResult r = w->transport()->Write(&w->output(), 777 + 1000 * (i % 7));
    ASSERT_EQ(r.code, IoResult::kOk);
    got += std::exchange(*wires_[0], std::string());
  }
  got += WireOf(w, 0);
  const std::string expected = AsMessages(Raw(tcp));
  ASSERT_EQ(Messages(expected).size(), 40u);
  EXPECT_EQ(got, expected);
}

TEST_F(ChatServiceWebSocketTest, TheFirstWebSocketMemberGetsFramedBroadcastsFromItsJoinOn) {
  // A room of TCP members only (nothing framed) gets its first WebSocket
  // member between two messages: the earlier one reaches it in the join's
  // replay, the later one framed, and the TCP members see no difference.
  Connection* a = LogIn("sender");
  const uint64_t room = CreateAndJoin(a, "tcp-only");
  Connection* tcp = LogIn("tcp");
  Join(tcp, room);
  Raw(tcp);
  Send(a, room, "before");
  Take(a);
  const std::string tcp_before = Raw(tcp);
  Connection* w = LogInWs("w");
  Join(w, room);
  Send(a, room, "after");
  const std::string tcp_after = Raw(tcp);
  std::vector<v1::ServerFrame> got = Messages(WireOf(w, 0));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].has_reply());
  EXPECT_EQ(got[1].chat_message().text(), "before");
  EXPECT_TRUE(got[1].chat_message().replay());
  EXPECT_EQ(got[2].chat_message().text(), "after");
  EXPECT_FALSE(got[2].chat_message().replay());
  // The TCP member: the first message, then MemberJoined and the second,
  // each exactly once, length-prefixed.
  std::vector<v1::ServerFrame> tcp_got = Messages(AsMessages(tcp_before + tcp_after));
  ASSERT_EQ(tcp_got.size(), 3u);
  EXPECT_EQ(tcp_got[0].chat_message().text(), "before");
  EXPECT_TRUE(tcp_got[1].has_member_joined());
  EXPECT_EQ(tcp_got[2].chat_message().text(), "after");
}

TEST_F(ChatServiceWebSocketTest, TheLastWebSocketMemberToLeaveGetsWhatWasQueuedBeforeWholeAndNothingAfter) {
  // Its framed range of the first broadcast is still queued when it leaves:
  // it gets that one (queued before it left) whole, nothing after.
  Connection* a = LogIn("sender");
  const uint64_t room = CreateAndJoin(a, "r");
  Connection* w = LogInWs("w");
  Join(w, room);
  WireOf(w, 0);
  Send(a, room, "while a member");
  v1::ClientFrame leave;
  leave.set_room_id(room);
  leave.mutable_leave_room();
  Request(w, leave);
  Send(a, room, "after it left");
  std::vector<v1::ServerFrame> got = Messages(WireOf(w, 0));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].chat_message().text(), "while a member");
  EXPECT_TRUE(got[1].has_reply());
}

}  // namespace
}  // namespace muxchat::server
