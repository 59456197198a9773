// WebSocketTransport's way out, over a fake inner transport that takes a
// scripted number of bytes per call: every queued frame leaves as exactly
// one binary message (header + body, the length prefix dropped), whatever
// the queue's mix of copied chunks, shared frames and shared block ranges,
// and whichever byte a write stops at. Run over both inner kinds: one that
// takes gathered writes (plain TCP: bodies must not be copied) and one that
// does not (TLS: messages are staged).
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/server/websocket_transport.h"
#include "src/wire/frame_format.h"
#include "src/wire/output_queue.h"
#include "src/wire/shared_frame.h"
#include "src/wire/websocket_codec.h"

namespace muxchat::server {
namespace {

// The socket under the WebSocket layer: keeps what is written, accepting per
// call the next number from `script` (then `per_call`); 0 means "would
// block". Reads hand out `input`.
class FakeSocket final : public Transport {
 public:
  explicit FakeSocket(bool vectored) : vectored_(vectored) {}

  const char* Name() const override { return vectored_ ? "tcp" : "tls"; }
  IoResult Handshake() override { return IoResult{}; }
  IoResult Read(wire::Buffer* in, size_t max_bytes) override {
    IoResult r;
    const size_t n = std::min(input.size(), max_bytes);
    if (n == 0) {
      r.code = IoResult::kWouldBlock;
      return r;
    }
    in->Append(input.data(), n);
    input.erase(0, n);
    r.bytes = n;
    return r;
  }
  IoResult Write(wire::OutputQueue* out, size_t max_bytes) override {
    const size_t n = std::min({Allow(), out->PendingBytes(), max_bytes});
    if (n == 0) return Blocked();
    std::string all;
    out->CopyTo(&all);
    wire.append(all, 0, n);
    out->Consume(n);
    IoResult r;
    r.bytes = n;
    return r;
  }
  bool WritesVectors() const override { return vectored_; }
  IoResult WriteVectors(const iovec* vec, size_t count) override {
    EXPECT_TRUE(vectored_);
    EXPECT_LE(count, static_cast<size_t>(IOV_MAX));
    size_t room = Allow();
    if (room == 0) return Blocked();
    IoResult r;
    for (size_t i = 0; i < count && room > 0; ++i) {
      const size_t n = std::min(room, vec[i].iov_len);
      const char* base = static_cast<const char*>(vec[i].iov_base);
      bases.push_back(base);
      wire.append(base, n);
      room -= n;
      r.bytes += n;
    }
    return r;
  }
  void ShutdownWrite() override { shut = true; }

  std::deque<size_t> script;
  size_t per_call = SIZE_MAX;
  std::string input;
  std::string wire;                 // every byte written, in order
  std::vector<const char*> bases;   // where each gathered piece came from
  bool shut = false;

 private:
  size_t Allow() {
    if (script.empty()) return per_call;
    const size_t n = script.front();
    script.pop_front();
    return n;
  }
  static IoResult Blocked() {
    IoResult r;
    r.code = IoResult::kWouldBlock;
    return r;
  }
  const bool vectored_;
};

std::string Body(size_t n, char seed) {
  std::string b(n, '\0');
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<char>(seed + i * 7);
  return b;
}

std::string Prefixed(const std::string& body) {
  char prefix[wire::kLengthPrefixBytes];
  wire::EncodeLength(static_cast<uint32_t>(body.size()), prefix);
  return std::string(prefix, sizeof prefix) + body;
}

// What a client must receive for these bodies: one binary message each.
std::string Expected(const std::vector<std::string>& bodies) {
  std::string out;
  for (const std::string& b : bodies) {
    out += std::string(wire::MakeWsServerHeader(b.size()).view());
    out += b;
  }
  return out;
}

// A shared block holding `bodies` as consecutive length-prefixed frames, as
// ChatService fills one.
wire::SharedFrame BlockOf(const std::vector<std::string>& bodies) {
  size_t size = 0;
  for (const std::string& b : bodies) size += wire::kLengthPrefixBytes + b.size();
  wire::SharedFrame block = wire::SharedFrame::AllocateBlock(size);
  for (const std::string& b : bodies) {
    const std::string frame = Prefixed(b);
    std::memcpy(block.Extend(frame.size()), frame.data(), frame.size());
  }
  return block;
}

// The same bodies as consecutive WebSocket messages, as ChatService frames a
// broadcast once for every WebSocket member of a room.
wire::SharedFrame FramedBlockOf(const std::vector<std::string>& bodies) {
  const std::string framed = Expected(bodies);
  wire::SharedFrame block = wire::SharedFrame::AllocateBlock(framed.size());
  std::memcpy(block.Extend(framed.size()), framed.data(), framed.size());
  return block;
}

class WebSocketTransportOut : public ::testing::TestWithParam<bool> {
 protected:
  WebSocketTransportOut() {
    auto inner = std::make_unique<FakeSocket>(GetParam());
    socket_ = inner.get();
    ws_ = std::make_unique<WebSocketTransport>(std::move(inner), 1 << 20, "", "");
  }

