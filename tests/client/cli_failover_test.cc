// The muxchat CLI with several servers (`--server A,B`), against real
// muxchatd processes on loopback port 0: the first connect takes the first
// entry that answers; when the connected node is killed (SIGKILL), --listen,
// stdin lines and the interactive line mode move to the next entry, join
// their rooms there and say where they went; the login token is kept under
// every entry, so one kept for one entry is offered on another; a bad list
// is a usage error. The full-screen mode runs in tmux, the line mode in a pty.
// With a real redis-server the two nodes are one cluster (--cluster_redis):
// a --listen guest of the killed node continues on the other one with every
// message once.
//
// Without a cluster the two nodes share nothing: rooms are created on both
// and only what the client does is tested (what it prints after the move
// is what was said on the node it moved to). Waits are for output or
// events, never sleeps.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/client/atomic_file.h"
#include "src/client/chat_client.h"
#include "src/client/token_store.h"
#include "tests/client/cli_process.h"
#include "tests/client/temp_dir.h"
#include "tests/client/tmux_terminal.h"

namespace muxchat::testing {
namespace {

using client::ChatClient;

constexpr char kPassword[] = "correct horse battery";

std::string Address(uint16_t port) { return absl::StrCat("127.0.0.1:", port); }

// A loopback port nothing listens on: a socket bound to it (so no one else
// takes it while the test runs) that never listens, so connecting is refused.
class ClosedPort {
 public:
  ClosedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~ClosedPort() { ::close(fd_); }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A guest on one node, in `room` (created there). Nodes without a cluster
// number their rooms from 1 each, so the second node's `room` is made to
// have another ID (a room created before it): the client then sees a new
// room, not "the same room" with another history, as a cluster would give.
class Member {
 public:
  Member(uint16_t port, const std::string& nick, const std::string& room, bool another_id = false) {
    client_ = Login(port, nick);
    if (client_ == nullptr) return;
    if (another_id) {
      EXPECT_TRUE(client_->CreateRoom(room + "-before", kWait).ok());
    }
    auto created = client_->CreateRoom(room, kWait);
    EXPECT_TRUE(created.ok()) << created.status();
    auto joined = client_->JoinRoom(room, kWait);
    EXPECT_TRUE(joined.ok()) << joined.status();
    if (joined.ok()) room_id_ = joined->room_id();
  }
  bool Say(const std::string& text) {
    return client_ != nullptr && client_->SendAndWait(room_id_, text, kWait).ok();
  }
  bool AwaitJoin(const std::string& nick) {
    return client_ != nullptr && AwaitEvent(*client_, [&](const v1::ServerFrame& f) {
             return f.has_member_joined() && f.member_joined().nickname() == nick;
           });
  }
  bool AwaitText(const std::string& text) {
    return client_ != nullptr && AwaitEvent(*client_, [&](const v1::ServerFrame& f) {
             return f.has_chat_message() && f.chat_message().text() == text;
           });
  }

 private:
  std::unique_ptr<ChatClient> client_;
  uint64_t room_id_ = 0;
};

// The set-up of every test that kills a node under a client: two unrelated
// daemons, A (killable) and B, each with a member in room "r" (B's under
// another ID), and the client's arguments listing A then B.
struct TwoNodes {
  std::unique_ptr<Daemon> a = std::make_unique<Daemon>();
  Daemon b;
  Member on_a{a->port(), "talker_a", "r"};
  Member on_b{b.port(), "talker_b", "r", /*another_id=*/true};

