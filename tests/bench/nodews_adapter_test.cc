// The adapter for bench/peers/node/ws_broadcast_server.js
// (bench/load/nodews_adapter.cc) against scripted server frames.
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
using testing::ServerBinary;
using testing::ServerText;

using testing::Recorder;

std::unique_ptr<ProtocolAdapter> Make(Role role, wire::Buffer* out) {
  ConnectionSpec spec;
  spec.role = role;
  spec.name = "c";
  spec.room = "room1";
  auto a = MakeNodeWsAdapter(spec, "127.0.0.1:9");
  a->Start(out);
  return a;
}

TEST(NodeWsAdapter, SubscriberAsksForItsRoomAndDeliversBinaryMessages) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kSubscriber, &out);
  EXPECT_EQ(out.View().substr(0, 30), "GET /room1?role=sub HTTP/1.1\r\n");
  in.Append("HTTP/1.1 101 Switching Protocols\r\n\r\n" + ServerText("ready") + ServerBinary("Mp1"));
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.ready, 1);
  EXPECT_EQ(ev.payloads, std::vector<std::string>{"Mp1"});
}

TEST(NodeWsAdapter, PublisherSendsEachPayloadAsOneBinaryMessage) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kPublisher, &out);
  EXPECT_EQ(out.View().substr(0, 30), "GET /room1?role=pub HTTP/1.1\r\n");
  out.Clear();
  in.Append("HTTP/1.1 101 Switching Protocols\r\n\r\n" + ServerText("ready"));
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.ready, 1);
  a->AppendPublish("Mq", &out);
  const auto frames = DecodeClientFrames(&out);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, 0x2);
  EXPECT_EQ(frames[0].payload, "Mq");
}

TEST(NodeWsAdapter, UnexpectedTextIsAnError) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kSubscriber, &out);
  in.Append("HTTP/1.1 101 Switching Protocols\r\n\r\n" + ServerText("what"));
  EXPECT_FALSE(a->OnInput(&in, &out, &ev).ok());
}

}  // namespace
}  // namespace muxchat::bench
