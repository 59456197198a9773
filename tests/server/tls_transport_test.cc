// TlsTransport and TlsContext against a real OpenSSL client on the other end
// of a socketpair (TCP loopback where the kernel's TCP matters), with
// certificates made by the test. Both ends are non-blocking and driven
// alternately from this one thread, so no step waits on time.
#include "src/server/tls_transport.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "src/server/poller.h"
#include "src/server/tls_context.h"
#include "tests/test_certs.h"

namespace muxchat::server {
namespace {

using testing::PemPair;
using testing::TempDir;
using testing::TestCa;

constexpr int kMaxRounds = 100000;

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

// Certificates and the server context they configure.
class TlsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteServerCert("muxchat one");
    options_.cert_file = dir_.path() + "/server.crt";
    options_.key_file = dir_.path() + "/server.key";
  }

  void WriteServerCert(const std::string& common_name) {
    const PemPair pair = ca_.Issue(common_name, "DNS:localhost,IP:127.0.0.1");
    dir_.Write("server.crt", pair.cert);
    dir_.Write("server.key", pair.key);
  }

  std::unique_ptr<TlsContext> MakeContext() {
    auto ctx = TlsContext::Create(options_);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? std::move(*ctx) : nullptr;
  }

  // A client context trusting our CA, offering `alpn` (wire format) if given.
  std::unique_ptr<SSL_CTX, SslCtxFree> ClientContext(const std::string& alpn = std::string("\x09muxchat/1", 10),
                                                     int max_version = 0) {
    std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    const std::string pem = ca_.cert_pem();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca);
    X509_free(ca);
    BIO_free(bio);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (!alpn.empty()) {
      SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                              static_cast<unsigned>(alpn.size()));
    }
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
  }

  TempDir dir_;
  TestCa ca_;
  TlsOptions options_;
};

// One connection: our server transport on one end, an OpenSSL client on the other.
struct Pair {
  int server_fd = -1;
  int client_fd = -1;
  std::unique_ptr<Transport> server;
  std::unique_ptr<SSL, SslFree> client;

  Pair(TlsContext* context, SSL_CTX* client_ctx, bool tcp = false) {
    int fds[2];
    if (tcp) {
      MakeTcpPair(fds);
    } else {
      EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    }
    server_fd = fds[0];
    client_fd = fds[1];
    SetNonBlocking(server_fd);
    SetNonBlocking(client_fd);
    server = context->NewServerTransport(server_fd);
    client.reset(SSL_new(client_ctx));
    SSL_set_fd(client.get(), client_fd);
    SSL_set_tlsext_host_name(client.get(), "localhost");
    SSL_set1_host(client.get(), "localhost");
    SSL_set_connect_state(client.get());
  }
  ~Pair() {
    server.reset();
    client.reset();
    if (server_fd >= 0) ::close(server_fd);
    if (client_fd >= 0) ::close(client_fd);
  }

