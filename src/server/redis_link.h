// One connection to a Redis server through hiredis's async API (0.14),
// driven by our EventLoop: the adapter maps hiredis's five hooks (add/del
// read, add/del write, cleanup) onto EventLoop::Add/Modify/Remove, the way
// hiredis's adapters/ae.h does for Redis's own loop. It connects, reconnects
// with capped exponential backoff when Redis goes away, cuts a connection
// whose oldest reply is overdue, fails commands fast while down and reports
// every up/down change through one status callback. Commands queued while
// up are written once the turn's dispatch is done, in one write, without
// waiting for writability (docs/SCALING.md §6); EPOLLOUT is armed only for
// what the socket did not take.
// Single-threaded: every method and every callback runs on the loop's thread.
// The loop must outlive the link; never destroy the link inside one of its
// own callbacks (hiredis is still on the stack).
#ifndef MUXCHAT_SERVER_REDIS_LINK_H_
#define MUXCHAT_SERVER_REDIS_LINK_H_

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/server/event_loop.h"

namespace muxchat::server {

struct RedisLinkOptions {
  // An IP address: hiredis resolves a name with a blocking getaddrinfo on
  // the loop's thread, at every reconnect.
  std::string host = "127.0.0.1";
  int port = 6379;
  // A connect that has not completed by then is abandoned and retried
  // (hiredis 0.14's async API has no timeouts of its own).
  absl::Duration connect_timeout = absl::Seconds(2);
  // A reply outstanding longer than this cuts the connection: a stopped or
  // wedged Redis then looks down (and sends fail fast) instead of queueing
  // publishes forever. Replies to subscribe-mode commands are not timed.
  absl::Duration command_timeout = absl::Seconds(2);
  // Reconnect delays: initial, doubled per failed attempt up to max, each
  // with up to 25% random jitter so that nodes do not retry in step.
  absl::Duration backoff_initial = absl::Milliseconds(50);
  absl::Duration backoff_max = absl::Seconds(2);
};

enum class RedisLinkState {
  kDown,        // not connected; a reconnect is scheduled (or Start not called)
  kConnecting,  // TCP connect in progress
  kUp,          // connected: commands are sent
};

const char* RedisLinkStateName(RedisLinkState state);

class RedisLink : public EventLoop::Handler {
 public:
  // `reply` is null when the connection went down before the reply came
  // (the command may or may not have run). hiredis frees the reply after the
  // callback returns.
  using ReplyCallback = absl::AnyInvocable<void(redisReply* reply)>;
  // Every state change. On kUp the owner sends its set-up commands (SCRIPT
  // LOAD, SUBSCRIBE) from inside the callback: they go out before anything
  // else on the new connection. `why` is OK on kUp, the cause on kDown.
  using StatusCallback = absl::AnyInvocable<void(RedisLinkState state, const absl::Status& why)>;

  // `loop` is borrowed and must outlive the link.
  RedisLink(EventLoop* loop, RedisLinkOptions options);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  void SetStatusCallback(StatusCallback cb) { status_cb_ = std::move(cb); }
  // Runs at the start of every Command, before that command is queued: an
  // owner that holds some commands back to send them together
  // (ClusterPublisher batches a turn's publishes) sends them here, so that
  // the connection still carries commands in the order they were asked for.
  // The hook may call Command itself (it is not run again inside).
  void SetBeforeCommand(absl::AnyInvocable<void()> hook) { before_command_ = std::move(hook); }

  // Starts connecting (and reconnecting forever, until destroyed).
  void Start();

  // Sends one command (argv, binary-safe). kUnavailable while not up: the
  // callback is then not called. Otherwise `done` runs exactly once, later,
  // on the loop thread (with null if the link goes down first).
  absl::Status Command(const std::vector<std::string>& args, ReplyCallback done);
  // The same, for a command already in RESP form ("*<argc>\r\n$<len>\r\n
  // <arg>\r\n..."; hiredis copies it into its output buffer as is): for a
  // caller that builds a large command once into its own buffer instead of
  // one string per argument (ClusterPublisher's script calls).
  absl::Status FormattedCommand(absl::string_view command, ReplyCallback done);
  // OK if Command would send now; otherwise the kUnavailable it would return.
  absl::Status Ready() const;

