// ChatService: the handshake requests and accounts (Hello, Register, Login,
// Logout, Resume) — docs/PROTOCOL.md §5. Passwords are hashed and checked on
// the PasswordHasher's thread; the connection waits (auth_pending) meanwhile.
// In cluster mode (AttachClusterAccounts) accounts, sessions and account
// memberships are Redis's (docs/SCALING.md §2): the connection waits for
// Redis the same way, and accounts_ is only a cache of what Redis said.
#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "src/server/chat_service.h"
#include "src/server/cluster_accounts.h"
#include "src/server/name_rules.h"
#include "src/server/password_rules.h"
#include "src/server/session_token.h"
#include "src/wire/frame_codec.h"

namespace muxchat::server {

namespace {

// One message for a wrong password and for an unknown account: which names
// exist is not for a guesser to learn.
constexpr char kBadCredentials[] = "wrong account name or password";
constexpr char kBadToken[] = "unknown, expired or revoked session token; log in again";

// The answer to a request that needed the cluster's Redis and did not get it
// (FAILURE_STORAGE: nothing was changed, retry later).
std::string ClusterTrouble(const absl::Status& st) {
  return absl::StrCat("the cluster's shared store is unavailable; nothing was changed; try again shortly (",
                      st.message(), ")");
}

// Puts what Redis said about an account into the local cache. Redis is the
// truth: a cached entry with the same ID or name that disagrees is replaced.
Account* CacheAccount(AccountRegistry* cache, const ClusterAccount& a) {
  Account* by_id = cache->FindById(a.id);
  if (by_id != nullptr && FoldName(by_id->name) == FoldName(a.name)) {
    by_id->name = a.name;
    by_id->password_hash = a.password_hash;
    return by_id;
  }
  if (by_id != nullptr) cache->Remove(a.id);
  if (Account* by_name = cache->FindByName(a.name)) cache->Remove(by_name->id);
  return cache->Add(a.id, a.name, a.password_hash, a.created);
}

}  // namespace

bool ChatService::CheckVersion(Connection* conn, const v1::ClientFrame& f, uint32_t version) {
  if (version == wire::kProtocolVersion) return true;
  CloseForRequest(conn, f, CloseReason::kHandshakeError, v1::FAILURE_VERSION_MISMATCH,
                  absl::StrCat("unsupported protocol version ", version, "; this server speaks ",
                               wire::kProtocolVersion));
  return false;
}

bool ChatService::WaitForCluster(Connection* conn, const v1::ClientFrame& f, const absl::Status& sent,
                                 absl::string_view failure) {
  if (!sent.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_STORAGE, failure.empty() ? ClusterTrouble(sent) : std::string(failure));
    return false;
  }
  connections_[conn->id()] = conn;
  conn->auth_pending = true;
  return true;
}

