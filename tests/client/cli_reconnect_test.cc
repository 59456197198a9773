// The muxchat CLI across lost connections and restarts, against the real
// muxchatd on a --data_dir that survives it being killed (SIGKILL by PID)
// and started again on the same port: `--listen --cursor` prints every
// message exactly once across server kills and its own restarts (as a guest,
// catching up with History, and as an account, with Resume and the kept
// token), and the interactive line mode asks the password without echo,
// reconnects and says per room what it missed.
//
// Waits are for output or events, never sleeps; to make "messages sent while
// the client was away" deterministic, the interactive client is stopped
// (SIGSTOP) across the server's restart and the sends, then continued.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "src/client/atomic_file.h"
#include "src/client/chat_client.h"
#include "tests/client/cli_process.h"
#include "tests/client/temp_dir.h"
#include "tests/client/tmux_terminal.h"

namespace muxchat::testing {
namespace {

using client::ChatClient;

constexpr char kPassword[] = "correct horse battery";

// muxchatd keeping its state in `dir`; Restart() kills it (SIGKILL) and
// starts it again on the same port and directory.
class DurableDaemon {
 public:
  explicit DurableDaemon(const std::string& dir, std::vector<std::string> extra = {})
      : dir_(dir), extra_(std::move(extra)) {
    Start("127.0.0.1:0");
    port_ = daemon_->port();
  }
  void Restart() {
    daemon_->Kill();
    daemon_.reset();
    Start(absl::StrCat("127.0.0.1:", port_));
    EXPECT_EQ(daemon_->port(), port_);
  }
  uint16_t port() const { return port_; }

 private:
  void Start(const std::string& listen) {
    std::vector<std::string> args = {absl::StrCat("--listen=", listen), absl::StrCat("--data_dir=", dir_)};
    args.insert(args.end(), extra_.begin(), extra_.end());
    daemon_ = std::make_unique<Daemon>(args);
  }
  std::string dir_;
  std::vector<std::string> extra_;
  std::unique_ptr<Daemon> daemon_;
  uint16_t port_ = 0;
};

// A guest in `room` sending numbered messages; Reconnect() after a restart.
class Talker {
 public:
  Talker(uint16_t port, const std::string& room, bool create) : port_(port), room_(room) {
    Reconnect(create);
  }
  void Reconnect(bool create = false) {
    client_ = Login(port_, "talker");
    ASSERT_NE(client_, nullptr);
    if (create) {
      ASSERT_TRUE(client_->CreateRoom(room_, kWait).ok());
    }
    auto joined = client_->JoinRoom(room_, kWait);
    ASSERT_TRUE(joined.ok()) << joined.status();
    room_id_ = joined->room_id();
  }
  void Say(int from, int to) {
    for (int i = from; i <= to; ++i) {
      auto sent = client_->SendAndWait(room_id_, absl::StrCat("m", i), kWait);
      ASSERT_TRUE(sent.ok()) << sent.status();
    }
  }
  // Waits until `nick` is seen joining (a listener that is back).
  ChatClient* client() { return client_.get(); }
  bool AwaitJoin(const std::string& nick) {
    return AwaitEvent(*client_, [&](const v1::ServerFrame& f) {
      return f.has_member_joined() && f.member_joined().nickname() == nick;
    });
  }