  static void MakeTcpPair(int fds[2]) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 1), 0);
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    fds[1] = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(::connect(fds[1], reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    fds[0] = ::accept(listener, nullptr, nullptr);
    ::close(listener);
  }

  // Drives both handshakes to an end; returns the server's last result.
  IoResult Handshake() {
    IoResult server_result;
    bool client_done = false;
    for (int i = 0; i < kMaxRounds; ++i) {
      if (!client_done) {
        const int r = SSL_do_handshake(client.get());
        if (r == 1) {
          client_done = true;
        } else {
          const int e = SSL_get_error(client.get(), r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) client_done = true;  // failed
        }
      }
      server_result = server->Handshake();
      if (server_result.code != IoResult::kWouldBlock && client_done) return server_result;
      if (server_result.code == IoResult::kError || server_result.code == IoResult::kEof) return server_result;
    }
    ADD_FAILURE() << "handshake did not finish";
    return server_result;
  }

  // Reads what the client can get now, appending to `got`; false on EOF/error.
  bool ClientRead(std::string* got) {
    char buf[16384];
    for (;;) {
      size_t n = 0;
      if (SSL_read_ex(client.get(), buf, sizeof buf, &n) == 1) {
        got->append(buf, n);
        continue;
      }
      const int e = SSL_get_error(client.get(), 0);
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    }
  }

  // Sends `bytes` from the client while the server reads; returns what the server read.
  std::string ClientToServer(const std::string& bytes) {
    std::string got;
    size_t sent = 0;
    wire::Buffer in;
    for (int i = 0; i < kMaxRounds && got.size() < bytes.size(); ++i) {
      if (sent < bytes.size()) {
        size_t n = 0;
        if (SSL_write_ex(client.get(), bytes.data() + sent, bytes.size() - sent, &n) == 1) sent += n;
      }
      const IoResult r = server->Read(&in, 64 * 1024);
      if (r.code == IoResult::kError || r.code == IoResult::kEof) break;
      got.append(in.Peek(), in.ReadableBytes());
      in.Consume(in.ReadableBytes());
    }
    return got;
  }
};

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

TEST_F(TlsFixture, HandshakeNegotiatesTls13AndMuxchatAlpn) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  EXPECT_EQ(SSL_get_verify_result(pair.client.get()), X509_V_OK);
  EXPECT_EQ(pair.server->alpn(), "muxchat/1");
  EXPECT_STREQ(static_cast<TlsTransport*>(pair.server.get())->version(), "TLSv1.3");
  EXPECT_STREQ(pair.server->Name(), "tls");
}

TEST_F(TlsFixture, AlpnPicksHttpWhenTheClientOffersOnlyHttp) {
  auto context = MakeContext();
  auto client_ctx = ClientContext(std::string("\x08http/1.1", 9));
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  EXPECT_EQ(pair.server->alpn(), "http/1.1");
}

TEST_F(TlsFixture, ClientWithoutAlpnOrWithUnknownProtocolsStillConnects) {
  auto context = MakeContext();
  for (const std::string& alpn : {std::string(), std::string("\x02h2", 3)}) {
    auto client_ctx = ClientContext(alpn);
    Pair pair(context.get(), client_ctx.get());
    ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
    EXPECT_EQ(pair.server->alpn(), "");
  }
}

TEST_F(TlsFixture, EchoesBothWays) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  const IoResult hs = pair.Handshake();
  ASSERT_EQ(hs.code, IoResult::kOk) << hs.error;
  EXPECT_EQ(pair.ClientToServer("hello server"), "hello server");

  wire::OutputQueue out;
  out.AppendCopy("hello client");
  const IoResult w = pair.server->Write(&out, 1 << 20);
  EXPECT_EQ(w.code, IoResult::kOk);
  EXPECT_EQ(w.bytes, 12u);
  EXPECT_TRUE(out.empty());
  std::string got;
  EXPECT_TRUE(pair.ClientRead(&got));
  EXPECT_EQ(got, "hello client");
}

