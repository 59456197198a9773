#include "bench/load/websocket_adapter.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/bench/adapter_recorder.h"
#include "proto/muxchat.pb.h"
#include "src/wire/websocket_codec.h"
#include "tests/bench/ws_test_frames.h"

namespace muxchat::bench {
namespace {

using testing::Recorder;

// Server side of the test: frames as muxchatd sends them over WebSocket.
std::string ServerMessage(const v1::ServerFrame& f) {
  wire::Buffer b;
  wire::AppendWsServerFrame(wire::WsOpcode::kBinary, f.SerializeAsString(), &b);
  return std::string(b.View());
}

// Decodes what the adapter sent as a server would: masked binary messages,
// each one ClientFrame.
std::vector<v1::ClientFrame> ClientFrames(wire::Buffer* out, std::vector<std::string>* pongs = nullptr) {
  std::vector<v1::ClientFrame> frames;
  wire::WebSocketDecoder dec(1 << 20);
  wire::WsEvent ev;
  while (true) {
    absl::StatusOr<bool> got = dec.Next(out, &ev);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || !*got) break;
    if (ev.kind == wire::WsEvent::Kind::kPong && pongs != nullptr) pongs->emplace_back(ev.payload);
    if (ev.kind != wire::WsEvent::Kind::kMessage) continue;
    v1::ClientFrame f;
    EXPECT_TRUE(f.ParseFromArray(ev.payload.data(), static_cast<int>(ev.payload.size())));
    frames.push_back(f);
  }
  EXPECT_TRUE(out->empty());
  return frames;
}

class WebSocketAdapterTest : public ::testing::Test {
 protected:
  WebSocketAdapterTest() {
    ConnectionSpec spec;
    spec.name = "sub1";
    spec.room = "bench";
    adapter_ = MakeWebSocketAdapter(MakeMuxchatAdapter(spec), "127.0.0.1:7000");
  }
  absl::Status Feed(const std::string& bytes) {
    in_.Append(bytes);
    return adapter_->OnInput(&in_, &out_, &events_);
  }
  void Open() {
    adapter_->Start(&out_);
    out_.Clear();
    ASSERT_TRUE(Feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n").ok());
    out_.Clear();
  }

  std::unique_ptr<ProtocolAdapter> adapter_;
  wire::Buffer in_, out_;
  Recorder events_;
};

TEST_F(WebSocketAdapterTest, StartSendsUpgradeAndHoldsFramesUntil101) {
  adapter_->Start(&out_);
  const std::string request(out_.View());
  EXPECT_TRUE(absl::StartsWith(request, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:7000\r\n"));
  EXPECT_TRUE(absl::StrContains(request, "Sec-WebSocket-Version: 13\r\n"));
  EXPECT_TRUE(absl::EndsWith(request, "\r\n\r\n")) << "no frame may follow the request before the 101";
  out_.Clear();
  ASSERT_TRUE(Feed("HTTP/1.1 101 Switching Protocols\r\n\r\n").ok());
  std::vector<v1::ClientFrame> sent = ClientFrames(&out_);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].hello().nickname(), "sub1");
}

TEST_F(WebSocketAdapterTest, RefusedUpgradeIsAnError) {
  adapter_->Start(&out_);
  EXPECT_FALSE(Feed("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").ok());
}

TEST_F(WebSocketAdapterTest, JoinsThenDeliversOthersMessages) {
  Open();
  v1::ServerFrame welcome;
  welcome.set_request_id(1);
  welcome.mutable_welcome()->set_nickname("sub1");
  ASSERT_TRUE(Feed(ServerMessage(welcome)).ok());
  std::vector<v1::ClientFrame> sent = ClientFrames(&out_);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].join_room().name(), "bench");

  v1::ServerFrame joined;
  joined.set_request_id(3);
  joined.mutable_reply()->set_status(v1::SUCCESS);
  joined.mutable_reply()->set_room_id(9);
  v1::ServerFrame chat;
  chat.set_room_id(9);
  chat.mutable_chat_message()->set_sender("pub1");
  chat.mutable_chat_message()->set_text("payload-1");
  // Both in one read, the second split across two.
  const std::string bytes = ServerMessage(joined) + ServerMessage(chat);
  ASSERT_TRUE(Feed(bytes.substr(0, bytes.size() - 3)).ok());
  ASSERT_TRUE(Feed(bytes.substr(bytes.size() - 3)).ok());
  EXPECT_EQ(events_.ready, 1);
  EXPECT_EQ(events_.payloads, std::vector<std::string>{"payload-1"});

  adapter_->AppendPublish("hello", &out_);
  sent = ClientFrames(&out_);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].room_id(), 9u);
  EXPECT_EQ(sent[0].send_message().text(), "hello");
}

