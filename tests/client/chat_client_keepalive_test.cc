// ChatClient against the real muxchatd with a short keepalive: a connection
// that makes no request for many keepalive intervals stays connected as long
// as its owner drives the socket (poll + Pump, or a blocking wait), and one
// nobody drives is dropped (the control: it shows the idle window is long
// enough for the server to act). The idle time is the behaviour under test,
// so these tests sleep by design; each is bounded to a few seconds.
#include <poll.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "src/client/server_status.h"
#include "tests/server/muxchatd_process.h"

namespace muxchat::client {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(10);
// The server pings after 300 ms of silence and drops 300 ms after an
// unanswered ping; its sweep runs every 500 ms, so a silent client is gone
// within about 2 s. 3 s of idling covers that with margin (10x the keepalive).
constexpr absl::Duration kKeepalive = absl::Milliseconds(300);
constexpr absl::Duration kIdle = absl::Seconds(3);

class ChatClientKeepaliveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<server::testing::MuxchatdProcess>(std::vector<std::string>{
        "--listen=127.0.0.1:0", "--log_level=warn", "--memory", absl::StrCat("--keepalive=", absl::FormatDuration(kKeepalive)),
        absl::StrCat("--keepalive_timeout=", absl::FormatDuration(kKeepalive))});
    port_ = daemon_->ReadPort();
    ASSERT_NE(port_, 0) << daemon_->first_line();
  }

  std::unique_ptr<ChatClient> LoggedIn(const std::string& nick) {
    auto c = ChatClient::Connect("127.0.0.1", port_, kTimeout);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    auto w = (*c)->Hello(nick, kTimeout);
    EXPECT_TRUE(w.ok()) << w.status();
    return std::move(*c);
  }

  std::unique_ptr<server::testing::MuxchatdProcess> daemon_;
  uint16_t port_ = 0;
};

TEST_F(ChatClientKeepaliveTest, WelcomeReportsTheKeepaliveInterval) {
  auto c = LoggedIn("ann");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->keepalive_interval(), kKeepalive);
}

TEST_F(ChatClientKeepaliveTest, IdleClientWhoseOwnerPollsAndPumpsStaysConnected) {
  auto c = LoggedIn("ann");
  ASSERT_NE(c, nullptr);
  // The owner's poll loop: no request at all, only Pump() when readable.
  const absl::Time end = absl::Now() + kIdle;
  while (absl::Now() < end) {
    pollfd p{c->fd(), static_cast<short>(POLLIN | (c->HasPendingOutput() ? POLLOUT : 0)), 0};
    const int ms = static_cast<int>(absl::ToInt64Milliseconds(end - absl::Now()));
    if (::poll(&p, 1, ms < 0 ? 0 : ms) > 0) {
      ASSERT_TRUE(c->Pump().ok()) << c->close_status();
    }
  }
  EXPECT_FALSE(c->HasQueuedEvent()) << "pings are answered, never surfaced";
  auto rooms = c->ListRooms(kTimeout);
  EXPECT_TRUE(rooms.ok()) << rooms.status();
}

TEST_F(ChatClientKeepaliveTest, ABlockingWaitAnswersPings) {
  auto c = LoggedIn("ann");
  ASSERT_NE(c, nullptr);
  auto ev = c->NextEvent(kIdle);
  EXPECT_TRUE(absl::IsDeadlineExceeded(ev.status())) << ev.status();
  EXPECT_FALSE(c->closed()) << c->close_status();
  auto rooms = c->ListRooms(kTimeout);
  EXPECT_TRUE(rooms.ok()) << rooms.status();
}

TEST_F(ChatClientKeepaliveTest, AClientNobodyDrivesIsDroppedForNotAnsweringPings) {
  auto c = LoggedIn("ann");
  ASSERT_NE(c, nullptr);
  absl::SleepFor(kIdle);  // no call at all: nothing can answer the ping
  const absl::Status pumped = c->Pump();
  EXPECT_EQ(ServerStatusOf(pumped), v1::FAILURE_TIMEOUT) << pumped;
}

}  // namespace
}  // namespace muxchat::client
