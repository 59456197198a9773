// The line-mode client in a real pseudo-terminal (forkpty) against a real
// muxchatd: pastes of any size, resizing with a wrapped input line, wide
// characters, pending own messages, multi-line messages, hints. What the
// user would see is checked on ScreenModel, a small reflowing terminal fed
// with everything the client wrote.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "tests/client/cli_process.h"
#include "tests/client/screen_model.h"

namespace muxchat::testing {
namespace {

using client::ChatClient;

std::vector<std::string> Addr(uint16_t port, std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"127.0.0.1", absl::StrCat(port)};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// A peer that created `room`, is in it, and sees what is said there.
struct Peer {
  Peer(uint16_t port, const std::string& room, const std::string& nick = "bob") : client(Login(port, nick)) {
    EXPECT_TRUE(client->CreateRoom(room, kWait).ok());
    auto r = client->JoinRoom(room, kWait);
    EXPECT_TRUE(r.ok());
    room_id = r.ok() ? r->room_id() : 0;
  }
  // The next message `from` sends, or "" if none comes in time.
  std::string NextFrom(const std::string& from) {
    std::string text;
    AwaitEvent(*client, [&](const v1::ServerFrame& f) {
      if (!f.has_chat_message() || f.chat_message().sender() != from) return false;
      text = f.chat_message().text();
      return true;
    });
    return text;
  }
  bool AwaitJoin(const std::string& nick) {
    return AwaitEvent(*client, [&](const v1::ServerFrame& f) {
      return f.has_member_joined() && f.member_joined().nickname() == nick;
    });
  }
  std::unique_ptr<ChatClient> client;
  uint64_t room_id = 0;
};

// alice's CLI in chat mode in `room` (which must exist).
std::unique_ptr<PtyProcess> AliceIn(uint16_t port, const std::string& room, unsigned short cols = 200) {
  auto p = std::make_unique<PtyProcess>(Addr(port, {"--nick", "alice"}), false, cols);
  EXPECT_TRUE(p->Expect("muxchat> ")) << p->failure();
  p->Type(absl::StrCat("join ", room, "\r"));
  EXPECT_TRUE(p->Expect(absl::StrCat("[", room, "]> "))) << p->failure();
  return p;
}

// How many rows of `screen` contain `needle`.
size_t RowsWith(const ScreenModel& screen, const std::string& needle) {
  size_t n = 0;
  for (const std::string& row : screen.Rows()) n += absl::StrContains(row, needle) ? 1 : 0;
  return n;
}

std::string Digits(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + i % 10));
  return s;
}

TEST(CliLineMode, LongPasteUnderTheServerLimitIsSentIntact) {
  // libedit corrupted its heap from ~5,100 characters on; 12,000 is well past that.
  Daemon d;
  Peer bob(d.port(), "lobby");
  auto alice = AliceIn(d.port(), "lobby");
  ASSERT_TRUE(bob.AwaitJoin("alice"));
  const std::string text = Digits(12000);
  alice->Type(text + "\r");
  ASSERT_TRUE(alice->Expect("] <alice> 0123456789")) << alice->failure();
  EXPECT_EQ(bob.NextFrom("alice"), text);
  alice->Type("/quit\r");
  EXPECT_EQ(alice->ExitCode(absl::Seconds(5)), 0);
}

TEST(CliLineMode, PasteOverTheServerLimitIsRefusedInOneLineAndKeptOnTheInputLine) {
  Daemon d;  // max_text_bytes 16384
  Peer bob(d.port(), "lobby");
  auto alice = AliceIn(d.port(), "lobby");
  ASSERT_TRUE(bob.AwaitJoin("alice"));
  alice->Type(Digits(20000) + "\r");
  ASSERT_TRUE(alice->Expect("error: not sent: a message of 20000 bytes is over the server's limit of 16384 bytes"))
      << alice->failure();
  // Still there: Enter again refuses the same text again.
  alice->Type("\r");
  ASSERT_TRUE(alice->Expect("error: not sent: a message of 20000 bytes")) << alice->failure();
  // Nothing was sent: the first message bob gets is the one typed after clearing the line.
  alice->Type("\x15short one\r");
  // (Reading alice's terminal while waiting: a terminal nobody reads blocks the client.)
  ASSERT_TRUE(alice->Expect("] <alice> short one")) << alice->failure();
  EXPECT_EQ(bob.NextFrom("alice"), "short one");
  alice->Type("/quit\r");
  EXPECT_EQ(alice->ExitCode(absl::Seconds(5)), 0);
}

