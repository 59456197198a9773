#include "src/client/token_store.h"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "src/client/atomic_file.h"
#include "tests/client/temp_dir.h"

namespace muxchat::client {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000;

mode_t ModeOf(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(TokenStore, KeepsATokenPerServerAndAccount) {
  testing::TempDir dir;
  TokenStore store(dir.File("muxchat/tokens"));
  ASSERT_TRUE(store.Put("a:7000", "ann", {"tok-a", 0}).ok());
  ASSERT_TRUE(store.Put("b:7000", "ann", {"tok-b", 0}).ok());
  ASSERT_TRUE(store.Put("a:7000", "bob", {"tok-bob", 0}).ok());
  auto found = store.Find("b:7000", "ann", kNow);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->token, "tok-b");
  EXPECT_EQ((*store.Find("a:7000", "bob", kNow))->token, "tok-bob");
}

TEST(TokenStore, AccountNamesMatchCaseInsensitively) {
  testing::TempDir dir;
  TokenStore store(dir.File("tokens"));
  ASSERT_TRUE(store.Put("a:1", "Ann", {"t", 0}).ok());
  EXPECT_TRUE(store.Find("a:1", "ANN", kNow)->has_value());
}

TEST(TokenStore, APutReplacesTheOlderToken) {
  testing::TempDir dir;
  TokenStore store(dir.File("tokens"));
  ASSERT_TRUE(store.Put("a:1", "ann", {"old", 0}).ok());
  ASSERT_TRUE(store.Put("a:1", "ann", {"new", 0}).ok());
  EXPECT_EQ((*store.Find("a:1", "ann", kNow))->token, "new");
  EXPECT_EQ(*ReadWholeFile(dir.File("tokens")), "a:1\tann\tnew\t0\n");
}

TEST(TokenStore, MissingFileHasNoToken) {
  testing::TempDir dir;
  TokenStore store(dir.File("nothing/here"));
  auto found = store.Find("a:1", "ann", kNow);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->has_value());
}

TEST(TokenStore, ExpiredTokenIsNotFound) {
  testing::TempDir dir;
  TokenStore store(dir.File("tokens"));
  ASSERT_TRUE(store.Put("a:1", "ann", {"t", kNow - 1}).ok());
  EXPECT_FALSE(store.Find("a:1", "ann", kNow)->has_value());
  ASSERT_TRUE(store.Put("a:1", "ann", {"t", kNow + 1}).ok());
  EXPECT_TRUE(store.Find("a:1", "ann", kNow)->has_value());
}

TEST(TokenStore, RemoveForgetsOnlyThatToken) {
  testing::TempDir dir;
  TokenStore store(dir.File("tokens"));
  ASSERT_TRUE(store.Put("a:1", "ann", {"t1", 0}).ok());
  ASSERT_TRUE(store.Put("a:1", "bob", {"t2", 0}).ok());
  ASSERT_TRUE(store.Remove("a:1", "ann").ok());
  EXPECT_FALSE(store.Find("a:1", "ann", kNow)->has_value());
  EXPECT_TRUE(store.Find("a:1", "bob", kNow)->has_value());
  EXPECT_TRUE(store.Remove("a:1", "nobody").ok());
}

TEST(TokenStore, DirectoryIs0700AndFileIs0600WhateverTheUmask) {
  testing::TempDir dir;
  const mode_t old = ::umask(0);
  TokenStore store(dir.File("config/muxchat/tokens"));
  const absl::Status put = store.Put("a:1", "ann", {"t", 0});
  ::umask(old);
  ASSERT_TRUE(put.ok()) << put;
  EXPECT_EQ(ModeOf(dir.File("config/muxchat")), 0700u);
  EXPECT_EQ(ModeOf(dir.File("config/muxchat/tokens")), 0600u);
}

TEST(TokenStore, TightensAnExistingLooseFile) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("tokens"), "", 0644).ok());
  TokenStore store(dir.File("tokens"));
  ASSERT_TRUE(store.Put("a:1", "ann", {"t", 0}).ok());
  EXPECT_EQ(ModeOf(dir.File("tokens")), 0600u);
}

TEST(TokenStore, RefusesFieldsThatWouldBreakTheFormat) {
  testing::TempDir dir;
  TokenStore store(dir.File("tokens"));
  EXPECT_TRUE(absl::IsInvalidArgument(store.Put("a:1", "an\tn", {"t", 0})));
  EXPECT_TRUE(absl::IsInvalidArgument(store.Put("a:1", "ann", {"t\nx", 0})));
  EXPECT_TRUE(absl::IsInvalidArgument(store.Put("a:1", "ann", {"", 0})));
}

TEST(TokenStore, SkipsMalformedLinesAndKeepsTheGoodOnes) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("tokens"), "garbage\na:1\tann\tgood\t0\nx\ty\n", 0600).ok());
  TokenStore store(dir.File("tokens"));
  EXPECT_EQ((*store.Find("a:1", "ann", kNow))->token, "good");
}

TEST(TokenStore, DefaultPathHonoursXdgConfigHome) {
  const char* old = std::getenv("XDG_CONFIG_HOME");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
  EXPECT_EQ(*TokenStore::DefaultPath(), "/x/cfg/muxchat/tokens");
  ::unsetenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    EXPECT_EQ(*TokenStore::DefaultPath(), std::string(home) + "/.config/muxchat/tokens");
  }
  if (old != nullptr) ::setenv("XDG_CONFIG_HOME", saved.c_str(), 1);
}

}  // namespace
}  // namespace muxchat::client
