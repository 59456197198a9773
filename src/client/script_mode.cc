#include "src/client/script_mode.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/client/account_login.h"
#include "src/client/chat_client.h"
#include "src/client/cursor_file.h"
#include "src/client/exit_codes.h"
#include "src/client/server_list.h"
#include "src/client/room_follower.h"
#include "src/client/room_table.h"
#include "src/client/server_status.h"
#include "src/client/session_common.h"
#include "src/client/token_store.h"

namespace muxchat::client {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);

// Prints `muxchat: what: reason` and returns the exit code for `status`.
int Report(ChatClient& client, const std::string& what, const absl::Status& status) {
  if (absl::IsCancelled(status)) return kExitOk;  // Ctrl+C/SIGTERM during a request: quiet, clean exit
  const std::string reason = IsConnectionLoss(status) || client.closed() ? DescribeLoss(client, status)
                                                                         : std::string(status.message());
  std::fprintf(stderr, "muxchat: %s: %s\n", what.c_str(), reason.c_str());
  return client.closed() ? kExitConnectionLost : ExitCodeFor(status);
}

int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(deadline - absl::Now(), absl::Milliseconds(1)));
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
}

class ScriptRun {
 public:
  ScriptRun(const CliOptions& options, int signal_fd, const LineStyle& style)
      : o_(options), signal_fd_(signal_fd), style_(style), servers_(options.ServerList()) {}

  int Run() {
    if (!o_.user.empty()) {
      auto path = TokenStore::DefaultPath();
      if (path.ok()) {
        tokens_.emplace(*path);
      } else {
        std::fprintf(stderr, "muxchat: %s; the session token will not be kept\n",
                     std::string(path.status().message()).c_str());
      }
    }
    if (o_.listen) return ListenRun();
    if (std::optional<int> failed = ConnectAndLogIn(/*resume=*/false); failed.has_value()) return *failed;
    if (o_.list) return List();
    if (!o_.delete_room.empty()) {
      auto r = client_->DeleteRoom(o_.delete_room, kRequestTimeout);
      if (!r.ok()) return Report(*client_, absl::StrCat("cannot delete ", o_.delete_room), r.status());
      return kExitOk;
    }
    if (o_.create) {
      const std::string& room = o_.create_room.empty() ? o_.room : o_.create_room;
      auto r = client_->CreateRoom(room, kRequestTimeout);
      const bool exists = !r.ok() && ServerStatusOf(r.status()) == v1::FAILURE_ALREADY_EXISTS;
      // With --room, --create means "create if missing"; alone it must create.
      if (!r.ok() && !(exists && !o_.room.empty())) {
        return Report(*client_, absl::StrCat("cannot create ", room), r.status());
      }
      if (o_.room.empty()) return kExitOk;
    }
    if (!o_.sends.empty()) {
      // A post, not join + send + leave: the members see the message and no
      // one joining and leaving around it. The Reply is the acknowledgement.
      // Every --send, in order, each acknowledged before the next.
      for (const std::string& text : o_.sends) {
        auto posted = client_->Post(o_.room, text, kRequestTimeout);
        if (!posted.ok()) return Report(*client_, "message not sent", posted.status());
      }
      return kExitOk;
    }
    auto joined = client_->JoinRoom(o_.room, kRequestTimeout);
    if (!joined.ok()) return Report(*client_, absl::StrCat("cannot join ", o_.room), joined.status());
    room_id_ = joined->room_id();
    room_name_ = joined->room_name();
    acked_seq_ = joined->last_seq();
    followed_[joined->room_id()] = joined->room_name();
    return SendStdin();
  }

 private:
  int List() {
    auto r = client_->ListAllRooms(kRequestTimeout);
    if (!r.ok()) return Report(*client_, "cannot list rooms", r.status());
    if (o_.json) {
      for (const v1::RoomInfo& room : r->rooms()) std::printf("%s\n", FormatRoomJson(room).c_str());
    } else {
      std::fputs(FormatRoomTable(r->rooms(), absl::Now()).c_str(), stdout);
    }
    std::fflush(stdout);
    return kExitOk;
  }