TEST(CliLineMode, FiftyLinePasteSendsEveryLineInOrder) {
  Daemon d;
  Peer bob(d.port(), "lobby");
  auto alice = AliceIn(d.port(), "lobby");
  ASSERT_TRUE(bob.AwaitJoin("alice"));
  std::string paste;
  for (int i = 1; i <= 50; ++i) absl::StrAppend(&paste, "line ", i, "\n");
  alice->Type(absl::StrCat("\x1b[200~", paste, "\x1b[201~", "\r"));  // bracketed paste, then Enter
  ASSERT_TRUE(alice->Expect("] <alice> line 50")) << alice->failure();
  for (int i = 1; i <= 50; ++i) ASSERT_EQ(bob.NextFrom("alice"), absl::StrCat("line ", i));
}

TEST(CliLineMode, UnbracketedMultiLinePasteSendsEveryLineInOrder) {
  Daemon d;
  Peer bob(d.port(), "lobby");
  auto alice = AliceIn(d.port(), "lobby");
  ASSERT_TRUE(bob.AwaitJoin("alice"));
  std::string paste;
  for (int i = 1; i <= 50; ++i) absl::StrAppend(&paste, "row ", i, "\r");
  alice->Type(paste);
  ASSERT_TRUE(alice->Expect("] <alice> row 50")) << alice->failure();
  for (int i = 1; i <= 50; ++i) ASSERT_EQ(bob.NextFrom("alice"), absl::StrCat("row ", i));
}

TEST(CliLineMode, ResizeTo30ColumnsAndBackKeepsAWrappedInputLineIntact) {
  Daemon d;
  Peer bob(d.port(), "lobby");
  auto alice = AliceIn(d.port(), "lobby", 100);
  ScreenModel screen(100);
  // 9 + 150 columns: two rows at 100 columns, six at 30.
  const std::string typed = Digits(150);
  alice->Type(typed);
  // The end of the last redraw: the text, then the cursor put back after it
  // (row 1, column 59), so the model has the whole drawing before the resize.
  ASSERT_TRUE(alice->Expect(typed.substr(140) + "\r\x1b[59C")) << alice->failure();
  screen.Feed(alice->output());
  size_t fed = alice->output().size();
  auto feed = [&] {
    screen.Feed(absl::string_view(alice->output()).substr(fed));
    fed = alice->output().size();
  };
  screen.Resize(30);
  alice->Resize(30);
  alice->Type("q");  // typed after the resize, so drawn after its redraw ('q' is in no escape sequence)
  ASSERT_TRUE(alice->Expect("q\r\x1b[10C")) << alice->failure();  // drawn, cursor at row 5, column 10
  feed();
  std::vector<std::string> rows = screen.Rows();
  ASSERT_GE(rows.size(), 6u) << screen.Dump();
  const std::string line = "[lobby]> " + typed + "q";
  for (size_t r = 0; r < 6; ++r) {
    EXPECT_EQ(rows[rows.size() - 6 + r], line.substr(r * 30, 30)) << screen.Dump();
  }
  EXPECT_EQ(RowsWith(screen, "[lobby]> "), 1u) << screen.Dump();
  screen.Resize(100);
  alice->Resize(100);
  alice->Type("\x7f\x7f\x7f");  // Backspace x3 after growing back
  alice->Type("z");
  ASSERT_TRUE(alice->Expect("z\r\x1b[58C")) << alice->failure();  // drawn, cursor at row 1, column 58
  feed();
  rows = screen.Rows();
  const std::string now = "[lobby]> " + typed.substr(0, 148) + "z";
  ASSERT_GE(rows.size(), 2u) << screen.Dump();
  EXPECT_EQ(rows[rows.size() - 2], now.substr(0, 100)) << screen.Dump();
  EXPECT_EQ(rows[rows.size() - 1], now.substr(100)) << screen.Dump();
  EXPECT_EQ(RowsWith(screen, "[lobby]> "), 1u) << screen.Dump();
  alice->Type("\r");
  ASSERT_TRUE(alice->Expect("] <alice> ")) << alice->failure();
  EXPECT_EQ(bob.NextFrom("alice"), typed.substr(0, 148) + "z");
}