TEST_F(TlsFixture, LargeServerWritePastTheSocketBufferReportsProgressThenWantWriteAndArrivesIntact) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  // Small copied frames and large shared ones, 8 MiB in all.
  const std::string expected = Pattern(8 << 20);
  wire::OutputQueue out;
  for (size_t at = 0, i = 0; at < expected.size(); ++i) {
    const size_t n = std::min(expected.size() - at, i % 3 == 0 ? size_t{70000} : size_t{100 + i % 900});
    if (n > wire::OutputQueue::kCopyThresholdBytes) {
      wire::SharedFrame f = wire::SharedFrame::Allocate(n);
      std::memcpy(f.MutableData(), expected.data() + at, n);
      out.Append(f);
    } else {
      out.AppendCopy(absl::string_view(expected.data() + at, n));
    }
    at += n;
  }
  std::string got;
  bool blocked = false;
  size_t written = 0;
  for (int i = 0; i < kMaxRounds && got.size() < expected.size(); ++i) {
    // A budget above the total: stopping with bytes left means the socket is full.
    const IoResult w = pair.server->Write(&out, 64 << 20);
    ASSERT_NE(w.code, IoResult::kError) << w.error;
    written += w.bytes;
    if (w.code == IoResult::kOk && !out.empty()) {
      // Progress is reported as kOk; the next call, with the socket still
      // full, says what it waits for and moves nothing.
      const IoResult again = pair.server->Write(&out, 64 << 20);
      EXPECT_EQ(again.code, IoResult::kWouldBlock);
      EXPECT_EQ(again.want, kPollWrite);
      EXPECT_EQ(again.bytes, 0u);
      blocked = true;
    }
    ASSERT_TRUE(pair.ClientRead(&got));
  }
  EXPECT_TRUE(blocked);
  EXPECT_EQ(written, expected.size());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(got == expected);
}

TEST_F(TlsFixture, LargeClientWriteArrivesIntact) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  const std::string expected = Pattern(4 << 20);
  EXPECT_TRUE(pair.ClientToServer(expected) == expected);
}

TEST_F(TlsFixture, SmallFramesAreCoalescedIntoFullRecords) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  // Count the application-data records the client receives.
  static int records = 0;
  records = 0;
  SSL_set_msg_callback(pair.client.get(), [](int write_p, int, int content_type, const void* buf, size_t len,
                                             SSL*, void*) {
    if (write_p == 0 && content_type == SSL3_RT_HEADER && len >= 1 &&
        static_cast<const unsigned char*>(buf)[0] == SSL3_RT_APPLICATION_DATA) {
      ++records;
    }
  });
  wire::OutputQueue out;
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    const std::string frame = "frame " + std::to_string(i) + " ....";  // ~15 bytes; 1000 would be 1000 records
    expected += frame;
    out.AppendCopy(frame);
    if (i % 100 == 99) {
      // A fresh segment now and then, so gathering crosses segment borders.
      wire::SharedFrame big = wire::SharedFrame::Allocate(3000);
      std::memset(big.MutableData(), 'x', 3000);
      out.Append(big);
      expected.append(3000, 'x');
    }
  }
  const IoResult w = pair.server->Write(&out, 1 << 20);
  ASSERT_EQ(w.code, IoResult::kOk) << w.error;
  std::string got;
  ASSERT_TRUE(pair.ClientRead(&got));
  EXPECT_EQ(got, expected);
  // ~45 KB: 3 records of at most 16 KiB, not ~1000.
  EXPECT_LE(records, 4) << expected.size() << " bytes";
}

TEST_F(TlsFixture, AFlushOfSeveralRecordsLeavesInOneSend) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get(), /*tcp=*/true);
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  auto* tls = static_cast<TlsTransport*>(pair.server.get());
  if (tls->ktls_send()) GTEST_SKIP() << "the kernel encrypts records here (kTLS): writes are plain sendmsg";
  // Three records' worth of 1 KiB frames, as a busy member's turn has.
  wire::OutputQueue out;
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    const std::string frame = Pattern(1000) + std::to_string(i);
    expected += frame;
    out.AppendCopy(frame);
  }
  const IoResult w = pair.server->Write(&out, 1 << 20);
  ASSERT_EQ(w.code, IoResult::kOk) << w.error;
  EXPECT_EQ(w.bytes, expected.size());
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(pair.server->HasPendingOutput());
  // One write(2) per record would be 3.
  EXPECT_EQ(tls->sealed_sends(), 1u);
  std::string got;
  for (int i = 0; i < kMaxRounds && got.size() < expected.size(); ++i) ASSERT_TRUE(pair.ClientRead(&got));
  EXPECT_TRUE(got == expected);
}

