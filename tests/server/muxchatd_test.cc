// Tests of the real muxchatd binary as a process: start-up line, signals,
// exit codes. MUXCHATD_PATH comes from CMake.
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "tests/server/http_test_client.h"
#include "tests/test_certs.h"

namespace muxchat {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(10);

class Daemon {
 public:
  // `max_fds` > 0 lowers the child's RLIMIT_NOFILE before exec. A non-empty
  // `stderr_file` receives the child's log lines.
  explicit Daemon(std::vector<std::string> args, rlim_t max_fds = 0, const std::string& stderr_file = "") {
    // Memory only unless a test gives a data directory: the default,
    // ./muxchat-data, would be shared (and locked) between tests.
    bool has_data_dir = false;
    for (const std::string& a : args) has_data_dir |= a.rfind("--data_dir", 0) == 0 || a == "--memory";
    if (!has_data_dir) args.push_back("--memory");
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (max_fds > 0) {
        rlimit lim{max_fds, max_fds};
        ::setrlimit(RLIMIT_NOFILE, &lim);
      }
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      if (!stderr_file.empty()) {
        const int err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (err >= 0) ::dup2(err, STDERR_FILENO);
      }
      std::vector<char*> argv;
      std::string path = MUXCHATD_PATH;
      argv.push_back(path.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(path.c_str(), argv.data());
      _exit(127);
    }
    ::close(out[1]);
    stdout_ = ::fdopen(out[0], "r");
  }
  ~Daemon() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdout_ != nullptr) std::fclose(stdout_);
  }

  // Reads the start-up line and returns the port (0 if none).
  uint16_t ReadPort() {
    char line[256];
    if (std::fgets(line, sizeof line, stdout_) == nullptr) return 0;
    std::string s(line);
    first_line_ = s;
    const size_t colon = s.rfind(':');
    uint32_t port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(s.substr(colon + 1), &port)) return 0;
    return static_cast<uint16_t>(port);
  }

  void Signal(int sig) { ::kill(pid_, sig); }

  // Waits for exit up to `timeout` (a pidfd becomes readable when the child
  // exits); returns the wait status, or -1 on timeout.
  int Wait(absl::Duration timeout) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    EXPECT_GE(pidfd, 0);
    pollfd p{pidfd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    ::close(pidfd);
    if (ready != 1) return -1;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    reaped_ = true;
    return status;
  }

  const std::string& first_line() const { return first_line_; }

  // Everything the daemon writes to stdout until it closes it.
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdout_)) > 0) out.append(buf, n);
    return out;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  FILE* stdout_ = nullptr;
  std::string first_line_;
};

