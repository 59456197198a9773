// Script mode of the muxchat CLI against a real muxchatd process.
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "tests/client/cli_process.h"
#include "tests/client/temp_dir.h"

namespace muxchat::testing {
namespace {

using client::ChatClient;

std::vector<std::string> Args(uint16_t port, std::vector<std::string> more) {
  std::vector<std::string> args = {"--port", absl::StrCat(port)};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

bool AwaitJoin(ChatClient& c, const std::string& nick) {
  return AwaitEvent(c, [&](const v1::ServerFrame& f) {
    return f.has_member_joined() && f.member_joined().nickname() == nick;
  });
}

// An observer in `room` (created by it) that sees everything said there.
struct Observer {
  Observer(uint16_t port, const std::string& room) : client(Login(port, "observer")) {
    EXPECT_TRUE(client->CreateRoom(room, kWait).ok());
    auto r = client->JoinRoom(room, kWait);
    EXPECT_TRUE(r.ok());
    room_id = r->room_id();
  }
  std::unique_ptr<ChatClient> client;
  uint64_t room_id = 0;
};

// Collects the texts of the next `n` live chat messages.
std::vector<std::string> Collect(ChatClient& c, size_t n) {
  std::vector<std::string> texts;
  AwaitEvent(c, [&](const v1::ServerFrame& f) {
    if (f.has_chat_message() && !f.chat_message().replay()) texts.push_back(f.chat_message().text());
    return texts.size() >= n;
  });
  return texts;
}

TEST(CliScript, SendReachesAListenerInAnotherProcess) {
  Daemon d;
  Observer obs(d.port(), "r");
  CliProcess listener(Args(d.port(), {"--nick", "ears", "--room", "r", "--listen", "--count", "1"}));
  ASSERT_TRUE(AwaitJoin(*obs.client, "ears"));
  CliProcess sender(Args(d.port(), {"--nick", "mouth", "--room", "r", "--send", "hello there"}));
  EXPECT_EQ(sender.Finish(), 0) << sender.err();
  EXPECT_EQ(listener.Finish(), 0) << listener.err();
  EXPECT_NE(listener.out().find("<mouth> hello there\n"), std::string::npos) << listener.out();
  EXPECT_EQ(listener.out().find('\x1b'), std::string::npos) << "no colour on a pipe";
}

TEST(CliScript, ListenPrintsOneLinePerMessageEvenWithNewlinesInside) {
  Daemon d;
  Observer obs(d.port(), "r");
  CliProcess listener(Args(d.port(), {"--nick", "ears", "--room", "r", "--listen", "--count", "2"}));
  ASSERT_TRUE(AwaitJoin(*obs.client, "ears"));
  ASSERT_TRUE(obs.client->SendAndWait(obs.room_id, "two\nlines", kWait).ok());
  ASSERT_TRUE(obs.client->SendAndWait(obs.room_id, "next", kWait).ok());
  EXPECT_EQ(listener.Finish(), 0) << listener.err();
  const std::vector<std::string> lines = absl::StrSplit(listener.out(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << listener.out();
  EXPECT_NE(lines[0].find("<observer> two^Jlines"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("<observer> next"), std::string::npos) << lines[1];
}

TEST(CliScript, SendWithCreateMakesTheRoomFirst) {
  Daemon d;
  CliProcess sender(Args(d.port(), {"--room", "fresh", "--create", "--send", "first"}));
  EXPECT_EQ(sender.Finish(), 0) << sender.err();
  auto c = Login(d.port(), "checker");
  auto list = c->ListRooms(kWait);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->rooms_size(), 1);
  EXPECT_EQ(list->rooms(0).name(), "fresh");
  EXPECT_EQ(list->rooms(0).message_count(), 1u);
}

TEST(CliScript, PipedLinesArriveInOrderAndExitZeroOnceAcknowledged) {
  Daemon d;
  Observer obs(d.port(), "pipe");
  CliProcess sender(Args(d.port(), {"--room", "pipe"}));
  std::string input;
  for (int i = 1; i <= 200; ++i) absl::StrAppend(&input, "line ", i, "\n");
  sender.Write(input);
  sender.CloseStdin();
  EXPECT_EQ(sender.Finish(), 0) << sender.err();
  const std::vector<std::string> got = Collect(*obs.client, 200);
  ASSERT_EQ(got.size(), 200u);
  for (int i = 1; i <= 200; ++i) EXPECT_EQ(got[i - 1], absl::StrCat("line ", i));
}

TEST(CliScript, RateLimitedLinesAreResentUntilAllArrive) {
  Daemon d({"--messages_per_second=40", "--message_burst=4"});
  Observer obs(d.port(), "slow");
  CliProcess sender(Args(d.port(), {"--room", "slow"}));
  std::string input;
  for (int i = 1; i <= 40; ++i) absl::StrAppend(&input, "m", i, "\n");
  sender.Write(input);
  sender.CloseStdin();
  EXPECT_EQ(sender.Finish(absl::Seconds(30)), 0) << sender.err();
  std::vector<std::string> got = Collect(*obs.client, 40);
  ASSERT_EQ(got.size(), 40u);
  std::sort(got.begin(), got.end());
  std::vector<std::string> want;
  for (int i = 1; i <= 40; ++i) want.push_back(absl::StrCat("m", i));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST(CliScript, ListenJsonLinesParseWithEveryField) {
  Daemon d;
  Observer obs(d.port(), "j");
  CliProcess listener(Args(d.port(), {"--nick", "ears", "--room", "j", "--listen", "--json", "--count", "2"}));
  ASSERT_TRUE(AwaitJoin(*obs.client, "ears"));
  const std::string tricky = "quote \" backslash \\ tab \t newline \n caf\xc3\xa9";
  ASSERT_TRUE(obs.client->SendAndWait(obs.room_id, "plain", kWait).ok());
  ASSERT_TRUE(obs.client->SendAndWait(obs.room_id, tricky, kWait).ok());
  EXPECT_EQ(listener.Finish(), 0) << listener.err();
  const std::vector<std::string> lines = absl::StrSplit(listener.out(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << listener.out();
  const std::string texts[] = {"plain", tricky};
  for (int i = 0; i < 2; ++i) {
    google::protobuf::Struct obj;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[i], &obj).ok()) << lines[i];
    const auto& f = obj.fields();
    EXPECT_EQ(f.at("room").string_value(), "j");
    EXPECT_EQ(f.at("seq").number_value(), i + 1);
    EXPECT_EQ(f.at("sender").string_value(), "observer");
    EXPECT_EQ(f.at("text").string_value(), texts[i]);
    EXPECT_EQ(f.at("time").string_value().size(), std::string("2026-11-25T08:09:07.123456Z").size());
    EXPECT_GT(f.at("time_unix_micros").number_value(), 0);
  }
}

TEST(CliScript, ListenStopsWithExitZeroOnSigterm) {
  Daemon d;
  Observer obs(d.port(), "r");
  CliProcess listener(Args(d.port(), {"--nick", "ears", "--room", "r", "--listen"}));
  ASSERT_TRUE(AwaitJoin(*obs.client, "ears"));
  listener.Signal(SIGTERM);
  EXPECT_EQ(listener.Finish(absl::Seconds(2)), 0) << listener.err();
}

TEST(CliScript, ListAsTableAndAsJson) {
  Daemon d;
  Observer obs(d.port(), "room-a");
  CliProcess table(Args(d.port(), {"--list"}));
  EXPECT_EQ(table.Finish(), 0);
  EXPECT_NE(table.out().find("ROOM    MEMBERS  OWNER     MESSAGES  AGE\n"), std::string::npos) << table.out();
  EXPECT_NE(table.out().find("room-a        1  observer"), std::string::npos) << table.out();
  CliProcess json(Args(d.port(), {"--list", "--json"}));
  EXPECT_EQ(json.Finish(), 0);
  google::protobuf::Struct obj;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out(), &obj).ok()) << json.out();
  EXPECT_EQ(obj.fields().at("room").string_value(), "room-a");
  EXPECT_EQ(obj.fields().at("members").number_value(), 1);
}

TEST(CliScript, CreateAndDeleteActions) {
  // An account: a guest's room may only be deleted by it while it is still
  // connected, so only an account deletes in a later run what it made.
  Daemon d;
  TempDir config;
  const std::vector<std::string> env = {absl::StrCat("XDG_CONFIG_HOME=", config.path()),
                                        "MUXCHAT_PASSWORD=a long enough password"};
  CliProcess create(Args(d.port(), {"--user", "own", "--register", "--create", "x"}), env);
  EXPECT_EQ(create.Finish(), 0) << create.err();
  CliProcess again(Args(d.port(), {"--user", "own", "--create", "x"}), env);
  EXPECT_EQ(again.Finish(), 4) << "creating an existing room is a refusal";
  CliProcess del(Args(d.port(), {"--user", "own", "--delete", "x"}), env);
  EXPECT_EQ(del.Finish(), 0) << del.err();
}

TEST(CliScript, HostColonPortAsTheServerPrintsItConnects) {
  Daemon d;
  ASSERT_TRUE(Login(d.port(), "owner")->CreateRoom("lobby", kWait).ok());
  CliProcess p({absl::StrCat("127.0.0.1:", d.port()), "--list"});
  EXPECT_EQ(p.Finish(), 0) << p.err();
  EXPECT_NE(p.out().find("lobby"), std::string::npos) << p.out();
}

TEST(CliScript, BracketedV6AddressWithPortConnects) {
  const int probe = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_loopback;
  const bool have_v6 = probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0;
  if (probe >= 0) ::close(probe);
  if (!have_v6) GTEST_SKIP() << "no IPv6 loopback here";
  Daemon d({"--listen=[::1]:0"});
  CliProcess p({absl::StrCat("[::1]:", d.port()), "--list"});
  EXPECT_EQ(p.Finish(), 0) << p.err();
  EXPECT_NE(p.out().find("(no rooms)"), std::string::npos) << p.out();
}

TEST(CliScript, AGuestCannotDeleteInALaterRunWhatItCreated) {
  // The default nickname is stable, but a guest owns its rooms only while
  // connected (the server's rule since accounts): --user is the way.
  Daemon d;
  CliProcess create(Args(d.port(), {"--create", "mine"}));
  EXPECT_EQ(create.Finish(), 0) << create.err();
  CliProcess del(Args(d.port(), {"--delete", "mine"}));
  EXPECT_EQ(del.Finish(), 4) << del.err();
  EXPECT_NE(del.err().find("only the guest who created"), std::string::npos) << del.err();
}

TEST(CliScript, ListenToSeveralRoomsFollowsEveryOne) {
  Daemon d;
  Observer a(d.port(), "a");
  auto other = Login(d.port(), "other");
  ASSERT_TRUE(other->CreateRoom("b", kWait).ok());
  auto b = other->JoinRoom("b", kWait);
  ASSERT_TRUE(b.ok());
  CliProcess listener(Args(d.port(), {"--nick", "ears", "--listen", "--room", "a", "--room", "b", "--count", "2"}));
  ASSERT_TRUE(AwaitJoin(*a.client, "ears"));
  ASSERT_TRUE(AwaitJoin(*other, "ears"));
  ASSERT_TRUE(a.client->SendAndWait(a.room_id, "in a", kWait).ok());
  ASSERT_TRUE(other->SendAndWait(b->room_id(), "in b", kWait).ok());
  EXPECT_EQ(listener.Finish(), 0) << listener.err();
  EXPECT_NE(listener.out().find("[a] ["), std::string::npos) << listener.out();
  EXPECT_NE(listener.out().find("<observer> in a\n"), std::string::npos) << listener.out();
  EXPECT_NE(listener.out().find("[b] ["), std::string::npos) << listener.out();
  EXPECT_NE(listener.out().find("<other> in b\n"), std::string::npos) << listener.out();
}

TEST(CliScript, EverySendIsSentInOrder) {
  Daemon d;
  Observer obs(d.port(), "r");
  CliProcess sender(Args(d.port(), {"--nick", "mouth", "--room", "r", "--send", "one", "--send", "two", "--send", "three"}));
  EXPECT_EQ(sender.Finish(), 0) << sender.err();
  EXPECT_EQ(Collect(*obs.client, 3), (std::vector<std::string>{"one", "two", "three"}));
}

TEST(CliScript, SeveralRoomsForStdinLinesIsAUsageError) {
  Daemon d;
  CliProcess p(Args(d.port(), {"--room", "a", "--room", "b"}));
  EXPECT_EQ(p.Finish(), 2);
  EXPECT_NE(p.err().find("give one --room"), std::string::npos) << p.err();
}

TEST(CliScript, SendPostsWithoutJoinOrLeaveNoise) {
  Daemon d;
  Observer obs(d.port(), "r");
  for (const char* text : {"first", "second"}) {
    CliProcess sender(Args(d.port(), {"--nick", "mouth", "--room", "r", "--send", text}));
    EXPECT_EQ(sender.Finish(), 0) << sender.err();
  }
  // Everything the room saw, up to the second message: had the sender joined
  // and left, its member_joined/member_left would be among these, in order.
  std::vector<v1::ServerFrame> seen;
  AwaitEvent(*obs.client, [&](const v1::ServerFrame& f) {
    seen.push_back(f);
    return f.has_chat_message() && f.chat_message().text() == "second";
  });
  std::vector<std::string> texts;
  for (const v1::ServerFrame& f : seen) {
    EXPECT_FALSE(f.has_member_joined() || f.has_member_left()) << f.ShortDebugString();
    if (f.has_chat_message()) texts.push_back(f.chat_message().sender() + ": " + f.chat_message().text());
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"mouth: first", "mouth: second"}));
  auto list = obs.client->ListRooms(kWait);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->rooms(0).member_count(), 1u);
}

TEST(CliScript, ListShowsEveryRoomEvenPastOneFrame) {
  Daemon d({"--messages_per_second=0"});
  auto c = Login(d.port(), "maker");
  constexpr int kRooms = 2008;
  for (int i = 0; i < kRooms; ++i) {
    ASSERT_TRUE(c->CreateRoom(absl::StrCat("room-with-a-longish-name-", 10000 + i), kWait).ok()) << i;
  }
  CliProcess json(Args(d.port(), {"--list", "--json"}));
  EXPECT_EQ(json.Finish(), 0) << json.err();
  std::vector<std::string> lines = absl::StrSplit(json.out(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kRooms));
  EXPECT_NE(lines.back().find("room-with-a-longish-name-12007"), std::string::npos) << lines.back();
}

// ------------------------------------------------------------- exit codes

TEST(CliExitCode, UsageErrorIs2) {
  CliProcess p({"--frobnicate"});
  EXPECT_EQ(p.Finish(), 2);
  EXPECT_NE(p.err().find("unknown flag --frobnicate"), std::string::npos) << p.err();
}

TEST(CliExitCode, NoActionWithStdinNotATerminalIs2) {
  CliProcess p({});
  EXPECT_EQ(p.Finish(), 2);
}

TEST(CliExitCode, HelpDocumentsExitCodesAndExitsZero) {
  CliProcess p({"--help"});
  EXPECT_EQ(p.Finish(), 0);
  for (const char* s : {"0  ok", "2  usage", "3  connection failure", "4  the server refused", "5  connection lost"}) {
    EXPECT_NE(p.out().find(s), std::string::npos) << s;
  }
}

TEST(CliExitCode, ConnectionRefusedIs3) {
  // A bound socket that never listens: connecting to its port is refused.
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  CliProcess p(Args(ntohs(addr.sin_port), {"--list"}));
  EXPECT_EQ(p.Finish(), 3);
  // Each thing said once: not "cannot connect to 127.0.0.1 port P: connect to 127.0.0.1:P: ...".
  EXPECT_EQ(p.err().rfind(absl::StrCat("muxchat: connect to 127.0.0.1:", ntohs(addr.sin_port), ": "), 0), 0u)
      << p.err();
  EXPECT_EQ(p.err().find("127.0.0.1", 21), std::string::npos) << p.err();  // the address once
  EXPECT_EQ(std::count(p.err().begin(), p.err().end(), '\n'), 1) << p.err();
  ::close(s);
}

TEST(CliExitCode, SendingToAMissingRoomWithoutCreateIs4) {
  Daemon d;
  CliProcess p(Args(d.port(), {"--room", "ghost", "--send", "boo"}));
  EXPECT_EQ(p.Finish(), 4);
  EXPECT_EQ(p.err(), "muxchat: message not sent: no room named 'ghost'\n");
}

TEST(CliExitCode, JoiningAMissingRoomWithoutCreateIs4) {
  Daemon d;
  CliProcess p(Args(d.port(), {"--room", "ghost", "--listen"}));
  EXPECT_EQ(p.Finish(), 4);
  EXPECT_EQ(p.err(), "muxchat: cannot join ghost: no room named 'ghost'\n");
}

TEST(CliExitCode, DeletingSomeoneElsesRoomIs4) {
  Daemon d;
  Observer obs(d.port(), "theirs");
  CliProcess p(Args(d.port(), {"--delete", "theirs"}));
  EXPECT_EQ(p.Finish(), 4);
  EXPECT_NE(p.err().find("cannot delete theirs: "), std::string::npos) << p.err();
  EXPECT_EQ(std::count(p.err().begin(), p.err().end(), '\n'), 1);
}

TEST(CliExitCode, TakenNickInScriptModeIs4) {
  Daemon d;
  auto holder = Login(d.port(), "dup");
  CliProcess p(Args(d.port(), {"--nick", "dup", "--list"}));
  EXPECT_EQ(p.Finish(), 4);
}

TEST(CliExitCode, ServerShutdownWhileListeningWithoutReconnectIs5WithOneLine) {
  Daemon d;
  Observer obs(d.port(), "r");
  CliProcess listener(Args(d.port(), {"--nick", "ears", "--room", "r", "--listen", "--no-reconnect"}));
  ASSERT_TRUE(AwaitJoin(*obs.client, "ears"));
  d.Signal(SIGTERM);
  EXPECT_EQ(listener.Finish(), 5);
  EXPECT_NE(listener.err().find("shutting down"), std::string::npos) << listener.err();
  EXPECT_EQ(std::count(listener.err().begin(), listener.err().end(), '\n'), 1) << listener.err();
}

TEST(CliExitCode, ServerKilledWhileListeningWithoutReconnectIs5) {
  Daemon d;
  Observer obs(d.port(), "r");
  CliProcess listener(Args(d.port(), {"--nick", "ears", "--room", "r", "--listen", "--no-reconnect"}));
  ASSERT_TRUE(AwaitJoin(*obs.client, "ears"));
  d.Kill();
  EXPECT_EQ(listener.Finish(), 5);
  EXPECT_NE(listener.err().find("connection to the server lost"), std::string::npos) << listener.err();
}

}  // namespace
}  // namespace muxchat::testing
