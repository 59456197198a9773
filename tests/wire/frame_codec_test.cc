#include "src/wire/frame_codec.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/muxchat.pb.h"

namespace muxchat::wire {
namespace {

v1::ClientFrame MakeSend(uint64_t id, const std::string& text) {
  v1::ClientFrame f;
  f.set_request_id(id);
  f.set_room_id(7);
  f.mutable_send_message()->set_text(text);
  return f;
}

TEST(FrameFormat, LengthIsBigEndian) {
  char b[4];
  EncodeLength(0x01020304u, b);
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(b[3], 4);
  EXPECT_EQ(DecodeLength(b), 0x01020304u);
  EncodeLength(0xFFFFFFFFu, b);
  EXPECT_EQ(DecodeLength(b), 0xFFFFFFFFu);
}

TEST(FrameCodec, RoundTripsOneFrame) {
  Buffer buf;
  ASSERT_TRUE(AppendFrame(MakeSend(1, "hi"), &buf).ok());
  FrameDecoder dec;
  v1::ClientFrame out;
  auto r = dec.Next(&buf, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_EQ(out.request_id(), 1u);
  EXPECT_EQ(out.send_message().text(), "hi");
  EXPECT_TRUE(buf.empty());
}

TEST(FrameCodec, DecodesWhenFedOneByteAtATime) {
  std::string wire;
  for (int i = 1; i <= 3; ++i) wire += EncodeFrameToString(MakeSend(i, "msg" + std::to_string(i)));
  Buffer buf;
  FrameDecoder dec;
  std::vector<uint64_t> ids;
  for (char c : wire) {
    buf.Append(&c, 1);
    v1::ClientFrame out;
    auto r = dec.Next(&buf, &out);
    ASSERT_TRUE(r.ok());
    if (*r) ids.push_back(out.request_id());
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3}));
}

TEST(FrameCodec, DecodesManyCoalescedFrames) {
  Buffer buf;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(AppendFrame(MakeSend(i, "x"), &buf).ok());
  FrameDecoder dec;
  int n = 0;
  v1::ClientFrame out;
  while (true) {
    auto r = dec.Next(&buf, &out);
    ASSERT_TRUE(r.ok());
    if (!*r) break;
    EXPECT_EQ(out.request_id(), static_cast<uint64_t>(n));
    ++n;
  }
  EXPECT_EQ(n, 100);
}

TEST(FrameDecoder, RejectsLengthAboveCapFromPrefixAlone) {
  Buffer buf;
  char prefix[4];
  EncodeLength(1025, prefix);
  buf.Append(prefix, 4);  // no body at all: must not wait for it
  FrameDecoder dec(1024);
  v1::ClientFrame out;
  auto r = dec.Next(&buf, &out);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(FrameDecoder, RejectsAllOnesLength) {
  Buffer buf;
  buf.Append("\xff\xff\xff\xff", 4);
  FrameDecoder dec;
  v1::ClientFrame out;
  EXPECT_EQ(dec.Next(&buf, &out).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(FrameDecoder, AcceptsLengthExactlyAtCap) {
  v1::ClientFrame f = MakeSend(1, "");
  const size_t base = f.ByteSizeLong();
  f.mutable_send_message()->set_text(std::string(200, 'a'));
  const uint32_t cap = static_cast<uint32_t>(f.ByteSizeLong());
  ASSERT_GT(cap, base);
  Buffer buf;
  ASSERT_TRUE(AppendFrame(f, &buf, cap).ok());
  FrameDecoder dec(cap);
  v1::ClientFrame out;
  auto r = dec.Next(&buf, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
}

TEST(FrameDecoder, WaitsOnTruncatedFrame) {
  std::string wire = EncodeFrameToString(MakeSend(9, "truncated"));
  Buffer buf;
  buf.Append(wire.substr(0, wire.size() - 1));
  FrameDecoder dec;
  v1::ClientFrame out;
  auto r = dec.Next(&buf, &out);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(buf.ReadableBytes(), wire.size() - 1);  // nothing consumed
}

TEST(FrameDecoder, RejectsInvalidProtobuf) {
  Buffer buf;
  const char body[] = "\xff\xff\xff\xff\xff";  // a varint key that never ends
  char prefix[4];
  EncodeLength(5, prefix);
  buf.Append(prefix, 4);
  buf.Append(body, 5);
  FrameDecoder dec;
  v1::ClientFrame out;
  EXPECT_EQ(dec.Next(&buf, &out).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FrameCodec, AppendRefusesBodyAboveCap) {
  Buffer buf;
  auto st = AppendFrame(MakeSend(1, std::string(100, 'a')), &buf, 50);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(buf.empty());
}

TEST(FrameCodec, SharedFrameHasSameBytesAsString) {
  auto f = MakeSend(3, "shared");
  auto shared = EncodeSharedFrame(f);
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->view(), EncodeFrameToString(f));
  SharedFrame copy = *shared;
  EXPECT_EQ(shared->use_count(), 2u);
}

}  // namespace
}  // namespace muxchat::wire
