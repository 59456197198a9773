// Interactive mode of the muxchat CLI, driven through a pseudo-terminal
// (forkpty) against a real muxchatd; the other side is a second CLI on its
// own pty or a ChatClient.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "tests/client/cli_process.h"

namespace muxchat::testing {
namespace {

using client::ChatClient;

std::vector<std::string> Addr(uint16_t port, std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"127.0.0.1", absl::StrCat(port)};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// A CLI logged in as `nick` and sitting at the command prompt.
std::unique_ptr<PtyProcess> LoggedIn(uint16_t port, const std::string& nick, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--nick", nick};
  args.insert(args.end(), extra.begin(), extra.end());
  auto p = std::make_unique<PtyProcess>(Addr(port, args));
  EXPECT_TRUE(p->Expect(absl::StrCat("logged in as ", nick))) << p->failure();
  EXPECT_TRUE(p->Expect("muxchat> ")) << p->failure();
  return p;
}

// Asserts that the terminal is back in its normal (canonical, echoing) mode.
void ExpectTerminalRestored(const PtyProcess& p) {
  const tcflag_t lflag = p.LocalModes();
  EXPECT_EQ(lflag & (ICANON | ECHO), static_cast<tcflag_t>(ICANON | ECHO));
}

TEST(CliInteractive, AsksForANicknameThenCreateListJoin) {
  Daemon d;
  PtyProcess alice(Addr(d.port()));
  ASSERT_TRUE(alice.Expect("nickname: ")) << alice.failure();
  alice.Type("alice\r");
  ASSERT_TRUE(alice.Expect("logged in as alice")) << alice.failure();
  alice.Type("CREATE lobby\r");
  ASSERT_TRUE(alice.Expect("created room lobby")) << alice.failure();
  alice.Type("list\r");
  ASSERT_TRUE(alice.Expect("ROOM   MEMBERS  OWNER  MESSAGES  AGE\r\n")) << alice.failure();
  ASSERT_TRUE(alice.Expect("lobby        0  alice         0")) << alice.failure();
  alice.Type("/join lobby\r");
  ASSERT_TRUE(alice.Expect("joined lobby (1 member)")) << alice.failure();
  ASSERT_TRUE(alice.Expect("[lobby]> ")) << alice.failure();
  alice.Type("/quit\r");
  EXPECT_EQ(alice.ExitCode(absl::Seconds(2)), 0);
  ExpectTerminalRestored(alice);
}

TEST(CliInteractive, ANicknameChosenAfterTheServerGaveUpWaitingLogsInOnAFreshConnection) {
  Daemon d({"--handshake_timeout=200ms"});
  PtyProcess alice(Addr(d.port()));
  ASSERT_TRUE(alice.Expect("nickname: ")) << alice.failure();
  ASSERT_TRUE(AwaitLoginTimeouts(d.port(), 1));  // the person at the prompt took longer than the server waits
  alice.Type("alice\r");
  ASSERT_TRUE(alice.Expect("logged in as alice")) << alice.failure();
  EXPECT_EQ(alice.output().find("no Hello"), std::string::npos) << alice.output();
  alice.Type("create lobby\r");
  ASSERT_TRUE(alice.Expect("created room lobby")) << alice.failure();
  alice.Type("/quit\r");
  EXPECT_EQ(alice.ExitCode(absl::Seconds(2)), 0);
}

TEST(CliInteractive, TakenNicknameGetsAClearMessageAndAnotherTry) {
  Daemon d;
  auto holder = Login(d.port(), "zed");
  PtyProcess p(Addr(d.port(), {"--nick", "zed"}));
  ASSERT_TRUE(p.Expect("the nickname 'zed' is taken; choose another")) << p.failure();
  ASSERT_TRUE(p.Expect("nickname: ")) << p.failure();
  p.Type("zed2\r");
  ASSERT_TRUE(p.Expect("logged in as zed2")) << p.failure();
}

TEST(CliInteractive, TwoClientsChat) {
  Daemon d;
  auto alice = LoggedIn(d.port(), "alice");
  auto bob = LoggedIn(d.port(), "bob");
  alice->Type("create lobby\r");
  ASSERT_TRUE(alice->Expect("created room lobby")) << alice->failure();
  alice->Type("join lobby\r");
  ASSERT_TRUE(alice->Expect("[lobby]> ")) << alice->failure();
  bob->Type("JOIN lobby\r");
  ASSERT_TRUE(bob->Expect("joined lobby (2 members)")) << bob->failure();
  ASSERT_TRUE(alice->Expect("bob joined lobby (2 members)")) << alice->failure();
  bob->Type("hello alice\r");
  ASSERT_TRUE(alice->Expect("] <bob> hello alice")) << alice->failure();
  alice->Type("hi bob\r");
  ASSERT_TRUE(bob->Expect("] <alice> hi bob")) << bob->failure();
  bob->Type("/quit\r");
  EXPECT_EQ(bob->ExitCode(absl::Seconds(2)), 0);
  ASSERT_TRUE(alice->Expect("bob left lobby (disconnected; 1 member)")) << alice->failure();
}

TEST(CliInteractive, RefusalShowsTheServersReasonInOneLine) {
  Daemon d;
  auto alice = LoggedIn(d.port(), "alice");
  alice->Type("join nowhere\r");
  ASSERT_TRUE(alice->Expect("error: cannot join nowhere: no room named 'nowhere'; CREATE nowhere creates it\r\n"))
      << alice->failure();
  ASSERT_TRUE(alice->Expect("muxchat> ")) << alice->failure();
  alice->Type("frobnicate\r");
  ASSERT_TRUE(alice->Expect("error: unknown command 'frobnicate'")) << alice->failure();
}

TEST(CliInteractive, HistoryComesFirstMarkedAsHistory) {
  Daemon d;
  auto bob = Login(d.port(), "bob");
  ASSERT_TRUE(bob->CreateRoom("lobby", kWait).ok());
  auto joined = bob->JoinRoom("lobby", kWait);
  ASSERT_TRUE(joined.ok());
  ASSERT_TRUE(bob->SendAndWait(joined->room_id(), "old one", kWait).ok());
  ASSERT_TRUE(bob->SendAndWait(joined->room_id(), "old two", kWait).ok());
  auto alice = LoggedIn(d.port(), "alice");
  alice->Type("join lobby\r");
  ASSERT_TRUE(alice->Expect("history: the last 2 messages")) << alice->failure();
  ASSERT_TRUE(alice->Expect("history | [")) << alice->failure();
  ASSERT_TRUE(alice->Expect("<bob> old one")) << alice->failure();
  ASSERT_TRUE(alice->Expect("history | [")) << alice->failure();
  ASSERT_TRUE(alice->Expect("<bob> old two")) << alice->failure();
  ASSERT_TRUE(alice->Expect("end of history")) << alice->failure();
  ASSERT_TRUE(bob->SendAndWait(joined->room_id(), "live", kWait).ok());
  ASSERT_TRUE(alice->Expect("<bob> live")) << alice->failure();
  const size_t live = alice->output().rfind("<bob> live");
  EXPECT_EQ(alice->output().rfind("history | ", live), alice->output().rfind("history | [")) << "live line not marked";
  EXPECT_NE(alice->output().substr(live - 40, 40).find("\r\n["), std::string::npos);
}

TEST(CliInteractive, MessageArrivingMidTypingLeavesTheTypedTextIntact) {
  Daemon d;
  auto bob = Login(d.port(), "bob");
  ASSERT_TRUE(bob->CreateRoom("lobby", kWait).ok());
  auto joined = bob->JoinRoom("lobby", kWait);
  ASSERT_TRUE(joined.ok());
  auto alice = LoggedIn(d.port(), "alice");
  alice->Type("join lobby\r");
  ASSERT_TRUE(alice->Expect("[lobby]> ")) << alice->failure();
  ASSERT_TRUE(AwaitEvent(*bob, [](const v1::ServerFrame& f) { return f.has_member_joined(); }));
  alice->Type("half typed");
  ASSERT_TRUE(alice->Expect("half typed")) << alice->failure();
  ASSERT_TRUE(bob->SendAndWait(joined->room_id(), "interrupting!", kWait).ok());
  // The incoming line is printed on its own line, then the prompt and the
  // partial input are redrawn after it.
  ASSERT_TRUE(alice->Expect("] <bob> interrupting!\r\n")) << alice->failure();
  ASSERT_TRUE(alice->Expect("[lobby]> half typed")) << alice->failure();
  alice->Type(" and finished\r");
  std::string received;
  ASSERT_TRUE(AwaitEvent(*bob, [&](const v1::ServerFrame& f) {
    if (!f.has_chat_message() || f.chat_message().sender() != "alice") return false;
    received = f.chat_message().text();
    return true;
  }));
  EXPECT_EQ(received, "half typed and finished");
}

TEST(CliInteractive, NonAsciiTextIsSentAsTyped) {
  Daemon d;
  auto bob = Login(d.port(), "bob");
  ASSERT_TRUE(bob->CreateRoom("lobby", kWait).ok());
  ASSERT_TRUE(bob->JoinRoom("lobby", kWait).ok());
  auto alice = LoggedIn(d.port(), "alice");
  alice->Type("join lobby\r");
  ASSERT_TRUE(alice->Expect("[lobby]> ")) << alice->failure();
  alice->Type("caf\xc3\xa9 \xe2\x9c\x93\r");
  std::string received;
  ASSERT_TRUE(AwaitEvent(*bob, [&](const v1::ServerFrame& f) {
    if (!f.has_chat_message() || f.chat_message().sender() != "alice") return false;
    received = f.chat_message().text();
    return true;
  }));
  EXPECT_EQ(received, "caf\xc3\xa9 \xe2\x9c\x93");
}

TEST(CliInteractive, JoinASecondRoomMakesItActiveAndPrefixesTheOther) {
  Daemon d;
  auto bob = Login(d.port(), "bob");
  ASSERT_TRUE(bob->CreateRoom("first", kWait).ok());
  ASSERT_TRUE(bob->CreateRoom("second", kWait).ok());
  auto first = bob->JoinRoom("first", kWait);
  auto second = bob->JoinRoom("second", kWait);
  ASSERT_TRUE(first.ok() && second.ok());
  auto alice = LoggedIn(d.port(), "alice");
  alice->Type("join first\r");
  ASSERT_TRUE(alice->Expect("[first]> ")) << alice->failure();
  alice->Type("/join second\r");
  ASSERT_TRUE(alice->Expect("joined second")) << alice->failure();
  ASSERT_TRUE(alice->Expect("[second]> ")) << alice->failure();
  ASSERT_TRUE(bob->SendAndWait(first->room_id(), "in first", kWait).ok());
  ASSERT_TRUE(alice->Expect("[first] [")) << alice->failure();
  ASSERT_TRUE(alice->Expect("<bob> in first")) << alice->failure();
  ASSERT_TRUE(bob->SendAndWait(second->room_id(), "in second", kWait).ok());
  ASSERT_TRUE(alice->Expect("\r\n[")) << alice->failure();
  ASSERT_TRUE(alice->Expect("<bob> in second")) << alice->failure();
  EXPECT_EQ(alice->output().rfind("[second] ["), std::string::npos) << "active room is not prefixed";
  alice->Type("/rooms\r");
  ASSERT_TRUE(alice->Expect("your rooms: first second (active)")) << alice->failure();
  alice->Type("/switch first\r");
  ASSERT_TRUE(alice->Expect("[first]> ")) << alice->failure();
  alice->Type("back in first\r");
  ASSERT_TRUE(AwaitEvent(*bob, [&](const v1::ServerFrame& f) {
    return f.has_chat_message() && f.room_id() == first->room_id() && f.chat_message().text() == "back in first";
  }));
  alice->Type("/leave\r");
  ASSERT_TRUE(alice->Expect("left first")) << alice->failure();
  ASSERT_TRUE(alice->Expect("[second]> ")) << alice->failure();
}

TEST(CliInteractive, DeleteFromThePromptWarnsAMemberInside) {
  Daemon d;
  auto alice = LoggedIn(d.port(), "alice");
  auto bob = LoggedIn(d.port(), "bob");
  alice->Type("create doomed\r");
  ASSERT_TRUE(alice->Expect("created room doomed")) << alice->failure();
  bob->Type("join doomed\r");
  ASSERT_TRUE(bob->Expect("[doomed]> ")) << bob->failure();
  alice->Type("DELETE doomed\r");
  ASSERT_TRUE(alice->Expect("deleted room doomed")) << alice->failure();
  ASSERT_TRUE(bob->Expect("room doomed was deleted by alice")) << bob->failure();
  ASSERT_TRUE(bob->Expect("back at the command prompt")) << bob->failure();
  ASSERT_TRUE(bob->Expect("muxchat> ")) << bob->failure();
}

TEST(CliInteractive, CtrlCAtThePromptExitsZeroAtOnceAndRestoresTheTerminal) {
  Daemon d;
  auto alice = LoggedIn(d.port(), "alice");
  alice->Type("half");
  ASSERT_TRUE(alice->Expect("half")) << alice->failure();
  EXPECT_EQ(alice->LocalModes() & (ICANON | ECHO), 0u) << "the client should have the terminal in raw mode";
  alice->Type("\x03");
  EXPECT_EQ(alice->ExitCode(absl::Seconds(1)), 0);
  ExpectTerminalRestored(*alice);
}

TEST(CliInteractive, CtrlCAtTheNicknamePromptExitsZero) {
  Daemon d;
  PtyProcess p(Addr(d.port()));
  ASSERT_TRUE(p.Expect("nickname: ")) << p.failure();
  p.Type("\x03");
  EXPECT_EQ(p.ExitCode(absl::Seconds(1)), 0);
  ExpectTerminalRestored(p);
}

TEST(CliInteractive, CtrlCDuringARequestTheServerNeverAnswersExitsZeroAtOnce) {
  // A listener that never accepts: the kernel completes the connect, and
  // the client's Hello then waits for an answer that never comes.
  const int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(silent, 4), 0);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  PtyProcess p(Addr(ntohs(addr.sin_port), {"--nick", "alice"}));
  ASSERT_TRUE(p.Expect("connected to")) << p.failure();
  p.Type("\x03");
  EXPECT_EQ(p.ExitCode(absl::Seconds(1)), 0);
  ExpectTerminalRestored(p);
  ::close(silent);
}

TEST(CliInteractive, CtrlCInChatModeExitsZeroAndTheOthersSeeTheLeave) {
  Daemon d;
  auto bob = Login(d.port(), "bob");
  ASSERT_TRUE(bob->CreateRoom("lobby", kWait).ok());
  ASSERT_TRUE(bob->JoinRoom("lobby", kWait).ok());
  auto alice = LoggedIn(d.port(), "alice");
  alice->Type("join lobby\r");
  ASSERT_TRUE(alice->Expect("[lobby]> ")) << alice->failure();
  alice->Type("\x03");
  EXPECT_EQ(alice->ExitCode(absl::Seconds(1)), 0);
  ExpectTerminalRestored(*alice);
  EXPECT_TRUE(AwaitEvent(*bob, [](const v1::ServerFrame& f) {
    return f.has_member_left() && f.member_left().nickname() == "alice";
  }));
}

TEST(CliInteractive, CtrlDOnAnEmptyLineExitsZero) {
  Daemon d;
  auto alice = LoggedIn(d.port(), "alice");
  alice->Type("create r\r");
  ASSERT_TRUE(alice->Expect("created room r")) << alice->failure();
  alice->Type("join r\r");
  ASSERT_TRUE(alice->Expect("[r]> ")) << alice->failure();
  alice->Type("\x04");
  EXPECT_EQ(alice->ExitCode(absl::Seconds(1)), 0);
  ExpectTerminalRestored(*alice);
}

TEST(CliInteractive, CtrlDWithTextOnTheLineAlsoExitsZeroAtOnce) {
  Daemon d;
  auto alice = LoggedIn(d.port(), "alice");
  alice->Type("some text");
  ASSERT_TRUE(alice->Expect("some text")) << alice->failure();
  alice->Type("\x04");
  EXPECT_EQ(alice->ExitCode(absl::Seconds(1)), 0);
  ExpectTerminalRestored(*alice);
}

TEST(CliInteractive, ServerShutdownInChatModeWithoutReconnectIsReportedWithExit5) {
  Daemon d;
  auto alice = LoggedIn(d.port(), "alice", {"--no-reconnect"});
  alice->Type("create r\r");
  ASSERT_TRUE(alice->Expect("created room r")) << alice->failure();
  alice->Type("join r\r");
  ASSERT_TRUE(alice->Expect("[r]> ")) << alice->failure();
  d.Signal(SIGTERM);
  ASSERT_TRUE(alice->Expect("error: the server is shutting down")) << alice->failure();
  EXPECT_EQ(alice->ExitCode(absl::Seconds(2)), 5);
  ExpectTerminalRestored(*alice);
}

TEST(CliInteractive, ColourOnlyWithoutNoColor) {
  Daemon d;
  PtyProcess coloured(Addr(d.port(), {"--nick", "c1"}), /*colour=*/true);
  ASSERT_TRUE(coloured.Expect("logged in as c1")) << coloured.failure();
  EXPECT_NE(coloured.output().find("\x1b[33m-- logged in"), std::string::npos);
  PtyProcess plain(Addr(d.port(), {"--nick", "c2"}), /*colour=*/false);
  ASSERT_TRUE(plain.Expect("logged in as c2")) << plain.failure();
  EXPECT_NE(plain.output().find("\r\x1b[J-- logged in"), std::string::npos) << PtyProcess::Printable(plain.output());
}

TEST(CliInteractive, NamesAsksTheServerAndListsEveryMember) {
  Daemon daemon;
  auto bob = Login(daemon.port(), "bob");
  ASSERT_TRUE(bob->CreateRoom("lobby", kWait).ok());
  ASSERT_TRUE(bob->JoinRoom("lobby", kWait).ok());  // in before alice, and silent
  auto alice = LoggedIn(daemon.port(), "alice");
  alice->Type("JOIN lobby\r");
  ASSERT_TRUE(alice->Expect("joined lobby")) << alice->failure();
  auto carol = Login(daemon.port(), "Carol");
  ASSERT_TRUE(carol->JoinRoom("lobby", kWait).ok());
  ASSERT_TRUE(alice->Expect("Carol joined lobby")) << alice->failure();
  alice->Type("/names\r");
  EXPECT_TRUE(alice->Expect("names in lobby (3): alice, bob, Carol\r\n")) << alice->failure();
}

// In chat mode in a room `room` that bob made; returns alice's CLI.
std::unique_ptr<PtyProcess> ChattingIn(uint16_t port, const std::string& room, std::unique_ptr<ChatClient>* bob) {
  *bob = Login(port, "bob");
  EXPECT_TRUE((*bob)->CreateRoom(room, kWait).ok());
  EXPECT_TRUE((*bob)->JoinRoom(room, kWait).ok());
  auto alice = LoggedIn(port, "alice");
  alice->Type(absl::StrCat("JOIN ", room, "\r"));
  EXPECT_TRUE(alice->Expect(absl::StrCat("[", room, "]> "))) << alice->failure();
  return alice;
}

// The text of the next message `from` says, "" if none comes in time.
std::string NextFrom(ChatClient& client, const std::string& from) {
  std::string text;
  AwaitEvent(client, [&](const v1::ServerFrame& f) {
    if (!f.has_chat_message() || f.chat_message().sender() != from) return false;
    text = f.chat_message().text();
    return true;
  });
  return text;
}

TEST(CliInteractive, LoneEscDoesNotSwallowTheNextKey) {
  Daemon daemon;
  std::unique_ptr<ChatClient> bob;
  auto alice = ChattingIn(daemon.port(), "lobby", &bob);
  alice->Type("ab");
  ASSERT_TRUE(alice->Expect("[lobby]> ab")) << alice->failure();
  alice->Type("\x1b");
  // Two redraws: one as the Esc is read, one when its wait is over and it
  // is known to be alone (no other key needed for that).
  ASSERT_TRUE(alice->Expect("[lobby]> ab")) << alice->failure();
  ASSERT_TRUE(alice->Expect("[lobby]> ab")) << alice->failure();
  alice->Type("c\r");  // before, "Esc c" was taken as Alt+c and the c was lost
  EXPECT_EQ(NextFrom(*bob, "alice"), "abc");
}

TEST(CliInteractive, AltBAndAltFMoveByWord) {
  Daemon daemon;
  std::unique_ptr<ChatClient> bob;
  auto alice = ChattingIn(daemon.port(), "lobby", &bob);
  alice->Type("one two\x1b" "bX\x1b" "f!\r");  // Alt+b, X, Alt+f, !
  EXPECT_EQ(NextFrom(*bob, "alice"), "one Xtwo!");
}

TEST(CliInteractive, CtrlLClearsTheScreenAndRedrawsThePromptWithTheInput) {
  Daemon daemon;
  std::unique_ptr<ChatClient> bob;
  auto alice = ChattingIn(daemon.port(), "lobby", &bob);
  alice->Type("half typed");
  ASSERT_TRUE(alice->Expect("[lobby]> half typed")) << alice->failure();
  alice->Type("\x0c");
  EXPECT_TRUE(alice->Expect("\x1b[H\x1b[2J[lobby]> half typed")) << alice->failure();
  alice->Type(" then sent\r");
  EXPECT_EQ(NextFrom(*bob, "alice"), "half typed then sent");
}

}  // namespace
}  // namespace muxchat::testing
