#include "bench/load/chat_frame_scanner.h"

#include "gtest/gtest.h"
#include "proto/muxchat.pb.h"
#include "src/server/chat_frame.h"

namespace muxchat::bench {
namespace {

std::string Body(const v1::ServerFrame& f) { return f.SerializeAsString(); }

TEST(ChatFrameScanner, ReadsSenderTextAndReplayOfTheServersChatFrames) {
  for (bool replay : {false, true}) {
    server::HistoryEntry e{"alice", std::string(300, 'p'), 42, 1700000000000000};
    wire::SharedFrame frame = server::EncodeChatFrame(7, e, replay);
    ScannedChat chat;
    ASSERT_TRUE(ScanChatFrame(frame.view().substr(4), &chat));
    EXPECT_EQ(chat.sender, "alice");
    EXPECT_EQ(chat.text, e.text);
    EXPECT_EQ(chat.replay, replay);
  }
}

TEST(ChatFrameScanner, DeclinesEveryOtherBody) {
  v1::ServerFrame f;
  f.set_request_id(3);
  f.mutable_reply()->set_status(v1::SUCCESS);
  ScannedChat chat;
  std::string body = Body(f);
  EXPECT_FALSE(ScanChatFrame(body, &chat));
  f.mutable_ping()->set_nonce(1);
  body = Body(f);
  EXPECT_FALSE(ScanChatFrame(body, &chat));
  body = Body(v1::ServerFrame());
  EXPECT_FALSE(ScanChatFrame(body, &chat));  // empty: not a chat frame
}

TEST(ChatFrameScanner, DeclinesTruncatedBytes) {
  server::HistoryEntry e{"bob", "hello", 1, 1};
  const std::string body(server::EncodeChatFrame(1, e, false).view().substr(4));
  ScannedChat chat;
  for (size_t cut = 1; cut < body.size(); ++cut) {
    EXPECT_FALSE(ScanChatFrame(absl::string_view(body).substr(0, cut), &chat)) << cut;
  }
}

TEST(ChatFrameScanner, SkipsUnknownChatFieldsLikeTheFullParser) {
  v1::ServerFrame f;
  f.set_room_id(9);
  f.mutable_chat_message()->set_sender("carol");
  f.mutable_chat_message()->set_text("x");
  f.mutable_chat_message()->set_seq(5);
  f.mutable_chat_message()->set_timestamp_unix_micros(-1);
  ScannedChat chat;
  const std::string body = Body(f);
  ASSERT_TRUE(ScanChatFrame(body, &chat));
  EXPECT_EQ(chat.sender, "carol");
  EXPECT_EQ(chat.text, "x");
  EXPECT_FALSE(chat.replay);
}

}  // namespace
}  // namespace muxchat::bench
