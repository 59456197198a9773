#include "src/client/command_parser.h"

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

TEST(CommandParser, PromptCommandsAreCaseInsensitiveWithOrWithoutSlash) {
  for (const char* line : {"CREATE lobby", "create lobby", "/create lobby", "/CrEaTe   lobby  ", "  create lobby"}) {
    const Command c = ParseCommand(line, /*in_chat=*/false);
    EXPECT_EQ(c.kind, CommandKind::kCreate) << line;
    EXPECT_EQ(c.arg, "lobby") << line;
  }
  EXPECT_EQ(ParseCommand("JOIN a", false).kind, CommandKind::kJoin);
  EXPECT_EQ(ParseCommand("delete a", false).kind, CommandKind::kDelete);
  EXPECT_EQ(ParseCommand("List", false).kind, CommandKind::kList);
  EXPECT_EQ(ParseCommand("/help", false).kind, CommandKind::kHelp);
  EXPECT_EQ(ParseCommand("QUIT", false).kind, CommandKind::kQuit);
  EXPECT_EQ(ParseCommand("exit", false).kind, CommandKind::kQuit);
}

TEST(CommandParser, BlankLineIsEmpty) {
  EXPECT_EQ(ParseCommand("", false).kind, CommandKind::kEmpty);
  EXPECT_EQ(ParseCommand("   \t", true).kind, CommandKind::kEmpty);
}

TEST(CommandParser, MissingOrExtraArgumentsAreInvalidWithAReason) {
  Command c = ParseCommand("join", false);
  EXPECT_EQ(c.kind, CommandKind::kInvalid);
  EXPECT_NE(c.arg.find("room name"), std::string::npos);
  EXPECT_EQ(ParseCommand("list rooms", false).kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("create two words", false).kind, CommandKind::kInvalid);
}

TEST(CommandParser, UnknownWordAtThePromptIsInvalid) {
  const Command c = ParseCommand("hello there", false);
  EXPECT_EQ(c.kind, CommandKind::kInvalid);
  EXPECT_NE(c.arg.find("unknown command 'hello'"), std::string::npos);
  // Someone typing chat at the prompt is told where chat goes.
  EXPECT_NE(c.arg.find("JOIN a room to chat"), std::string::npos) << c.arg;
}

TEST(CommandParser, CommandWordsAreKnownInAnyCaseWithOrWithoutSlash) {
  EXPECT_TRUE(IsCommandWord("join lobby"));
  EXPECT_TRUE(IsCommandWord("/HELP"));
  EXPECT_TRUE(IsCommandWord("  Quit"));
  EXPECT_FALSE(IsCommandWord("hello everyone"));
  EXPECT_FALSE(IsCommandWord("joint venture"));
  EXPECT_FALSE(IsCommandWord(""));
}

TEST(CommandParser, ChatOnlyCommandsAreRefusedAtThePrompt) {
  EXPECT_EQ(ParseCommand("switch a", false).kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("/rooms", false).kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("/leave", false).kind, CommandKind::kInvalid);
}

TEST(CommandParser, InChatPlainTextIsAMessageKeptVerbatim) {
  const Command c = ParseCommand("  join me for lunch ", true);
  EXPECT_EQ(c.kind, CommandKind::kMessage);
  EXPECT_EQ(c.arg, "  join me for lunch ");
}

TEST(CommandParser, InChatSlashCommands) {
  EXPECT_EQ(ParseCommand("/join other", true).kind, CommandKind::kJoin);
  EXPECT_EQ(ParseCommand("/switch other", true).arg, "other");
  EXPECT_EQ(ParseCommand("/rooms", true).kind, CommandKind::kRooms);
  const Command leave = ParseCommand("/leave", true);
  EXPECT_EQ(leave.kind, CommandKind::kLeave);
  EXPECT_EQ(leave.arg, "");
  EXPECT_EQ(ParseCommand("/leave other", true).arg, "other");
  EXPECT_EQ(ParseCommand("/LIST", true).kind, CommandKind::kList);
  EXPECT_EQ(ParseCommand("/quit", true).kind, CommandKind::kQuit);
  EXPECT_EQ(ParseCommand("/nope", true).kind, CommandKind::kInvalid);
}

TEST(CommandParser, DoubleSlashSendsALiteralSlash) {
  const Command c = ParseCommand("//join is a command", true);
  EXPECT_EQ(c.kind, CommandKind::kMessage);
  EXPECT_EQ(c.arg, "/join is a command");
}

TEST(CommandParser, TrailingCarriageReturnIsIgnored) {
  const Command c = ParseCommand("join lobby\r\n", false);
  EXPECT_EQ(c.kind, CommandKind::kJoin);
  EXPECT_EQ(c.arg, "lobby");
}

TEST(CommandParser, NamesTakesAnOptionalRoomInChatMode) {
  EXPECT_EQ(ParseCommand("/names", true).kind, CommandKind::kNames);
  const Command named = ParseCommand("/names lobby", true);
  EXPECT_EQ(named.kind, CommandKind::kNames);
  EXPECT_EQ(named.arg, "lobby");
  EXPECT_EQ(ParseCommand("NAMES", false).kind, CommandKind::kInvalid);
}

TEST(CommandParser, HintsNameTheSlashFormInChatMode) {
  EXPECT_EQ(ParseCommand("/join", true).arg, "/join needs a room name, e.g. /join lobby");
  EXPECT_EQ(ParseCommand("/list x", true).arg, "/list takes no argument");
}

TEST(CommandParser, HintsNameTheWordFormAtThePrompt) {
  EXPECT_EQ(ParseCommand("join", false).arg, "JOIN needs a room name, e.g. JOIN lobby");
  EXPECT_EQ(ParseCommand("switch x", false).arg, "SWITCH only works in chat mode (JOIN a room first)");
}

TEST(CommandParser, HistoryTakesAnOptionalCountInChatMode) {
  EXPECT_EQ(ParseCommand("/history", true).kind, CommandKind::kHistory);
  const Command c = ParseCommand("/history 50", true);
  EXPECT_EQ(c.kind, CommandKind::kHistory);
  EXPECT_EQ(c.arg, "50");
  EXPECT_EQ(ParseCommand("/history lots", true).kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("/history 0", true).kind, CommandKind::kInvalid);
  EXPECT_EQ(ParseCommand("HISTORY", false).kind, CommandKind::kInvalid);  // needs a room
}

TEST(CommandParser, LogoutWorksAtThePromptAndInChat) {
  EXPECT_EQ(ParseCommand("LOGOUT", false).kind, CommandKind::kLogout);
  EXPECT_EQ(ParseCommand("/logout", true).kind, CommandKind::kLogout);
  EXPECT_EQ(ParseCommand("/logout now", true).kind, CommandKind::kInvalid);
}

}  // namespace
}  // namespace muxchat::client

namespace muxchat::client {
namespace {

TEST(NeedsServer, RequestsWaitForTheServerButChatTextAndLocalCommandsDoNot) {
  for (const char* line : {"/create a", "/join a", "/leave", "/delete a", "/list", "/names", "/history", "/logout"}) {
    EXPECT_TRUE(NeedsServer(ParseCommand(line, /*in_chat=*/true).kind)) << line;
  }
  for (const char* line : {"hello", "/help", "/quit", ""}) {
    EXPECT_FALSE(NeedsServer(ParseCommand(line, /*in_chat=*/true).kind)) << line;
  }
}

}  // namespace
}  // namespace muxchat::client