TEST(CliLineMode, WideCharactersWrapAndRedrawWithoutStaleCopies) {
  Daemon d;
  const std::string room = "\xe4\xbc\x9a\xe8\xad\xb0";  // 会議, 4 columns
  Peer bob(d.port(), room);
  auto alice = AliceIn(d.port(), room, 30);
  ASSERT_TRUE(bob.AwaitJoin("alice"));
  // "[会議]> " is 8 columns; 14 CJK characters are 28 more: the 12th no
  // longer fits on the first row (8 + 22 = 30 columns used), so it wraps.
  std::string typed;
  for (int i = 0; i < 14; ++i) typed += "\xe5\xad\x97";  // 字
  alice->Type(typed);
  ASSERT_TRUE(alice->Expect("\xe5\xad\x97")) << alice->failure();
  ASSERT_TRUE(bob.client->SendAndWait(bob.room_id, "party \xf0\x9f\x8e\x89 time", kWait).ok());
  ASSERT_TRUE(alice->Expect("<bob> party \xf0\x9f\x8e\x89 time")) << alice->failure();
  alice->Type("x");
  ASSERT_TRUE(alice->Expect("x\r\x1b[7C")) << alice->failure();  // drawn, cursor after it
  ScreenModel screen(30);
  screen.Feed(alice->output());
  const std::vector<std::string> rows = screen.Rows();
  ASSERT_GE(rows.size(), 3u) << screen.Dump();
  std::string first_row = "[" + room + "]> ";
  for (int i = 0; i < 11; ++i) first_row += "\xe5\xad\x97";
  EXPECT_EQ(rows[rows.size() - 2], first_row) << screen.Dump();
  EXPECT_EQ(rows[rows.size() - 1], "\xe5\xad\x97\xe5\xad\x97\xe5\xad\x97x") << screen.Dump();
  EXPECT_NE(rows[rows.size() - 3].find("<bob> party \xf0\x9f\x8e\x89 time"), std::string::npos) << screen.Dump();
  EXPECT_EQ(RowsWith(screen, "[" + room + "]> "), 1u) << screen.Dump();
}

TEST(CliLineMode, ListAlignsWideRoomNames) {
  Daemon d;
  auto owner = Login(d.port(), "zed");
  ASSERT_TRUE(owner->CreateRoom("\xe4\xbc\x9a\xe8\xad\xb0", kWait).ok());    // 会議: 4 columns
  ASSERT_TRUE(owner->CreateRoom("\xf0\x9f\x8e\x89" "fun", kWait).ok());     // 🎉fun: 5 columns
  ASSERT_TRUE(owner->CreateRoom("ab", kWait).ok());
  PtyProcess alice(Addr(d.port(), {"--nick", "alice"}));
  ASSERT_TRUE(alice.Expect("muxchat> ")) << alice.failure();
  alice.Type("list\r");
  ASSERT_TRUE(alice.Expect("ROOM")) << alice.failure();
  ASSERT_TRUE(alice.Expect("muxchat> ")) << alice.failure();
  ScreenModel screen(200);
  screen.Feed(alice.output());
  // Every row has MEMBERS' last digit in the same display column.
  size_t header_end = 0;
  std::vector<size_t> ends;
  for (const std::string& row : screen.Rows()) {
    if (absl::StartsWith(row, "ROOM ")) header_end = client::DisplayWidth(row.substr(0, row.find("MEMBERS") + 7));
    for (const char* name : {"\xe4\xbc\x9a\xe8\xad\xb0 ", "\xf0\x9f\x8e\x89" "fun ", "ab "}) {
      if (absl::StartsWith(row, name)) ends.push_back(client::DisplayWidth(row.substr(0, row.find(" 0 ") + 2)));
    }
  }
  ASSERT_EQ(ends.size(), 3u) << screen.Dump();
  for (size_t e : ends) EXPECT_EQ(e, header_end) << screen.Dump();
}

TEST(CliLineMode, NickAndRoomOnATerminalOpenTheClientInThatRoom) {
  Daemon d;
  Peer bob(d.port(), "lobby");
  PtyProcess eve(Addr(d.port(), {"--nick", "eve", "--room", "lobby"}));
  ASSERT_TRUE(eve.Expect("joined lobby")) << eve.failure();
  ASSERT_TRUE(eve.Expect("[lobby]> ")) << eve.failure();
  ASSERT_TRUE(bob.client->SendAndWait(bob.room_id, "welcome eve", kWait).ok());
  ASSERT_TRUE(eve.Expect("<bob> welcome eve")) << eve.failure();
  eve.Type("thanks\r");
  EXPECT_EQ(bob.NextFrom("eve"), "thanks");
}

