// The Socket.IO adapter (bench/load/socketio_adapter.cc) against scripted
// Engine.IO 4 / Socket.IO packets.
#include <memory>
#include <string>
#include <vector>

#include "bench/load/protocol_adapter.h"
#include "gtest/gtest.h"
#include "tests/bench/adapter_recorder.h"
#include "tests/bench/ws_test_frames.h"

namespace muxchat::bench {
namespace {

using testing::DecodeClientFrames;
using testing::ServerText;

using testing::Recorder;

class SocketIoAdapterTest : public ::testing::Test {
 protected:
  void Make(Role role) {
    ConnectionSpec spec;
    spec.role = role;
    spec.name = "c";
    spec.room = "room1";
    adapter_ = MakeSocketIoAdapter(spec, "127.0.0.1:9");
    adapter_->Start(&out_);
    EXPECT_NE(out_.View().find("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"), std::string::npos);
    out_.Clear();
    ASSERT_TRUE(Feed("HTTP/1.1 101 Switching Protocols\r\n\r\n").ok());
  }
  absl::Status Feed(const std::string& bytes) {
    in_.Append(bytes);
    return adapter_->OnInput(&in_, &out_, &events_);
  }
  std::vector<std::string> SentTexts() {
    std::vector<std::string> texts;
    for (const auto& f : DecodeClientFrames(&out_)) {
      EXPECT_EQ(f.opcode, 0x1);
      texts.push_back(f.payload);
    }
    return texts;
  }

  std::unique_ptr<ProtocolAdapter> adapter_;
  wire::Buffer in_, out_;
  Recorder events_;
};

constexpr char kOpen[] = "0{\"sid\":\"x\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000}";

TEST_F(SocketIoAdapterTest, SubscriberConnectsJoinsAndIsReadyWhenJoined) {
  Make(Role::kSubscriber);
  ASSERT_TRUE(Feed(ServerText(kOpen)).ok());
  EXPECT_EQ(SentTexts(), std::vector<std::string>{"40"});
  ASSERT_TRUE(Feed(ServerText("40{\"sid\":\"y\"}")).ok());
  EXPECT_EQ(SentTexts(), std::vector<std::string>{"42[\"join\",\"room1\"]"});
  EXPECT_EQ(events_.ready, 0);
  ASSERT_TRUE(Feed(ServerText("42[\"joined\",\"room1\"]")).ok());
  EXPECT_EQ(events_.ready, 1);
}

TEST_F(SocketIoAdapterTest, SubscriberDeliversMsgEventPayloads) {
  Make(Role::kSubscriber);
  ASSERT_TRUE(Feed(ServerText("42[\"msg\",\"Mabc\"]") + ServerText("42[\"msg\",\"Mdef\"]")).ok());
  EXPECT_EQ(events_.payloads, (std::vector<std::string>{"Mabc", "Mdef"}));
}

TEST_F(SocketIoAdapterTest, PublisherIsReadyOnConnectAndPublishesPubEvents) {
  Make(Role::kPublisher);
  ASSERT_TRUE(Feed(ServerText(kOpen)).ok());
  ASSERT_TRUE(Feed(ServerText("40{\"sid\":\"y\"}")).ok());
  EXPECT_EQ(events_.ready, 1);
  EXPECT_EQ(SentTexts(), std::vector<std::string>{"40"});
  adapter_->AppendPublish("Mxyz", &out_);
  EXPECT_EQ(SentTexts(), std::vector<std::string>{"42[\"pub\",\"room1\",\"Mxyz\"]"});
}

TEST_F(SocketIoAdapterTest, AnswersEngineIoPingWithPong) {
  Make(Role::kSubscriber);
  ASSERT_TRUE(Feed(ServerText("2")).ok());
  EXPECT_EQ(SentTexts(), std::vector<std::string>{"3"});
}

TEST_F(SocketIoAdapterTest, ConnectErrorIsAnError) {
  Make(Role::kSubscriber);
  EXPECT_FALSE(Feed(ServerText("44{\"message\":\"no\"}")).ok());
}

}  // namespace
}  // namespace muxchat::bench
