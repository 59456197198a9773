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
#include <string>

#include "absl/strings/str_cat.h"
#include "src/client/chat_client.h"
#include "src/client/exit_codes.h"
#include "src/client/room_table.h"
#include "src/client/server_status.h"
#include "src/client/session_common.h"

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
      : o_(options), signal_fd_(signal_fd), style_(style) {}

  int Run() {
    auto connected = ChatClient::Connect(o_.host, o_.port, kRequestTimeout, o_.TlsOptions());
    if (!connected.ok()) {
      std::fprintf(stderr, "muxchat: %s\n", ConnectFailure(o_.host, o_.port, connected.status()).c_str());
      return kExitConnectFailed;
    }
    client_ = std::move(*connected);
    client_->set_interrupt_fd(signal_fd_);
    const std::string nick = o_.nick.empty() ? DefaultNickname() : o_.nick;
    if (auto w = client_->Hello(nick, kRequestTimeout, kClientName); !w.ok()) {
      return Report(*client_, absl::StrCat("login as ", nick, " refused"), w.status());
    }
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
    for (const std::string& room : o_.rooms) {  // several only with --listen
      auto joined = client_->JoinRoom(room, kRequestTimeout);
      if (!joined.ok()) return Report(*client_, absl::StrCat("cannot join ", room), joined.status());
      if (room_id_ == 0) {
        room_id_ = joined->room_id();
        room_name_ = joined->room_name();
      }
      followed_[joined->room_id()] = joined->room_name();
    }
    if (o_.listen) return Listen();
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

  int Listen() {
    int64_t printed = 0;
    for (;;) {
      while (client_->HasQueuedEvent()) {
        auto ev = client_->NextEvent(absl::ZeroDuration());
        if (!ev.ok()) break;
        const auto room = followed_.find(ev->room_id());
        if (ev->has_chat_message() && room != followed_.end() && !ev->chat_message().replay()) {
          // With several rooms, each text line says which one it is from.
          const std::string line = o_.json ? FormatMessageJson(room->second, ev->chat_message())
                                           : FormatChatLine(ev->chat_message(),
                                                            followed_.size() > 1 ? room->second : "", style_);
          std::printf("%s\n", line.c_str());
          std::fflush(stdout);
          if (o_.count > 0 && ++printed >= o_.count) return kExitOk;
        } else if (std::optional<int> end = EndsRun(*ev)) {
          return *end;
        }
      }
      if (client_->closed()) {
        std::fprintf(stderr, "muxchat: %s\n", DescribeLoss(*client_, client_->close_status()).c_str());
        return kExitConnectionLost;
      }
      bool unused = false;
      if (!Wait(false, absl::InfiniteFuture(), &unused)) return kExitOk;
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
        if (ev->has_chat_message() && ev->room_id() == room_id_ && !ev->chat_message().replay() &&
            ev->chat_message().sender() == client_->nickname() && !inflight_.empty()) {
          inflight_text_.erase(inflight_.front().second);
          inflight_.pop_front();
          backoff = kFirstBackoff;
        } else if (ev->has_reply() && ev->reply().status() != v1::SUCCESS) {
          auto it = std::find_if(inflight_.begin(), inflight_.end(),
                                 [&](const auto& p) { return p.first == ev->request_id(); });
          if (it == inflight_.end()) continue;
          const uint64_t index = it->second;
          inflight_.erase(it);
          std::string text = std::move(inflight_text_[index]);
          inflight_text_.erase(index);
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
        } else if (std::optional<int> end = EndsRun(*ev)) {
          return *end;
        }
      }
      if (client_->closed()) {
        std::fprintf(stderr, "muxchat: %s\n", DescribeLoss(*client_, client_->close_status()).c_str());
        return kExitConnectionLost;
      }
      // Send what the window and the back-off allow, in line order.
      while (!unsent_.empty() && inflight_.size() < window && absl::Now() >= resume) {
        auto first = unsent_.begin();
        auto id = client_->Send(room_id_, first->second);
        if (!id.ok()) return Report(*client_, absl::StrCat("line ", first->first + 1, " not sent"), id.status());
        inflight_.emplace_back(*id, first->first);
        inflight_text_[first->first] = std::move(first->second);
        unsent_.erase(first);
      }
      if (stdin_eof_ && unsent_.empty() && inflight_.empty()) return refused ? kExitRefused : kExitOk;
      const bool want_stdin = !stdin_eof_ && unsent_.size() < kSendWindow;
      const absl::Time deadline = !unsent_.empty() && inflight_.size() < window ? resume : absl::InfiniteFuture();
      bool stdin_ready = false;
      if (!Wait(want_stdin, deadline, &stdin_ready)) return kExitOk;
      if (stdin_ready) ReadStdin();
    }
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

  const int signal_fd_;
  const LineStyle& style_;
  std::unique_ptr<ChatClient> client_;
  uint64_t room_id_ = 0;  // the first --room: where --send and stdin lines go
  std::string room_name_;
  std::map<uint64_t, std::string> followed_;  // every joined room: id -> name
  // Stdin lines by line index: read but not yet sent (or to resend), and sent
  // but not yet acknowledged (request_id, line index) in send order.
  std::map<uint64_t, std::string> unsent_;
  std::deque<std::pair<uint64_t, uint64_t>> inflight_;
  std::map<uint64_t, std::string> inflight_text_;
  uint64_t next_index_ = 0;
  std::string partial_;
  bool stdin_eof_ = false;
};

}  // namespace

int RunScript(const CliOptions& options, int signal_fd, const LineStyle& style) {
  return ScriptRun(options, signal_fd, style).Run();
}

}  // namespace muxchat::client
