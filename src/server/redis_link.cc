#include "src/server/redis_link.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace muxchat::server {

const char* RedisLinkStateName(RedisLinkState state) {
  switch (state) {
    case RedisLinkState::kDown:
      return "down";
    case RedisLinkState::kConnecting:
      return "connecting";
    case RedisLinkState::kUp:
      return "up";
  }
  return "?";
}

RedisLink::RedisLink(EventLoop* loop, RedisLinkOptions options)
    : loop_(loop),
      options_(std::move(options)),
      jitter_state_(reinterpret_cast<uintptr_t>(this) | 1) {}

RedisLink::~RedisLink() {
  destroying_ = true;
  loop_->Cancel(reconnect_timer_);
  loop_->Cancel(connect_timer_);
  loop_->Cancel(watchdog_timer_);
  loop_->Cancel(write_timer_);
  if (ac_ != nullptr) {
    // Pending callbacks run with a null reply; OnDisconnected reports nothing
    // while destroying_.
    redisAsyncContext* ac = ac_;
    redisAsyncFree(ac);
    ac_ = nullptr;
  }
}

void RedisLink::Start() {
  if (started_) return;
  started_ = true;
  Connect();
}

void RedisLink::Connect() {
  reconnect_timer_ = 0;
  redisAsyncContext* ac = redisAsyncConnect(options_.host.c_str(), options_.port);
  if (ac == nullptr) {
    last_error_ = absl::ResourceExhaustedError("redis: cannot allocate a connection");
    ScheduleReconnect();
    return;
  }
  if (ac->err != 0) {
    // Failed before any hook was attached (e.g. an immediate ECONNREFUSED).
    last_error_ = absl::UnavailableError(
        absl::StrCat("redis ", options_.host, ":", options_.port, ": ", ac->errstr));
    redisAsyncFree(ac);
    ScheduleReconnect();
    return;
  }
  ++generation_;
  ac_ = ac;
  fd_ = ac->c.fd;
  interest_ = 0;
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = &HookAddRead;
  ac->ev.delRead = &HookDelRead;
  ac->ev.addWrite = &HookAddWrite;
  ac->ev.delWrite = &HookDelWrite;
  ac->ev.cleanup = &HookCleanup;
  // Detects a dead peer on an idle connection (the subscriber's, which has
  // no replies to time).
  redisEnableKeepAlive(&ac->c);
  redisAsyncSetDisconnectCallback(ac, &OnDisconnected);
  // Last: this arms the write event that tells the connect completed.
  redisAsyncSetConnectCallback(ac, &OnConnected);
  state_ = RedisLinkState::kConnecting;
  connect_timer_ = loop_->RunAt(loop_->now() + options_.connect_timeout, [this](absl::Time) {
    connect_timer_ = 0;
    if (state_ == RedisLinkState::kConnecting) {
      Cut(absl::DeadlineExceededError(absl::StrCat("redis ", options_.host, ":", options_.port,
                                                   ": connect timed out")));
    }
  });
}

void RedisLink::ScheduleReconnect() {
  if (destroying_ || reconnect_timer_ != 0) return;
  absl::Duration delay = options_.backoff_initial;
  for (int i = 0; i < failed_attempts_ && delay < options_.backoff_max; ++i) delay *= 2;
  delay = std::min(delay, options_.backoff_max);
  // xorshift64: jitter only, no quality needed.
  jitter_state_ ^= jitter_state_ << 13;
  jitter_state_ ^= jitter_state_ >> 7;
  jitter_state_ ^= jitter_state_ << 17;
  delay += delay * static_cast<double>(jitter_state_ % 1000) / 4000.0;
  ++failed_attempts_;
  reconnect_timer_ = loop_->RunAt(loop_->now() + delay, [this](absl::Time) { Connect(); });
}

void RedisLink::Gone(absl::Status why) {
  if (ac_ == nullptr) return;
  // Unregister now: after a failed connect hiredis calls the cleanup hook
  // only after this, when fd_ is already forgotten (and poll(2), unlike
  // epoll, keeps a closed fd in its set).
  SetInterest(0);
  ac_ = nullptr;
  fd_ = -1;
  ++generation_;
  outstanding_.clear();
  loop_->Cancel(connect_timer_);
  connect_timer_ = 0;
  loop_->Cancel(watchdog_timer_);
  watchdog_timer_ = 0;
  loop_->Cancel(write_timer_);
  write_timer_ = 0;
  if (destroying_) return;
  closing_ = false;
  last_error_ = why;
  state_ = RedisLinkState::kDown;
  ScheduleReconnect();
  if (reported_ != RedisLinkState::kDown) Report(RedisLinkState::kDown, why);
}

