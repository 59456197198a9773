// The muxchat CLI's TLS flags as a process: a certificate that cannot be
// verified fails with one line and exit code 3; --insecure warns.
// Against a bare TLS server (tls_test_server.h); chatting over TLS with a
// real muxchatd is tested once the server speaks TLS.
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/client/cli_process.h"
#include "tests/client/tls_test_server.h"
#include "tests/test_certs.h"

namespace muxchat::testing {
namespace {

size_t Lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(CliTls, UntrustedCertificateIsExitCode3WithOneLine) {
  TempDir dir;
  TestCa ours;
  TestCa theirs("another CA");
  TlsTestServer server(theirs.Issue("server", "DNS:localhost,IP:127.0.0.1"), dir);
  CliProcess p({"--tls", "--ca", dir.Write("ca.crt", ours.cert_pem()), "--port", absl::StrCat(server.port()),
                "--list"});
  EXPECT_EQ(p.Finish(), 3);
  EXPECT_EQ(Lines(p.err()), 1u) << p.err();
  EXPECT_NE(p.err().find("certificate is not trusted"), std::string::npos) << p.err();
}

TEST(CliTls, CertificateForAnotherHostIsExitCode3WithOneLine) {
  TempDir dir;
  TestCa ca;
  TlsTestServer server(ca.Issue("server", "DNS:chat.example.org"), dir);
  CliProcess p({"--tls", "--ca", dir.Write("ca.crt", ca.cert_pem()), "--port", absl::StrCat(server.port()),
                "--list"});
  EXPECT_EQ(p.Finish(), 3);
  EXPECT_EQ(Lines(p.err()), 1u) << p.err();
  EXPECT_NE(p.err().find("does not match host 127.0.0.1"), std::string::npos) << p.err();
}

TEST(CliTls, InsecureWarnsAndGetsPastVerification) {
  TempDir dir;
  TestCa theirs("another CA");
  TlsTestServer server(theirs.Issue("server", "DNS:elsewhere"), dir, TlsTestServer::Mode::kCloseAfterHandshake);
  CliProcess p({"--insecure", "--port", absl::StrCat(server.port()), "--list"});
  // The handshake succeeds; this bare server then hangs up: connection lost.
  EXPECT_EQ(p.Finish(), 5) << p.err();
  EXPECT_NE(p.err().find("warning: --insecure"), std::string::npos) << p.err();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(CliTls, DevCertScriptMakesACertificateTheClientTrustsByNameAndAddress) {
  TempDir dir;
  const std::string out = dir.path() + "/dev-cert";
  ASSERT_EQ(std::system(("bash " MAKE_DEV_CERT " " + out + " >" + dir.path() + "/log 2>&1").c_str()), 0)
      << ReadFile(dir.path() + "/log");
  EXPECT_NE(ReadFile(dir.path() + "/log").find("--tls_cert=" + out + "/server.crt"), std::string::npos);
  PemPair pair{ReadFile(out + "/server.crt"), ReadFile(out + "/server.key")};
  TlsTestServer server(pair, dir, TlsTestServer::Mode::kCloseAfterHandshake);
  client::ClientTlsOptions tls;
  tls.enabled = true;
  tls.ca_file = out + "/ca.crt";
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto c = client::ChatClient::Connect(host, server.port(), kWait, tls);
    EXPECT_TRUE(c.ok()) << host << ": " << c.status();
  }
}

TEST(CliTls, ChatsOverTlsWithADevCertWhileACleartextClientListens) {
  TempDir dir;
  const std::string out = dir.path() + "/dev-cert";
  ASSERT_EQ(std::system(("bash " MAKE_DEV_CERT " " + out + " >/dev/null 2>&1").c_str()), 0);
  Daemon d({"--tls_cert=" + out + "/server.crt", "--tls_key=" + out + "/server.key"});
  ASSERT_NE(d.port(), 0);
  auto listener = Login(d.port(), "listener");
  ASSERT_TRUE(listener->CreateRoom("lobby", kWait).ok());
  ASSERT_TRUE(listener->JoinRoom("lobby", kWait).ok());
  CliProcess p({"--tls", "--ca", out + "/ca.crt", "localhost", absl::StrCat(d.port()), "--nick", "tlsuser", "--room",
                "lobby", "--send", "hello over tls"});
  EXPECT_EQ(p.Finish(), 0) << p.err();
  EXPECT_TRUE(AwaitEvent(*listener, [](const v1::ServerFrame& f) {
    return f.has_chat_message() && f.chat_message().sender() == "tlsuser" && f.chat_message().text() == "hello over tls";
  }));
  // The same command trusting another CA is refused: it really was TLS.
  TestCa other("another CA");
  CliProcess refused({"--tls", "--ca", dir.Write("other.crt", other.cert_pem()), "localhost", absl::StrCat(d.port()),
                      "--room", "lobby", "--send", "not sent"});
  EXPECT_EQ(refused.Finish(), 3) << refused.err();
}

}  // namespace
}  // namespace muxchat::testing
