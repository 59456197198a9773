#include "src/client/token_store.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/client/atomic_file.h"

namespace muxchat::client {
namespace {

struct Entry {
  std::string server, account;
  StoredToken token;
};

std::vector<Entry> Parse(const std::string& text) {
  std::vector<Entry> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    Entry e;
    if (f.size() != 4 || f[0].empty() || f[1].empty() || f[2].empty() ||
        !absl::SimpleAtoi(f[3], &e.token.expires_unix_micros)) {
      continue;
    }
    e.server = f[0];
    e.account = f[1];
    e.token.token = f[2];
    entries.push_back(std::move(e));
  }
  return entries;
}

bool Clean(const std::string& s) { return s.find_first_of("\t\n\r") == std::string::npos && !s.empty(); }

absl::StatusOr<std::vector<Entry>> Load(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (absl::IsNotFound(text.status())) return std::vector<Entry>();
  if (!text.ok()) return text.status();
  return Parse(*text);
}

absl::Status Store(const std::string& path, const std::vector<Entry>& entries) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (absl::Status s = MakeDirectories(path.substr(0, slash), 0700, /*fix_last=*/true); !s.ok()) return s;
  }
  std::string text;
  for (const Entry& e : entries) {
    absl::StrAppend(&text, e.server, "\t", e.account, "\t", e.token.token, "\t", e.token.expires_unix_micros, "\n");
  }
  return WriteFileAtomically(path, text, 0600);
}

}  // namespace

absl::StatusOr<std::string> TokenStore::DefaultPath() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && xdg[0] == '/') {
    return absl::StrCat(xdg, "/muxchat/tokens");
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] == '\0') {
    const passwd* pw = ::getpwuid(::getuid());
    home = pw != nullptr ? pw->pw_dir : nullptr;
  }
  if (home == nullptr || home[0] == '\0') return absl::NotFoundError("no HOME or XDG_CONFIG_HOME for the token file");
  return absl::StrCat(home, "/.config/muxchat/tokens");
}

absl::StatusOr<std::optional<StoredToken>> TokenStore::Find(const std::string& server, const std::string& account,
                                                            int64_t now_unix_micros) const {
  auto entries = Load(path_);
  if (!entries.ok()) return entries.status();
  for (const Entry& e : *entries) {
    if (e.server != server || !absl::EqualsIgnoreCase(e.account, account)) continue;
    if (e.token.expires_unix_micros != 0 && e.token.expires_unix_micros <= now_unix_micros) return std::nullopt;
    return e.token;
  }
  return std::nullopt;
}

absl::Status TokenStore::Put(const std::string& server, const std::string& account, const StoredToken& token) {
  if (!Clean(server) || !Clean(account) || !Clean(token.token)) {
    return absl::InvalidArgumentError("a token file field is empty or holds a tab or newline");
  }
  auto entries = Load(path_);
  if (!entries.ok()) return entries.status();
  std::vector<Entry> kept;
  for (Entry& e : *entries) {
    if (e.server == server && absl::EqualsIgnoreCase(e.account, account)) continue;
    kept.push_back(std::move(e));
  }
  kept.push_back(Entry{server, account, token});
  return Store(path_, kept);
}

absl::Status TokenStore::Remove(const std::string& server, const std::string& account) {
  auto entries = Load(path_);
  if (!entries.ok()) return entries.status();
  std::vector<Entry> kept;
  for (Entry& e : *entries) {
    if (e.server == server && absl::EqualsIgnoreCase(e.account, account)) continue;
    kept.push_back(std::move(e));
  }
  if (kept.size() == entries->size()) return absl::OkStatus();
  return Store(path_, kept);
}

}  // namespace muxchat::client