void ChatService::HandleHello(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const v1::Hello& hello = f.hello();
  if (conn->logged_in()) {
    ReplyFailure(conn, f, v1::FAILURE_HANDSHAKE, "already logged in");
    return;
  }
  if (!CheckVersion(conn, f, hello.protocol_version())) return;
  if (!hello.token().empty() && cluster_accounts_ != nullptr) {
    if (!LooksLikeSessionToken(hello.token())) {
      ReplyFailure(conn, f, v1::FAILURE_AUTH, kBadToken);
      return;
    }
    const uint64_t conn_id = conn->id();
    std::string hash = HashSessionToken(hello.token());
    absl::Status sent = cluster_accounts_->LookupSession(
        hash, [this, conn_id, f, hash](absl::StatusOr<ClusterAccount> found) {
          Connection* c = FindConnection(conn_id);
          if (c == nullptr) return;
          c->auth_pending = false;
          request_status_ = v1::SUCCESS;
          Account* account = found.ok() ? CacheAccount(&accounts_, *found) : nullptr;
          if (account != nullptr) {
            CompleteLogin(c, f, account->name, account, hash, "", absl::InfinitePast());
          } else if (found.ok() || absl::IsNotFound(found.status())) {
            ReplyFailure(c, f, v1::FAILURE_AUTH, kBadToken);
          } else {
            ReplyFailure(c, f, v1::FAILURE_STORAGE, ClusterTrouble(found.status()));
          }
          metrics_->CountRequest(f.body_case(), request_status_);
        });
    WaitForCluster(conn, f, sent);
    return;
  }
  if (!hello.token().empty()) {
    Account* account = LooksLikeSessionToken(hello.token())
                           ? accounts_.FindSession(HashSessionToken(hello.token()), now)
                           : nullptr;
    if (account == nullptr) {
      ReplyFailure(conn, f, v1::FAILURE_AUTH, kBadToken);
      return;
    }
    CompleteLogin(conn, f, account->name, account, HashSessionToken(hello.token()), "", absl::InfinitePast());
    return;
  }
  if (!options_.allow_guests) {
    ReplyFailure(conn, f, v1::FAILURE_AUTH, "this server has no guests: Register or Login");
    return;
  }
  if (absl::Status st = ValidateName(hello.nickname(), kMaxNicknameBytes, "nickname"); !st.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, std::string(st.message()));
    return;
  }
  if (accounts_.FindByName(hello.nickname()) != nullptr) {
    ReplyFailure(conn, f, v1::FAILURE_AUTH,
                 absl::StrCat("'", hello.nickname(), "' is a registered account: log in, or pick another nickname"));
    return;
  }
  std::string folded = FoldName(hello.nickname());
  if (nicknames_.contains(folded)) {
    ReplyFailure(conn, f, v1::FAILURE_ALREADY_EXISTS, absl::StrCat("nickname '", hello.nickname(), "' is taken"));
    return;
  }
  if (cluster_accounts_ != nullptr) {
    // A name registered on any node is not a guest's: ask Redis, then check
    // the local guests again (one may have taken the nickname meanwhile).
    const uint64_t conn_id = conn->id();
    absl::Status sent = cluster_accounts_->LookupAccountByName(
        hello.nickname(), [this, conn_id, f, folded](absl::StatusOr<ClusterAccount> found) {
          Connection* c = FindConnection(conn_id);
          if (c == nullptr) return;
          c->auth_pending = false;
          request_status_ = v1::SUCCESS;
          const std::string& nickname = f.hello().nickname();
          if (found.ok()) {
            CacheAccount(&accounts_, *found);
            ReplyFailure(c, f, v1::FAILURE_AUTH,
                         absl::StrCat("'", nickname, "' is a registered account: log in, or pick another nickname"));
          } else if (!absl::IsNotFound(found.status())) {
            ReplyFailure(c, f, v1::FAILURE_STORAGE, ClusterTrouble(found.status()));
          } else if (nicknames_.contains(folded)) {
            ReplyFailure(c, f, v1::FAILURE_ALREADY_EXISTS, absl::StrCat("nickname '", nickname, "' is taken"));
          } else if (cluster_ != nullptr) {
            // Unique among the guests of every node, too; counted here only
            // if the claim could not be sent.
            if (ClaimClusterNickname(c, f, folded)) return;
          } else {
            nicknames_.emplace(folded, c);
            CompleteLogin(c, f, nickname, nullptr, "", "", absl::InfinitePast());
          }
          metrics_->CountRequest(f.body_case(), request_status_);
        });
    WaitForCluster(conn, f, sent);
    return;
  }
  nicknames_.emplace(folded, conn);
  CompleteLogin(conn, f, hello.nickname(), nullptr, "", "", absl::InfinitePast());
}

void ChatService::CompleteLogin(Connection* conn, const v1::ClientFrame& f, const std::string& name, Account* account,
                                std::string token_hash, const std::string& token, absl::Time expires) {
  conn->set_identity(account != nullptr ? account->id : 0, std::move(token_hash));
  conn->LogIn(name, FoldName(name));
  connections_[conn->id()] = conn;
  ++logged_in_;
  ++metrics_->logins;
  logger_->Log(LogLevel::kInfo, "conn %d logged in as %s%s", conn->id(), name, account != nullptr ? "" : " (guest)");
  v1::ServerFrame out;
  out.set_request_id(f.request_id());
  v1::Welcome* w = out.mutable_welcome();
  w->set_session_id(conn->id());
  w->set_server_version(kServerVersion);
  w->set_protocol_version(wire::kProtocolVersion);
  w->set_nickname(name);
  *w->mutable_limits() = limits_;
  if (!token.empty()) {
    w->set_session_token(token);
    w->set_token_expires_unix_micros(absl::ToUnixMicros(expires));
  }
  w->set_guest(account == nullptr);
  w->set_durable(durable() || cluster_ != nullptr);  // a cluster keeps messages in Redis; its answers wait for it (PROTOCOL.md §9.2)
  conn->Send(out);
}