 private:
  uint16_t port_;
  std::string room_;
  uint64_t room_id_ = 0;
  std::unique_ptr<ChatClient> client_;
};

std::vector<std::string> Numbered(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(absl::StrCat("m", i));
  return out;
}

std::vector<std::string> ListenArgs(uint16_t port, const std::string& cursor, std::vector<std::string> who) {
  std::vector<std::string> args = {"--port", absl::StrCat(port), "--room", "r", "--listen", "--cursor", cursor};
  args.insert(args.end(), who.begin(), who.end());
  return args;
}

// The scenario both listeners go through: messages live; the server killed
// and restarted while more are sent; the listener stopped; messages sent
// while it is away; the listener started again from its cursor file.
void RunListenerScenario(const std::vector<std::string>& who, const std::vector<std::string>& env_first,
                         const std::vector<std::string>& env_later, const std::string& nick) {
  TempDir dir;
  DurableDaemon d(dir.File("data"));
  Talker talker(d.port(), "r", /*create=*/true);
  const std::string cursor = dir.File("cursor");
  std::string all;
  {
    CliProcess listener(ListenArgs(d.port(), cursor, who), env_first);
    ASSERT_TRUE(talker.AwaitJoin(nick));
    talker.Say(1, 3);
    ASSERT_TRUE(listener.ReadLines(3, kWait)) << listener.out() << listener.err();

    d.Restart();
    talker.Reconnect();
    talker.Say(4, 6);  // maybe before the listener is back: it catches up
    ASSERT_TRUE(listener.ReadLines(6, kWait)) << listener.out() << listener.err();
    talker.Say(7, 7);  // live again
    ASSERT_TRUE(listener.ReadLines(7, kWait)) << listener.out() << listener.err();
    listener.Signal(SIGTERM);
    EXPECT_EQ(listener.Finish(), 0) << listener.err();
    EXPECT_NE(listener.err().find("reconnected"), std::string::npos) << listener.err();
    all += listener.out();
  }
  talker.Say(8, 10);  // nobody listening
  {
    CliProcess listener(ListenArgs(d.port(), cursor, who), env_later);
    ASSERT_TRUE(listener.ReadLines(3, kWait)) << listener.out() << listener.err();
    ASSERT_TRUE(talker.AwaitJoin(nick));
    talker.Say(11, 11);
    ASSERT_TRUE(listener.ReadLines(4, kWait)) << listener.out() << listener.err();
    listener.Signal(SIGTERM);
    EXPECT_EQ(listener.Finish(), 0) << listener.err();
    all += listener.out();
  }
  EXPECT_EQ(ListenedTexts(all), Numbered(1, 11)) << all;
  EXPECT_EQ(all.find("history"), std::string::npos) << "caught-up lines print like live ones:\n" << all;
}

TEST(CliListenCursor, GuestPrintsEveryMessageOnceAcrossAServerKillAndItsOwnRestart) {
  RunListenerScenario({"--nick", "ears"}, {}, {}, "ears");
}

TEST(CliListenCursor, AccountPrintsEveryMessageOnceAndTheSecondRunUsesTheKeptToken) {
  TempDir home;
  const std::string xdg = absl::StrCat("XDG_CONFIG_HOME=", home.path());
  // First run: registers with the password from the environment. Later
  // runs have no password at all: only the kept token can log them in.
  RunListenerScenario({"--user", "ears", "--register"},
                      {xdg, absl::StrCat("MUXCHAT_PASSWORD=", kPassword)}, {xdg}, "ears");
  struct stat st {};
  ASSERT_EQ(::stat(home.File("muxchat/tokens").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(CliListenCursor, ACursorFileThatIsNotOneIsRefusedAndLeftAlone) {
  TempDir dir;
  DurableDaemon d(dir.File("data"));
  const std::string notes = dir.File("notes");
  {
    FILE* f = std::fopen(notes.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("my notes\n", f);
    std::fclose(f);
  }
  CliProcess listener(ListenArgs(d.port(), notes, {"--nick", "ears"}));
  EXPECT_EQ(listener.Finish(), 2);
  EXPECT_NE(listener.err().find("not a muxchat cursor file"), std::string::npos) << listener.err();
}

// Every text stored in `room`, oldest first (History from seq 0).
std::vector<std::string> StoredTexts(uint16_t port, const std::string& room) {
  auto c = Login(port, "auditor");
  std::vector<std::string> texts;
  if (c == nullptr) return texts;
  auto joined = c->JoinRoom(room, kWait);
  EXPECT_TRUE(joined.ok()) << joined.status();
  if (!joined.ok()) return texts;
  v1::History query;
  query.set_after_seq(0);
  auto reply = c->History(joined->room_id(), query, kWait);
  EXPECT_TRUE(reply.ok()) << reply.status();
  if (!reply.ok()) return texts;
  // The join's own replay comes first; the page follows its Reply.
  size_t want = reply->history_count();
  std::vector<std::string> page;
  AwaitEvent(*c, [&](const v1::ServerFrame& f) {
    if (f.has_chat_message() && f.chat_message().replay()) page.push_back(f.chat_message().text());
    return page.size() >= joined->history_count() + want;
  });
  texts.assign(page.begin() + static_cast<long>(std::min<size_t>(joined->history_count(), page.size())), page.end());
  return texts;
}

TEST(CliStdinLines, ReconnectAfterAServerKillStoresEveryLineExactlyOnce) {
  TempDir dir;
  DurableDaemon d(dir.File("data"));
  Talker talker(d.port(), "r", /*create=*/true);
  CliProcess sender({"--port", absl::StrCat(d.port()), "--nick", "writer", "--room", "r"});
  ASSERT_TRUE(talker.AwaitJoin("writer"));
  std::string lines;
  for (int i = 1; i <= 20; ++i) absl::StrAppend(&lines, "m", i, "\n");
  sender.Write(lines);
  ASSERT_TRUE(AwaitEvent(*talker.client(), [](const v1::ServerFrame& f) {
    return f.has_chat_message() && f.chat_message().text() == "m20";
  }));
  d.Restart();  // the sender may have nothing in flight, or some: either way nothing is lost or doubled
  lines.clear();
  for (int i = 21; i <= 40; ++i) absl::StrAppend(&lines, "m", i, "\n");
  sender.Write(lines);
  sender.CloseStdin();
  EXPECT_EQ(sender.Finish(absl::Seconds(20)), 0) << sender.err();
  EXPECT_NE(sender.err().find("reconnected"), std::string::npos) << sender.err();
  EXPECT_EQ(StoredTexts(d.port(), "r"), Numbered(1, 40));
}

// ------------------------------------------------------------ interactive

// A newcomer who logs in before registering is told how to register.
TEST(CliAccountInteractive, ARefusedLoginSaysHowToRegister) {
  TempDir dir;
  DurableDaemon d(dir.File("data"));
  PtyProcess bea({"127.0.0.1", absl::StrCat(d.port()), "--user", "bea"}, false, 200,
                 {absl::StrCat("XDG_CONFIG_HOME=", dir.path())});
  const std::string prompt = absl::StrCat("password for bea@127.0.0.1:", d.port(), ": ");
  ASSERT_TRUE(bea.Expect(prompt)) << bea.failure();
  bea.Type(std::string(kPassword) + "\r");
  ASSERT_TRUE(bea.Expect("login refused: wrong account name or password; try again")) << bea.failure();
  ASSERT_TRUE(bea.Expect("with --register")) << bea.failure();
  ASSERT_TRUE(bea.Expect(prompt)) << bea.failure();
  bea.Type("\x03");  // Ctrl+C at the prompt: a clean exit, not a death by signal
  EXPECT_NE(bea.ExitCode(absl::Seconds(5)), -1);
}

TEST(CliAccountInteractive, ANewPasswordIsAskedTwiceAndMayTakeLongerThanTheServerWaits) {
  TempDir dir;
  DurableDaemon d(dir.File("data"), {"--handshake_timeout=200ms"});
  PtyProcess ann({"127.0.0.1", absl::StrCat(d.port()), "--user", "ann", "--register"}, false, 200,
                 {absl::StrCat("XDG_CONFIG_HOME=", dir.path())});
  const std::string prompt = absl::StrCat("new password for ann@127.0.0.1:", d.port(), ": ");
  ASSERT_TRUE(ann.Expect(prompt)) << ann.failure();
  ann.Type(std::string(kPassword) + "\r");
  ASSERT_TRUE(ann.Expect("the same password again: ")) << ann.failure();
  ann.Type("a typo in it\r");
  ASSERT_TRUE(ann.Expect("the two passwords differ; try again")) << ann.failure();
  ASSERT_TRUE(ann.Expect(prompt)) << ann.failure();
  // Slower than the server waits for a login: it closes the connection meanwhile.
  ASSERT_TRUE(AwaitLoginTimeouts(d.port(), 1));
  ann.Type(std::string(kPassword) + "\r");
  ASSERT_TRUE(ann.Expect("the same password again: ")) << ann.failure();
  ann.Type(std::string(kPassword) + "\r");
  ASSERT_TRUE(ann.Expect("logged in as ann")) << ann.failure();
  EXPECT_EQ(ann.output().find(kPassword), std::string::npos) << "the password was echoed";
  EXPECT_EQ(ann.output().find("no Hello"), std::string::npos) << ann.output();
  ann.Type("quit\r");
  EXPECT_EQ(ann.ExitCode(absl::Seconds(5)), 0);
  // The account has the password typed twice, not the typo.
  CliProcess list({"--port", absl::StrCat(d.port()), "--user", "ann", "--list"},
                  {absl::StrCat("XDG_CONFIG_HOME=", dir.File("elsewhere")), absl::StrCat("MUXCHAT_PASSWORD=", kPassword)});
  EXPECT_EQ(list.Finish(), 0) << list.err();
}

TEST(CliAccountInteractive, AsksThePasswordWithoutEchoThenReconnectsAndCountsWhatItMissed) {
  TempDir dir;
  DurableDaemon d(dir.File("data"), {"--history=3"});
  const std::string xdg = absl::StrCat("XDG_CONFIG_HOME=", dir.path());
  {
    // Its token goes elsewhere: the interactive run below has none and must ask.
    CliProcess reg({"--port", absl::StrCat(d.port()), "--user", "ann", "--register", "--create", "r"},
                   {absl::StrCat("XDG_CONFIG_HOME=", dir.File("elsewhere")), absl::StrCat("MUXCHAT_PASSWORD=", kPassword)});
    ASSERT_EQ(reg.Finish(), 0) << reg.err();
  }
  Talker talker(d.port(), "r", /*create=*/false);
  PtyProcess ann({"127.0.0.1", absl::StrCat(d.port()), "--user", "ann", "--room", "r"}, false, 200, {xdg});
  ASSERT_TRUE(ann.Expect(absl::StrCat("password for ann@127.0.0.1:", d.port(), ": "))) << ann.failure();
  ann.Type(std::string(kPassword) + "\r");
  ASSERT_TRUE(ann.Expect("logged in as ann")) << ann.failure();
  EXPECT_EQ(ann.output().find(kPassword), std::string::npos) << "the password was echoed";
  ASSERT_TRUE(ann.Expect("[r]> ")) << ann.failure();
  talker.Say(1, 1);
  ASSERT_TRUE(ann.Expect("<talker> m1")) << ann.failure();

  // Away while the server restarts and two messages are sent: within the
  // resume replay (--history=3), so all of them come back.
  ann.Signal(SIGSTOP);
  d.Restart();
  talker.Reconnect();
  talker.Say(2, 3);
  ann.Signal(SIGCONT);
  ASSERT_TRUE(ann.Expect("reconnecting")) << ann.failure();
  ASSERT_TRUE(ann.Expect("reconnected to r, 2 missed messages")) << ann.failure();
  ASSERT_TRUE(ann.Expect("<talker> m3")) << ann.failure();

  // Away for more than the replay bound: a gap, and /history pages it.
  ann.Signal(SIGSTOP);
  d.Restart();
  talker.Reconnect();
  talker.Say(4, 8);
  ann.Signal(SIGCONT);
  ASSERT_TRUE(ann.Expect("r: 5 missed; /history to page")) << ann.failure();
  ASSERT_TRUE(ann.Expect("<talker> m8")) << ann.failure();
  ann.Type("/history 2\r");
  ASSERT_TRUE(ann.Expect("history of r: 2 older messages")) << ann.failure();
  ASSERT_TRUE(ann.Expect("<talker> m5")) << ann.failure();
  ASSERT_TRUE(ann.Expect("end of the history page")) << ann.failure();

  // Messages typed (and sent) after the reconnect work as before.
  ann.Type("still here\r");
  ASSERT_TRUE(ann.Expect("<ann> still here")) << ann.failure();
  ann.Signal(SIGINT);
  EXPECT_EQ(ann.ExitCode(kWait), 0);
}

// The pid of muxchat inside a tmux pane (the pane runs sh, whose child it is).
pid_t MuxchatInPane(TmuxTerminal& t) {
  const std::string shell = t.Format("#{pane_pid}");
  auto children = client::ReadWholeFile(absl::StrCat("/proc/", shell, "/task/", shell, "/children"));
  if (!children.ok()) return -1;
  int pid = -1;
  std::vector<std::string> pids = absl::StrSplit(*children, ' ', absl::SkipWhitespace());
  if (pids.empty() || !absl::SimpleAtoi(pids.front(), &pid)) return -1;
  return pid;
}

TEST(CliAccountFullscreen, ReconnectsInTmuxAndShowsTheMissedMessagesLine) {
  TempDir dir;
  DurableDaemon d(dir.File("data"));
  const std::string xdg = absl::StrCat("XDG_CONFIG_HOME=", dir.path());
  {
    CliProcess reg({"--port", absl::StrCat(d.port()), "--user", "ann", "--register", "--create", "r"},
                   {xdg, absl::StrCat("MUXCHAT_PASSWORD=", kPassword)});
    ASSERT_EQ(reg.Finish(), 0) << reg.err();
  }
  Talker talker(d.port(), "r", /*create=*/false);
  // The kept token logs in: no password anywhere.
  TmuxTerminal t({"127.0.0.1", absl::StrCat(d.port()), "--user", "ann", "--room", "r"}, 100, 30,
                 {"NO_COLOR=1", xdg});
  // The Resume reopens r's window (the room is the account's) and makes it active.
  ASSERT_TRUE(t.WaitForText("r | 2 members | you are ann")) << t.last_screen();
  ASSERT_TRUE(t.WaitForText("joined r")) << t.last_screen();
  talker.Say(1, 1);
  ASSERT_TRUE(t.WaitForText("m1")) << t.last_screen();
  const pid_t muxchat = MuxchatInPane(t);
  ASSERT_GT(muxchat, 0);
  ::kill(muxchat, SIGSTOP);
  d.Restart();
  talker.Reconnect();
  talker.Say(2, 3);
  ::kill(muxchat, SIGCONT);
  ASSERT_TRUE(t.WaitForText("reconnected, 2 missed messages")) << t.last_screen();
  ASSERT_TRUE(t.WaitForText("m3")) << t.last_screen();
  t.Type("back again");
  t.Keys({"Enter"});
  ASSERT_TRUE(AwaitEvent(*talker.client(), [](const v1::ServerFrame& f) {
    return f.has_chat_message() && f.chat_message().text() == "back again";
  }));
  t.Keys({"C-c"});
  EXPECT_EQ(t.AwaitExit(), 0);
  EXPECT_TRUE(t.TerminalRestored());
}

TEST(CliAccountInteractive, CtrlCDuringTheBackoffExitsCleanly) {
  TempDir dir;
  auto d = std::make_unique<DurableDaemon>(dir.File("data"));
  PtyProcess guest({"127.0.0.1", absl::StrCat(d->port()), "--nick", "g"});
  ASSERT_TRUE(guest.Expect("logged in as g")) << guest.failure();
  d.reset();  // gone for good: the client keeps trying
  ASSERT_TRUE(guest.Expect("reconnecting")) << guest.failure();
  guest.Type("typed while away");
  guest.Signal(SIGINT);
  EXPECT_EQ(guest.ExitCode(kWait), 0);
}

TEST(CliAccountInteractive, LogoutForgetsTheToken) {
  TempDir dir;
  DurableDaemon d(dir.File("data"));
  const std::string xdg = absl::StrCat("XDG_CONFIG_HOME=", dir.path());
  {
    CliProcess reg({"--port", absl::StrCat(d.port()), "--user", "ann", "--register", "--list"},
                   {xdg, absl::StrCat("MUXCHAT_PASSWORD=", kPassword)});
    ASSERT_EQ(reg.Finish(), 0) << reg.err();
  }
  auto tokens = client::ReadWholeFile(dir.File("muxchat/tokens"));
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_TRUE(absl::StrContains(*tokens, "\tann\t")) << *tokens;
  PtyProcess ann({"127.0.0.1", absl::StrCat(d.port()), "--user", "ann"}, false, 200, {xdg});
  ASSERT_TRUE(ann.Expect("logged in as ann")) << ann.failure();  // by the token: no password asked
  ann.Type("/logout\r");
  ASSERT_TRUE(ann.Expect("logged out")) << ann.failure();
  EXPECT_EQ(ann.ExitCode(kWait), 0);
  EXPECT_EQ(ann.output().find("password for"), std::string::npos);
  auto after = client::ReadWholeFile(dir.File("muxchat/tokens"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_FALSE(absl::StrContains(*after, "\tann\t")) << *after;
}

}  // namespace
}  // namespace muxchat::testing
