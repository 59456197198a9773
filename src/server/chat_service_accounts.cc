// ChatService: the handshake requests and accounts (Hello, Register, Login,
// Logout, Resume) — docs/PROTOCOL.md §5. Passwords are hashed and checked on
// the PasswordHasher's thread; the connection waits (auth_pending) meanwhile.
#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "src/server/chat_service.h"
#include "src/server/name_rules.h"
#include "src/server/password_rules.h"
#include "src/server/session_token.h"
#include "src/wire/frame_codec.h"

namespace muxchat::server {

namespace {

// One message for a wrong password and for an unknown account: which names
// exist is not for a guesser to learn.
constexpr char kBadCredentials[] = "wrong account name or password";

}  // namespace

bool ChatService::CheckVersion(Connection* conn, const v1::ClientFrame& f, uint32_t version) {
  if (version == wire::kProtocolVersion) return true;
  CloseForRequest(conn, f, CloseReason::kHandshakeError, v1::FAILURE_VERSION_MISMATCH,
                  absl::StrCat("unsupported protocol version ", version, "; this server speaks ",
                               wire::kProtocolVersion));
  return false;
}

void ChatService::HandleHello(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const v1::Hello& hello = f.hello();
  if (conn->logged_in()) {
    ReplyFailure(conn, f, v1::FAILURE_HANDSHAKE, "already logged in");
    return;
  }
  if (!CheckVersion(conn, f, hello.protocol_version())) return;
  if (!hello.token().empty()) {
    Account* account = LooksLikeSessionToken(hello.token())
                           ? accounts_.FindSession(HashSessionToken(hello.token()), now)
                           : nullptr;
    if (account == nullptr) {
      ReplyFailure(conn, f, v1::FAILURE_AUTH, "unknown, expired or revoked session token; log in again");
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
  w->set_durable(durable());
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
  conn->auth_pending = true;
  const uint64_t conn_id = conn->id(), account_id = account.id;
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
  accounts_.RemoveSession(hash);
  Persist(RevokeSession{hash});
  v1::ServerFrame out;
  out.set_request_id(f.request_id());
  out.mutable_reply()->set_status(v1::SUCCESS);
  out.mutable_reply()->set_message("logged out; the session token no longer works");
  conn->Send(out);
  // Every connection that logged in with this token ends with it.
  std::vector<Connection*> same;
  for (const auto& [id, c] : connections_) {
    if (c->token_hash() == hash) same.push_back(c);
  }
  for (Connection* c : same) {
    c->Close(CloseReason::kClientClosed, c == conn ? v1::STATUS_UNSPECIFIED : v1::FAILURE_AUTH,
             c == conn ? "" : "logged out on another connection");
  }
}

void ChatService::HandleResume(Connection* conn, const v1::ClientFrame& f, absl::Time now) {
  const v1::Resume& req = f.resume();
  if (conn->logged_in()) {
    ReplyFailure(conn, f, v1::FAILURE_HANDSHAKE, "already logged in");
    return;
  }
  if (!CheckVersion(conn, f, req.protocol_version())) return;
  Account* account =
      LooksLikeSessionToken(req.token()) ? accounts_.FindSession(HashSessionToken(req.token()), now) : nullptr;
  if (account == nullptr) {
    ReplyFailure(conn, f, v1::FAILURE_AUTH, "unknown, expired or revoked session token; log in again");
    return;
  }
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
      gone.push_back(room_id);
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
