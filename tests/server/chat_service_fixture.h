// A ChatService driven through in-memory connections (no sockets): requests
// go in, and each test decodes exactly what each connection would receive.
// Shared by the ChatService test files; a test fixture derives from it.
#ifndef MUXCHAT_TESTS_SERVER_CHAT_SERVICE_FIXTURE_H_
#define MUXCHAT_TESTS_SERVER_CHAT_SERVICE_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/server/chat_service.h"
#include "tests/wire/decode_all.h"

namespace muxchat::server::testing {

// Everything queued for `c` so far, decoded; the queue is emptied.
inline std::vector<v1::ServerFrame> TakeFrames(Connection* c) {
  std::string bytes;
  c->output().CopyTo(&bytes);
  c->output().Consume(bytes.size());
  size_t leftover = 0;
  auto out = wire::testing::DecodeAll<v1::ServerFrame>(bytes, &leftover);
  EXPECT_EQ(leftover, 0u);
  return out;
}

class ChatServiceFixture : public ::testing::Test {
 protected:
  // (Re)creates the service from options_ (tests change options_ first).
  void Start() { service_ = std::make_unique<ChatService>(options_, &logger_); }
  void SetUp() override { Start(); }

  Connection* NewConnection(const std::string& peer = "mem") {
    conns_.push_back(std::make_unique<Connection>(next_id_++, -1, peer, now_, options_.max_output_bytes, &dirty_));
    return conns_.back().get();
  }

  // Handles `f` (given a request_id when it has none).
  void Request(Connection* c, v1::ClientFrame f) {
    if (f.request_id() == 0) f.set_request_id(++next_request_);
    service_->HandleFrame(c, f, now_);
  }

  std::vector<v1::ServerFrame> Take(Connection* c) { return TakeFrames(c); }

  v1::ServerFrame TakeOne(Connection* c) {
    auto frames = Take(c);
    EXPECT_EQ(frames.size(), 1u);
    return frames.empty() ? v1::ServerFrame() : frames[0];
  }

  // A guest logged in as `nick` (its Welcome taken).
  Connection* LogIn(const std::string& nick) {
    Connection* c = NewConnection();
    v1::ClientFrame f;
    f.mutable_hello()->set_nickname(nick);
    f.mutable_hello()->set_protocol_version(1);
    Request(c, f);
    EXPECT_TRUE(TakeOne(c).has_welcome());
    return c;
  }

  ServerOptions options_;
  Logger logger_{LogLevel::kOff};
  std::unique_ptr<ChatService> service_;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<Connection*> dirty_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  uint64_t next_id_ = 100;
  uint64_t next_request_ = 0;
};

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_CHAT_SERVICE_FIXTURE_H_