std::string ChatService::IssueSession(const Account& account, absl::Time now, std::string* hash,
                                      absl::Time* expires) {
  std::string token = NewSessionToken();
  *hash = HashSessionToken(token);
  *expires = now + options_.session_ttl;
  accounts_.AddSession(*hash, Session{account.id, *expires});
  return token;
}

void ChatService::HandleRegister(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const v1::Register& req = f.register_();
  if (conn->logged_in()) {
    ReplyFailure(conn, f, v1::FAILURE_HANDSHAKE, "already logged in");
    return;
  }
  if (!CheckVersion(conn, f, req.protocol_version())) return;
  if (absl::Status st = ValidateName(req.name(), kMaxNicknameBytes, "account name"); !st.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, std::string(st.message()));
    return;
  }
  if (absl::Status st = ValidatePassword(req.password()); !st.ok()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, std::string(st.message()));
    return;
  }
  // A connected guest's nickname is not up for grabs either.
  if (accounts_.FindByName(req.name()) != nullptr || nicknames_.contains(FoldName(req.name()))) {
    ReplyFailure(conn, f, v1::FAILURE_ALREADY_EXISTS, absl::StrCat("the name '", req.name(), "' is taken"));
    return;
  }
  if (durable() && now < refuse_writes_until_) {
    ReplyFailure(conn, f, v1::FAILURE_STORAGE, storage_error_);
    return;
  }
  // Not worth a hash while the registration could not be stored.
  if (cluster_accounts_ != nullptr && !cluster_accounts_->up()) {
    ReplyFailure(conn, f, v1::FAILURE_STORAGE, ClusterTrouble(absl::UnavailableError("redis is down")));
    return;
  }
  // A registration costs a hash: bounded by the request rate per
  // connection and by the hasher's queue (RATE_LIMITED when full).
  const uint64_t job = next_password_job_++;
  if (!hasher_.Hash(job, req.password())) {
    ReplyFailure(conn, f, v1::FAILURE_RATE_LIMITED, "the server is busy checking passwords; try again shortly");
    return;
  }
  v1::ClientFrame kept = f;
  kept.mutable_register_()->clear_password();
  password_jobs_.emplace(job, PasswordJob{conn->id(), conn->peer(), std::move(kept)});
  connections_[conn->id()] = conn;
  conn->auth_pending = true;
}

void ChatService::HandleLogin(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const v1::Login& req = f.login();
  if (conn->logged_in()) {
    ReplyFailure(conn, f, v1::FAILURE_HANDSHAKE, "already logged in");
    return;
  }
  if (!CheckVersion(conn, f, req.protocol_version())) return;
  if (req.name().size() > kMaxNicknameBytes || req.password().empty() || req.password().size() > kMaxPasswordBytes) {
    ReplyFailure(conn, f, v1::FAILURE_AUTH, kBadCredentials);
    return;
  }
  const absl::Duration wait = login_limiter_.Check(req.name(), conn->peer(), now);
  if (wait > absl::ZeroDuration()) {
    ReplyFailure(conn, f, v1::FAILURE_RATE_LIMITED,
                 absl::StrCat("too many failed logins; try again in ",
                              absl::ToInt64Seconds(absl::Ceil(wait, absl::Seconds(1))), " s"));
    return;
  }
  // Queues the password check against the (cached) account; the answer
  // comes through OnPasswordResults.
  auto verify = [this](Connection* conn, const v1::ClientFrame& f) {
    const v1::Login& req = f.login();
    const Account* account = accounts_.FindByName(req.name());
    // An unknown name costs a verification all the same (at this server's
    // cost), so that it answers no faster than a wrong password.
    const uint64_t job = next_password_job_++;
    const bool queued = account != nullptr ? hasher_.Verify(job, req.password(), account->password_hash)
                                           : hasher_.VerifyUnknownAccount(job, req.password());
    if (!queued) {
      login_limiter_.RecordAbandoned(req.name(), conn->peer());
      ReplyFailure(conn, f, v1::FAILURE_RATE_LIMITED, "the server is busy checking passwords; try again shortly");
      return;
    }
    v1::ClientFrame kept = f;
    kept.mutable_login()->clear_password();
    password_jobs_.emplace(job, PasswordJob{conn->id(), conn->peer(), std::move(kept)});
    connections_[conn->id()] = conn;
    conn->auth_pending = true;
  };
  if (cluster_accounts_ == nullptr) {
    verify(conn, f);
    return;
  }
  // Cluster: Redis holds the account (registered on any node, or its
  // password hash changed there); the cache is refreshed from its answer.
  // The frame, password included, waits in the callback for one round trip.
  const uint64_t conn_id = conn->id();
  absl::Status sent = cluster_accounts_->LookupAccountByName(
      req.name(), [this, conn_id, f, verify](absl::StatusOr<ClusterAccount> found) {
        Connection* c = FindConnection(conn_id);
        if (c == nullptr) return;
        c->auth_pending = false;
        request_status_ = v1::SUCCESS;
        if (found.ok()) {
          CacheAccount(&accounts_, *found);
        } else if (absl::IsNotFound(found.status())) {
          if (Account* stale = accounts_.FindByName(f.login().name())) accounts_.Remove(stale->id);
        } else {
          ReplyFailure(c, f, v1::FAILURE_STORAGE, ClusterTrouble(found.status()));
          metrics_->CountRequest(f.body_case(), request_status_);
          return;
        }
        verify(c, f);
        // Counted here only if refused; otherwise when the hasher answers.
        if (request_status_ != v1::SUCCESS) metrics_->CountRequest(f.body_case(), request_status_);
      });
  WaitForCluster(conn, f, sent);
}