TEST_F(TlsFixture, SealedRecordsAFullSocketRefusedAreOwedAndSentFirst) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  if (static_cast<TlsTransport*>(pair.server.get())->ktls_send()) GTEST_SKIP() << "kTLS";
  int small = 4096;
  ASSERT_EQ(::setsockopt(pair.server_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  const std::string first = Pattern(30000);
  wire::OutputQueue out;
  out.AppendCopy(first);
  // The socket takes part of the sealed records: the queue is empty, but
  // the transport still owes the rest (the server keeps write interest).
  const IoResult w = pair.server->Write(&out, 1 << 20);
  ASSERT_EQ(w.code, IoResult::kOk) << w.error;
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(pair.server->HasPendingOutput());
  // Newer bytes queued meanwhile must not overtake the owed ones.
  const std::string second = "and then this";
  out.AppendCopy(second);
  std::string got;
  for (int i = 0; i < kMaxRounds && (pair.server->HasPendingOutput() || !out.empty()); ++i) {
    const IoResult r = pair.server->Write(&out, 1 << 20);
    ASSERT_NE(r.code, IoResult::kError) << r.error;
    ASSERT_TRUE(pair.ClientRead(&got));
  }
  for (int i = 0; i < kMaxRounds && got.size() < first.size() + second.size(); ++i) ASSERT_TRUE(pair.ClientRead(&got));
  EXPECT_TRUE(got == first + second);
}

TEST_F(TlsFixture, CloseNotifyLeavesEvenWhenRecordsWereSealed) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  wire::OutputQueue out;
  out.AppendCopy("last words");
  ASSERT_EQ(pair.server->Write(&out, 1024).code, IoResult::kOk);
  pair.server->ShutdownWrite();
  std::string got;
  char buf[256];
  int e = SSL_ERROR_NONE;
  for (int i = 0; i < kMaxRounds; ++i) {
    size_t n = 0;
    const int r = SSL_read_ex(pair.client.get(), buf, sizeof buf, &n);
    if (r == 1) {
      got.append(buf, n);
      continue;
    }
    e = SSL_get_error(pair.client.get(), r);
    if (e != SSL_ERROR_WANT_READ) break;
  }
  EXPECT_EQ(got, "last words");
  EXPECT_EQ(e, SSL_ERROR_ZERO_RETURN);  // close_notify, not a bare FIN
}

TEST_F(TlsFixture, HasBufferedInputWhileDecryptedBytesWaitInsideTls) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  const std::string text = Pattern(1000);
  size_t n = 0;
  ASSERT_EQ(SSL_write_ex(pair.client.get(), text.data(), text.size(), &n), 1);
  wire::Buffer in;
  IoResult r = pair.server->Read(&in, 10);
  ASSERT_EQ(r.code, IoResult::kOk);
  EXPECT_EQ(r.bytes, 10u);
  EXPECT_TRUE(pair.server->HasBufferedInput());  // the rest of the record, no longer on the socket
  r = pair.server->Read(&in, 1 << 20);
  EXPECT_EQ(r.bytes, 990u);
  EXPECT_FALSE(pair.server->HasBufferedInput());
  EXPECT_EQ(in.View(), text);
}

TEST_F(TlsFixture, ReadWithNothingSentWouldBlockWantingRead) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  wire::Buffer in;
  const IoResult r = pair.server->Read(&in, 1024);
  EXPECT_EQ(r.code, IoResult::kWouldBlock);
  EXPECT_EQ(r.want, kPollRead);
}

TEST_F(TlsFixture, CloseNotifyIsAnOrderlyEndBothWays) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  pair.server->ShutdownWrite();
  char c;
  size_t n = 0;
  EXPECT_EQ(SSL_read_ex(pair.client.get(), &c, 1, &n), 0);
  EXPECT_EQ(SSL_get_error(pair.client.get(), 0), SSL_ERROR_ZERO_RETURN);
  SSL_shutdown(pair.client.get());
  wire::Buffer in;
  EXPECT_EQ(pair.server->Read(&in, 1024).code, IoResult::kEof);
}