TEST(Muxchatd, PrintsItsAddressThenExitsZeroOnSigintAfterNotifyingClients) {
  Daemon d({"--listen=127.0.0.1:0", "--log_level=warn"});
  const uint16_t port = d.ReadPort();
  ASSERT_NE(port, 0) << d.first_line();
  EXPECT_EQ(d.first_line().rfind("muxchatd listening on 127.0.0.1:", 0), 0u);
  auto c = client::ChatClient::Connect("127.0.0.1", port, kTimeout);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Hello("watcher", kTimeout).ok());
  const absl::Time start = absl::Now();
  d.Signal(SIGINT);
  auto ev = (*c)->NextEvent(kTimeout);
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_TRUE(ev->has_shutdown());
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1) << "muxchatd did not exit";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(Muxchatd, SigtermWithAClientThatNeverReadsStillExitsWithinTheGrace) {
  Daemon d({"--listen=127.0.0.1:0", "--log_level=off", "--shutdown_grace=500ms"});
  const uint16_t port = d.ReadPort();
  ASSERT_NE(port, 0);
  auto c = client::ChatClient::Connect("127.0.0.1", port, kTimeout);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Hello("deaf", kTimeout).ok());  // then never reads again
  d.Signal(SIGTERM);
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Muxchatd, SecondSignalExitsAtOnce) {
  Daemon d({"--listen=127.0.0.1:0", "--log_level=off", "--shutdown_grace=60s"});
  const uint16_t port = d.ReadPort();
  ASSERT_NE(port, 0);
  // A client that never closes keeps the graceful drain waiting for the grace.
  auto c = client::ChatClient::Connect("127.0.0.1", port, kTimeout);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Hello("deaf", kTimeout).ok());
  d.Signal(SIGINT);
  // Two SIGINTs sent back to back can merge into one pending signal; the
  // second must follow a first that the server has already acted on.
  auto notice = (*c)->NextEvent(kTimeout);
  ASSERT_TRUE(notice.ok() && notice->has_shutdown()) << notice.status();
  d.Signal(SIGINT);
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Muxchatd, OutOfFileDescriptorsShedsNewcomersAndKeepsServing) {
  Daemon d({"--listen=127.0.0.1:0", "--log_level=off"}, /*max_fds=*/64);
  const uint16_t port = d.ReadPort();
  ASSERT_NE(port, 0);
  auto first = client::ChatClient::Connect("127.0.0.1", port, kTimeout);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Hello("early", kTimeout).ok());
  // Far more connections than the server has descriptors for.
  std::vector<std::unique_ptr<client::ChatClient>> crowd;
  int turned_away = 0;
  for (int i = 0; i < 100; ++i) {
    auto c = client::ChatClient::Connect("127.0.0.1", port, kTimeout);
    ASSERT_TRUE(c.ok());
    auto w = (*c)->Hello("n" + std::to_string(i), absl::Seconds(5));
    if (!w.ok()) {
      ++turned_away;
      EXPECT_EQ(w.status().code(), absl::StatusCode::kUnavailable) << w.status();
    }
    crowd.push_back(std::move(*c));
  }
  // Turned away at once (kUnavailable), not left hanging in the backlog.
  EXPECT_GT(turned_away, 0);
  EXPECT_TRUE((*first)->Ping(7, kTimeout).ok());  // still serving while out of fds
  crowd.clear();
  d.Signal(SIGTERM);
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Muxchatd, WithoutABuiltWebClientItStartsLogsOneLineAndSaysHowToBuild) {
  muxchat::testing::TempDir dir;
  const std::string log = dir.path() + "/stderr.log";
  Daemon d({"--listen=127.0.0.1:0", "--web_root=" + dir.path() + "/dist"}, 0, log);
  const uint16_t port = d.ReadPort();
  ASSERT_NE(port, 0) << d.first_line();
  absl::StatusOr<server::testing::HttpReply> r = server::testing::HttpGet(port, "/", kTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404) << r->head;
  EXPECT_NE(r->body.find("scripts/web-build.sh"), std::string::npos) << r->body;
  d.Signal(SIGTERM);
  ASSERT_NE(d.Wait(kTimeout), -1);
  std::ifstream in(log);
  std::string line;
  int mentions = 0;
  std::ostringstream all;
  while (std::getline(in, line)) {
    all << line << "\n";
    if (line.find("web client") != std::string::npos) ++mentions;
  }
  EXPECT_EQ(mentions, 1) << all.str();
}

TEST(Muxchatd, ServesThePageFromWebRootAtSlash) {
  muxchat::testing::TempDir dir;
  dir.Write("index.html", "<!doctype html><title>muxchat</title>");
  Daemon d({"--listen=127.0.0.1:0", "--web_root=" + dir.path()});
  const uint16_t port = d.ReadPort();
  ASSERT_NE(port, 0) << d.first_line();
  absl::StatusOr<server::testing::HttpReply> r = server::testing::HttpGet(port, "/", kTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200) << r->head;
  EXPECT_EQ(r->body, "<!doctype html><title>muxchat</title>");
}

TEST(Muxchatd, BadFlagValueFailsWithNonZeroExit) {
  Daemon d({"--listen=not-an-address"});
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
}

TEST(Muxchatd, StrayArgumentIsAnErrorNotSilentlyIgnored) {
  Daemon d({"7400"});
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1) << "muxchatd kept running with a stray argument";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_EQ(d.ReadAll().find("listening"), std::string::npos);
}

TEST(Muxchatd, HelpListsItsOwnFlagsWithDefaultsAndExitsZero) {
  Daemon d({"--help"});
  const std::string out = d.ReadAll();
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(out.find("--listen"), std::string::npos) << out;
  EXPECT_NE(out.find("(default: 127.0.0.1:7000)"), std::string::npos) << out;
  EXPECT_NE(out.find("--max_text_bytes"), std::string::npos) << out;
  EXPECT_NE(out.find("(default: 16384)"), std::string::npos) << out;
}

