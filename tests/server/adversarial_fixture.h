// The frame of tests/server/adversarial_test.cc, shared by every adversarial
// suite (account_adversarial_test.cc): a real Server per test (parameterised
// by poller), a well-behaved Pair chatting in room "calm" on its own thread
// while the test attacks, and the check that only the offender was affected
// (every message delivered in order; descriptors, connections, rooms and
// ListRooms back to the baseline). Test code only; one test thread.
#ifndef MUXCHAT_TESTS_SERVER_ADVERSARIAL_FIXTURE_H_
#define MUXCHAT_TESTS_SERVER_ADVERSARIAL_FIXTURE_H_

#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "src/server/server.h"
#include "src/wire/frame_codec.h"
#include "tests/server/server_fixture.h"

namespace muxchat::server::testing {

using client::ChatClient;

inline constexpr absl::Duration kHandshakeTimeout = absl::Seconds(1);
inline constexpr absl::Duration kSettleDeadline = absl::Seconds(15);
inline constexpr uint32_t kMaxFrameBytes = 4096;
inline constexpr uint32_t kMaxRooms = 12;
inline constexpr uint32_t kMaxRoomsPerConnection = 4;

// Open descriptors of this process (server, clients and raw sockets alike:
// the server runs in-process). The directory handle itself counts once,
// identically every time.
inline int OpenFdCount() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (::readdir(dir) != nullptr) ++n;
  ::closedir(dir);
  return n - 2;  // "." and ".."
}

