#include "src/server/event_loop.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace muxchat::server {

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(absl::string_view poller) {
  absl::StatusOr<std::unique_ptr<Poller>> p = MakePoller(poller);
  if (!p.ok()) return p.status();
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(*p)));
}

absl::Status EventLoop::Add(int fd, uint32_t interest, Handler* handler, uint64_t token) {
  if (fd < 0) return absl::InvalidArgumentError("EventLoop::Add: negative fd");
  if (static_cast<size_t>(fd) >= slots_.size()) slots_.resize(static_cast<size_t>(fd) + 1);
  if (absl::Status st = poller_->Add(fd, interest, static_cast<uint64_t>(fd)); !st.ok()) return st;
  slots_[fd] = Slot{handler, token};
  return absl::OkStatus();
}

absl::Status EventLoop::Modify(int fd, uint32_t interest) {
  return poller_->Modify(fd, interest, static_cast<uint64_t>(fd));
}

void EventLoop::Remove(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= slots_.size()) return;
  poller_->Remove(fd);
  slots_[fd] = Slot{};
}

EventLoop::TimerId EventLoop::RunAt(absl::Time when, absl::AnyInvocable<void(absl::Time)> fn) {
  const TimerId id = next_timer_id_++;
  timers_.emplace(id, std::move(fn));
  timer_heap_.push(Timer{when, id});
  return id;
}

void EventLoop::Cancel(TimerId id) { timers_.erase(id); }

void EventLoop::WakeBy(absl::Time when) { wake_by_ = std::min(wake_by_, when); }

void EventLoop::RunDueTimers() {
  while (!timer_heap_.empty() && timer_heap_.top().when <= now_) {
    const TimerId id = timer_heap_.top().id;
    timer_heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    absl::AnyInvocable<void(absl::Time)> fn = std::move(it->second);
    timers_.erase(it);
    fn(now_);
  }
}

int EventLoop::PollTimeoutMs() const {
  absl::Time next = wake_by_;
  // Cancelled timers stay in the heap until due; waking for one costs a turn.
  if (!timer_heap_.empty()) next = std::min(next, timer_heap_.top().when);
  if (next == absl::InfiniteFuture()) return -1;
  const absl::Duration wait = next - absl::Now();
  if (wait <= absl::ZeroDuration()) return 0;
  // Rounded up: waking a little early would only spin through another turn.
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1))),
                                            60 * 1000));
}

absl::Status EventLoop::Run() {
  started_ = now_ = absl::Now();
  quit_ = false;
  while (!quit_) {
    wake_by_ = absl::InfiniteFuture();
    if (before_poll_) before_poll_(now_);
    if (quit_) break;
    const int timeout_ms = PollTimeoutMs();
    const absl::Time poll_start = absl::Now();
    busy_ += poll_start - now_;
    if (absl::Status st = poller_->Poll(timeout_ms, &events_); !st.ok()) return st;
    now_ = absl::Now();
    for (const PollEvent& ev : events_) {
      const size_t fd = static_cast<size_t>(ev.tag);
      // Removed earlier this turn: its handler may be gone.
      if (fd >= slots_.size() || slots_[fd].handler == nullptr) continue;
      slots_[fd].handler->OnEvent(slots_[fd].token, ev, now_);
    }
    RunDueTimers();
  }
  busy_ += absl::Now() - now_;
  return absl::OkStatus();
}

}  // namespace muxchat::server
