#include "bench/load/websocket_adapter.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "proto/muxchat.pb.h"
#include "src/wire/websocket_codec.h"

namespace muxchat::bench {
namespace {

struct Recorder : AdapterEvents {
  int ready = 0;
  std::vector<std::string> payloads;
  void OnReady() override { ++ready; }
  void OnPayload(absl::string_view p) override { payloads.emplace_back(p); }
  void OnRejected(absl::string_view) override {}
};

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

}  // namespace
}  // namespace muxchat::bench