// Polls `done` every few milliseconds until it holds or `deadline` passes.
// The server's state lives on its own thread and publishes thread-safe
// counters; there is no event to wait on, so a short bounded poll it is.
inline bool WaitUntil(const std::function<bool()>& done, absl::Duration deadline = kSettleDeadline) {
  const absl::Time end = absl::Now() + deadline;
  while (!done()) {
    if (absl::Now() >= end) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Writes all of `bytes`, ignoring a peer that has gone (no SIGPIPE).
inline void SendAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

inline std::string Frame(const v1::ClientFrame& f) { return wire::EncodeFrameToString(f); }

inline std::string HelloFrame(const std::string& nick) {
  v1::ClientFrame f;
  f.set_request_id(1);
  f.mutable_hello()->set_nickname(nick);
  f.mutable_hello()->set_protocol_version(1);
  return Frame(f);
}

// A length prefix followed by `body` exactly as given.
inline std::string RawFrame(const std::string& body) {
  char prefix[4];
  wire::EncodeLength(static_cast<uint32_t>(body.size()), prefix);
  return std::string(prefix, 4) + body;
}

// Sends `bytes` on a fresh raw connection and returns what the server said
// before closing (it must close: ReadUntilEof fails the test otherwise).
inline std::vector<v1::ServerFrame> SendAndCollect(uint16_t port, const std::string& bytes) {
  const int fd = RawConnect(port);
  SendAll(fd, bytes);
  auto frames = DecodeAll(ReadUntilEof(fd));
  ::close(fd);
  return frames;
}

inline v1::Status LastError(const std::vector<v1::ServerFrame>& frames) {
  if (frames.empty() || !frames.back().has_error()) return v1::STATUS_UNSPECIFIED;
  return frames.back().error().status();
}

// Two well-behaved clients in room "calm" taking turns to send batches and
// checking that both see every message, with consecutive seqs, in order.
// Chat() runs one batch; Start()/Stop() keep batches going on a thread while
// the main thread attacks. Only one thread uses the clients at a time.
class Pair {
 public:
  explicit Pair(uint16_t port) {
    alice_ = ConnectAs(port, "alice");
    bob_ = ConnectAs(port, "bob");
    if (alice_ == nullptr || bob_ == nullptr) return;
    auto created = alice_->CreateRoom("calm", kTimeout);
    EXPECT_TRUE(created.ok()) << created.status();
    room_ = created.ok() ? created->room_id() : 0;
    EXPECT_TRUE(alice_->JoinRoom("calm", kTimeout).ok());
    EXPECT_TRUE(bob_->JoinRoom("calm", kTimeout).ok());
    auto joined = alice_->NextEvent(kTimeout);  // bob's MemberJoined
    EXPECT_TRUE(joined.ok() && joined->has_member_joined());
  }
  ~Pair() { Stop(); }

  bool ok() const { return alice_ != nullptr && bob_ != nullptr && room_ != 0; }
  uint64_t room() const { return room_; }
  ChatClient& alice() { return *alice_; }
  uint64_t delivered() const { return delivered_.load(); }
  void set_text_bytes(size_t n) { text_bytes_ = n; }

  // One batch of `n` messages from alternating senders; returns false (after
  // recording a test failure) if anything is missing or out of order.
  bool Chat(int n) {
    ChatClient& from = (batch_++ % 2 == 0) ? *alice_ : *bob_;
    std::vector<std::string> texts;
    for (int i = 0; i < n; ++i) {
      std::string text = absl::StrCat(from.nickname(), "#", next_seq_ + static_cast<uint64_t>(i), " ");
      text.resize(std::max(text.size(), text_bytes_), '.');
      auto sent = from.Send(room_, text);
      if (!sent.ok()) {
        ADD_FAILURE() << "send failed: " << sent.status();
        return false;
      }
      texts.push_back(std::move(text));
    }
    for (ChatClient* to : {alice_.get(), bob_.get()}) {
      for (int i = 0; i < n; ++i) {
        v1::ServerFrame ev;
        do {
          auto got = to->NextEvent(kTimeout);
          if (!got.ok()) {
            ADD_FAILURE() << to->nickname() << " lost message " << next_seq_ + static_cast<uint64_t>(i) << ": "
                          << got.status();
            return false;
          }
          ev = *got;
          // Offenders may join or leave "calm" (the non-reader does).
        } while (ev.has_member_joined() || ev.has_member_left());
        if (!ev.has_chat_message() || ev.chat_message().seq() != next_seq_ + static_cast<uint64_t>(i) ||
            ev.chat_message().text() != texts[static_cast<size_t>(i)] ||
            ev.chat_message().sender() != from.nickname()) {
          ADD_FAILURE() << to->nickname() << " expected seq " << next_seq_ + static_cast<uint64_t>(i) << " got "
                        << ev.ShortDebugString().substr(0, 200);
          return false;
        }
      }
    }
    next_seq_ += static_cast<uint64_t>(n);
    delivered_ += 2 * static_cast<uint64_t>(n);
    return true;
  }

  uint64_t delivered_at_start() const { return delivered_at_start_; }

  void Start() {
    stop_ = false;
    delivered_at_start_ = delivered_.load();
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        if (!Chat(10)) return;
        absl::SleepFor(absl::Milliseconds(10));  // pace: ~1000 messages/s at most
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::unique_ptr<ChatClient> alice_, bob_;
  uint64_t room_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t batch_ = 0;
  size_t text_bytes_ = 0;
  std::atomic<uint64_t> delivered_{0};
  uint64_t delivered_at_start_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class AdversarialTest : public ::testing::TestWithParam<const char*> {
 protected:
  static ServerOptions DefaultOptions() {
    ServerOptions o;
    o.max_frame_bytes = kMaxFrameBytes;
    o.max_text_bytes = kMaxFrameBytes / 2;  // must fit a frame (ChatService::CheckOptions)
    o.max_rooms = kMaxRooms;
    o.max_rooms_per_connection = kMaxRoomsPerConnection;
    o.handshake_timeout = kHandshakeTimeout;
    o.close_linger = absl::Milliseconds(500);
    o.max_output_bytes = 64 * 1024;
    o.messages_per_second = 5000;
    o.message_burst = 500;
    o.max_rate_violations = 50;
    return o;
  }

  void SetUp() override { Start(DefaultOptions()); }

  // (Re)starts the server and the pair, then records the baseline.
  void Start(ServerOptions o) {
    pair_.reset();
    server_.reset();
    o.poller = GetParam();
    server_ = std::make_unique<RunningServer>(std::move(o));
    pair_ = std::make_unique<Pair>(port());
    ASSERT_TRUE(pair_->ok());
    ASSERT_TRUE(pair_->Chat(5));
    ASSERT_TRUE(WaitUntil([&] { return server().connection_count() == 2 && server().room_count() == 1; }));
    base_fds_ = OpenFdCount();
    ASSERT_GT(base_fds_, 0);
  }

  void TearDown() override {
    if (pair_ != nullptr) pair_->Stop();
  }

  Server& server() { return server_->server(); }
  uint16_t port() const { return server_->port(); }
  Pair& pair() { return *pair_; }

  // The pair chatted all along and still does; the server is back to the
  // baseline: same descriptors, 2 connections, 1 room, ListRooms = {calm: 2}.
  void ExpectOnlyTheOffenderWasAffected() {
    // However quick the attack, the pair chats a few batches alongside it.
    EXPECT_TRUE(WaitUntil([&] { return pair_->delivered() >= pair_->delivered_at_start() + 60; }))
        << "the pair's chatter stalled at " << pair_->delivered();
    pair_->Stop();
    EXPECT_TRUE(pair_->Chat(20)) << "the pair stopped hearing each other";
    EXPECT_TRUE(WaitUntil([&] { return server().connection_count() == 2; }))
        << "connections: " << server().connection_count();
    EXPECT_TRUE(WaitUntil([&] { return server().room_count() == 1; })) << "rooms: " << server().room_count();
    EXPECT_TRUE(WaitUntil([&] { return OpenFdCount() == base_fds_; }))
        << "open fds " << OpenFdCount() << " vs baseline " << base_fds_;
    auto list = pair_->alice().ListRooms(kTimeout);
    ASSERT_TRUE(list.ok()) << list.status();
    ASSERT_EQ(list->rooms_size(), 1);
    EXPECT_EQ(list->rooms(0).name(), "calm");
    EXPECT_EQ(list->rooms(0).member_count(), 2u);
    EXPECT_GT(pair_->delivered(), 0u);
  }

  std::unique_ptr<RunningServer> server_;
  std::unique_ptr<Pair> pair_;
  int base_fds_ = 0;
};

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_ADVERSARIAL_FIXTURE_H_
