#include "src/client/account_login.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/client/password_prompt.h"
#include "src/client/server_status.h"
#include "src/client/session_common.h"

namespace muxchat::client {
namespace {

constexpr int kPasswordTries = 3;

void Notice(const AccountLoginOptions& o, const std::string& text) {
  if (o.notice) o.notice(text);
}

std::vector<std::string> Keys(const AccountLoginOptions& o) {
  return o.token_keys.empty() ? std::vector<std::string>{o.server} : o.token_keys;
}

// Keeps `token` under every key (where it is not kept already).
void KeepToken(TokenStore* tokens, const AccountLoginOptions& o, const StoredToken& token) {
  if (tokens == nullptr || token.token.empty()) return;
  const int64_t now = absl::ToUnixMicros(absl::Now());
  for (const std::string& key : Keys(o)) {
    auto kept = tokens->Find(key, o.user, now);
    if (kept.ok() && kept->has_value() && (*kept)->token == token.token) continue;
    if (const absl::Status s = tokens->Put(key, o.user, token); !s.ok()) {
      Notice(o, absl::StrCat("cannot keep the session token: ", s.message()));
      return;
    }
  }
}

void KeepToken(TokenStore* tokens, const AccountLoginOptions& o, const v1::Welcome& welcome) {
  KeepToken(tokens, o, StoredToken{welcome.session_token(), welcome.token_expires_unix_micros()});
}

// Forgets `token` under every key that keeps it (another key may keep
// another token, from a login through a list naming other nodes).
void ForgetToken(TokenStore* tokens, const AccountLoginOptions& o, const std::string& token) {
  const int64_t now = absl::ToUnixMicros(absl::Now());
  for (const std::string& key : Keys(o)) {
    auto kept = tokens->Find(key, o.user, now);
    if (kept.ok() && kept->has_value() && (*kept)->token == token) (void)tokens->Remove(key, o.user);
  }
}

// The different tokens kept under the keys, in key order.
absl::StatusOr<std::vector<StoredToken>> KeptTokens(const TokenStore& tokens, const AccountLoginOptions& o) {
  const int64_t now = absl::ToUnixMicros(absl::Now());
  std::vector<StoredToken> out;
  for (const std::string& key : Keys(o)) {
    auto kept = tokens.Find(key, o.user, now);
    if (!kept.ok()) return kept.status();
    if (!kept->has_value()) continue;
    const bool seen = std::any_of(out.begin(), out.end(), [&](const StoredToken& t) { return t.token == (*kept)->token; });
    if (!seen) out.push_back(**kept);
  }
  return out;
}

}  // namespace

absl::StatusOr<AccountLoginResult> LogInAccount(ChatClient& client, TokenStore* tokens,
                                                const AccountLoginOptions& o) {
  AccountLoginResult result;
  // A kept token also serves --register: the account exists already (a
  // script that always passes --register works from its second run on).
  // Every token kept for one of the servers is tried, in list order: the
  // servers are one cluster, and one entry may keep a newer token than another.
  if (tokens != nullptr) {
    auto kept = KeptTokens(*tokens, o);
    if (!kept.ok()) Notice(o, absl::StrCat("cannot read the token file: ", kept.status().message()));
    bool refused = false;
    for (const StoredToken& stored : kept.ok() ? *kept : std::vector<StoredToken>()) {
      const std::string& token = stored.token;
      absl::StatusOr<v1::Welcome> w = o.resume.has_value() ? client.Resume(token, *o.resume, kRequestTimeout, kClientName)
                                                           : client.HelloWithToken(token, kRequestTimeout, kClientName);
      if (w.ok()) {
        if (!w->session_token().empty() && w->session_token() != token) {
          KeepToken(tokens, o, *w);
        } else {
          KeepToken(tokens, o, stored);  // under the entries that did not keep it yet
        }
        result.welcome = *w;
        result.resumed = o.resume.has_value();
        return result;
      }
      if (ServerStatusOf(w.status()) != v1::FAILURE_AUTH || client.closed()) return w.status();
      // Expired or revoked: forget it; the next kept token, or the password.
      ForgetToken(tokens, o, token);
      refused = true;
    }
    if (refused) {
      if (o.token_only) return absl::PermissionDeniedError("the server no longer accepts the session token");
      Notice(o, "the saved session is no longer valid; log in again");
    }
  }
  if (o.token_only) return absl::PermissionDeniedError("no session token kept for this account");
  ChatClient* c = &client;
  const bool typed = !PasswordFromEnvironment();
  for (int attempt = 1;; ++attempt) {
    auto password = ReadPassword(absl::StrCat(o.register_account ? "new password for " : "password for ", o.user,
                                              "@", o.server, ": "),
                                 o.signal_fd);
    if (!password.ok()) return password.status();
    if (o.register_account && typed) {
      // A typo in a new password would lock its owner out of the account.
      auto again = ReadPassword("the same password again: ", o.signal_fd);
      if (!again.ok()) return again.status();
      if (*again != *password) {
        if (attempt >= kPasswordTries) return absl::InvalidArgumentError("the two passwords differ");
        Notice(o, "the two passwords differ; try again");
        continue;
      }
    }
    absl::StatusOr<v1::Welcome> w;
    for (bool reopened = false;; reopened = true) {
      w = o.register_account ? c->Register(o.user, *password, kRequestTimeout, kClientName)
                             : c->Login(o.user, *password, kRequestTimeout, kClientName);
      // The server gave up on the connection while the password was typed:
      // the same password on a fresh one.
      if (w.ok() || !c->closed() || !typed || reopened || !o.reopen) break;
      auto fresh = o.reopen();
      if (!fresh.ok()) return fresh.status();
      c = *fresh;
    }
    if (w.ok()) {
      KeepToken(tokens, o, *w);
      result.welcome = *w;
      return result;
    }
    const auto server = ServerStatusOf(w.status());
    const bool retry = !c->closed() && typed && attempt < kPasswordTries &&
                       (server == v1::FAILURE_AUTH || (o.register_account && server == v1::FAILURE_INVALID));
    if (!retry) return w.status();
    // The server does not say whether the name exists (no account probing);
    // someone who never registered needs the way to, not only a refusal.
    Notice(o, absl::StrCat(o.register_account ? "not registered: " : "login refused: ", w.status().message(),
                           "; try again",
                           o.register_account ? "" : " (no account yet? run it again with --register)"));
  }
}

}  // namespace muxchat::client
