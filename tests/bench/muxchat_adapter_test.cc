#include <memory>
#include <string>
#include <vector>

#include "bench/load/protocol_adapter.h"
#include "gtest/gtest.h"
#include "tests/bench/adapter_recorder.h"
#include "proto/muxchat.pb.h"
#include "src/wire/frame_codec.h"
#include "src/wire/frame_format.h"

namespace muxchat::bench {
namespace {

using testing::Recorder;

std::string Framed(const v1::ServerFrame& f) {
  wire::Buffer b;
  EXPECT_TRUE(wire::AppendFrame(f, &b).ok());
  return std::string(b.View());
}

v1::ServerFrame Chat(const std::string& sender, const std::string& text) {
  v1::ServerFrame chat;
  chat.set_room_id(9);
  chat.mutable_chat_message()->set_sender(sender);
  chat.mutable_chat_message()->set_text(text);
  return chat;
}

// A subscriber past Welcome and its JoinRoom reply.
struct Joined {
  Joined() {
    ConnectionSpec spec;
    spec.name = "sub1";
    spec.room = "bench";
    adapter = MakeMuxchatAdapter(spec);
    adapter->Start(&out);
    v1::ServerFrame welcome;
    welcome.set_request_id(1);
    welcome.mutable_welcome()->set_nickname("sub1");
    v1::ServerFrame joined;
    joined.set_request_id(3);
    joined.mutable_reply()->set_status(v1::SUCCESS);
    joined.mutable_reply()->set_room_id(9);
    in.Append(Framed(welcome) + Framed(joined));
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

TEST(MuxchatAdapter, EverySplitPointDeliversEachMessageOnceInOrder) {
  const std::string bytes = Framed(Chat("pub1", "one")) + Framed(Chat("sub1", "own echo")) +
                            Framed(Chat("pub1", std::string(300, 't'))) + Framed(Chat("pub1", ""));
  const std::vector<std::string> want = {"one", std::string(300, 't'), ""};
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    Joined j;
    ASSERT_TRUE(j.Feed(absl::string_view(bytes).substr(0, cut)).ok());
    ASSERT_TRUE(j.Feed(absl::string_view(bytes).substr(cut)).ok());
    ASSERT_EQ(j.events.payloads, want) << "cut at " << cut;
    EXPECT_TRUE(j.in.empty());
  }
}

TEST(MuxchatAdapter, OnMessageTakesOneFrameWithoutItsPrefix) {
  Joined j;
  const std::string body = Chat("pub1", "unframed").SerializeAsString();
  ASSERT_TRUE(j.adapter->OnMessage(body, &j.out, &j.events).ok());
  EXPECT_EQ(j.events.payloads, std::vector<std::string>{"unframed"});
}

TEST(MuxchatAdapter, OnMessageAnswersAProtocolPingWithOneFramedPong) {
  Joined j;
  v1::ServerFrame ping;
  ping.mutable_ping()->set_nonce(5);
  ASSERT_TRUE(j.adapter->OnMessage(ping.SerializeAsString(), &j.out, &j.events).ok());
  wire::FrameDecoder dec;
  v1::ClientFrame pong;
  absl::StatusOr<bool> got = dec.Next(&j.out, &pong);
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ(pong.pong().nonce(), 5u);
  EXPECT_TRUE(j.out.empty());
}

TEST(MuxchatAdapter, LengthPrefixAboveCapIsAnErrorBeforeTheBody) {
  Joined j;
  char prefix[wire::kLengthPrefixBytes];
  wire::EncodeLength(wire::kDefaultMaxFrameBytes + 1, prefix);
  absl::Status st = j.Feed(absl::string_view(prefix, sizeof prefix));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
}

TEST(MuxchatAdapter, BodyThatIsNotAServerFrameIsAnError) {
  Joined j;
  absl::Status st = j.adapter->OnMessage("\xff\xff\xff", &j.out, &j.events);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
}

}  // namespace
}  // namespace muxchat::bench
