// TlsTestServer: a bare TLS server for client tests, on 127.0.0.1 port 0 in
// its own thread, one connection at a time, with blocking OpenSSL calls: it
// handshakes, remembers the ALPN protocol chosen, then echoes bytes until the
// client leaves (or closes at once, for tests that only need the handshake).
// Each accepted socket has a 10 s receive timeout so no test can hang on it.
// Not a muxchat server: client tests of the TLS layer only.
#ifndef MUXCHAT_TESTS_CLIENT_TLS_TEST_SERVER_H_
#define MUXCHAT_TESTS_CLIENT_TLS_TEST_SERVER_H_

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/test_certs.h"

namespace muxchat::testing {

class TlsTestServer {
 public:
  enum class Mode { kEcho, kCloseAfterHandshake };

  // Serves the certificate and key in `pair` (PEM), written into `dir`.
  TlsTestServer(const PemPair& pair, const TempDir& dir, Mode mode = Mode::kEcho) : mode_(mode) {
    ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not end the test
    ctx_ = SSL_CTX_new(TLS_server_method());
    EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx_, dir.Write("test-server.crt", pair.cert).c_str()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx_, dir.Write("test-server.key", pair.key).c_str(), SSL_FILETYPE_PEM), 1);
    SSL_CTX_set_alpn_select_cb(
        ctx_,
        [](SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in, unsigned int in_len,
           void*) {
          static const unsigned char kOffer[] = {9, 'm', 'u', 'x', 'c', 'h', 'a', 't', '/', '1'};
          unsigned char* selected = nullptr;
          if (SSL_select_next_proto(&selected, out_len, kOffer, sizeof kOffer, in, in_len) != OPENSSL_NPN_NEGOTIATED) {
            return SSL_TLSEXT_ERR_NOACK;
          }
          *out = selected;
          return SSL_TLSEXT_ERR_OK;
        },
        nullptr);
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    EXPECT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~TlsTestServer() {
    ::shutdown(listener_, SHUT_RDWR);  // wakes the blocked accept()
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(ctx_);
  }
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  uint16_t port() const { return port_; }
  // ALPN protocol chosen on the last completed handshake.
  std::string alpn() {
    std::lock_guard<std::mutex> lock(mu_);
    return alpn_;
  }

 private:
  void Serve() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      timeval timeout{10, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        const unsigned char* name = nullptr;
        unsigned int name_len = 0;
        SSL_get0_alpn_selected(ssl, &name, &name_len);
        {
          std::lock_guard<std::mutex> lock(mu_);
          alpn_.assign(reinterpret_cast<const char*>(name), name == nullptr ? 0 : name_len);
        }
        char buf[16384];
        size_t n = 0;
        while (mode_ == Mode::kEcho && SSL_read_ex(ssl, buf, sizeof buf, &n) == 1) {
          size_t written = 0;
          if (SSL_write_ex(ssl, buf, n, &written) != 1) break;
        }
        SSL_shutdown(ssl);
      }
      SSL_free(ssl);
      ::close(fd);
    }
  }

  const Mode mode_;
  SSL_CTX* ctx_ = nullptr;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string alpn_;
};

}  // namespace muxchat::testing

#endif  // MUXCHAT_TESTS_CLIENT_TLS_TEST_SERVER_H_