TEST(Muxchatd, VersionPrintsTheMuxchatdVersionAndExitsZero) {
  Daemon d({"--version"});
  const std::string out = d.ReadAll();
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(out.rfind("muxchatd/", 0), 0u) << out;
}

TEST(Muxchatd, RefusesLimitsThatContradictEachOther) {
  Daemon d({"--listen=127.0.0.1:0", "--max_frame_bytes=1024"});  // default texts (16 KiB) cannot fit
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_EQ(d.ReadPort(), 0) << "it must not start listening";
}

TEST(Muxchatd, StartsWithLimitsThatFit) {
  Daemon d({"--listen=127.0.0.1:0", "--max_frame_bytes=1024", "--max_text_bytes=900"});
  EXPECT_NE(d.ReadPort(), 0) << d.first_line();
}

client::ClientTlsOptions Trusting(const std::string& ca_file) {
  client::ClientTlsOptions t;
  t.enabled = true;
  t.ca_file = ca_file;
  return t;
}

TEST(Muxchatd, SighupReloadsTheTlsCertificateForNewConnectionsWithoutDroppingOldOnes) {
  testing::TempDir dir;
  testing::TestCa first("first CA");
  testing::TestCa second("second CA");
  const std::string ca1 = dir.Write("ca1.crt", first.cert_pem());
  const std::string ca2 = dir.Write("ca2.crt", second.cert_pem());
  testing::PemPair pair = first.Issue("server", "DNS:localhost,IP:127.0.0.1");
  const std::string cert = dir.Write("server.crt", pair.cert);
  const std::string key = dir.Write("server.key", pair.key);
  Daemon d({"--listen=127.0.0.1:0", "--log_level=off", "--shutdown_grace=200ms", "--tls_cert=" + cert,
            "--tls_key=" + key});
  const uint16_t port = d.ReadPort();
  ASSERT_NE(port, 0);
  auto old = client::ChatClient::Connect("127.0.0.1", port, kTimeout, Trusting(ca1));
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_TRUE((*old)->Hello("old", kTimeout).ok());
  EXPECT_FALSE(client::ChatClient::Connect("127.0.0.1", port, kTimeout, Trusting(ca2)).ok());

  pair = second.Issue("server", "DNS:localhost,IP:127.0.0.1");
  dir.Write("server.key", pair.key);
  dir.Write("server.crt", pair.cert);
  d.Signal(SIGHUP);
  // The reload happens on the server's next loop turn: wait for a handshake
  // that only the new certificate can pass.
  absl::StatusOr<std::unique_ptr<client::ChatClient>> fresh = absl::UnavailableError("not tried");
  for (const absl::Time deadline = absl::Now() + kTimeout; !fresh.ok() && absl::Now() < deadline;) {
    fresh = client::ChatClient::Connect("127.0.0.1", port, kTimeout, Trusting(ca2));
  }
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_TRUE((*fresh)->Hello("fresh", kTimeout).ok());
  EXPECT_TRUE((*old)->Ping(1, kTimeout).ok());  // the old connection lives on
  EXPECT_FALSE(client::ChatClient::Connect("127.0.0.1", port, kTimeout, Trusting(ca1)).ok());
  d.Signal(SIGTERM);
  const int status = d.Wait(absl::Seconds(5));
  ASSERT_NE(status, -1);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Muxchatd, TlsFlagsAreCheckedAtStartUp) {
  testing::TempDir dir;
  {
    Daemon half({"--listen=127.0.0.1:0", "--tls_cert=" + dir.path() + "/x.crt"});
    EXPECT_EQ(WEXITSTATUS(half.Wait(absl::Seconds(5))), 2);
  }
  {
    Daemon missing({"--listen=127.0.0.1:0", "--tls_cert=" + dir.path() + "/x.crt", "--tls_key=" + dir.path() + "/x.key"});
    EXPECT_EQ(WEXITSTATUS(missing.Wait(absl::Seconds(5))), 1);
  }
  {
    Daemon require({"--listen=127.0.0.1:0", "--require_tls"});
    EXPECT_EQ(WEXITSTATUS(require.Wait(absl::Seconds(5))), 1);
  }
}

}  // namespace
}  // namespace muxchat