TEST_F(WebSocketAdapterTest, AnswersWebSocketPing) {
  Open();
  wire::Buffer ping;
  wire::AppendWsServerFrame(wire::WsOpcode::kPing, "keepalive", &ping);
  ASSERT_TRUE(Feed(std::string(ping.View())).ok());
  std::vector<std::string> pongs;
  ClientFrames(&out_, &pongs);
  EXPECT_EQ(pongs, std::vector<std::string>{"keepalive"});
}

TEST_F(WebSocketAdapterTest, ServerCloseIsAnError) {
  Open();
  wire::Buffer close;
  wire::AppendWsClose(wire::kWsCloseGoingAway, "shutdown", &close);
  EXPECT_FALSE(Feed(std::string(close.View())).ok());
}

v1::ServerFrame Chat(const std::string& sender, const std::string& text, bool replay = false) {
  v1::ServerFrame chat;
  chat.set_room_id(9);
  chat.mutable_chat_message()->set_sender(sender);
  chat.mutable_chat_message()->set_text(text);
  chat.mutable_chat_message()->set_replay(replay);
  return chat;
}

// An adapter past the 101, its Welcome and its JoinRoom reply: what every
// subscriber is when the fan-out starts.
struct Joined {
  Joined() {
    ConnectionSpec spec;
    spec.name = "sub1";
    spec.room = "bench";
    adapter = MakeWebSocketAdapter(MakeMuxchatAdapter(spec), "127.0.0.1:7000");
    adapter->Start(&out);
    v1::ServerFrame welcome;
    welcome.set_request_id(1);
    welcome.mutable_welcome()->set_nickname("sub1");
    v1::ServerFrame joined;
    joined.set_request_id(3);
    joined.mutable_reply()->set_status(v1::SUCCESS);
    joined.mutable_reply()->set_room_id(9);
    in.Append("HTTP/1.1 101 Switching Protocols\r\n\r\n" + ServerMessage(welcome) + ServerMessage(joined));
    EXPECT_TRUE(adapter->OnInput(&in, &out, &events).ok());
    EXPECT_EQ(events.ready, 1);
    out.Clear();
  }
  absl::Status Feed(absl::string_view bytes) {
    in.Append(bytes);
    return adapter->OnInput(&in, &out, &events);
  }
  std::unique_ptr<ProtocolAdapter> adapter;
  wire::Buffer in, out;
  Recorder events;
};

// Messages with every header size muxchat can carry (7-bit and 16-bit
// lengths; a 64-bit one is above max_frame_bytes), an empty payload, a
// WebSocket Ping between them, the adapter's own echo and a replayed message
// (neither is a delivery), and a protocol-level Ping (answered with a Pong).
struct Stream {
  std::string bytes;
  std::vector<std::string> deliveries;
};
// The text whose chat frame is exactly `body_bytes` long.
std::string TextForBody(size_t body_bytes, char fill) {
  for (size_t n = 0; n < body_bytes; ++n) {
    if (Chat("pub1", std::string(n, fill)).SerializeAsString().size() == body_bytes) return std::string(n, fill);
  }
  ADD_FAILURE() << "no text gives a body of " << body_bytes;
  return "";
}

Stream MixedStream() {
  Stream s;
  // 125 and 126 bytes: the last 7-bit length and the first 16-bit one.
  const std::vector<std::string> texts = {"a", std::string(100, 'b'), "", TextForBody(125, 'c'),
                                          TextForBody(126, 'd'), std::string(1024, 'e'), std::string(300, 'f')};
  for (size_t i = 0; i < texts.size(); ++i) {
    s.bytes += ServerMessage(Chat("pub1", texts[i]));
    s.deliveries.push_back(texts[i]);
    if (i == 1) {
      wire::Buffer ping;
      wire::AppendWsServerFrame(wire::WsOpcode::kPing, "p", &ping);
      s.bytes += std::string(ping.View());
    }
    if (i == 3) s.bytes += ServerMessage(Chat("sub1", "own echo"));
    if (i == 4) s.bytes += ServerMessage(Chat("pub1", "history", /*replay=*/true));
    if (i == 5) {
      v1::ServerFrame ping;
      ping.mutable_ping()->set_nonce(77);
      s.bytes += ServerMessage(ping);
    }
  }
  return s;
}

// What the adapter must have answered to MixedStream: the WebSocket Pong and
// the protocol Pong, each one masked message.
void ExpectPongs(wire::Buffer* out) {
  std::vector<std::string> pongs;
  std::vector<v1::ClientFrame> sent = ClientFrames(out, &pongs);
  EXPECT_EQ(pongs, std::vector<std::string>{"p"});
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].pong().nonce(), 77u);
}

TEST(WebSocketAdapterStream, SeveralMessagesInOneReadAreAllDeliveredInOrder) {
  const Stream s = MixedStream();
  Joined j;
  ASSERT_TRUE(j.Feed(s.bytes).ok());
  EXPECT_EQ(j.events.payloads, s.deliveries);
  EXPECT_TRUE(j.in.empty());
  ExpectPongs(&j.out);
}