  // Connects and logs in (account with --user, else a guest). With `resume`
  // and a kept token, the account's rooms are restored (Resume with the
  // followed rooms' cursors). Returns an exit code on failure.
  // The first connect tries every server in list order; a reconnect tries
  // the rotation's current one only (Reconnect() moves on).
  std::optional<int> ConnectAndLogIn(bool resume) {
    absl::StatusOr<std::unique_ptr<ChatClient>> connected;
    if (reconnecting_) {
      connected = ChatClient::Connect(servers_.current().host, servers_.current().port, kRequestTimeout, o_.TlsOptions());
    } else {
      connected = ConnectToFirstServer(servers_, o_.TlsOptions(), [](const std::string& line) {
        std::fprintf(stderr, "muxchat: %s\n", line.c_str());
      });
    }
    if (!connected.ok()) {
      last_failure_ = connected.status();
      return kExitConnectFailed;
    }
    client_ = std::move(*connected);
    client_->set_interrupt_fd(signal_fd_);
    resumed_ = false;
    if (o_.user.empty()) {
      const std::string nick = o_.nick.empty() ? DefaultNickname() : o_.nick;
      if (auto w = client_->Hello(nick, kRequestTimeout, kClientName); !w.ok()) {
        last_failure_ = w.status();
        return Report(*client_, absl::StrCat("login as ", nick, " refused"), w.status());
      }
      return std::nullopt;
    }
    AccountLoginOptions a;
    a.server = servers_.current().ToString();
    a.token_keys = TokenKeys(servers_.servers());
    a.user = o_.user;
    a.register_account = o_.register_account && !registered_;
    a.signal_fd = signal_fd_;
    a.token_only = registered_ && reconnecting_;
    a.notice = [](const std::string& text) { std::fprintf(stderr, "muxchat: %s\n", text.c_str()); };
    if (resume) a.resume = Cursors();
    a.reopen = [this]() -> absl::StatusOr<ChatClient*> {
      auto again = ConnectAgainForLogin(servers_.current(), o_.TlsOptions(), signal_fd_);
      if (!again.ok()) return again.status();
      client_ = std::move(*again);
      return client_.get();
    };
    auto r = LogInAccount(*client_, tokens_.has_value() ? &*tokens_ : nullptr, a);
    if (!r.ok()) {
      last_failure_ = r.status();
      if (absl::IsCancelled(r.status())) return kExitOk;
      return Report(*client_, absl::StrCat("login as ", o_.user, " refused"), r.status());
    }
    registered_ = true;  // from now on a plain login (the account exists)
    resumed_ = r->resumed;
    return std::nullopt;
  }

  // ------------------------------------------------------------ --listen

  // One followed room (--room), by lower-cased name.
  struct Followed {
    std::string name;
    uint64_t room_id = 0;     // on the current connection; 0 = not joined yet
    RoomFollower follower;
    uint32_t history_left = 0;  // History messages still to come
    uint64_t last_before_fetch = 0;
    bool fetching = false;
  };

  // Cursors for Resume: every followed room whose place we know.
  std::vector<v1::RoomCursor> Cursors() const {
    std::vector<v1::RoomCursor> out;
    for (const auto& [key, f] : rooms_) {
      if (f.room_id == 0) continue;
      v1::RoomCursor c;
      c.set_room_id(f.room_id);
      c.set_last_seq(f.follower.last());
      out.push_back(c);
    }
    return out;
  }

  Followed* FindFollowed(uint64_t room_id) {
    auto it = by_id_.find(room_id);
    if (it == by_id_.end()) return nullptr;
    auto f = rooms_.find(it->second);
    return f == rooms_.end() ? nullptr : &f->second;
  }