void RedisLink::Cut(absl::Status why) {
  if (ac_ == nullptr) return;
  redisAsyncContext* ac = ac_;
  // Record the cause first: OnDisconnected (called from inside the free when
  // the connection was up) would otherwise report a clean close.
  last_error_ = why;
  closing_ = true;
  cut_reason_pending_ = true;
  redisAsyncFree(ac);
  cut_reason_pending_ = false;
  Gone(std::move(why));  // no-op if OnDisconnected already ran
}

void RedisLink::Report(RedisLinkState state, const absl::Status& why) {
  reported_ = state;
  if (status_cb_) status_cb_(state, why);
}

absl::Status RedisLink::Ready() const {
  if (state_ != RedisLinkState::kUp || ac_ == nullptr || closing_) {
    return absl::UnavailableError(absl::StrCat("redis is ", RedisLinkStateName(state_),
                                               last_error_.ok() ? "" : ": ", last_error_.message()));
  }
  return absl::OkStatus();
}

template <typename SendFn>
absl::Status RedisLink::Queue(ReplyCallback done, SendFn send) {
  if (before_command_ && !in_before_command_) {
    in_before_command_ = true;
    before_command_();
    in_before_command_ = false;
  }
  if (absl::Status st = Ready(); !st.ok()) return st;
  auto* pending = new PendingReply{this, std::move(done)};
  if (send(pending) != REDIS_OK) {
    delete pending;
    return absl::UnavailableError("redis: connection is closing");
  }
  outstanding_.push_back(loop_->now());
  ArmWatchdog();
  return absl::OkStatus();
}

absl::Status RedisLink::Command(const std::vector<std::string>& args, ReplyCallback done) {
  return Queue(std::move(done), [&](PendingReply* pending) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return redisAsyncCommandArgv(ac_, &OnReply, pending, static_cast<int>(argv.size()), argv.data(), lens.data());
  });
}

absl::Status RedisLink::FormattedCommand(absl::string_view command, ReplyCallback done) {
  return Queue(std::move(done), [&](PendingReply* pending) {
    return redisAsyncFormattedCommand(ac_, &OnReply, pending, command.data(), command.size());
  });
}