  // --server A,B --nick `nick` --room r, then `more`.
  std::vector<std::string> Args(const std::string& nick, std::vector<std::string> more = {}) const {
    std::vector<std::string> args = {"--server", absl::StrCat(Address(a->port()), ",", Address(b.port())),
                                     "--nick", nick, "--room", "r"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
};

TEST(CliFailover, ListenMovesToTheNextServerWhenItsNodeIsKilledAndRejoinsThere) {
  TwoNodes n;
  CliProcess listener(n.Args("ears", {"--listen"}));
  ASSERT_TRUE(n.on_a.AwaitJoin("ears"));  // the first entry answered
  ASSERT_TRUE(n.on_a.Say("before"));
  ASSERT_TRUE(listener.ReadLines(1, kWait)) << listener.out() << listener.err();

  n.a->Kill();
  ASSERT_TRUE(n.on_b.AwaitJoin("ears")) << listener.err();  // moved to B and rejoined r there
  ASSERT_TRUE(n.on_b.Say("after"));
  ASSERT_TRUE(listener.ReadLines(2, kWait)) << listener.out() << listener.err();
  listener.Signal(SIGTERM);
  EXPECT_EQ(listener.Finish(), 0) << listener.err();
  EXPECT_EQ(ListenedTexts(listener.out()), (std::vector<std::string>{"before", "after"})) << listener.out();
  EXPECT_TRUE(absl::StrContains(listener.err(), absl::StrCat("reconnected to ", Address(n.b.port()))))
      << listener.err();
}

TEST(CliFailover, StdinLinesGoOnToTheNextServerAfterAKill) {
  TwoNodes n;
  CliProcess sender(n.Args("writer"));
  ASSERT_TRUE(n.on_a.AwaitJoin("writer"));
  sender.Write("one\n");
  ASSERT_TRUE(n.on_a.AwaitText("one"));
  n.a->Kill();
  ASSERT_TRUE(n.on_b.AwaitJoin("writer")) << sender.err();
  sender.Write("two\n");
  ASSERT_TRUE(n.on_b.AwaitText("two")) << sender.err();
  sender.CloseStdin();
  EXPECT_EQ(sender.Finish(), 0) << sender.err();
  EXPECT_TRUE(absl::StrContains(sender.err(), absl::StrCat("reconnected to ", Address(n.b.port())))) << sender.err();
}

TEST(CliFailover, AFirstEntryThatRefusesTheConnectionIsPassedOver) {
  ClosedPort closed;
  Daemon d;
  Member member(d.port(), "talker", "r");
  CliProcess p({"--server", absl::StrCat(Address(closed.port()), ",", Address(d.port())), "--nick", "once",
                "--room", "r", "--send", "hello"});
  EXPECT_EQ(p.Finish(), 0) << p.err();
  EXPECT_TRUE(member.AwaitText("hello"));
  // The refusal is said (the operator may want to know), naming that entry.
  EXPECT_TRUE(absl::StrContains(p.err(), absl::StrCat("connect to ", Address(closed.port())))) << p.err();
}

TEST(CliFailover, EveryEntryRefusingIsAConnectionFailureNamingEach) {
  ClosedPort first;
  ClosedPort second;
  CliProcess p({"--server", absl::StrCat(Address(first.port()), ",", Address(second.port())), "--list"});
  EXPECT_EQ(p.Finish(), 3) << p.err();
  EXPECT_TRUE(absl::StrContains(p.err(), Address(first.port()))) << p.err();
  EXPECT_TRUE(absl::StrContains(p.err(), Address(second.port()))) << p.err();
}

TEST(CliFailover, ABadServerListIsAUsageError) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--server", "127.0.0.1:1,,127.0.0.1:2", "--list"},
           {"--server", "127.0.0.1:1,127.0.0.1:x", "--list"},
           {"--server", "[::1:7000", "--list"},
           {"--server", "127.0.0.1:1", "127.0.0.1:2", "--list"},
       }) {
    CliProcess p(args);
    EXPECT_EQ(p.Finish(), 2) << args[1] << ": " << p.err();
    EXPECT_TRUE(absl::StrContains(p.err(), "see muxchat --help")) << p.err();
  }
}

// Registers ann through the CLI at 127.0.0.1:`port`; her token is kept under
// that entry in the config home `xdg` (XDG_CONFIG_HOME=...) names.
::testing::AssertionResult RegisterAnn(uint16_t port, const std::string& xdg) {
  CliProcess reg({Address(port), "--user", "ann", "--register", "--list"},
                 {xdg, absl::StrCat("MUXCHAT_PASSWORD=", kPassword)});
  const int code = reg.Finish();
  if (code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "muxchat --register exited " << code << ": " << reg.err();
}

TEST(CliFailover, ATokenKeptForOneEntryIsOfferedToAnother) {
  TempDir home;
  Daemon d;
  const std::string xdg = absl::StrCat("XDG_CONFIG_HOME=", home.path());
  ASSERT_TRUE(RegisterAnn(d.port(), xdg));
  // localhost:P is another entry (another key) for the same node: the token
  // kept under 127.0.0.1:P is what logs it in; there is no password at all.
  CliProcess p({"--server", absl::StrCat("localhost:", d.port(), ",", Address(d.port())), "--user", "ann", "--list"},
               {xdg});
  EXPECT_EQ(p.Finish(), 0) << p.err();
  EXPECT_FALSE(absl::StrContains(p.err(), "password")) << p.err();
}

TEST(CliFailover, ARefusedTokenOfOneEntryIsForgottenAndAnotherEntrysTokenTried) {
  TempDir home;
  Daemon d;
  const std::string xdg = absl::StrCat("XDG_CONFIG_HOME=", home.path());
  ASSERT_TRUE(RegisterAnn(d.port(), xdg));
  client::TokenStore store(home.File("muxchat/tokens"));
  const std::string other = absl::StrCat("localhost:", d.port());
  ASSERT_TRUE(store.Put(other, "ann", client::StoredToken{"revoked-long-ago", 0}).ok());
  auto good = store.Find(Address(d.port()), "ann", 0);
  ASSERT_TRUE(good.ok() && good->has_value());

  // The first entry's token is refused; the second entry's logs in (no password given).
  CliProcess p({"--server", absl::StrCat(other, ",", Address(d.port())), "--user", "ann", "--list"}, {xdg});
  EXPECT_EQ(p.Finish(), 0) << p.err();
  EXPECT_FALSE(absl::StrContains(p.err(), "password")) << p.err();
  // The one that works is now kept under both entries.
  for (const std::string& key : {other, Address(d.port())}) {
    auto kept = store.Find(key, "ann", 0);
    ASSERT_TRUE(kept.ok()) << kept.status();
    ASSERT_TRUE(kept->has_value()) << key;
    EXPECT_EQ((*kept)->token, (*good)->token) << key;
  }
}

TEST(CliFailover, ALoginThroughAListKeepsTheTokenUnderEveryEntry) {
  TempDir home;
  ClosedPort closed;
  Daemon d;
  CliProcess reg({"--server", absl::StrCat(Address(closed.port()), ",", Address(d.port())), "--user", "ann",
                  "--register", "--list"},
                 {absl::StrCat("XDG_CONFIG_HOME=", home.path()), absl::StrCat("MUXCHAT_PASSWORD=", kPassword)});
  ASSERT_EQ(reg.Finish(), 0) << reg.err();
  auto tokens = client::ReadWholeFile(home.File("muxchat/tokens"));
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_TRUE(absl::StrContains(*tokens, absl::StrCat(Address(closed.port()), "\tann\t"))) << *tokens;
  EXPECT_TRUE(absl::StrContains(*tokens, absl::StrCat(Address(d.port()), "\tann\t"))) << *tokens;
}

// ------------------------------------------------------------ cluster

// A real redis-server (Debian redis-server) on a free loopback port, without
// persistence, for two muxchatd nodes to share; killed by its PID.
class RedisChild : public Child {
 public:
  static bool Available() { return ::access("/usr/bin/redis-server", X_OK) == 0; }
  RedisChild() {
    for (int attempt = 0; attempt < 3 && port_ == 0; ++attempt) {
      const uint16_t port = ClosedPort().port();  // free a moment ago; Redis says if it is taken since
      if (Start(port)) port_ = port;
    }
    EXPECT_NE(port_, 0) << "redis-server did not start";
  }
  uint16_t port() const { return port_; }

 private:
  bool Start(uint16_t port) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return false;
    std::vector<std::string> args = {"--port", absl::StrCat(port), "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no", "--logfile", "", "--protected-mode", "no"};
    std::string path = "/usr/bin/redis-server";
    reaped_ = false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      auto argv = Argv(path, args);
      ::execv(path.c_str(), argv.data());
      _exit(127);
    }
    ::close(out[1]);
    std::string log;
    ReadUntil(out[0], &log, [&] { return absl::StrContains(log, "Ready to accept connections"); }, absl::Now() + kWait);
    ::close(out[0]);
    if (absl::StrContains(log, "Ready to accept connections")) return true;
    Kill();  // it exited (port taken) or hung: ours, by PID
    return false;
  }
  uint16_t port_ = 0;
};

// muxchatd on 127.0.0.1 port 0 as a node of the cluster in `redis`, ready
// once its log says the room registry is loaded (before that it refuses
// room changes: its Redis link is not up yet). Its log (info: a few lines
// per connection, bounded in these tests) stays in a pipe read at the end.
class ClusterNode : public Child {
 public:
  explicit ClusterNode(uint16_t redis_port) {
    std::vector<std::string> args = {"--listen=127.0.0.1:0", "--log_level=info",
                                     absl::StrCat("--cluster_redis=127.0.0.1:", redis_port)};
    int out[2];
    int err[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      std::string path = MUXCHATD_PATH;
      auto argv = Argv(path, args);
      ::execv(path.c_str(), argv.data());
      _exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    log_fd_ = err[0];
    std::string line;
    ReadUntil(out[0], &line, [&] { return line.find('\n') != std::string::npos; }, absl::Now() + kWait);
    ::close(out[0]);
    const size_t colon = line.rfind(':');
    uint32_t port = 0;
    if (colon != std::string::npos && absl::SimpleAtoi(line.substr(colon + 1, line.find('\n') - colon - 1), &port)) {
      port_ = static_cast<uint16_t>(port);
    }
    EXPECT_NE(port_, 0) << "muxchatd start-up line: " << line;
    EXPECT_TRUE(ReadUntil(log_fd_, &log_, [&] { return absl::StrContains(log_, "rooms in the registry"); },
                          absl::Now() + kWait))
        << log_;
  }
  ~ClusterNode() {
    Kill();
    ::close(log_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  int log_fd_ = -1;
  std::string log_;
};

TEST(CliFailoverCluster, ListenOfAKilledNodeContinuesOnAnotherWithEveryMessageOnce) {
  if (!RedisChild::Available()) GTEST_SKIP() << "no /usr/bin/redis-server (scripts/install-deps.sh installs it)";
  RedisChild redis;
  ASSERT_NE(redis.port(), 0);
  auto a = std::make_unique<ClusterNode>(redis.port());
  ClusterNode b(redis.port());
  auto watcher = Login(a->port(), "watcher");  // sees the listener arrive on A
  ASSERT_NE(watcher, nullptr);
  Member talker(b.port(), "talker", "r");      // creates r for the whole cluster
  ASSERT_TRUE(watcher->JoinRoom("r", kWait).ok());
  CliProcess listener({"--server", absl::StrCat(Address(a->port()), ",", Address(b.port())), "--nick", "ears",
                       "--room", "r", "--listen"});
  ASSERT_TRUE(AwaitEvent(*watcher, [](const v1::ServerFrame& f) {
    return f.has_member_joined() && f.member_joined().nickname() == "ears";
  }));
  for (const char* m : {"m1", "m2", "m3"}) ASSERT_TRUE(talker.Say(m));
  ASSERT_TRUE(listener.ReadLines(3, kWait)) << listener.out() << listener.err();

  a->Kill();
  for (const char* m : {"m4", "m5", "m6"}) ASSERT_TRUE(talker.Say(m));  // while it is away (backoff): caught up
  ASSERT_TRUE(talker.AwaitJoin("ears")) << listener.err();              // on B now
  ASSERT_TRUE(talker.Say("m7"));                                        // live again
  ASSERT_TRUE(listener.ReadLines(7, kWait)) << listener.out() << listener.err();
  listener.Signal(SIGTERM);
  EXPECT_EQ(listener.Finish(), 0) << listener.err();
  EXPECT_EQ(ListenedTexts(listener.out()), (std::vector<std::string>{"m1", "m2", "m3", "m4", "m5", "m6", "m7"}))
      << listener.out();
  EXPECT_TRUE(absl::StrContains(listener.err(), absl::StrCat("reconnected to ", Address(b.port()))))
      << listener.err();
}

// ------------------------------------------------------------ interactive

TEST(CliFailoverInteractive, LineModeSaysWhichServerItMovedToAndChatsThere) {
  TwoNodes n;
  PtyProcess g(n.Args("g"));
  ASSERT_TRUE(g.Expect(absl::StrCat("connected to 127.0.0.1 port ", n.a->port()))) << g.failure();
  ASSERT_TRUE(g.Expect("[r]> ")) << g.failure();
  ASSERT_TRUE(n.on_a.AwaitJoin("g"));
  n.a->Kill();
  ASSERT_TRUE(g.Expect("reconnecting")) << g.failure();
  ASSERT_TRUE(g.Expect(absl::StrCat("reconnected to ", Address(n.b.port())))) << g.failure();
  ASSERT_TRUE(g.Expect("reconnected to r, 0 missed messages")) << g.failure();
  ASSERT_TRUE(n.on_b.AwaitJoin("g"));
  ASSERT_TRUE(n.on_b.Say("hello from b"));
  ASSERT_TRUE(g.Expect("<talker_b> hello from b")) << g.failure();
  g.Type("hi b\r");
  ASSERT_TRUE(n.on_b.AwaitText("hi b"));
  g.Signal(SIGINT);
  EXPECT_EQ(g.ExitCode(kWait), 0);
}

TEST(CliFailoverFullscreen, SaysWhichServerItMovedToAndTheStatusTitleNamesIt) {
  TwoNodes n;
  TmuxTerminal t(n.Args("g"), 100, 30, {"NO_COLOR=1"});
  ASSERT_TRUE(n.on_a.AwaitJoin("g")) << t.last_screen();
  ASSERT_TRUE(t.WaitForText("2 members | you are g")) << t.last_screen();  // r's window in front
  n.a->Kill();
  ASSERT_TRUE(n.on_b.AwaitJoin("g")) << t.last_screen();
  ASSERT_TRUE(n.on_b.Say("hello from b"));
  // B's r is another room (another ID): a new window, still in front.
  ASSERT_TRUE(t.WaitForText("hello from b")) << t.last_screen();
  t.Keys({"M-1"});  // the status window says where it went, and its title names the server
  ASSERT_TRUE(t.WaitForText(absl::StrCat("reconnected to ", Address(n.b.port())))) << t.last_screen();
  ASSERT_TRUE(t.WaitForText(absl::StrCat("g@", Address(n.b.port()), " | status"))) << t.last_screen();
  t.Keys({"C-c"});
  EXPECT_EQ(t.AwaitExit(), 0);
  EXPECT_TRUE(t.TerminalRestored());
}

}  // namespace
}  // namespace muxchat::testing