TEST_F(TlsFixture, MinimumVersionRefusesAnOlderClient) {
  options_.min_version = "1.3";
  auto context = MakeContext();
  auto client_ctx = ClientContext(std::string("\x09muxchat/1", 10), TLS1_2_VERSION);
  Pair pair(context.get(), client_ctx.get());
  const IoResult r = pair.Handshake();
  EXPECT_EQ(r.code, IoResult::kError);
  EXPECT_NE(r.error.find("unsupported protocol"), std::string::npos) << r.error;
}

TEST_F(TlsFixture, MinimumVersion12AcceptsATls12Client) {
  auto context = MakeContext();
  auto client_ctx = ClientContext(std::string("\x09muxchat/1", 10), TLS1_2_VERSION);
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  EXPECT_STREQ(static_cast<TlsTransport*>(pair.server.get())->version(), "TLSv1.2");
  EXPECT_EQ(pair.ClientToServer("over 1.2"), "over 1.2");
}

TEST_F(TlsFixture, CreateRefusesAnUnknownMinimumVersion) {
  options_.min_version = "1.1";
  auto ctx = TlsContext::Create(options_);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsFixture, CreateFailsOnAMissingCertificateWithTheFileNamed) {
  options_.cert_file = dir_.path() + "/missing.crt";
  auto ctx = TlsContext::Create(options_);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(ctx.status().message().find("missing.crt"), absl::string_view::npos) << ctx.status();
}

TEST_F(TlsFixture, CreateFailsOnAKeyThatDoesNotMatchTheCertificate) {
  options_.key_file = dir_.Write("other.key", ca_.Issue("other", "DNS:other").key);
  auto ctx = TlsContext::Create(options_);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("does not match"), absl::string_view::npos) << ctx.status();
}

std::string PeerCommonName(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  X509_free(cert);
  return cn;
}

TEST_F(TlsFixture, ReloadServesTheNewCertificateToNewConnectionsWhileOldOnesKeepWorking) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair old_pair(context.get(), client_ctx.get());
  ASSERT_EQ(old_pair.Handshake().code, IoResult::kOk);
  EXPECT_EQ(PeerCommonName(old_pair.client.get()), "muxchat one");

  WriteServerCert("muxchat two");
  ASSERT_TRUE(context->Reload().ok());
  EXPECT_EQ(context->generation(), 1);
  Pair new_pair(context.get(), client_ctx.get());
  ASSERT_EQ(new_pair.Handshake().code, IoResult::kOk);
  EXPECT_EQ(PeerCommonName(new_pair.client.get()), "muxchat two");

  EXPECT_EQ(old_pair.ClientToServer("still here"), "still here");
  wire::OutputQueue out;
  out.AppendCopy("and back");
  EXPECT_EQ(old_pair.server->Write(&out, 1024).code, IoResult::kOk);
  std::string got;
  EXPECT_TRUE(old_pair.ClientRead(&got));
  EXPECT_EQ(got, "and back");
}

TEST_F(TlsFixture, FailedReloadKeepsServingTheCurrentCertificate) {
  auto context = MakeContext();
  dir_.Write("server.crt", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  const absl::Status s = context->Reload();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("server.crt"), absl::string_view::npos) << s;
  EXPECT_EQ(context->generation(), 0);
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  EXPECT_EQ(PeerCommonName(pair.client.get()), "muxchat one");
}