TEST(WebSocketAdapterStream, EverySplitPointDeliversEachMessageOnceInOrder) {
  const Stream s = MixedStream();
  for (size_t cut = 0; cut <= s.bytes.size(); ++cut) {
    Joined j;
    ASSERT_TRUE(j.Feed(absl::string_view(s.bytes).substr(0, cut)).ok()) << "cut at " << cut;
    ASSERT_TRUE(j.Feed(absl::string_view(s.bytes).substr(cut)).ok()) << "cut at " << cut;
    ASSERT_EQ(j.events.payloads, s.deliveries) << "cut at " << cut;
    EXPECT_TRUE(j.in.empty()) << "cut at " << cut;
    ExpectPongs(&j.out);
  }
}

TEST(WebSocketAdapterStream, OneByteAtATimeDeliversEachMessageOnceInOrder) {
  const Stream s = MixedStream();
  Joined j;
  for (size_t i = 0; i < s.bytes.size(); ++i) {
    ASSERT_TRUE(j.Feed(absl::string_view(s.bytes).substr(i, 1)).ok()) << "byte " << i;
    // Nothing is delivered before its last byte has arrived.
    EXPECT_LE(j.events.payloads.size(), s.deliveries.size());
  }
  EXPECT_EQ(j.events.payloads, s.deliveries);
  ExpectPongs(&j.out);
}

TEST(WebSocketAdapterStream, FragmentedMessageIsDeliveredWhole) {
  const std::string body = Chat("pub1", std::string(200, 'x')).SerializeAsString();
  wire::Buffer frames;
  // Server frames are unmasked: build the fragments by hand (the codec's
  // server encoder always sets FIN).
  const size_t half = body.size() / 2;
  for (int part = 0; part < 2; ++part) {
    const absl::string_view chunk = part == 0 ? absl::string_view(body).substr(0, half)
                                              : absl::string_view(body).substr(half);
    const char first = static_cast<char>(part == 0 ? 0x02 : 0x80);  // binary, no FIN; continuation, FIN
    const char header[2] = {first, static_cast<char>(chunk.size())};
    ASSERT_LE(chunk.size(), 125u);
    frames.Append(header, 2);
    frames.Append(chunk);
  }
  Joined j;
  ASSERT_TRUE(j.Feed(frames.View()).ok());
  EXPECT_EQ(j.events.payloads, std::vector<std::string>{std::string(200, 'x')});
}

TEST(WebSocketAdapterStream, MaskedServerFrameIsAnError) {
  wire::Buffer masked;
  wire::AppendWsClientFrame(wire::WsOpcode::kBinary, Chat("pub1", "x").SerializeAsString(), 0x01020304u,
                            &masked);
  Joined j;
  EXPECT_FALSE(j.Feed(masked.View()).ok());
  EXPECT_TRUE(j.events.payloads.empty());
}

TEST(WebSocketAdapterStream, MessageAboveMaxFrameBytesIsAnError) {
  // 64-bit WebSocket length: above muxchat's 64 KiB frame cap.
  Joined j;
  absl::Status st = j.Feed(ServerMessage(Chat("pub1", std::string(70000, 'y'))));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_TRUE(j.events.payloads.empty());
}

TEST(WebSocketAdapterStream, MessageThatIsNotAServerFrameIsAnError) {
  Joined j;
  absl::Status st = j.Feed(testing::ServerBinary("\xff\xff\xff"));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
}

TEST(WebSocketAdapterStream, LengthNotInItsMinimalEncodingIsAnError) {
  const std::string body = Chat("pub1", "x").SerializeAsString();
  ASSERT_LT(body.size(), 126u);
  std::string frame = {static_cast<char>(0x82), 126, 0, static_cast<char>(body.size())};
  Joined j;
  EXPECT_FALSE(j.Feed(frame + body).ok());
  EXPECT_TRUE(j.events.payloads.empty());
}

TEST(WebSocketAdapterStream, WholeBinaryMessageInsideAFragmentedOneIsAnError) {
  const std::string body = Chat("pub1", "x").SerializeAsString();
  const std::string first = {static_cast<char>(0x02), static_cast<char>(body.size())};  // binary, no FIN
  Joined j;
  ASSERT_TRUE(j.Feed(first + body).ok());
  EXPECT_FALSE(j.Feed(testing::ServerBinary(body)).ok());
  EXPECT_TRUE(j.events.payloads.empty());
}

TEST(WebSocketAdapterStream, TextMessageIsAnError) {
  Joined j;
  EXPECT_FALSE(j.Feed(testing::ServerText("hello")).ok());
}

}  // namespace
}  // namespace muxchat::bench
