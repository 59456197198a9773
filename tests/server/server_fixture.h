// Test fixture: a real Server on 127.0.0.1 port 0 running Run() on its own
// thread, plus helpers to connect logged-in clients and raw sockets.
#ifndef MUXCHAT_TESTS_SERVER_SERVER_FIXTURE_H_
#define MUXCHAT_TESTS_SERVER_SERVER_FIXTURE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "src/server/server.h"

namespace muxchat::server::testing {

inline constexpr absl::Duration kTimeout = absl::Seconds(10);

class RunningServer {
 public:
  explicit RunningServer(ServerOptions options) : logger_(getenv("MUXCHAT_TEST_LOG") ? LogLevel::kDebug : LogLevel::kOff) {
    options.listen = "127.0.0.1:0";
    auto created = Server::Create(options, &logger_);
    EXPECT_TRUE(created.ok()) << created.status();
    server_ = std::move(*created);
    thread_ = std::thread([this] { run_status_ = server_->Run(); });
  }
  ~RunningServer() { Stop(); }

  void Stop() {
    if (!thread_.joinable()) return;
    server_->RequestShutdown();
    server_->RequestShutdown();
    thread_.join();
  }
  // Graceful: one request, then wait for Run() to return.
  void StopGracefully() {
    server_->RequestShutdown();
    thread_.join();
  }

  Server& server() { return *server_; }
  uint16_t port() const { return server_->port(); }
  const absl::Status& run_status() const { return run_status_; }

 private:
  Logger logger_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  absl::Status run_status_;
};

inline std::unique_ptr<client::ChatClient> ConnectAs(uint16_t port, const std::string& nick) {
  auto c = client::ChatClient::Connect("127.0.0.1", port, kTimeout);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return nullptr;
  auto w = (*c)->Hello(nick, kTimeout);
  EXPECT_TRUE(w.ok()) << w.status();
  return std::move(*c);
}

// A plain blocking TCP socket to the server, for sending arbitrary bytes.
// A nonzero `receive_buffer` is set before connecting, so the window the
// server sees is small from the first byte.
inline int RawConnect(uint16_t port, int receive_buffer = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// Reads until EOF (or error, or `timeout`), returning every byte received.
inline std::string ReadUntilEof(int fd, absl::Duration timeout = kTimeout) {
  std::string all;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now())) + 1) <= 0) break;
    char buf[65536];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return all;
    all.append(buf, static_cast<size_t>(n));
  }
  ADD_FAILURE() << "no EOF within " << timeout;
  return all;
}

// Decodes a byte string of ServerFrames.
inline std::vector<v1::ServerFrame> DecodeAll(const std::string& bytes) {
  wire::Buffer buf;
  buf.Append(bytes);
  wire::FrameDecoder dec(UINT32_MAX);
  std::vector<v1::ServerFrame> out;
  v1::ServerFrame f;
  while (true) {
    auto got = dec.Next(&buf, &f);
    if (!got.ok() || !*got) break;
    out.push_back(f);
  }
  return out;
}

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_SERVER_FIXTURE_H_