void ChatService::OnPasswordResults(absl::Time now) {
  std::vector<PasswordResult> results;
  hasher_.TakeResults(&results);
  for (const PasswordResult& r : results) {
    auto it = password_jobs_.find(r.job_id);
    if (it == password_jobs_.end()) continue;
    PasswordJob job = std::move(it->second);
    password_jobs_.erase(it);
    Connection* conn = FindConnection(job.conn_id);
    const bool is_register = job.request.body_case() == v1::ClientFrame::kRegister;
    if (conn == nullptr) {
      // Gone while its password was checked: a wrong guess still counts.
      if (!is_register) {
        if (r.ok) {
          login_limiter_.RecordAbandoned(job.request.login().name(), job.peer);
        } else {
          login_limiter_.RecordFailure(job.request.login().name(), job.peer, now);
        }
      }
      continue;
    }
    conn->auth_pending = false;
    request_status_ = v1::SUCCESS;
    if (is_register) {
      FinishRegister(conn, job.request, r, now);
    } else {
      FinishLogin(conn, job.request, r, now);
    }
    metrics_->CountRequest(job.request.body_case(), request_status_);
  }
}

void ChatService::FinishRegister(Connection* conn, const v1::ClientFrame& f, const PasswordResult& r, absl::Time now) {
  const v1::Register& req = f.register_();
  if (!r.ok) {
    ReplyFailure(conn, f, v1::FAILURE_UNKNOWN, "could not hash the password; try again");
    return;
  }
  // Taken meanwhile (another Register in flight for the same name)?
  if (accounts_.FindByName(req.name()) != nullptr || nicknames_.contains(FoldName(req.name()))) {
    ReplyFailure(conn, f, v1::FAILURE_ALREADY_EXISTS, absl::StrCat("the name '", req.name(), "' is taken"));
    return;
  }
  if (cluster_accounts_ != nullptr) {
    // Redis reserves the name cluster-wide and hands out the ID; the account
    // is not written to this node's storage (Redis is its truth).
    const uint64_t conn_id = conn->id();
    absl::Status sent = cluster_accounts_->RegisterAccount(
        req.name(), r.hash, now, [this, conn_id, f, hash = r.hash, now](absl::StatusOr<uint64_t> id) {
          Connection* c = FindConnection(conn_id);
          const std::string& name = f.register_().name();
          Account* account = nullptr;
          if (id.ok()) {
            account = CacheAccount(&accounts_, ClusterAccount{*id, name, hash, now});
            logger_->Log(LogLevel::kInfo, "account %d '%s' registered in the cluster", *id, name);
          }
          if (c == nullptr) return;
          c->auth_pending = false;
          if (absl::IsAlreadyExists(id.status())) {
            ReplyFailure(c, f, v1::FAILURE_ALREADY_EXISTS, absl::StrCat("the name '", name, "' is taken"));
          } else if (account == nullptr) {
            ReplyFailure(c, f, v1::FAILURE_STORAGE, ClusterTrouble(id.status()));
          } else {
            StartSession(c, f, *account, /*new_account=*/false, now);
          }
        });
    WaitForCluster(conn, f, sent);
    return;
  }
  Account* account = accounts_.Add(accounts_.NextId(), req.name(), r.hash, now);
  NewAccount a;
  a.account.id = account->id;
  a.account.name = account->name;
  a.account.password_hash = account->password_hash;
  a.account.created_unix_micros = absl::ToUnixMicros(now);
  Persist(std::move(a));
  StartSession(conn, f, *account, /*new_account=*/true, now);
}