  // Starts (or keeps) following `name` as room `room_id` whose newest seq is
  // `last_seq`: from the cursor file or the previous connection if they name
  // the same room, else from now on.
  Followed& Follow(const std::string& name, uint64_t room_id, uint64_t last_seq) {
    const std::string key = absl::AsciiStrToLower(name);
    auto it = rooms_.find(key);
    if (it == rooms_.end() || it->second.room_id != room_id) {
      uint64_t start = last_seq;
      if (it != rooms_.end() && it->second.room_id == 0 && cursor_.has_value()) {
        const RoomCursorEntry* c = cursor_->Find(name);
        if (c != nullptr && c->room_id == room_id) start = std::min(c->last_seq, last_seq);
      }
      Followed f;
      f.name = name;
      f.room_id = room_id;
      f.follower = RoomFollower(start);
      it = rooms_.insert_or_assign(key, std::move(f)).first;
      if (cursor_.has_value()) cursor_->Advance(name, room_id, start);
    }
    Followed& f = it->second;
    f.name = name;
    f.fetching = false;
    f.history_left = 0;
    f.follower.NoteLastSeq(last_seq);
    by_id_[room_id] = key;
    return f;
  }

  int ListenRun() {
    for (const std::string& room : o_.rooms) rooms_[absl::AsciiStrToLower(room)].name = room;
    if (!o_.cursor_file.empty()) {
      cursor_.emplace(o_.cursor_file);
      if (absl::Status s = cursor_->Load(); !s.ok()) {
        std::fprintf(stderr, "muxchat: --cursor: %s\n", std::string(s.message()).c_str());
        return kExitUsage;
      }
      // Resume wants the room IDs the cursor file knows.
      for (auto& [key, f] : rooms_) {
        if (const RoomCursorEntry* c = cursor_->Find(f.name); c != nullptr && c->room_id != 0) {
          f.room_id = c->room_id;
          f.follower = RoomFollower(c->last_seq);
        }
      }
    }
    std::optional<int> failed = ConnectAndLogIn(/*resume=*/true);
    if (!failed.has_value()) failed = SetUpRooms();
    if (failed.has_value()) return Finish(*failed);
    for (;;) {
      const int code = Listen();
      if (code != kLostReconnect) return Finish(code);
      if (std::optional<int> end = Reconnect(); end.has_value()) return Finish(*end);
    }
  }

  // Saves the cursor file one last time.
  int Finish(int code) {
    if (cursor_.has_value()) {
      if (absl::Status s = cursor_->MaybeSave(absl::Now(), /*force=*/true); !s.ok()) {
        std::fprintf(stderr, "muxchat: --cursor: %s\n", std::string(s.message()).c_str());
        if (code == kExitOk) code = kExitInternal;
      }
    }
    return code;
  }

  // After a login: the resumed rooms (if Resume was used) and a JoinRoom for
  // every --room not among them. The rooms' missed messages are fetched by
  // the listen loop (CatchUp).
  std::optional<int> SetUpRooms() {
    by_id_.clear();  // re-learnt below (Follow)
    std::set<std::string> present;
    if (resumed_) {
      const uint64_t resume_id = client_->resume_request_id();
      const absl::Time deadline = absl::Now() + kRequestTimeout;
      for (;;) {
        auto ev = client_->NextEvent(deadline - absl::Now());
        if (!ev.ok()) {
          last_failure_ = ev.status();
          return Report(*client_, "resume failed", ev.status());
        }
        if (ev->request_id() == resume_id && ev->has_reply()) break;
        if (ev->has_room_resumed()) {
          const auto it = rooms_.find(absl::AsciiStrToLower(ev->room_resumed().name()));
          if (it == rooms_.end()) continue;  // a room of the account's that this run does not follow
          Follow(ev->room_resumed().name(), ev->room_id(), ev->room_resumed().last_seq());
          present.insert(it->first);
          continue;
        }
        if (std::optional<int> end = HandleListenEvent(*ev); end.has_value()) return end;
      }
    }
    for (const std::string& room : o_.rooms) {
      if (present.count(absl::AsciiStrToLower(room)) != 0) continue;
      auto joined = client_->JoinRoom(room, kRequestTimeout);
      if (!joined.ok()) {
        last_failure_ = joined.status();
        return Report(*client_, absl::StrCat("cannot join ", room), joined.status());
      }
      Follow(joined->room_name(), joined->room_id(), joined->last_seq());
    }
    return std::nullopt;
  }