TEST_F(TlsFixture, GarbageAfterTheHandshakeRecordTypeEndsWithError) {
  auto context = MakeContext();
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  SetNonBlocking(fds[0]);
  auto server = context->NewServerTransport(fds[0]);
  const char garbage[] = "\x16GET / HTTP/1.1\r\nHost: x\r\n\r\nmore garbage that is not TLS at all";
  ASSERT_EQ(::write(fds[1], garbage, sizeof garbage - 1), static_cast<ssize_t>(sizeof garbage - 1));
  const IoResult r = server->Handshake();
  EXPECT_EQ(r.code, IoResult::kError);
  EXPECT_FALSE(r.error.empty());
  server.reset();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(TlsFixture, TruncatedClientHelloThenEofEndsAsEof) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  // Capture a real ClientHello from a client that writes into a socketpair.
  int capture[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, capture), 0);
  SetNonBlocking(capture[1]);
  std::unique_ptr<SSL, SslFree> client(SSL_new(client_ctx.get()));
  SSL_set_fd(client.get(), capture[1]);
  SSL_set_connect_state(client.get());
  SSL_do_handshake(client.get());  // writes the ClientHello, then wants to read
  char hello[4096];
  const ssize_t hello_len = ::read(capture[0], hello, sizeof hello);
  ASSERT_GT(hello_len, 100);
  ASSERT_EQ(hello[0], 0x16);
  client.reset();
  ::close(capture[0]);
  ::close(capture[1]);

  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  SetNonBlocking(fds[0]);
  auto server = context->NewServerTransport(fds[0]);
  ASSERT_EQ(::write(fds[1], hello, static_cast<size_t>(hello_len / 2)), hello_len / 2);
  EXPECT_EQ(server->Handshake().code, IoResult::kWouldBlock);
  ::shutdown(fds[1], SHUT_WR);
  const IoResult r = server->Handshake();
  EXPECT_EQ(r.code, IoResult::kEof) << r.error;
  server.reset();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(TlsFixture, RenegotiationAttemptEndsTheConnection) {
  auto context = MakeContext();
  auto client_ctx = ClientContext(std::string("\x09muxchat/1", 10), TLS1_2_VERSION);
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  ASSERT_EQ(SSL_renegotiate(pair.client.get()), 1);
  SSL_do_handshake(pair.client.get());  // sends a new ClientHello
  wire::Buffer in;
  IoResult r;
  for (int i = 0; i < 100; ++i) {
    r = pair.server->Read(&in, 1024);
    if (r.code != IoResult::kWouldBlock) break;
    SSL_do_handshake(pair.client.get());
  }
  EXPECT_EQ(r.code, IoResult::kError);
  EXPECT_NE(r.error.find("renegotiation"), std::string::npos) << r.error;
}

TEST_F(TlsFixture, KtlsIsAttemptedAndFallsBackCleanlyWithoutTheKernelModule) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get(), /*tcp=*/true);
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  const bool ktls = static_cast<TlsTransport*>(pair.server.get())->ktls_send();
  RecordProperty("ktls_send", ktls ? "1" : "0");
  std::printf("BIO_get_ktls_send after handshake over TCP: %d\n", ktls ? 1 : 0);
  // Whichever way it went, the connection works.
  const std::string big = Pattern(1 << 20);
  EXPECT_TRUE(pair.ClientToServer(big) == big);
  wire::OutputQueue out;
  out.AppendCopy("after ktls check");
  std::string got;
  for (int i = 0; i < 1000 && got.size() < 16; ++i) {
    pair.server->Write(&out, 1024);
    ASSERT_TRUE(pair.ClientRead(&got));
  }
  EXPECT_EQ(got, "after ktls check");
}

TEST_F(TlsFixture, ReleaseIdleBuffersKeepsTheConnectionUsable) {
  auto context = MakeContext();
  auto client_ctx = ClientContext();
  Pair pair(context.get(), client_ctx.get());
  ASSERT_EQ(pair.Handshake().code, IoResult::kOk);
  EXPECT_EQ(pair.ClientToServer("one"), "one");
  pair.server->ReleaseIdleBuffers();
  EXPECT_EQ(pair.ClientToServer("two"), "two");
}

}  // namespace
}  // namespace muxchat::server