void ChatService::StartSession(Connection* conn, const v1::ClientFrame& f, const Account& account, bool new_account,
                               absl::Time now) {
  std::string hash;
  absl::Time expires;
  std::string token = IssueSession(account, now, &hash, &expires);
  // Welcome only once the session (and a new account) is stored.
  const uint64_t conn_id = conn->id(), account_id = account.id;
  if (cluster_accounts_ != nullptr) {
    // Redis keeps the session (and expires it); a local copy would never be
    // looked up again, only pile up.
    accounts_.RemoveSession(hash);
    absl::Status sent = cluster_accounts_->CreateSession(
        hash, account_id, options_.session_ttl,
        [this, conn_id, account_id, f, hash, token, expires](absl::Status st) {
          Connection* c = FindConnection(conn_id);
          Account* stored = accounts_.FindById(account_id);
          if (c == nullptr) return;
          c->auth_pending = false;
          if (!st.ok() || stored == nullptr) {
            ReplyFailure(c, f, v1::FAILURE_STORAGE,
                         ClusterTrouble(st.ok() ? absl::InternalError("account left the cache") : st));
            return;
          }
          CompleteLogin(c, f, stored->name, stored, hash, token, expires);
        });
    WaitForCluster(conn, f, sent);
    return;
  }
  conn->auth_pending = true;
  Persist(NewSession{SessionRecord{hash, account_id, absl::ToUnixMicros(expires)}},
          [this, conn_id, account_id, new_account, f, hash, token, expires](const absl::Status& st) {
            Connection* c = FindConnection(conn_id);
            if (!st.ok()) {
              accounts_.RemoveSession(hash);
              if (new_account) accounts_.Remove(account_id);
              if (c != nullptr) {
                c->auth_pending = false;
                ReplyFailure(c, f, v1::FAILURE_STORAGE, std::string(st.message()));
              }
              return;
            }
            Account* stored = accounts_.FindById(account_id);
            if (c == nullptr || stored == nullptr) return;
            if (new_account) logger_->Log(LogLevel::kInfo, "account %d '%s' registered", account_id, stored->name);
            c->auth_pending = false;
            CompleteLogin(c, f, stored->name, stored, hash, token, expires);
          });
}

void ChatService::FinishLogin(Connection* conn, const v1::ClientFrame& f, const PasswordResult& r, absl::Time now) {
  const v1::Login& req = f.login();
  Account* account = accounts_.FindByName(req.name());
  if (!r.ok || account == nullptr) {
    login_limiter_.RecordFailure(req.name(), conn->peer(), now);
    ReplyFailure(conn, f, v1::FAILURE_AUTH, kBadCredentials);
    return;
  }
  login_limiter_.RecordSuccess(req.name(), conn->peer(), now);
  StartSession(conn, f, *account, /*new_account=*/false, now);
}