  // For subscribe mode: hiredis keeps `fn`/`privdata` for the channel and
  // calls them for the confirmation, every message and the unsubscribe
  // confirmation, and once with a null reply when the connection goes. Such
  // replies are not timed. `privdata` must outlive the link.
  absl::Status SubscribeModeCommand(const std::vector<std::string>& args, redisCallbackFn* fn, void* privdata);

  // From now on, destroying the link drops the callbacks still pending
  // instead of running them with a null reply: for an owner shutting down
  // whose callbacks would reach objects already gone.
  void DropPendingOnDestroy() { drop_pending_on_destroy_ = true; }

  RedisLinkState state() const { return state_; }
  bool up() const { return state_ == RedisLinkState::kUp; }
  // Successful connections so far (1 after the first connect).
  uint64_t connects() const { return connects_; }
  // Why the link is (or last was) down; OK if it never went down.
  const absl::Status& last_error() const { return last_error_; }
  // Times a connected link had to wait for writability because the socket
  // did not take everything queued (0 while Redis keeps up).
  uint64_t write_waits() const { return write_waits_; }

  // EventLoop::Handler.
  void OnEvent(uint64_t token, const PollEvent& event, absl::Time now) override;

 private:
  struct PendingReply {
    RedisLink* link;
    ReplyCallback done;
  };

  void Connect();
  // Command and FormattedCommand after their checks: `send` queues the
  // command in hiredis with (OnReply, pending) and returns hiredis's status.
  template <typename SendFn>
  absl::Status Queue(ReplyCallback done, SendFn send);
  void ScheduleReconnect();
  // The context is gone (or about to be freed by hiredis): forget it, fail
  // what waits, report down and schedule a reconnect. Safe to call twice.
  void Gone(absl::Status why);
  // Frees the context from outside hiredis's callbacks (timers only).
  void Cut(absl::Status why);
  void ArmWatchdog();
  void Watchdog(absl::Time now);
  void SetInterest(uint32_t interest);
  // Writes what hiredis has queued (the write timer's body).
  void WriteNow();
  void Report(RedisLinkState state, const absl::Status& why);

  // hiredis hooks (privdata / ac->data is the RedisLink).
  static void HookAddRead(void* privdata);
  static void HookDelRead(void* privdata);
  static void HookAddWrite(void* privdata);
  static void HookDelWrite(void* privdata);
  static void HookCleanup(void* privdata);
  static void OnConnected(const redisAsyncContext* ac, int status);
  static void OnDisconnected(const redisAsyncContext* ac, int status);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);

  EventLoop* const loop_;
  const RedisLinkOptions options_;
  StatusCallback status_cb_;
  absl::AnyInvocable<void()> before_command_;
  bool in_before_command_ = false;
  redisAsyncContext* ac_ = nullptr;
  int fd_ = -1;
  uint32_t interest_ = 0;  // what is registered with the loop for fd_; 0 = not registered
  uint64_t generation_ = 0;  // per connection attempt: stale events are ignored
  RedisLinkState state_ = RedisLinkState::kDown;
  absl::Status last_error_;
  uint64_t connects_ = 0;
  int failed_attempts_ = 0;
  // What the status callback last heard: a Redis that stays away is one
  // kDown, not one per retry.
  RedisLinkState reported_ = RedisLinkState::kConnecting;
  bool started_ = false;
  bool drop_pending_on_destroy_ = false;
  bool destroying_ = false;
  // The context is being freed (hiredis is failing the pending callbacks):
  // no new commands, even from inside those callbacks.
  bool closing_ = false;
  bool cut_reason_pending_ = false;  // Cut's cause is in last_error_
  uint64_t jitter_state_;
  EventLoop::TimerId reconnect_timer_ = 0;
  EventLoop::TimerId connect_timer_ = 0;
  EventLoop::TimerId watchdog_timer_ = 0;
  // Due at once: runs after the turn's dispatch (and the timers before it,
  // such as ClusterPublisher's flush), so a turn's commands leave in one
  // write before the loop polls again, instead of one turn later on
  // EPOLLOUT with two epoll_ctl around it.
  EventLoop::TimerId write_timer_ = 0;
  bool writing_ = false;  // inside our own redisAsyncHandleWrite
  uint64_t write_waits_ = 0;
  // Send times of the timed commands still waiting for a reply: Redis
  // answers in order, so the front is the oldest.
  std::deque<absl::Time> outstanding_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_REDIS_LINK_H_