  // Reconnects until logged in again (or a quit signal, or a refusal that
  // retrying cannot fix): the next server each attempt, with backoff between
  // passes over the list (ServerRotation). Returns an exit code to end the run.
  std::optional<int> Reconnect() {
    reconnecting_ = true;
    for (absl::Duration wait = servers_.Lost();; wait = servers_.Failed()) {
      if (!SleepUnlessSignalled(signal_fd_, wait)) return kExitOk;
      std::optional<int> failed = ConnectAndLogIn(/*resume=*/true);
      if (!failed.has_value()) failed = SetUpRooms();
      if (!failed.has_value()) break;
      if (*failed == kExitOk) return kExitOk;  // Ctrl+C
      // Retry while the connection is what failed (or our old session's
      // nickname is not free yet); a refusal on a working connection is final.
      const auto server = ServerStatusOf(last_failure_);
      const bool transient = client_ == nullptr || client_->closed() || *failed == kExitConnectFailed ||
                             server == v1::FAILURE_ALREADY_EXISTS || server == v1::FAILURE_RATE_LIMITED;
      if (!transient || (client_ != nullptr && client_->closed() && !ShouldReconnect(client_->close_status()))) {
        return *failed;
      }
    }
    servers_.Connected();
    std::fprintf(stderr, "muxchat: reconnected to %s\n", servers_.current().ToString().c_str());
    return std::nullopt;
  }

  // Prints one message of a followed room and moves its cursor.
  bool Print(const Followed& f, const v1::ChatMessage& message) {
    // Caught-up messages print like live ones: the output of a listener that
    // was restarted or reconnected is the same as of one that never stopped.
    v1::ChatMessage m = message;
    m.set_replay(false);
    const std::string line = o_.json ? FormatMessageJson(f.name, m)
                                     : FormatChatLine(m, rooms_.size() > 1 ? f.name : "", style_);
    std::printf("%s\n", line.c_str());
    if (cursor_.has_value()) cursor_->Advance(f.name, f.room_id, m.seq());
    return o_.count > 0 && ++printed_ >= o_.count;
  }

  // One event while listening; an exit code if it ends the run.
  std::optional<int> HandleListenEvent(const v1::ServerFrame& ev) {
    Followed* f = FindFollowed(ev.room_id());
    if (ev.has_chat_message()) {
      if (f == nullptr) return std::nullopt;
      if (ev.chat_message().replay() && f->history_left > 0) --f->history_left;
      for (const v1::ChatMessage& m : f->follower.Offer(ev.chat_message())) {
        if (Print(*f, m)) return kExitOk;
      }
      return std::nullopt;
    }
    if (ev.has_gap()) {
      if (f != nullptr) f->follower.NoteLastSeq(ev.gap().last_missing_seq());
      return std::nullopt;
    }
    if (ev.has_room_closed() && f != nullptr) {
      std::fprintf(stderr, "muxchat: room %s was deleted by %s\n", f->name.c_str(),
                   ev.room_closed().closed_by().c_str());
      rooms_.erase(by_id_[ev.room_id()]);
      by_id_.erase(ev.room_id());
      if (rooms_.empty()) return kExitConnectionLost;
      return std::nullopt;
    }
    if (ev.has_shutdown()) {
      if (!o_.reconnect) return EndsRun(ev);
      std::fprintf(stderr, "muxchat: %s; reconnecting\n", DescribeServerEnd(ev).c_str());
      shutdown_seen_ = true;
      return std::nullopt;
    }
    if (ev.has_error()) {
      const absl::Status why = StatusFromServer(ev.error().status(), ev.error().message());
      if (!o_.reconnect || !ShouldReconnect(why)) return EndsRun(ev);
      return std::nullopt;
    }
    return std::nullopt;
  }

