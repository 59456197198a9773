#include "src/client/cli_options.h"

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

absl::StatusOr<CliOptions> Parse(std::vector<std::string> args) { return ParseCliOptions(args); }

TEST(CliOptions, DefaultsAreLocalhost7000Interactive) {
  auto o = Parse({});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 7000);
  EXPECT_FALSE(o->HasAction());
}

TEST(CliOptions, HostAndPortPositionalOrFlags) {
  auto a = Parse({"example.org", "7100"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "example.org");
  EXPECT_EQ(a->port, 7100);
  auto b = Parse({"--host=::1", "--port", "9"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 9);
}

TEST(CliOptions, HostColonPortAsTheServerPrintsIt) {
  auto o = Parse({"127.0.0.1:7311"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "127.0.0.1");
  EXPECT_EQ(o->port, 7311);
}

TEST(CliOptions, BracketedV6AddressWithPort) {
  auto o = Parse({"[::1]:7311"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 7311);
  auto bare = Parse({"[::1]"});
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->host, "::1");
  EXPECT_EQ(bare->port, 7000);
  auto unbracketed = Parse({"::1", "9"});
  ASSERT_TRUE(unbracketed.ok());
  EXPECT_EQ(unbracketed->host, "::1");
  EXPECT_EQ(unbracketed->port, 9);
}

TEST(CliOptions, PortGivenTwiceIsAUsageError) {
  EXPECT_FALSE(Parse({"h:1", "2"}).ok());
  EXPECT_FALSE(Parse({"h:1", "--port", "2"}).ok());
  EXPECT_FALSE(Parse({"h:x"}).ok());
  EXPECT_FALSE(Parse({"[::1"}).ok());
}

TEST(CliOptions, RepeatedRoomsAndSendsAreAllKeptInOrder) {
  auto listen = Parse({"--listen", "--room", "a", "--room", "b"});
  ASSERT_TRUE(listen.ok()) << listen.status();
  EXPECT_EQ(listen->rooms, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(listen->room, "a");
  auto sends = Parse({"--room", "r", "--send", "one", "--send", "two"});
  ASSERT_TRUE(sends.ok()) << sends.status();
  EXPECT_EQ(sends->sends, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(*sends->send, "one");
}

TEST(CliOptions, SendToSeveralRoomsIsRefusedNotDropped) {
  EXPECT_FALSE(Parse({"--room", "a", "--room", "b", "--send", "x"}).ok());
  EXPECT_FALSE(Parse({"--room", "a", "--room", "b", "--create"}).ok());
}

TEST(CliOptions, RoomAloneOnlyJoins) {
  EXPECT_TRUE(Parse({"--nick", "eve", "--room", "lobby"})->OnlyJoins());
  EXPECT_FALSE(Parse({"--room", "lobby", "--listen"})->OnlyJoins());
  EXPECT_FALSE(Parse({"--room", "lobby", "--send", "x"})->OnlyJoins());
  EXPECT_FALSE(Parse({})->OnlyJoins());
}

TEST(CliOptions, BadPortIsAUsageError) {
  EXPECT_FALSE(Parse({"h", "0"}).ok());
  EXPECT_FALSE(Parse({"h", "65536"}).ok());
  EXPECT_FALSE(Parse({"--port=x"}).ok());
  EXPECT_FALSE(Parse({"h", "1", "extra"}).ok());
}

TEST(CliOptions, CreateTakesARoomOrModifiesRoom) {
  auto alone = Parse({"--create", "lobby"});
  ASSERT_TRUE(alone.ok());
  EXPECT_TRUE(alone->create);
  EXPECT_EQ(alone->create_room, "lobby");
  auto with_room = Parse({"--room", "r", "--create", "--send", "hi"});
  ASSERT_TRUE(with_room.ok()) << with_room.status();
  EXPECT_TRUE(with_room->create);
  EXPECT_EQ(with_room->create_room, "");
  EXPECT_EQ(*with_room->send, "hi");
  EXPECT_FALSE(Parse({"--create"}).ok());
}

TEST(CliOptions, ContradictionsAreUsageErrors) {
  EXPECT_FALSE(Parse({"--send", "x"}).ok());                      // no room
  EXPECT_FALSE(Parse({"--listen"}).ok());                         // no room
  EXPECT_FALSE(Parse({"--room", "r", "--send", "x", "--listen"}).ok());
  EXPECT_FALSE(Parse({"--list", "--delete", "r"}).ok());
  EXPECT_FALSE(Parse({"--count", "3", "--room", "r"}).ok());     // count without listen
  EXPECT_FALSE(Parse({"--room", "r", "--listen", "--count", "0"}).ok());
  EXPECT_FALSE(Parse({"--json"}).ok());
  EXPECT_FALSE(Parse({"--frobnicate"}).ok());
  EXPECT_FALSE(Parse({"--nick"}).ok());                           // missing value
}

TEST(CliOptions, ActionsMakeScriptMode) {
  EXPECT_TRUE(Parse({"--list"})->HasAction());
  EXPECT_TRUE(Parse({"--delete", "r"})->HasAction());
  EXPECT_TRUE(Parse({"--room", "r"})->HasAction());
  EXPECT_FALSE(Parse({"--nick", "n"})->HasAction());
}

TEST(CliOptions, PlainSelectsTheLineMode) {
  auto o = ParseCliOptions({"--plain"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->plain);
  EXPECT_FALSE(o->HasAction());
  EXPECT_FALSE(ParseCliOptions({"--plain=yes"}).ok());
}

TEST(CliOptions, TlsIsOffByDefault) {
  auto o = Parse({});
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->tls);
  EXPECT_FALSE(o->TlsOptions().enabled);
  EXPECT_FALSE(o->insecure);
}

TEST(CliOptions, TlsFlagsMapToTheLibraryOptions) {
  auto o = Parse({"--tls", "--ca", "/etc/ca.pem"});
  ASSERT_TRUE(o.ok());
  const ClientTlsOptions t = o->TlsOptions();
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.ca_file, "/etc/ca.pem");
  EXPECT_FALSE(t.insecure);
}

TEST(CliOptions, CaAndInsecureImplyTls) {
  auto a = Parse({"--ca=x.pem"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->tls);
  auto b = Parse({"--insecure"});
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->tls);
  EXPECT_TRUE(b->TlsOptions().insecure);
}

TEST(CliOptions, TlsFlagMisuseIsAUsageError) {
  EXPECT_FALSE(Parse({"--tls=yes"}).ok());
  EXPECT_FALSE(Parse({"--ca"}).ok());
  EXPECT_FALSE(Parse({"--ca="}).ok());
  EXPECT_FALSE(Parse({"--insecure=1"}).ok());
}

TEST(CliOptions, UserRegisterCursorAndNoReconnect) {
  auto o = ParseCliOptions({"--user", "ann", "--register", "--room", "r", "--listen", "--cursor", "c.txt",
                            "--no-reconnect"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->user, "ann");
  EXPECT_TRUE(o->register_account);
  EXPECT_EQ(o->cursor_file, "c.txt");
  EXPECT_FALSE(o->reconnect);
  EXPECT_TRUE(ParseCliOptions({})->reconnect);
}

TEST(CliOptions, AccountFlagsThatDoNotFitAreUsageErrors) {
  EXPECT_FALSE(ParseCliOptions({"--register"}).ok());                        // no --user
  EXPECT_FALSE(ParseCliOptions({"--user", "ann", "--nick", "bob"}).ok());    // two identities
  EXPECT_FALSE(ParseCliOptions({"--room", "r", "--cursor", "c"}).ok());      // --cursor without --listen
  EXPECT_FALSE(ParseCliOptions({"--user="}).ok());
}

TEST(CliOptions, TheAddressIsAOneServerList) {
  auto positional = Parse({"h:7100"});
  ASSERT_TRUE(positional.ok()) << positional.status();
  EXPECT_EQ(positional->servers, (std::vector<ServerAddress>{{"h", 7100}}));
  auto flags = Parse({"--host", "::1", "--port", "9"});
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->servers, (std::vector<ServerAddress>{{"::1", 9}}));
  EXPECT_EQ(Parse({})->servers, (std::vector<ServerAddress>{{"127.0.0.1", 7000}}));
}

TEST(CliOptions, ServerListKeepsItsOrderAndItsFirstEntryIsHostAndPort) {
  auto o = Parse({"--server", "b:7001,[::1]:7002,c", "--room", "r", "--listen"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->servers, (std::vector<ServerAddress>{{"b", 7001}, {"::1", 7002}, {"c", 7000}}));
  EXPECT_EQ(o->host, "b");
  EXPECT_EQ(o->port, 7001);
  EXPECT_TRUE(Parse({"--server=a:1"}).ok());
}

TEST(CliOptions, ServerListWithAnAddressOrHostOrPortIsAUsageError) {
  EXPECT_FALSE(Parse({"--server", "a:1,b:2", "c:3"}).ok());
  EXPECT_FALSE(Parse({"c:3", "--server", "a:1"}).ok());
  EXPECT_FALSE(Parse({"--server", "a:1", "--host", "c"}).ok());
  EXPECT_FALSE(Parse({"--server", "a:1", "--port", "3"}).ok());
  EXPECT_FALSE(Parse({"--server", "a:1", "--server", "b:2"}).ok());
}

TEST(CliOptions, BadServerListEntriesAreUsageErrors) {
  EXPECT_FALSE(Parse({"--server", "a:1,,b:2"}).ok());
  EXPECT_FALSE(Parse({"--server", "a:1,b:x"}).ok());
  EXPECT_FALSE(Parse({"--server", "[::1:2"}).ok());
  EXPECT_FALSE(Parse({"--server", "a:1,a:1"}).ok());
  EXPECT_FALSE(Parse({"--server"}).ok());
  EXPECT_FALSE(Parse({"--server="}).ok());
}

}  // namespace
}  // namespace muxchat::client