void ChatService::HandleLogout(Connection* conn, const v1::ClientFrame& f) {
  if (conn->account_id() == 0 || conn->token_hash().empty()) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, "a guest has no session to log out of");
    return;
  }
  const std::string hash = conn->token_hash();
  // Answers `conn` (null: gone meanwhile) and ends every connection of this
  // node that logged in with the token.
  auto finish = [this, f, hash](Connection* conn) {
    accounts_.RemoveSession(hash);
    if (conn != nullptr) {
      v1::ServerFrame out;
      out.set_request_id(f.request_id());
      out.mutable_reply()->set_status(v1::SUCCESS);
      out.mutable_reply()->set_message("logged out; the session token no longer works");
      conn->Send(out);
    }
    std::vector<Connection*> same;
    for (const auto& [id, c] : connections_) {
      if (c->token_hash() == hash && !c->closing()) same.push_back(c);
    }
    for (Connection* c : same) {
      c->Close(CloseReason::kClientClosed, c == conn ? v1::STATUS_UNSPECIFIED : v1::FAILURE_AUTH,
               c == conn ? "" : "logged out on another connection");
    }
  };
  if (cluster_accounts_ == nullptr) {
    Persist(RevokeSession{hash});
    finish(conn);
    return;
  }
  // Cluster: the token must stop working on every node before the client
  // hears it did; connections on other nodes end when they next need it.
  const uint64_t conn_id = conn->id();
  absl::Status sent = cluster_accounts_->RevokeSession(hash, [this, conn_id, f, finish](absl::Status st) {
    Connection* c = FindConnection(conn_id);
    if (!st.ok()) {
      if (c != nullptr) ReplyFailure(c, f, v1::FAILURE_STORAGE, ClusterTrouble(st));
      return;
    }
    finish(c);
  });
  if (!sent.ok()) ReplyFailure(conn, f, v1::FAILURE_STORAGE, ClusterTrouble(sent));
}

void ChatService::HandleResume(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const v1::Resume& req = f.resume();
  if (conn->logged_in()) {
    ReplyFailure(conn, f, v1::FAILURE_HANDSHAKE, "already logged in");
    return;
  }
  if (!CheckVersion(conn, f, req.protocol_version())) return;
  // Logs conn in as `account` and rejoins its rooms (account->rooms), replaying
  // after each cursor; `forget_gone`: drop memberships of rooms that no longer exist.
  auto resume = [this](Connection* conn, const v1::ClientFrame& f, Account* account, bool forget_gone) {
    const v1::Resume& req = f.resume();
    CompleteLogin(conn, f, account->name, account, HashSessionToken(req.token()), "", absl::InfinitePast());
    // Cursors only matter for rooms the account is in; others are skipped
    // without being stored, so a flood of cursors costs one lookup each.
    absl::flat_hash_map<uint64_t, uint64_t> cursors;
    size_t ignored = 0;
    for (const v1::RoomCursor& c : req.cursors()) {
      if (account->rooms.contains(c.room_id())) {
        cursors[c.room_id()] = c.last_seq();
      } else {
        ++ignored;
      }
    }
    size_t restored = 0, skipped = 0;
    std::vector<uint64_t> gone;
    for (uint64_t room_id : account->rooms) {
      Room* room = rooms_.FindById(room_id);
      if (room == nullptr) {
        if (forget_gone) gone.push_back(room_id);
        continue;
      }
      if (cluster_ != nullptr && !ClusterFollowing(room_id)) {
        ++skipped;  // its messages could not be read from the cluster now
        continue;
      }
      if (conn->rooms().size() >= options_.max_rooms_per_connection ||
          room->member_count() >= options_.max_members_per_room) {
        ++skipped;
        continue;
      }
      auto it = cursors.find(room_id);
      ResumeRoom(conn, f, room, it != cursors.end() ? &it->second : nullptr);
      ++restored;
    }
    for (uint64_t id : gone) account->rooms.erase(id);
    v1::ServerFrame done;
    done.set_request_id(f.request_id());
    v1::Reply* r = done.mutable_reply();
    r->set_status(v1::SUCCESS);
    r->set_message(absl::StrCat("resumed ", restored, " rooms",
                                skipped > 0 ? absl::StrCat("; ", skipped, " not rejoined (limits)") : "",
                                ignored > 0 ? absl::StrCat("; ", ignored, " cursors for rooms not joined ignored") : ""));
    conn->Send(done);
  };
  if (cluster_accounts_ != nullptr) {
    if (!LooksLikeSessionToken(req.token())) {
      ReplyFailure(conn, f, v1::FAILURE_AUTH, kBadToken);
      return;
    }
    // Cluster: the session, then the account's memberships, from Redis
    // (two round trips; the connection waits, and may go, between them).
    const uint64_t conn_id = conn->id();
    auto fail = [this, f](Connection* c, v1::Status status, const std::string& message) {
      c->auth_pending = false;
      ReplyFailure(c, f, status, message);
      metrics_->CountRequest(f.body_case(), request_status_);
    };
    absl::Status sent = cluster_accounts_->LookupSession(
        HashSessionToken(req.token()), [this, conn_id, f, fail, resume](absl::StatusOr<ClusterAccount> found) {
          Connection* c = FindConnection(conn_id);
          if (c == nullptr) return;
          if (!found.ok()) {
            const bool unknown = absl::IsNotFound(found.status());
            fail(c, unknown ? v1::FAILURE_AUTH : v1::FAILURE_STORAGE,
                 unknown ? kBadToken : ClusterTrouble(found.status()));
            return;
          }
          const uint64_t account_id = found->id;
          CacheAccount(&accounts_, *found);
          absl::Status listed = cluster_accounts_->ListMemberships(
              account_id,
              [this, conn_id, f, fail, resume, account_id](absl::StatusOr<std::vector<uint64_t>> rooms) {
                Connection* c = FindConnection(conn_id);
                if (c == nullptr) return;
                Account* account = accounts_.FindById(account_id);
                if (!rooms.ok() || account == nullptr) {
                  fail(c, v1::FAILURE_STORAGE,
                       ClusterTrouble(rooms.ok() ? absl::InternalError("account left the cache") : rooms.status()));
                  return;
                }
                // The cache follows Redis; rooms this node does not know are
                // skipped, not forgotten (another node may hold them).
                account->rooms = absl::btree_set<uint64_t>(rooms->begin(), rooms->end());
                // Rooms this node does not follow yet are read from the
                // cluster first, as for a join.
                ClusterFollowAll(*rooms, [this, conn_id, f, fail, resume, account_id](bool all) {
                  Connection* c = FindConnection(conn_id);
                  if (c == nullptr || c->closing()) return;
                  if (!all) {
                    // Not half a resume reported as a whole one: the client
                    // tries again (here or on another node).
                    fail(c, v1::FAILURE_STORAGE,
                         ClusterTrouble(absl::UnavailableError("some of the account's rooms cannot be read now")));
                    return;
                  }
                  Account* account = accounts_.FindById(account_id);
                  if (account == nullptr) {
                    fail(c, v1::FAILURE_STORAGE, ClusterTrouble(absl::InternalError("account left the cache")));
                    return;
                  }
                  c->auth_pending = false;
                  request_status_ = v1::SUCCESS;
                  resume(c, f, account, /*forget_gone=*/false);
                  metrics_->CountRequest(f.body_case(), request_status_);
                });
              });
          if (!listed.ok()) fail(c, v1::FAILURE_STORAGE, ClusterTrouble(listed));
        });
    WaitForCluster(conn, f, sent);
    return;
  }
  Account* account =
      LooksLikeSessionToken(req.token()) ? accounts_.FindSession(HashSessionToken(req.token()), now) : nullptr;
  if (account == nullptr) {
    ReplyFailure(conn, f, v1::FAILURE_AUTH, kBadToken);
    return;
  }
  resume(conn, f, account, /*forget_gone=*/true);
}