  // Fetches the holes of followed rooms with History, one page per room at
  // a time; a hole the server cannot fill (no longer stored) is skipped with
  // one line on stderr.
  std::optional<int> CatchUp() {
    for (auto& [key, f] : rooms_) {
      if (f.room_id == 0 || f.history_left > 0 || !f.follower.HasHole()) continue;
      if (f.fetching && f.follower.last() == f.last_before_fetch) {
        // The last page brought nothing new: those messages are gone.
        const uint64_t before = f.follower.skipped();
        for (const v1::ChatMessage& m : f.follower.SkipThrough(f.follower.HoleEnd())) {
          if (Print(f, m)) return kExitOk;
        }
        std::fprintf(stderr, "muxchat: %s: %llu messages are no longer stored on the server; skipped\n",
                     f.name.c_str(), static_cast<unsigned long long>(f.follower.skipped() - before));
        f.fetching = false;
        continue;
      }
      v1::History query;
      query.set_after_seq(f.follower.last());
      auto reply = client_->History(f.room_id, query, kRequestTimeout);
      if (!reply.ok()) {
        if (client_->closed()) return std::nullopt;  // the loop notices the loss
        std::fprintf(stderr, "muxchat: %s: cannot fetch missed messages: %s\n", f.name.c_str(),
                     std::string(reply.status().message()).c_str());
        // Give up on this hole rather than ask forever.
        for (const v1::ChatMessage& m : f.follower.SkipThrough(f.follower.HoleEnd())) {
          if (Print(f, m)) return kExitOk;
        }
        continue;
      }
      f.fetching = true;
      f.last_before_fetch = f.follower.last();
      f.history_left = reply->history_count();
      f.follower.NoteLastSeq(reply->last_seq());
    }
    return std::nullopt;
  }