TEST(CliLineMode, HalfTypedTextStaysOnTheLineWhenTheOnlyRoomIsDeleted) {
  Daemon d;
  Peer bob(d.port(), "doomed");
  auto alice = AliceIn(d.port(), "doomed");
  ASSERT_TRUE(bob.AwaitJoin("alice"));
  alice->Type("half");
  ASSERT_TRUE(alice->Expect("half")) << alice->failure();
  ASSERT_TRUE(bob.client->DeleteRoom("doomed", kWait).ok());
  ASSERT_TRUE(alice->Expect("back at the command prompt")) << alice->failure();
  ASSERT_TRUE(alice->Expect("muxchat> half")) << alice->failure();
  alice->Type("\r");
  ASSERT_TRUE(alice->Expect("error: not sent: you are in no room now")) << alice->failure();
  ASSERT_TRUE(alice->Expect("muxchat> half")) << alice->failure();
  EXPECT_FALSE(absl::StrContains(alice->output(), "unknown command")) << PtyProcess::Printable(alice->output());
  // Once in a room again, Enter sends it.
  ASSERT_TRUE(bob.client->CreateRoom("next", kWait).ok());
  auto next = bob.client->JoinRoom("next", kWait);
  ASSERT_TRUE(next.ok());
  alice->Type("\x01join next\r");  // Ctrl+A: the command goes in front of the kept text...
  ASSERT_TRUE(alice->Expect("error:")) << alice->failure();  // ...which makes it no command: kept again
  alice->Type("\x15join next\r");
  ASSERT_TRUE(alice->Expect("[next]> ")) << alice->failure();
  alice->Type("half done\r");
  EXPECT_EQ(bob.NextFrom("alice"), "half done");
}

TEST(CliLineMode, MultiLineMessageShowsAsLinesIndentedUnderTheSender) {
  Daemon d;
  Peer bob(d.port(), "lobby");
  auto alice = AliceIn(d.port(), "lobby");
  // (The server refuses other control characters; FormatChatLines' unit
  // tests show those are still made visible.)
  ASSERT_TRUE(bob.client->SendAndWait(bob.room_id, "first\nsecond line\nthird", kWait).ok());
  ASSERT_TRUE(alice->Expect("third")) << alice->failure();
  ScreenModel screen(200);
  screen.Feed(alice->output());
  const std::vector<std::string> rows = screen.Rows();
  size_t at = 0;
  while (at < rows.size() && !absl::StrContains(rows[at], "<bob> first")) ++at;
  ASSERT_LT(at + 1, rows.size()) << screen.Dump();
  const size_t indent = rows[at].find("first");
  EXPECT_EQ(rows[at + 1], std::string(indent, ' ') + "second line") << screen.Dump();
  ASSERT_LT(at + 2, rows.size()) << screen.Dump();
  EXPECT_EQ(rows[at + 2], std::string(indent, ' ') + "third") << screen.Dump();
}

TEST(CliLineMode, OwnMessageIsShownOnceMarkedPendingUntilTheEcho) {
  Daemon d;
  Peer bob(d.port(), "lobby");
  auto alice = AliceIn(d.port(), "lobby");
  alice->Type("hello all\r");
  ASSERT_TRUE(alice->Expect("[sending] <alice> hello all")) << alice->failure();
  ASSERT_TRUE(alice->Expect("] <alice> hello all")) << alice->failure();
  ASSERT_TRUE(alice->Expect("[lobby]> ")) << alice->failure();
  ScreenModel screen(200);
  screen.Feed(alice->output());
  EXPECT_EQ(RowsWith(screen, "hello all"), 1u) << screen.Dump();
  EXPECT_EQ(RowsWith(screen, "[sending]"), 0u) << screen.Dump();
}

TEST(CliLineMode, ChatModeHintsNameTheSlashForm) {
  Daemon d;
  Peer bob(d.port(), "lobby");
  auto alice = AliceIn(d.port(), "lobby");
  alice->Type("/create games\r");
  ASSERT_TRUE(alice->Expect("created room games; /join games to enter it")) << alice->failure();
  alice->Type("/join\r");
  ASSERT_TRUE(alice->Expect("error: /join needs a room name, e.g. /join lobby")) << alice->failure();
  alice->Type("/join nosuch\r");
  ASSERT_TRUE(alice->Expect("error: cannot join nosuch: no room named 'nosuch'; /create nosuch creates it"))
      << alice->failure();
}

TEST(CliLineMode, EditingKeysMoveAndDeleteByCharacter) {
  Daemon d;
  Peer bob(d.port(), "lobby");
  auto alice = AliceIn(d.port(), "lobby");
  ASSERT_TRUE(bob.AwaitJoin("alice"));
  // "caf\u00e9 x", Left x2, Backspace (deletes the é), Home, "> ", End, "!"
  alice->Type("caf\xc3\xa9 x\x1b[D\x1b[D\x7f\x1b[H> \x1b[F!\r");
  EXPECT_EQ(bob.NextFrom("alice"), "> caf x!");
  alice->Type("again\r");
  EXPECT_EQ(bob.NextFrom("alice"), "again");
  alice->Type("\x1b[A\x1b[A\r");  // Up twice: the line before the last
  EXPECT_EQ(bob.NextFrom("alice"), "> caf x!");
}

}  // namespace
}  // namespace muxchat::testing
