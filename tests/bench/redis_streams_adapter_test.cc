// The Redis Streams adapter (bench/load/redis_streams_adapter.cc) against
// scripted RESP replies.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/load/protocol_adapter.h"
#include "gtest/gtest.h"
#include "tests/bench/adapter_recorder.h"

namespace muxchat::bench {
namespace {

using testing::Recorder;

std::unique_ptr<ProtocolAdapter> Make(Role role, wire::Buffer* out) {
  ConnectionSpec spec;
  spec.role = role;
  spec.name = "c";
  spec.room = "r1";
  auto a = MakeRedisStreamsAdapter(spec);
  a->Start(out);
  return a;
}

std::string Entry(absl::string_view id, absl::string_view payload) {
  return absl::StrCat("*2\r\n$", id.size(), "\r\n", id, "\r\n*2\r\n$1\r\np\r\n$", payload.size(), "\r\n", payload,
                      "\r\n");
}

std::string XreadReply(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string s = absl::StrCat("*1\r\n*2\r\n$7\r\nroom:r1\r\n*", entries.size(), "\r\n");
  for (const auto& [id, p] : entries) s += Entry(id, p);
  return s;
}

std::string Xread(absl::string_view after) {
  return absl::StrCat("*8\r\n$5\r\nXREAD\r\n$5\r\nCOUNT\r\n$4\r\n1000\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n"
                      "$7\r\nroom:r1\r\n$",
                      after.size(), "\r\n", after, "\r\n");
}

TEST(RedisStreamsAdapter, SubscriberReadsAfterTheNewestIdAndIsReadyThen) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kSubscriber, &out);
  EXPECT_EQ(out.View(), "*6\r\n$9\r\nXREVRANGE\r\n$7\r\nroom:r1\r\n$1\r\n+\r\n$1\r\n-\r\n$5\r\nCOUNT\r\n$1\r\n1\r\n");
  out.Clear();
  in.Append("*1\r\n" + Entry("7-3", "old"));
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.ready, 1);
  EXPECT_TRUE(ev.payloads.empty());
  EXPECT_EQ(out.View(), Xread("7-3"));
}

TEST(RedisStreamsAdapter, SubscriberOfAnEmptyStreamReadsFromZero) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kSubscriber, &out);
  out.Clear();
  in.Append("*0\r\n");
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.ready, 1);
  EXPECT_EQ(out.View(), Xread("0-0"));
}

TEST(RedisStreamsAdapter, DeliversEveryEntryOfAReplyAndContinuesFromTheLast) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kSubscriber, &out);
  in.Append("*0\r\n");
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  out.Clear();
  const std::string reply = XreadReply({{"1-0", "a"}, {"1-1", "b"}, {"2-0", "c"}});
  // Split mid-reply: nothing is delivered until the reply is complete.
  in.Append(reply.substr(0, reply.size() - 3));
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_TRUE(ev.payloads.empty());
  EXPECT_TRUE(out.empty());
  in.Append(reply.substr(reply.size() - 3));
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.payloads, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(out.View(), Xread("2-0"));
}

TEST(RedisStreamsAdapter, ErrorReplyIsFatal) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kSubscriber, &out);
  in.Append("-WRONGTYPE nope\r\n");
  EXPECT_FALSE(a->OnInput(&in, &out, &ev).ok());
}

TEST(RedisStreamsAdapter, PublisherIsReadyAtPongAndAddsWithApproximateTrim) {
  wire::Buffer in, out;
  Recorder ev;
  auto a = Make(Role::kPublisher, &out);
  EXPECT_EQ(out.View(), "*1\r\n$4\r\nPING\r\n");
  out.Clear();
  in.Append("+PONG\r\n");
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_EQ(ev.ready, 1);
  a->AppendPublish("hi", &out);
  EXPECT_EQ(out.View(),
            "*8\r\n$4\r\nXADD\r\n$7\r\nroom:r1\r\n$6\r\nMAXLEN\r\n$1\r\n~\r\n$6\r\n100000\r\n$1\r\n*\r\n$1\r\np\r\n"
            "$2\r\nhi\r\n");
  in.Append("$3\r\n1-0\r\n$3\r\n1-1\r\n");  // entry IDs: read and dropped
  ASSERT_TRUE(a->OnInput(&in, &out, &ev).ok());
  EXPECT_TRUE(in.empty());
}

}  // namespace
}  // namespace muxchat::bench