void ChatService::ResumeRoom(Connection* conn, const v1::ClientFrame& f, Room* room, const uint64_t* cursor) {
  const std::deque<HistoryEntry>& ring = room->history();
  // What to replay: after the cursor (none past the newest), or like a join.
  auto from = ring.begin();
  uint64_t gap_first = 0, gap_last = 0;
  if (cursor != nullptr) {
    const uint64_t after = std::min(*cursor, room->last_seq());
    from = std::lower_bound(ring.begin(), ring.end(), after + 1,
                            [](const HistoryEntry& e, uint64_t seq) { return e.seq < seq; });
    // Missed more than the ring holds: the rest is a Gap, paged by History.
    const uint64_t first_kept = ring.empty() ? room->last_seq() + 1 : ring.front().seq;
    if (after + 1 < first_kept) {
      gap_first = after + 1;
      gap_last = first_kept - 1;
    }
  }
  room->AddMember(conn);
  conn->rooms().insert(room->id());
  v1::ServerFrame out;
  out.set_request_id(f.request_id());
  out.set_room_id(room->id());
  v1::RoomResumed* rr = out.mutable_room_resumed();
  rr->set_name(room->name());
  rr->set_member_count(static_cast<uint32_t>(room->member_count()));
  rr->set_last_seq(room->last_seq());
  rr->set_replay_count(static_cast<uint32_t>(ring.end() - from));
  rr->set_owner(room->owner());
  conn->Send(out);
  if (gap_first != 0) SendGap(conn, room->id(), gap_first, gap_last, "history", f.request_id());
  Replay(conn, room->id(), from, ring.end());
  AnnounceJoin(*room, conn);
}

}  // namespace muxchat::server
