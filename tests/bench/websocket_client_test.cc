#include "bench/load/websocket_client.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/bench/ws_test_frames.h"

namespace muxchat::bench {
namespace {

using testing::DecodeClientFrames;
using testing::ServerBinary;
using testing::ServerText;

class WebSocketClientTest : public ::testing::Test {
 protected:
  absl::Status Feed(const std::string& bytes) {
    in_.Append(bytes);
    return client_.OnInput(&in_, &out_, [this](bool text, absl::string_view p) {
      got_.emplace_back(text, std::string(p));
      return absl::OkStatus();
    });
  }
  void Open() {
    client_.StartUpgrade("/r?role=sub", "127.0.0.1:9", &out_);
    out_.Clear();
    ASSERT_TRUE(Feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n").ok());
    ASSERT_TRUE(client_.open());
  }

  WebSocketClient client_;
  wire::Buffer in_, out_;
  std::vector<std::pair<bool, std::string>> got_;
};

TEST_F(WebSocketClientTest, UpgradeRequestCarriesPathHostAndA16ByteKey) {
  client_.StartUpgrade("/socket.io/?EIO=4&transport=websocket", "127.0.0.1:9", &out_);
  const std::string req(out_.View());
  EXPECT_TRUE(absl::StartsWith(req, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"));
  // 16 bytes in base64: 22 characters and "==" (servers such as ws reject other lengths).
  const size_t at = req.find("Sec-WebSocket-Key: ");
  ASSERT_NE(at, std::string::npos);
  const std::string key = req.substr(at + 19, req.find("\r\n", at) - at - 19);
  EXPECT_EQ(key.size(), 24u);
  EXPECT_TRUE(absl::EndsWith(key, "=="));
  EXPECT_FALSE(absl::EndsWith(key, "==="));
}

TEST_F(WebSocketClientTest, RefusedUpgradeIsAnError) {
  client_.StartUpgrade("/", "h", &out_);
  EXPECT_FALSE(Feed("HTTP/1.1 400 Bad Request\r\n\r\n").ok());
}

TEST_F(WebSocketClientTest, TellsTextFromBinaryAcrossSplitReads) {
  Open();
  const std::string big(1000, 'b');  // 16-bit length
  const std::string bytes = ServerText("ready") + ServerBinary(big);
  ASSERT_TRUE(Feed(bytes.substr(0, 9)).ok());
  ASSERT_TRUE(Feed(bytes.substr(9)).ok());
  ASSERT_EQ(got_.size(), 2u);
  EXPECT_EQ(got_[0], std::make_pair(true, std::string("ready")));
  EXPECT_EQ(got_[1], std::make_pair(false, big));
  EXPECT_TRUE(in_.empty());
}

TEST_F(WebSocketClientTest, ReassemblesFragmentedMessage) {
  Open();
  std::string bytes;
  bytes += std::string{static_cast<char>(0x01), static_cast<char>(3)} + "abc";  // text, not FIN
  bytes += std::string{static_cast<char>(0x80), static_cast<char>(2)} + "de";   // continuation, FIN
  ASSERT_TRUE(Feed(bytes).ok());
  ASSERT_EQ(got_.size(), 1u);
  EXPECT_EQ(got_[0], std::make_pair(true, std::string("abcde")));
}

TEST_F(WebSocketClientTest, AnswersPingWithMaskedPong) {
  Open();
  wire::Buffer ping;
  wire::AppendWsServerFrame(wire::WsOpcode::kPing, "hb", &ping);
  ASSERT_TRUE(Feed(std::string(ping.View())).ok());
  const auto frames = DecodeClientFrames(&out_);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, 0xA);
  EXPECT_TRUE(frames[0].masked);
  EXPECT_EQ(frames[0].payload, "hb");
}

TEST_F(WebSocketClientTest, ServerCloseIsAnError) {
  Open();
  wire::Buffer close;
  wire::AppendWsClose(wire::kWsCloseGoingAway, "bye", &close);
  EXPECT_FALSE(Feed(std::string(close.View())).ok());
}

TEST_F(WebSocketClientTest, MaskedServerFrameIsAnError) {
  Open();
  wire::Buffer masked;
  wire::AppendWsClientFrame(wire::WsOpcode::kText, "x", 0x01020304, &masked);
  EXPECT_FALSE(Feed(std::string(masked.View())).ok());
}

TEST_F(WebSocketClientTest, SendsMaskedTextAndBinaryMessages) {
  client_.AppendText("42[\"a\"]", &out_);
  client_.AppendBinary("bin", &out_);
  const auto frames = DecodeClientFrames(&out_);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(frames[0].fin && frames[0].masked && frames[0].opcode == 0x1);
  EXPECT_EQ(frames[0].payload, "42[\"a\"]");
  EXPECT_TRUE(frames[1].fin && frames[1].masked && frames[1].opcode == 0x2);
  EXPECT_EQ(frames[1].payload, "bin");
}

}  // namespace
}  // namespace muxchat::bench
