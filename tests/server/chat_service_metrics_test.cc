// The counters ChatService keeps in its Metrics: requests by type and the
// status they got, logins, accepted messages and deliveries. In-memory
// connections, no sockets (the chat_service_test style).
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "src/server/chat_service.h"
#include "src/server/metrics.h"

namespace muxchat::server {
namespace {

class ChatServiceMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = std::make_unique<ChatService>(options_, &logger_);
    service_->set_metrics(&metrics_);
  }

  Connection* NewConnection() {
    conns_.push_back(std::make_unique<Connection>(next_id_++, -1, "mem", now_, options_.max_output_bytes, &dirty_));
    return conns_.back().get();
  }

  void Request(Connection* c, v1::ClientFrame f) {
    f.set_request_id(++next_request_);
    service_->HandleFrame(c, f, now_);
  }

  Connection* LogIn(const std::string& nick) {
    Connection* c = NewConnection();
    v1::ClientFrame f;
    f.mutable_hello()->set_nickname(nick);
    f.mutable_hello()->set_protocol_version(1);
    Request(c, f);
    return c;
  }

  uint64_t Requests(MetricRequestType type, v1::Status status) const {
    return metrics_.requests[static_cast<int>(type)][status];
  }

  ServerOptions options_;
  Logger logger_{LogLevel::kOff};
  Metrics metrics_;
  std::unique_ptr<ChatService> service_;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<Connection*> dirty_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  uint64_t next_id_ = 1;
  uint64_t next_request_ = 0;
};

TEST_F(ChatServiceMetricsTest, ALoginCountsAHelloSuccessAndALogin) {
  LogIn("alice");
  EXPECT_EQ(metrics_.logins, 1u);
  EXPECT_EQ(Requests(MetricRequestType::kHello, v1::SUCCESS), 1u);
}

TEST_F(ChatServiceMetricsTest, ARefusedRequestCountsItsFailureStatusNotSuccess) {
  Connection* alice = LogIn("alice");
  v1::ClientFrame join;
  join.mutable_join_room()->set_name("nowhere");
  Request(alice, join);
  EXPECT_EQ(Requests(MetricRequestType::kJoinRoom, v1::FAILURE_NOT_EXISTS), 1u);
  EXPECT_EQ(Requests(MetricRequestType::kJoinRoom, v1::SUCCESS), 0u);
}

TEST_F(ChatServiceMetricsTest, ATakenNicknameIsAFailedHelloAndNoLogin) {
  LogIn("alice");
  LogIn("ALICE");
  EXPECT_EQ(metrics_.logins, 1u);
  EXPECT_EQ(Requests(MetricRequestType::kHello, v1::FAILURE_ALREADY_EXISTS), 1u);
}

TEST_F(ChatServiceMetricsTest, ARequestBeforeHelloCountsAsAHandshakeFailure) {
  Connection* c = NewConnection();
  v1::ClientFrame list;
  list.mutable_list_rooms();
  Request(c, list);
  EXPECT_TRUE(c->closing());
  EXPECT_EQ(Requests(MetricRequestType::kListRooms, v1::FAILURE_HANDSHAKE), 1u);
}

TEST_F(ChatServiceMetricsTest, AnEmptyRequestCountsAsOther) {
  Connection* alice = LogIn("alice");
  Request(alice, v1::ClientFrame());
  EXPECT_EQ(Requests(MetricRequestType::kOther, v1::FAILURE_INVALID), 1u);
}

TEST_F(ChatServiceMetricsTest, AMessageCountsOnceAcceptedAndOnceDeliveredPerMember) {
  Connection* alice = LogIn("alice");
  Connection* bob = LogIn("bob");
  Connection* carol = LogIn("carol");
  v1::ClientFrame create;
  create.mutable_create_room()->set_name("lobby");
  Request(alice, create);
  for (Connection* c : {alice, bob, carol}) {
    v1::ClientFrame join;
    join.mutable_join_room()->set_name("lobby");
    Request(c, join);
  }
  const uint64_t deliveries_before = metrics_.deliveries;  // the member-joined notices
  EXPECT_EQ(deliveries_before, 0u + 1 + 2);
  v1::ClientFrame send;
  send.set_room_id(service_->rooms().FindByName("lobby")->id());
  send.mutable_send_message()->set_text("hi");
  Request(bob, send);
  EXPECT_EQ(metrics_.messages_accepted, 1u);
  EXPECT_EQ(metrics_.deliveries - deliveries_before, 3u);  // the sender gets its echo too
  EXPECT_EQ(Requests(MetricRequestType::kSendMessage, v1::SUCCESS), 1u);
}

TEST_F(ChatServiceMetricsTest, WithoutSetMetricsTheServiceCountsPrivately) {
  ChatService other(options_, &logger_);
  Connection* c = NewConnection();
  v1::ClientFrame hello;
  hello.mutable_hello()->set_nickname("zed");
  hello.mutable_hello()->set_protocol_version(1);
  other.HandleFrame(c, hello, now_);
  EXPECT_EQ(other.metrics().logins, 1u);
  EXPECT_EQ(metrics_.logins, 0u);
}

}  // namespace
}  // namespace muxchat::server