  // Waits for the connection (and stdin when `want_stdin`) up to `deadline`.
  // Returns false if a signal asked us to stop.
  bool Wait(bool want_stdin, absl::Time deadline, bool* stdin_ready) {
    pollfd fds[3] = {
        {signal_fd_, POLLIN, 0},
        {client_->fd(), static_cast<short>(POLLIN | (client_->HasPendingOutput() ? POLLOUT : 0)), 0},
        {want_stdin ? STDIN_FILENO : -1, POLLIN, 0},
    };
    if (::poll(fds, 3, PollTimeoutMs(deadline)) < 0) return errno == EINTR;
    if (fds[0].revents & POLLIN) {
      ReadSignal(signal_fd_);
      return false;
    }
    if (fds[1].revents != 0) client_->Pump().IgnoreError();
    *stdin_ready = (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    return true;
  }

  // Prints the followed rooms' messages until the count, a signal, or the
  // connection's end: kLostReconnect when it should be reconnected.
  int Listen() {
    for (;;) {
      while (client_->HasQueuedEvent()) {
        auto ev = client_->NextEvent(absl::ZeroDuration());
        if (!ev.ok()) break;
        if (std::optional<int> end = HandleListenEvent(*ev); end.has_value()) return *end;
      }
      std::fflush(stdout);
      if (!client_->closed()) {
        if (std::optional<int> end = CatchUp(); end.has_value()) return *end;
        if (client_->HasQueuedEvent()) continue;
      }
      if (cursor_.has_value()) {
        if (absl::Status s = cursor_->MaybeSave(absl::Now(), false); !s.ok()) {
          std::fprintf(stderr, "muxchat: --cursor: %s\n", std::string(s.message()).c_str());
          return kExitInternal;
        }
      }
      if (client_->closed()) {
        const absl::Status why = client_->close_status();
        const bool again = o_.reconnect && (shutdown_seen_ || ShouldReconnect(why));
        if (!again || !shutdown_seen_) {
          std::fprintf(stderr, "muxchat: %s%s\n", DescribeLoss(*client_, why).c_str(), again ? "; reconnecting" : "");
        }
        shutdown_seen_ = false;
        if (again) return kLostReconnect;
        return kExitConnectionLost;
      }
      bool unused = false;
      // With a cursor file, wake up to save it within its interval.
      const absl::Time deadline =
          cursor_.has_value() ? absl::Now() + CursorFile::kSaveInterval : absl::InfiniteFuture();
      if (!Wait(false, deadline, &unused)) return kExitOk;
    }
  }

  // Reads what stdin has into complete lines (up to one window's worth).
  void ReadStdin() {
    char buf[16384];
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      stdin_eof_ = true;
      if (!partial_.empty()) QueueLine(std::move(partial_));
      partial_.clear();
      return;
    }
    partial_.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
      QueueLine(partial_.substr(start, nl - start));
    }
    partial_.erase(0, start);
  }

  void QueueLine(std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return;  // the server refuses empty messages; skip blank lines
    unsent_.emplace(next_index_++, std::move(line));
  }

  int SendStdin() {
    // Non-blocking, so a pipe that delivers less than a buffer never stalls the loop.
    ::fcntl(STDIN_FILENO, F_SETFL, ::fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
    size_t window = kSendWindow;
    absl::Duration backoff = kFirstBackoff;
    absl::Time resume = absl::InfinitePast();
    bool refused = false;
    for (;;) {
      // Acknowledgements and refusals.
      while (client_->HasQueuedEvent()) {
        auto ev = client_->NextEvent(absl::ZeroDuration());
        if (!ev.ok()) break;
        const v1::ChatMessage& m = ev->chat_message();
        if (ev->has_chat_message() && ev->room_id() == room_id_ && !m.replay() && m.client_msg_id() != 0) {
          // Our line's echo, by the id it was sent with (an account may be
          // sending from elsewhere too).
          auto it = std::find_if(inflight_.begin(), inflight_.end(),
                                 [&](const auto& p) { return inflight_msg_[p.second] == m.client_msg_id(); });
          if (it != inflight_.end()) {
            Acknowledged(it);
            backoff = kFirstBackoff;
          }
          acked_seq_ = std::max(acked_seq_, m.seq());
        } else if (ev->has_chat_message() && ev->room_id() == room_id_ && !m.replay() &&
                   m.sender() == client_->nickname() && !inflight_.empty()) {
          Acknowledged(inflight_.begin());  // a server that echoes no client_msg_id: in order
          backoff = kFirstBackoff;
        } else if (ev->has_reply() && ev->reply().status() == v1::SUCCESS) {
          // A line sent again after a reconnect that the server already had.
          auto it = std::find_if(inflight_.begin(), inflight_.end(),
                                 [&](const auto& p) { return p.first == ev->request_id(); });
          if (it != inflight_.end()) Acknowledged(it);
        } else if (ev->has_reply() && ev->reply().status() != v1::SUCCESS) {
          auto it = std::find_if(inflight_.begin(), inflight_.end(),
                                 [&](const auto& p) { return p.first == ev->request_id(); });
          if (it == inflight_.end()) continue;
          const uint64_t index = it->second;
          inflight_.erase(it);
          std::string text = std::move(inflight_text_[index]);
          inflight_text_.erase(index);
          inflight_msg_.erase(index);
          if (ev->reply().status() == v1::FAILURE_RATE_LIMITED) {
            // Back off and resend; from now on one at a time, so no later
            // line can overtake a resent one.
            unsent_.emplace(index, std::move(text));
            window = 1;
            resume = absl::Now() + backoff;
            backoff = std::min(backoff * 2, kMaxBackoff);
          } else {
            std::fprintf(stderr, "muxchat: line %llu not sent: %s\n", static_cast<unsigned long long>(index + 1),
                         ev->reply().message().c_str());
            refused = true;
          }
        } else if (ev->has_shutdown() && o_.reconnect) {
          std::fprintf(stderr, "muxchat: %s; reconnecting\n", DescribeServerEnd(*ev).c_str());
          shutdown_seen_ = true;
        } else if (ev->has_error() && o_.reconnect &&
                   ShouldReconnect(StatusFromServer(ev->error().status(), ev->error().message()))) {
          // The connection's end follows: reconnect then.
        } else if (std::optional<int> end = EndsRun(*ev)) {
          return *end;
        }
      }
      if (client_->closed()) {
        const absl::Status why = client_->close_status();
        const bool again = o_.reconnect && (shutdown_seen_ || ShouldReconnect(why));
        if (!again || !shutdown_seen_) {
          std::fprintf(stderr, "muxchat: %s%s\n", DescribeLoss(*client_, why).c_str(), again ? "; reconnecting" : "");
        }
        shutdown_seen_ = false;
        if (!again) return kExitConnectionLost;
        if (std::optional<int> end = ReconnectSender(); end.has_value()) return *end;
        continue;
      }
      // Send what the window and the back-off allow, in line order.
      while (!unsent_.empty() && inflight_.size() < window && absl::Now() >= resume) {
        auto first = unsent_.begin();
        auto id = client_->Send(room_id_, first->second);
        if (!id.ok()) {
          if (client_->closed()) break;  // the loop reconnects; the line is still unsent
          return Report(*client_, absl::StrCat("line ", first->first + 1, " not sent"), id.status());
        }
        inflight_.emplace_back(*id, first->first);
        inflight_msg_[first->first] = client_->last_client_msg_id();
        inflight_text_[first->first] = std::move(first->second);
        unsent_.erase(first);
      }
      if (client_->closed()) continue;
      if (stdin_eof_ && unsent_.empty() && inflight_.empty()) return refused ? kExitRefused : kExitOk;
      const bool want_stdin = !stdin_eof_ && unsent_.size() < kSendWindow;
      const absl::Time deadline = !unsent_.empty() && inflight_.size() < window ? resume : absl::InfiniteFuture();
      bool stdin_ready = false;
      if (!Wait(want_stdin, deadline, &stdin_ready)) return kExitOk;
      if (stdin_ready) ReadStdin();
    }
  }

  // Line `it` is delivered.
  void Acknowledged(std::deque<std::pair<uint64_t, uint64_t>>::iterator it) {
    inflight_text_.erase(it->second);
    inflight_msg_.erase(it->second);
    inflight_.erase(it);
  }

  // Stdin lines: reconnects with backoff, joins the room again and sends
  // every line not yet acknowledged again, in order, under its
  // client_msg_id (the server answers one it already has with a Reply, so
  // nothing is stored twice). Returns an exit code to end the run.
  std::optional<int> ReconnectSender() {
    reconnecting_ = true;
    for (absl::Duration wait = servers_.Lost();; wait = servers_.Failed()) {
      if (!SleepUnlessSignalled(signal_fd_, wait)) return kExitOk;
      std::optional<int> failed = ConnectAndLogIn(/*resume=*/false);
      if (!failed.has_value()) {
        auto joined = client_->JoinRoom(o_.room, kRequestTimeout);
        if (joined.ok()) {
          room_id_ = joined->room_id();
          break;
        }
        last_failure_ = joined.status();
        failed = Report(*client_, absl::StrCat("cannot join ", o_.room), joined.status());
      }
      if (*failed == kExitOk) return kExitOk;  // Ctrl+C
      const auto server = ServerStatusOf(last_failure_);
      const bool transient = client_ == nullptr || client_->closed() || *failed == kExitConnectFailed ||
                             server == v1::FAILURE_ALREADY_EXISTS || server == v1::FAILURE_RATE_LIMITED;
      if (!transient) return *failed;
    }
    servers_.Connected();
    std::fprintf(stderr, "muxchat: reconnected to %s\n", servers_.current().ToString().c_str());
    DropStoredLines();
    std::deque<std::pair<uint64_t, uint64_t>> again;
    for (const auto& [request_id, index] : inflight_) {
      auto id = client_->Send(room_id_, inflight_text_[index], inflight_msg_[index]);
      if (!id.ok()) break;  // closed again: the loop reconnects once more
      again.emplace_back(*id, index);
    }
    // Lines whose resend did not go out stay in flight under their old ids
    // and go out with the next reconnect.
    for (size_t i = again.size(); i < inflight_.size(); ++i) again.push_back(inflight_[i]);
    inflight_ = std::move(again);
    return std::nullopt;
  }

  // Lines in flight when the connection broke may have been stored with
  // their echo lost. The server recognises a resend by client_msg_id only
  // within one account's sessions, so (for guests too) the room's messages
  // since the last acknowledged one are read back first, and lines found
  // there by their client_msg_id count as delivered.
  void DropStoredLines() {
    if (inflight_.empty()) return;
    v1::History query;
    query.set_after_seq(acked_seq_);
    auto reply = client_->History(room_id_, query, kRequestTimeout);
    if (!reply.ok()) return;  // resend all: better twice than never
    // The join's replay (queued first) and the page hold the same seqs:
    // each seq after `from` is looked at once, until the page's are all seen.
    const uint64_t from = acked_seq_;
    std::set<uint64_t> seen;
    const absl::Time deadline = absl::Now() + kRequestTimeout;
    while (seen.size() < reply->history_count()) {
      auto ev = client_->NextEvent(deadline - absl::Now());
      if (!ev.ok()) break;
      if (!ev->has_chat_message() || !ev->chat_message().replay() || ev->room_id() != room_id_) continue;
      const uint64_t seq = ev->chat_message().seq();
      if (seq <= from || !seen.insert(seq).second) continue;
      const uint64_t id = ev->chat_message().client_msg_id();
      acked_seq_ = std::max(acked_seq_, seq);
      if (id == 0) continue;
      auto it = std::find_if(inflight_.begin(), inflight_.end(),
                             [&](const auto& p) { return inflight_msg_[p.second] == id; });
      if (it != inflight_.end()) Acknowledged(it);
    }
    // Other events meanwhile are dropped: the stdin sender shows no messages.
  }

  const CliOptions& o_;
  // If `ev` ends the run (our room deleted, the server shutting down or
  // closing us with an Error), says why on stderr and returns the exit code.
  // With several --listen rooms, the run ends when the last one is deleted.
  std::optional<int> EndsRun(const v1::ServerFrame& ev) {
    if (ev.has_room_closed() && followed_.count(ev.room_id()) != 0) {
      std::fprintf(stderr, "muxchat: room %s was deleted by %s\n", followed_[ev.room_id()].c_str(),
                   ev.room_closed().closed_by().c_str());
      followed_.erase(ev.room_id());
      if (followed_.empty()) return kExitConnectionLost;
      return std::nullopt;
    }
    if (ev.has_shutdown() || ev.has_error()) {
      const std::string why = ev.has_shutdown()
                                  ? absl::StrCat("the server is shutting down: ", ev.shutdown().reason())
                                  : absl::StrCat("the server closed the connection: ", ev.error().message());
      std::fprintf(stderr, "muxchat: %s\n", why.c_str());
      return kExitConnectionLost;
    }
    return std::nullopt;
  }

  // Listen()'s "reconnect, then listen again".
  static constexpr int kLostReconnect = -1;

  const int signal_fd_;
  const LineStyle& style_;
  std::unique_ptr<ChatClient> client_;
  std::optional<TokenStore> tokens_;  // with --user
  bool registered_ = false;           // logged in once: a reconnect never registers again
  bool reconnecting_ = false;
  bool resumed_ = false;              // the last login was a Resume
  ServerRotation servers_;            // which server to (re)connect to, and when
  bool shutdown_seen_ = false;        // the server said it is shutting down (reconnect, one line)
  absl::Status last_failure_;
  // --listen: followed rooms by lower-cased name, their IDs on this
  // connection, the cursor file, and the count printed.
  std::map<std::string, Followed> rooms_;
  std::map<uint64_t, std::string> by_id_;
  std::optional<CursorFile> cursor_;
  int64_t printed_ = 0;
  uint64_t room_id_ = 0;  // the first --room: where --send and stdin lines go
  std::string room_name_;
  std::map<uint64_t, std::string> followed_;  // every joined room: id -> name
  // Stdin lines by line index: read but not yet sent (or to resend), and sent
  // but not yet acknowledged (request_id, line index) in send order.
  std::map<uint64_t, std::string> unsent_;
  std::deque<std::pair<uint64_t, uint64_t>> inflight_;
  std::map<uint64_t, std::string> inflight_text_;
  std::map<uint64_t, uint64_t> inflight_msg_;  // line index -> client_msg_id it was sent with
  uint64_t acked_seq_ = 0;                     // newest seq of the room known delivered
  uint64_t next_index_ = 0;
  std::string partial_;
  bool stdin_eof_ = false;
};

}  // namespace

int RunScript(const CliOptions& options, int signal_fd, const LineStyle& style) {
  return ScriptRun(options, signal_fd, style).Run();
}

}  // namespace muxchat::client
