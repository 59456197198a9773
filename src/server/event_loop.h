// The reactor: waits on a Poller, dispatches readiness to the handler
// registered for each fd, runs timers, and calls one before-poll hook per
// turn (after Redis's ae: policy sits in beforeSleep). It knows fds, handlers
// and time, nothing about chat. Single-threaded: every method runs on the
// loop's thread; handlers are borrowed and must stay registered no longer
// than they live.
#ifndef MUXCHAT_SERVER_EVENT_LOOP_H_
#define MUXCHAT_SERVER_EVENT_LOOP_H_

#include <cstdint>
#include <memory>
#include <queue>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/server/poller.h"

namespace muxchat::server {

class EventLoop {
 public:
  class Handler {
   public:
    // `token` is what the fd was registered with; `now` is this turn's time.
    virtual void OnEvent(uint64_t token, const PollEvent& event, absl::Time now) = 0;

   protected:
    ~Handler() = default;
  };
  using TimerId = uint64_t;

  // `poller`: "epoll" or "poll".
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(absl::string_view poller);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  absl::Status Add(int fd, uint32_t interest, Handler* handler, uint64_t token);
  absl::Status Modify(int fd, uint32_t interest);
  // Events already collected for `fd` this turn are dropped.
  void Remove(int fd);

  // Runs `fn` once at `when` (or the first turn after it). Cancel before the
  // state it touches goes away.
  TimerId RunAt(absl::Time when, absl::AnyInvocable<void(absl::Time)> fn);
  void Cancel(TimerId id);
  // This turn's poll returns by `when` at the latest (a deadline the
  // before-poll hook found, such as a closing connection's linger).
  void WakeBy(absl::Time when);

  // Called at the start of every turn, before polling: flushing output and
  // reaping closed connections live there, at a point where no handler is
  // on the stack.
  void SetBeforePoll(absl::AnyInvocable<void(absl::Time)> hook) { before_poll_ = std::move(hook); }

  // Runs turns until Quit(). Returns the poller's error if it fails.
  absl::Status Run();
  // Ends Run() after the current turn.
  void Quit() { quit_ = true; }

  absl::Time now() const { return now_; }
  const char* poller_name() const { return poller_->Name(); }
  // Time spent outside the poll wait (dispatch, hooks, timers) and in all,
  // since Run started: busy / total is the loop's busy fraction.
  absl::Duration busy_time() const { return busy_; }
  absl::Duration total_time() const { return absl::Now() - started_; }

 private:
  explicit EventLoop(std::unique_ptr<Poller> poller) : poller_(std::move(poller)) {}
  void RunDueTimers();
  int PollTimeoutMs() const;

  struct Slot {
    Handler* handler = nullptr;
    uint64_t token = 0;
  };
  struct Timer {
    absl::Time when;
    TimerId id;
    bool operator>(const Timer& o) const { return when > o.when || (when == o.when && id > o.id); }
  };

  std::unique_ptr<Poller> poller_;
  std::vector<Slot> slots_;  // by fd: descriptors are small and dense
  std::vector<PollEvent> events_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timer_heap_;
  absl::flat_hash_map<TimerId, absl::AnyInvocable<void(absl::Time)>> timers_;  // cancelled ones are absent
  TimerId next_timer_id_ = 1;
  absl::Time wake_by_ = absl::InfiniteFuture();
  absl::AnyInvocable<void(absl::Time)> before_poll_;
  absl::Time now_ = absl::Now();
  absl::Time started_ = now_;
  absl::Duration busy_ = absl::ZeroDuration();
  bool quit_ = false;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_EVENT_LOOP_H_
