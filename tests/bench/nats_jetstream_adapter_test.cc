// The NATS JetStream adapter (bench/load/nats_jetstream_adapter.cc) against
// scripted server operations.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/load/protocol_adapter.h"
#include "gtest/gtest.h"
#include "tests/bench/adapter_recorder.h"

namespace muxchat::bench {
namespace {

using testing::Recorder;

std::unique_ptr<ProtocolAdapter> Make(Role role, bool creates_room, wire::Buffer* out) {
  ConnectionSpec spec;
  spec.role = role;
  spec.name = "c1";
  spec.room = "r1";
  spec.creates_room = creates_room;
  auto a = MakeNatsJetStreamAdapter(spec);
  a->Start(out);
  return a;
}

std::string Msg(absl::string_view subject, absl::string_view sid, absl::string_view payload) {
  return absl::StrCat("MSG ", subject, " ", sid, " ", payload.size(), "\r\n", payload, "\r\n");
}

TEST(NatsJetStreamAdapter, RoomCreatorCreatesAFileStreamAndIsReadyAtItsAnswer) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kPublisher, true, &out);
  const std::string sent(out.View());
  EXPECT_TRUE(absl::StrContains(sent, "\"headers\":true")) << sent;
  EXPECT_TRUE(absl::StrContains(sent, "SUB _INBOX.c1.* 1\r\n")) << sent;
  EXPECT_TRUE(absl::StrContains(sent, "PUB $JS.API.STREAM.CREATE.r1 _INBOX.c1.api ")) << sent;
  EXPECT_TRUE(absl::StrContains(sent, "\"subjects\":[\"room.r1\"]")) << sent;
  EXPECT_TRUE(absl::StrContains(sent, "\"storage\":\"file\"")) << sent;
  in.Append(Msg("_INBOX.c1.api", "1", "{\"type\":\"io.nats.jetstream.api.v1.stream_create_response\"}"));
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.ready, 1);
}

TEST(NatsJetStreamAdapter, ApiErrorIsFatal) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kPublisher, true, &out);
  in.Append(Msg("_INBOX.c1.api", "1", "{\"error\":{\"code\":400,\"description\":\"bad\"}}"));
  EXPECT_FALSE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.ready, 0);
}

TEST(NatsJetStreamAdapter, NoRespondersToTheApiIsFatal) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kSubscriber, false, &out);
  in.Append("HMSG _INBOX.c1.api 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  absl::Status st = a->OnInput(&in, &out, &ev);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
}

TEST(NatsJetStreamAdapter, SubscriberCreatesAPushConsumerAndDeliversMsgAndHmsg) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kSubscriber, false, &out);
  const std::string sent(out.View());
  // Subscribed to the deliver subject before the consumer exists.
  EXPECT_LT(sent.find("SUB _DLV.c1 2\r\n"), sent.find("$JS.API.CONSUMER.CREATE.r1")) << sent;
  EXPECT_TRUE(absl::StrContains(sent, "\"deliver_subject\":\"_DLV.c1\"")) << sent;
  EXPECT_TRUE(absl::StrContains(sent, "\"ack_policy\":\"none\"")) << sent;
  EXPECT_TRUE(absl::StrContains(sent, "\"deliver_policy\":\"new\"")) << sent;
  in.Append(Msg("_INBOX.c1.api", "1", "{\"type\":\"io.nats.jetstream.api.v1.consumer_create_response\"}"));
  in.Append("MSG _DLV.c1 2 $JS.ACK.r1.x.1.1.1.0.0 2\r\nm1\r\n");
  in.Append("HMSG _DLV.c1 2 $JS.ACK.r1.x.1.2.2.0.0 12 14\r\nNATS/1.0\r\n\r\nm2\r\n");
  in.Append("HMSG _DLV.c1 2 31 31\r\nNATS/1.0 100 Idle Heartbeat\r\n\r\n\r\n");  // not a delivery
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.ready, 1);
  EXPECT_EQ(ev.payloads, (std::vector<std::string>{"m1", "m2"}));
}

TEST(NatsJetStreamAdapter, PublisherPublishesWithAReplySubjectAndCountsErrorAcksAsRejected) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kPublisher, false, &out);
  EXPECT_TRUE(absl::EndsWith(out.View(), "PING\r\n"));
  out.Clear();
  in.Append("PONG\r\n");
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.ready, 1);
  a->AppendPublish("hi", &out);
  EXPECT_EQ(out.View(), "PUB room.r1 _INBOX.c1.ack 2\r\nhi\r\n");
  in.Append(Msg("_INBOX.c1.ack", "1", "{\"stream\":\"r1\",\"seq\":1}"));
  in.Append(Msg("_INBOX.c1.ack", "1", "{\"error\":{\"code\":503}}"));
  in.Append("HMSG _INBOX.c1.ack 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.rejected.size(), 2u);
  EXPECT_TRUE(ev.payloads.empty());
}

TEST(NatsJetStreamAdapter, AnswersServerPing) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kPublisher, false, &out);
  out.Clear();
  in.Append("PING\r\n");
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(out.View(), "PONG\r\n");
}

}  // namespace
}  // namespace muxchat::bench
