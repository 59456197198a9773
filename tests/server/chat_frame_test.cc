#include "src/server/chat_frame.h"

#include "gtest/gtest.h"
#include "proto/muxchat.pb.h"
#include "src/wire/frame_codec.h"

namespace muxchat::server {
namespace {

std::string Generated(uint64_t room_id, const HistoryEntry& e, bool replay) {
  v1::ServerFrame f;
  f.set_room_id(room_id);
  v1::ChatMessage* m = f.mutable_chat_message();
  m->set_sender(e.sender);
  m->set_text(e.text);
  m->set_seq(e.seq);
  m->set_timestamp_unix_micros(e.timestamp_unix_micros);
  m->set_replay(replay);
  return wire::EncodeFrameToString(f);
}

TEST(ChatFrame, MatchesTheGeneratedSerializerByteForByte) {
  const std::vector<HistoryEntry> entries = {
      {"alice", "hi", 1, 1700000000000000},
      {"b", std::string(300, 'x'), 1u << 20, 1},           // multi-byte length and seq varints
      {"zoë", std::string(20000, 'y'), ~uint64_t{0}, -5},  // max seq, negative timestamp
      {"", "", 0, 0},                                      // every field at its default
  };
  for (uint64_t room : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 40}) {
    for (const HistoryEntry& e : entries) {
      for (bool replay : {false, true}) {
        EXPECT_EQ(EncodeChatFrame(room, e, replay).view(), Generated(room, e, replay))
            << "room " << room << " seq " << e.seq << " replay " << replay;
      }
    }
  }
}

}  // namespace
}  // namespace muxchat::server