  // Writes until everything owed is out, with `budget` per call; false if a
  // bounded number of calls did not get there.
  bool Drain(size_t budget = 1 << 20) {
    for (int calls = 0; calls < 1'000'000; ++calls) {
      if (out_.empty() && !ws_->HasPendingOutput()) return true;
      const IoResult r = ws_->Write(&out_, budget);
      if (r.code != IoResult::kOk && r.code != IoResult::kWouldBlock) return false;
    }
    return false;
  }

  wire::OutputQueue out_;
  FakeSocket* socket_;
  std::unique_ptr<WebSocketTransport> ws_;
};

// Bodies whose headers take every form: 2 bytes (0..125), 4 (126..65535)
// and 10 (65536 and up), around each boundary.
const std::vector<std::string>& HeaderFormBodies() {
  static const auto* bodies = new std::vector<std::string>{
      Body(0, 1), Body(1, 2), Body(125, 3), Body(126, 4), Body(127, 5), Body(65535, 6), Body(65536, 7),
      Body(70000, 8)};
  return *bodies;
}

TEST_P(WebSocketTransportOut, EveryFrameOfASharedRangeLeavesAsOneMessage) {
  const std::vector<std::string> bodies = HeaderFormBodies();
  wire::SharedFrame block = BlockOf(bodies);
  out_.AppendSlice(block, 0, block.size());
  ASSERT_TRUE(Drain());
  EXPECT_EQ(socket_->wire, Expected(bodies));
}

TEST_P(WebSocketTransportOut, GatheredBodiesAreTheSharedBytesThemselves) {
  if (!GetParam()) GTEST_SKIP() << "TLS stages (copies) by design";
  const std::vector<std::string> bodies = {Body(40, 1), Body(300, 2), Body(5000, 3)};
  wire::SharedFrame block = BlockOf(bodies);
  out_.AppendSlice(block, 0, block.size());
  ASSERT_TRUE(Drain());
  ASSERT_EQ(socket_->wire, Expected(bodies));
  // Each body was handed to the socket from inside the block, just past its
  // 4-byte prefix: nothing was copied for this member.
  size_t at = 0;
  for (const std::string& b : bodies) {
    at += wire::kLengthPrefixBytes;
    EXPECT_NE(std::find(socket_->bases.begin(), socket_->bases.end(), block.data() + at), socket_->bases.end())
        << "body of " << b.size() << " bytes was copied";
    at += b.size();
  }
}

TEST_P(WebSocketTransportOut, AWriteStoppingAtAnyByteResumesThere) {
  // Small and medium frames: a first write stops at every offset through
  // every header and body, then the rest goes out.
  const std::vector<std::string> bodies = {Body(0, 1), Body(1, 2), Body(125, 3), Body(126, 4), Body(300, 5)};
  const std::string expected = Expected(bodies);
  wire::SharedFrame block = BlockOf(bodies);
  for (size_t first = 0; first <= expected.size(); ++first) {
    SCOPED_TRACE(first);
    auto inner = std::make_unique<FakeSocket>(GetParam());
    socket_ = inner.get();
    ws_ = std::make_unique<WebSocketTransport>(std::move(inner), 1 << 20, "", "");
    out_.AppendSlice(block, 0, block.size());
    socket_->script = {first, 0, 3};  // stop, would-block, a little more, then all
    ASSERT_TRUE(Drain());
    ASSERT_EQ(socket_->wire, expected);
  }
}

TEST_P(WebSocketTransportOut, LargeFramesResumeAcrossTheirHeaderAndBodyEnds) {
  const std::vector<std::string>& bodies = HeaderFormBodies();
  const std::string expected = Expected(bodies);
  wire::SharedFrame block = BlockOf(bodies);
  // Offsets around every message boundary and every header end.
  std::vector<size_t> cuts;
  size_t at = 0;
  for (const std::string& b : bodies) {
    const size_t header = wire::MakeWsServerHeader(b.size()).size;
    for (size_t d = 0; d <= header + 1; ++d) cuts.push_back(at + d);
    at += header + b.size();
    cuts.push_back(at - 1);
  }
  for (size_t cut : cuts) {
    SCOPED_TRACE(cut);
    auto inner = std::make_unique<FakeSocket>(GetParam());
    socket_ = inner.get();
    ws_ = std::make_unique<WebSocketTransport>(std::move(inner), 1 << 20, "", "");
    out_.AppendSlice(block, 0, block.size());
    socket_->script = {cut, 1, 1, 1};
    ASSERT_TRUE(Drain());
    ASSERT_EQ(socket_->wire, expected);
  }
}

TEST_P(WebSocketTransportOut, SmallWritesAndSmallBudgetsGiveTheSameBytes) {
  const std::vector<std::string>& bodies = HeaderFormBodies();
  wire::SharedFrame block = BlockOf(bodies);
  out_.AppendSlice(block, 0, block.size());
  socket_->per_call = 997;  // a prime: cuts fall everywhere
  ASSERT_TRUE(Drain(/*budget=*/1500));
  EXPECT_EQ(socket_->wire, Expected(bodies));
}

TEST_P(WebSocketTransportOut, ManyFramesInOneRangeNeedSeveralGatheredWrites) {
  // More messages than one sendmsg's iovec limit (two vectors each).
  std::vector<std::string> bodies;
  for (int i = 0; i < 3000; ++i) bodies.push_back(Body(i % 200, static_cast<char>(i)));
  wire::SharedFrame block = BlockOf(bodies);
  out_.AppendSlice(block, 0, block.size());
  ASSERT_EQ(out_.SegmentCount(), 1u);
  ASSERT_TRUE(Drain());
  EXPECT_EQ(socket_->wire, Expected(bodies));
}

TEST_P(WebSocketTransportOut, MixedSegmentsLeaveInQueueOrder) {
  // What a member's queue looks like under load: a copied reply, ranges of
  // two blocks (consecutive broadcasts merged into one range), a large
  // frame shared whole, a slice copied past the slice limit.
  std::vector<std::string> bodies;
  const std::vector<std::string> first = {Body(20, 1), Body(130, 2)};
  const std::vector<std::string> second = {Body(3, 3), Body(70000, 4), Body(9, 5)};
  wire::SharedFrame block1 = BlockOf(first);
  wire::SharedFrame block2 = BlockOf(second);

  bodies.push_back(Body(50, 9));
  out_.AppendCopy(Prefixed(bodies.back()));
  const size_t split = wire::kLengthPrefixBytes + first[0].size();
  out_.AppendSlice(block1, 0, split);
  out_.AppendSlice(block1, split, block1.size());  // merges with the range before
  bodies.insert(bodies.end(), first.begin(), first.end());
  bodies.push_back(Body(4000, 10));
  out_.AppendShared(BlockOf({bodies.back()}));
  out_.AppendSlice(block2, 0, block2.size());
  bodies.insert(bodies.end(), second.begin(), second.end());
  bodies.push_back(Body(7, 11));
  out_.AppendCopy(Prefixed(bodies.back()));

  socket_->per_call = 101;
  ASSERT_TRUE(Drain());
  EXPECT_EQ(socket_->wire, Expected(bodies));
}

TEST_P(WebSocketTransportOut, APongWaitsForTheMessageInProgress) {
  const std::string body = Body(1000, 1);
  out_.AppendCopy(Prefixed(body));
  socket_->script = {10};  // the write stops inside the body
  socket_->per_call = 0;
  ASSERT_EQ(ws_->Write(&out_, 1 << 20).code, IoResult::kOk);
  ASSERT_EQ(socket_->wire.size(), 10u);

  wire::Buffer ping(0);
  wire::AppendWsClientFrame(wire::WsOpcode::kPing, "hi", 0x01020304, &ping);
  socket_->input = std::string(ping.View());
  wire::Buffer in(0);
  ASSERT_EQ(ws_->Read(&in, 4096).code, IoResult::kOk);
  EXPECT_TRUE(ws_->HasPendingOutput());

  socket_->per_call = SIZE_MAX;
  ASSERT_TRUE(Drain());
  wire::Buffer pong(0);
  wire::AppendWsServerFrame(wire::WsOpcode::kPong, "hi", &pong);
  EXPECT_EQ(socket_->wire, Expected({body}) + std::string(pong.View()));
}

TEST_P(WebSocketTransportOut, ShutdownInsideAMessageSendsNoCloseIntoIt) {
  const std::string body = Body(1000, 1);
  out_.AppendCopy(Prefixed(body));
  socket_->script = {10};
  socket_->per_call = 0;
  ASSERT_EQ(ws_->Write(&out_, 1 << 20).code, IoResult::kOk);
  socket_->per_call = SIZE_MAX;
  ws_->ShutdownWrite();
  EXPECT_TRUE(socket_->shut);
  // What went out parses cleanly: the message (or the start of it) and, only
  // after a whole message, a Close; never a Close inside it.
  wire::Buffer back(0);
  back.Append(socket_->wire);
  wire::WebSocketDecoder client(1 << 20, wire::WebSocketDecoder::Role::kClient);
  wire::WsEvent event;
  for (;;) {
    absl::StatusOr<bool> got = client.Next(&back, &event);
    ASSERT_TRUE(got.ok()) << got.status();
    if (!*got) break;
    if (event.kind == wire::WsEvent::Kind::kClose) break;
    EXPECT_EQ(event.payload, body);
  }
}

TEST_P(WebSocketTransportOut, AFramedRangeLeavesAsItLies) {
  const std::vector<std::string>& bodies = HeaderFormBodies();
  wire::SharedFrame block = FramedBlockOf(bodies);
  out_.AppendFramedSlice(block, 0, block.size());
  ASSERT_TRUE(Drain());
  EXPECT_EQ(socket_->wire, Expected(bodies));
}

TEST_P(WebSocketTransportOut, AFramedRangeIsOneGatheredPieceOfTheSharedBytes) {
  if (!GetParam()) GTEST_SKIP() << "TLS stages (copies) by design";
  // Many small broadcasts, consecutive in one framed block: no header is
  // built for them and no vector is spent per message.
  std::vector<std::string> bodies;
  for (int i = 0; i < 300; ++i) bodies.push_back(Body(60, static_cast<char>(i)));
  wire::SharedFrame block = FramedBlockOf(bodies);
  const size_t half = Expected({bodies.begin(), bodies.begin() + 150}).size();
  out_.AppendFramedSlice(block, 0, half);
  out_.AppendFramedSlice(block, half, block.size());  // merges with the range before
  ASSERT_EQ(out_.SegmentCount(), 1u);
  ASSERT_TRUE(Drain());
  EXPECT_EQ(socket_->wire, Expected(bodies));
  ASSERT_EQ(socket_->bases.size(), 1u);
  EXPECT_EQ(socket_->bases[0], block.data());
}

TEST_P(WebSocketTransportOut, AWriteStoppingAtAnyByteOfFramedAndPrefixedMessagesResumesThere) {
  // A member's queue mixing both kinds: a reply (prefixed, copied), framed
  // broadcasts, a prefixed range, framed again. A first write stops at
  // every offset; the rest goes out in small pieces.
  const std::vector<std::string> reply = {Body(30, 1)};
  const std::vector<std::string> framed1 = {Body(0, 2), Body(125, 3), Body(126, 4)};
  const std::vector<std::string> prefixed = {Body(5, 5), Body(300, 6)};
  const std::vector<std::string> framed2 = {Body(1, 7), Body(200, 8)};
  std::vector<std::string> all;
  for (const auto* part : {&reply, &framed1, &prefixed, &framed2}) all.insert(all.end(), part->begin(), part->end());
  const std::string expected = Expected(all);
  wire::SharedFrame f1 = FramedBlockOf(framed1);
  wire::SharedFrame p = BlockOf(prefixed);
  wire::SharedFrame f2 = FramedBlockOf(framed2);
  for (size_t first = 0; first <= expected.size(); ++first) {
    SCOPED_TRACE(first);
    auto inner = std::make_unique<FakeSocket>(GetParam());
    socket_ = inner.get();
    ws_ = std::make_unique<WebSocketTransport>(std::move(inner), 1 << 20, "", "");
    out_.AppendCopy(Prefixed(reply[0]));
    out_.AppendFramedSlice(f1, 0, f1.size());
    out_.AppendSlice(p, 0, p.size());
    out_.AppendFramedSlice(f2, 0, f2.size());
    socket_->script = {first, 0, 3, 1, 7};
    socket_->per_call = 11;
    ASSERT_TRUE(Drain());
    ASSERT_EQ(socket_->wire, expected);
  }
}

TEST_P(WebSocketTransportOut, SmallBudgetsCutFramedRangesAnywhere) {
  const std::vector<std::string>& bodies = HeaderFormBodies();
  wire::SharedFrame block = FramedBlockOf(bodies);
  out_.AppendFramedSlice(block, 0, block.size());
  socket_->per_call = 997;
  ASSERT_TRUE(Drain(/*budget=*/1500));
  EXPECT_EQ(socket_->wire, Expected(bodies));
}

TEST_P(WebSocketTransportOut, FramedSlicesCopiedPastTheSliceLimitStayFramed) {
  // More framed ranges of different blocks than a queue keeps by reference:
  // the rest are copied, and still leave as the messages they are.
  std::vector<std::string> bodies;
  std::vector<wire::SharedFrame> blocks;
  for (size_t i = 0; i < wire::OutputQueue::kMaxSliceSegments + 4; ++i) {
    bodies.push_back(Body(10 + i, static_cast<char>(i)));
    blocks.push_back(FramedBlockOf({bodies.back()}));
    out_.AppendFramedSlice(blocks.back(), 0, blocks.back().size());
    // A reply between them, as a member gets (never merged with them).
    bodies.push_back(Body(3, static_cast<char>(100 + i)));
    out_.AppendCopy(Prefixed(bodies.back()));
  }
  EXPECT_EQ(out_.SliceSegmentCount(), wire::OutputQueue::kMaxSliceSegments);
  socket_->per_call = 13;
  ASSERT_TRUE(Drain());
  EXPECT_EQ(socket_->wire, Expected(bodies));
}

TEST_P(WebSocketTransportOut, APongBetweenTwoFramedBroadcastsGoesBetweenThem) {
  // Two broadcasts in one framed range; the write stops inside the first;
  // a Ping arrives: its Pong goes out after the first and before the second.
  const std::vector<std::string> bodies = {Body(100, 1), Body(100, 2)};
  wire::SharedFrame block = FramedBlockOf(bodies);
  out_.AppendFramedSlice(block, 0, block.size());
  socket_->script = {10};
  socket_->per_call = 0;
  ASSERT_EQ(ws_->Write(&out_, 1 << 20).code, IoResult::kOk);
  ASSERT_EQ(socket_->wire.size(), 10u);

  wire::Buffer ping(0);
  wire::AppendWsClientFrame(wire::WsOpcode::kPing, "hi", 0x01020304, &ping);
  socket_->input = std::string(ping.View());
  wire::Buffer in(0);
  ASSERT_EQ(ws_->Read(&in, 4096).code, IoResult::kOk);

  socket_->per_call = SIZE_MAX;
  ASSERT_TRUE(Drain());
  wire::Buffer pong(0);
  wire::AppendWsServerFrame(wire::WsOpcode::kPong, "hi", &pong);
  if (GetParam()) {
    EXPECT_EQ(socket_->wire, Expected({bodies[0]}) + std::string(pong.View()) + Expected({bodies[1]}));
  } else {
    // TLS: both messages were staged by the first write (in the stream
    // already, as bytes in a socket buffer are); the Pong follows them.
    EXPECT_EQ(socket_->wire, Expected(bodies) + std::string(pong.View()));
  }
}

TEST_P(WebSocketTransportOut, APongGoesBeforeBroadcastsNotYetBegun) {
  // At a message boundary the Pong goes at once, ahead of queued messages.
  const std::vector<std::string> bodies = {Body(20, 1), Body(20, 2)};
  wire::SharedFrame block = FramedBlockOf(bodies);
  out_.AppendFramedSlice(block, 0, block.size());
  wire::Buffer ping(0);
  wire::AppendWsClientFrame(wire::WsOpcode::kPing, "p", 0x01020304, &ping);
  socket_->input = std::string(ping.View());
  wire::Buffer in(0);
  ASSERT_EQ(ws_->Read(&in, 4096).code, IoResult::kOk);
  ASSERT_TRUE(Drain());
  wire::Buffer pong(0);
  wire::AppendWsServerFrame(wire::WsOpcode::kPong, "p", &pong);
  EXPECT_EQ(socket_->wire, std::string(pong.View()) + Expected(bodies));
}

TEST_P(WebSocketTransportOut, ShutdownInsideAFramedMessageSendsNoCloseIntoIt) {
  const std::vector<std::string> bodies = {Body(1000, 1), Body(5, 2)};
  wire::SharedFrame block = FramedBlockOf(bodies);
  out_.AppendFramedSlice(block, 0, block.size());
  socket_->script = {10};
  socket_->per_call = 0;
  ASSERT_EQ(ws_->Write(&out_, 1 << 20).code, IoResult::kOk);
  socket_->per_call = SIZE_MAX;
  ws_->ShutdownWrite();
  EXPECT_TRUE(socket_->shut);
  const std::string expected = Expected(bodies);
  if (GetParam()) {
    // 10 bytes of the first message and nothing else: no Close inside it.
    EXPECT_EQ(socket_->wire, expected.substr(0, 10));
  } else {
    // TLS staged both whole messages: they go, then the Close.
    ASSERT_GE(socket_->wire.size(), expected.size());
    EXPECT_EQ(socket_->wire.substr(0, expected.size()), expected);
    wire::Buffer back(0);
    back.Append(absl::string_view(socket_->wire).substr(expected.size()));
    wire::WebSocketDecoder client(1 << 20, wire::WebSocketDecoder::Role::kClient);
    wire::WsEvent event;
    absl::StatusOr<bool> got = client.Next(&back, &event);
    ASSERT_TRUE(got.ok() && *got);
    EXPECT_EQ(event.kind, wire::WsEvent::Kind::kClose);
  }
}

TEST_P(WebSocketTransportOut, TheUpgradeAnswerGoesFirst) {
  auto inner = std::make_unique<FakeSocket>(GetParam());
  socket_ = inner.get();
  ws_ = std::make_unique<WebSocketTransport>(std::move(inner), 1 << 20, "", "HTTP/1.1 101 OK\r\n\r\n");
  const std::vector<std::string> bodies = {Body(10, 1), Body(200, 2)};
  wire::SharedFrame block = BlockOf(bodies);
  out_.AppendSlice(block, 0, block.size());
  socket_->per_call = 7;
  ASSERT_TRUE(Drain());
  EXPECT_EQ(socket_->wire, "HTTP/1.1 101 OK\r\n\r\n" + Expected(bodies));
}

// A member's life under load, at random but reproducibly: frames of every
// header size queued in every way a Connection queues them (copied replies,
// ranges of length-prefixed blocks, framed ranges that grow while the first
// of them is half written, large frames shared whole, framed ranges copied
// past the slice limit), appended between writes that stop at random bytes
// with random budgets, and Pings read in between. The client must read every
// message whole and in order, and one Pong per Ping, never inside a message.
TEST_P(WebSocketTransportOut, RandomQueuesCutAnywhereGiveWholeMessagesAndPongsBetweenThem) {
  const size_t sizes[] = {0, 1, 2, 60, 124, 125, 126, 127, 300, 1000, 3000, 65535, 65536, 70000};
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    auto inner = std::make_unique<FakeSocket>(GetParam());
    socket_ = inner.get();
    ws_ = std::make_unique<WebSocketTransport>(std::move(inner), 1 << 20, "", "");
    socket_->per_call = 0;  // each write takes what its script says, then blocks
    std::vector<std::string> expected;
    std::vector<std::string> pings;
    // Blocks as ChatService keeps them: appended to, ranges handed out.
    wire::SharedFrame prefixed = wire::SharedFrame::AllocateBlock(1 << 20);
    wire::SharedFrame framed = wire::SharedFrame::AllocateBlock(1 << 20);
    std::vector<wire::SharedFrame> old_blocks;
    for (int step = 0; step < 120; ++step) {
      const size_t what = pick(10);
      std::vector<std::string> bodies;
      for (size_t k = 1 + pick(3); k > 0; --k) {
        const size_t n = pick(4) == 0 ? pick(200) : sizes[pick(sizeof sizes / sizeof sizes[0])];
        bodies.push_back(Body(n, static_cast<char>(rng())));
      }
      if (what <= 1) {
        for (const std::string& b : bodies) out_.AppendCopy(Prefixed(b));
      } else if (what <= 3) {
        std::string bytes;
        for (const std::string& b : bodies) bytes += Prefixed(b);
        if (prefixed.remaining() < bytes.size()) {
          old_blocks.push_back(prefixed);
          prefixed = wire::SharedFrame::AllocateBlock(std::max<size_t>(1 << 20, bytes.size()));
        }
        char* at = prefixed.Extend(bytes.size());
        std::memcpy(at, bytes.data(), bytes.size());
        const size_t begin = static_cast<size_t>(at - prefixed.data());
        out_.AppendSlice(prefixed, begin, begin + bytes.size());
      } else if (what <= 7) {
        const std::string bytes = Expected(bodies);
        if (framed.remaining() < bytes.size() || pick(8) == 0) {
          // A fresh block now and then: past eight of them, ranges are copied.
          old_blocks.push_back(framed);
          framed = wire::SharedFrame::AllocateBlock(std::max<size_t>(1 << 20, bytes.size()));
        }
        if (pick(4) == 0) (void)framed.Extend(1 + pick(10));  // another room's broadcast between
        char* at = framed.Extend(bytes.size());
        std::memcpy(at, bytes.data(), bytes.size());
        const size_t begin = static_cast<size_t>(at - framed.data());
        out_.AppendFramedSlice(framed, begin, begin + bytes.size());
      } else if (what == 8) {
        bodies.resize(1);
        wire::SharedFrame whole = wire::SharedFrame::Allocate(wire::kLengthPrefixBytes + bodies[0].size());
        const std::string frame = Prefixed(bodies[0]);
        std::memcpy(whole.MutableData(), frame.data(), frame.size());
        out_.Append(whole);
      } else {
        bodies.clear();
        pings.push_back(Body(pick(126), static_cast<char>(rng())));
        wire::Buffer ping(0);
        wire::AppendWsClientFrame(wire::WsOpcode::kPing, pings.back(), static_cast<uint32_t>(rng()), &ping);
        socket_->input = std::string(ping.View());
        wire::Buffer in(0);
        ASSERT_EQ(ws_->Read(&in, 4096).code, IoResult::kOk);
      }
      expected.insert(expected.end(), bodies.begin(), bodies.end());
      // A few writes, each stopping somewhere (0: would block).
      for (size_t w = pick(3); w > 0; --w) {
        const size_t cut = pick(3) == 0 ? pick(12) : pick(5000);
        socket_->script = {cut};
        const size_t budget = pick(3) == 0 ? 1 + pick(3000) : 1 << 20;
        const IoResult r = ws_->Write(&out_, budget);
        ASSERT_TRUE(r.code == IoResult::kOk || r.code == IoResult::kWouldBlock);
      }
    }
    socket_->script.clear();
    socket_->per_call = 1 + pick(9000);
    ASSERT_TRUE(Drain(1 + pick(100000)));
    // Read back as a browser would.
    wire::Buffer back(0);
    back.Append(socket_->wire);
    wire::WebSocketDecoder client(1 << 20, wire::WebSocketDecoder::Role::kClient);
    wire::WsEvent event;
    size_t messages = 0, pongs = 0;
    for (;;) {
      absl::StatusOr<bool> got = client.Next(&back, &event);
      ASSERT_TRUE(got.ok()) << got.status();
      if (!*got) break;
      if (event.kind == wire::WsEvent::Kind::kPong) {
        ASSERT_LT(pongs, pings.size());
        EXPECT_EQ(event.payload, pings[pongs]);
        ++pongs;
        continue;
      }
      ASSERT_EQ(event.kind, wire::WsEvent::Kind::kMessage);
      ASSERT_LT(messages, expected.size());
      ASSERT_EQ(event.payload, expected[messages]) << "message " << messages;
      ++messages;
    }
    EXPECT_TRUE(back.empty());
    EXPECT_EQ(messages, expected.size());
    EXPECT_EQ(pongs, pings.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Inner, WebSocketTransportOut, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Gathered" : "Staged";
                         });

}  // namespace
}  // namespace muxchat::server