absl::Status RedisLink::SubscribeModeCommand(const std::vector<std::string>& args, redisCallbackFn* fn,
                                             void* privdata) {
  if (state_ != RedisLinkState::kUp || ac_ == nullptr || closing_) {
    return absl::UnavailableError(absl::StrCat("redis is ", RedisLinkStateName(state_)));
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  if (redisAsyncCommandArgv(ac_, fn, privdata, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
      REDIS_OK) {
    return absl::UnavailableError("redis: connection is closing");
  }
  return absl::OkStatus();
}

void RedisLink::ArmWatchdog() {
  if (watchdog_timer_ != 0 || outstanding_.empty()) return;
  watchdog_timer_ =
      loop_->RunAt(outstanding_.front() + options_.command_timeout, [this](absl::Time now) { Watchdog(now); });
}

void RedisLink::Watchdog(absl::Time now) {
  watchdog_timer_ = 0;
  if (outstanding_.empty()) return;
  if (now - outstanding_.front() >= options_.command_timeout) {
    Cut(absl::DeadlineExceededError(absl::StrCat("redis ", options_.host, ":", options_.port, ": no reply in ",
                                                 absl::FormatDuration(options_.command_timeout))));
    return;
  }
  ArmWatchdog();
}

void RedisLink::OnEvent(uint64_t token, const PollEvent& event, absl::Time) {
  if (ac_ == nullptr || token != generation_) return;
  redisAsyncContext* ac = ac_;
  if (event.readable || event.error) redisAsyncHandleRead(ac);
  // The read may have ended the connection (hiredis freed the context).
  if (event.writable && ac_ == ac && token == generation_) {
    writing_ = true;
    redisAsyncHandleWrite(ac);
    writing_ = false;
  }
}

void RedisLink::WriteNow() {
  write_timer_ = 0;
  // Already written by an EPOLLOUT this turn, or the connection is gone.
  if (ac_ == nullptr || state_ != RedisLinkState::kUp || closing_ || (interest_ & kPollWrite) != 0) return;
  writing_ = true;
  // A write error ends the connection in here (OnDisconnected, Gone); what
  // the socket did not take arms EPOLLOUT (HookAddWrite while writing_).
  redisAsyncHandleWrite(ac_);
  writing_ = false;
}

void RedisLink::SetInterest(uint32_t interest) {
  if (fd_ < 0 || interest == interest_) return;
  absl::Status st;
  if (interest_ == 0) {
    st = loop_->Add(fd_, interest, this, generation_);
  } else if (interest == 0) {
    loop_->Remove(fd_);
  } else {
    st = loop_->Modify(fd_, interest);
  }
  // A registration failure leaves the connection deaf; the watchdog or the
  // connect timer then cuts it. Nothing better to do inside a hiredis hook.
  if (st.ok()) interest_ = interest;
}

void RedisLink::HookAddRead(void* privdata) {
  auto* self = static_cast<RedisLink*>(privdata);
  self->SetInterest(self->interest_ | kPollRead);
}

void RedisLink::HookDelRead(void* privdata) {
  auto* self = static_cast<RedisLink*>(privdata);
  self->SetInterest(self->interest_ & ~static_cast<uint32_t>(kPollRead));
}

void RedisLink::HookAddWrite(void* privdata) {
  auto* self = static_cast<RedisLink*>(privdata);
  // While connecting, writability is how the connect's end shows; inside a
  // write, hiredis asks for it because the socket did not take everything:
  // then wait for EPOLLOUT.
  if (self->state_ != RedisLinkState::kUp || self->writing_) {
    if (self->state_ == RedisLinkState::kUp && (self->interest_ & kPollWrite) == 0) ++self->write_waits_;
    self->SetInterest(self->interest_ | kPollWrite);
    return;
  }
  // A command was queued: write it once this turn's dispatch is done, unless
  // EPOLLOUT is armed already (it writes everything queued by then).
  if ((self->interest_ & kPollWrite) != 0 || self->write_timer_ != 0) return;
  self->write_timer_ = self->loop_->RunAt(self->loop_->now(), [self](absl::Time) { self->WriteNow(); });
}

void RedisLink::HookDelWrite(void* privdata) {
  auto* self = static_cast<RedisLink*>(privdata);
  self->SetInterest(self->interest_ & ~static_cast<uint32_t>(kPollWrite));
}

void RedisLink::HookCleanup(void* privdata) {
  // hiredis is about to close the fd: unregister it while it is still ours.
  static_cast<RedisLink*>(privdata)->SetInterest(0);
}

void RedisLink::OnConnected(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisLink*>(ac->data);
  if (self->ac_ != ac) return;
  self->loop_->Cancel(self->connect_timer_);
  self->connect_timer_ = 0;
  if (status != REDIS_OK) {
    // hiredis frees the context when this returns (no disconnect callback).
    self->Gone(absl::UnavailableError(absl::StrCat("redis ", self->options_.host, ":", self->options_.port, ": ",
                                                   ac->errstr != nullptr ? ac->errstr : "connect failed")));
    return;
  }
  self->state_ = RedisLinkState::kUp;
  self->failed_attempts_ = 0;
  ++self->connects_;
  self->Report(RedisLinkState::kUp, absl::OkStatus());
}

void RedisLink::OnDisconnected(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisLink*>(ac->data);
  if (self->ac_ != ac) return;
  absl::Status why;
  if (self->cut_reason_pending_) {
    why = self->last_error_;
  } else if (status == REDIS_OK) {
    why = absl::UnavailableError("redis: connection closed");
  } else {
    why = absl::UnavailableError(absl::StrCat("redis ", self->options_.host, ":", self->options_.port, ": ",
                                              ac->errstr != nullptr && ac->errstr[0] != '\0' ? ac->errstr
                                                                                             : "connection lost"));
  }
  // hiredis frees the context when this returns.
  self->Gone(std::move(why));
}

void RedisLink::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  (void)ac;
  auto* pending = static_cast<PendingReply*>(privdata);
  RedisLink* self = pending->link;
  // A null reply: hiredis is failing what waits because the context goes.
  if (reply == nullptr) self->closing_ = true;
  if (reply != nullptr && !self->outstanding_.empty()) {
    self->outstanding_.pop_front();
    if (self->outstanding_.empty()) {
      self->loop_->Cancel(self->watchdog_timer_);
      self->watchdog_timer_ = 0;
    }
  }
  ReplyCallback done = std::move(pending->done);
  delete pending;
  if (self->destroying_ && self->drop_pending_on_destroy_) return;
  if (done) done(static_cast<redisReply*>(reply));
}

}  // namespace muxchat::server
