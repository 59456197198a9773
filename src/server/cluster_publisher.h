// The write side of a room shared through Redis (docs/SCALING.md §3). One
// atomic Redis step per room per loop turn, a Lua script run with EVALSHA:
// for each message of the turn, in order, dedupe by client_msg_id and take
// the room's next seq; then the new messages go to the room's stream as ONE
// entry (cluster_stream.h; trimmed to about `stream_maxlen` messages) and
// to the room's channel in one PUBLISH of the same bytes. Every node's
// subscribers therefore see one order per room, and a message is
// acknowledged only after that step. Also reads the stream for history and
// resume. Owns its own RedisLink.
// Batching: Publish queues; a room's publishes are sent as one script call
// (at most kMaxBatchMessages / kMaxBatchBytes) at the end of the loop turn,
// or earlier, just before any other command on the link (its order is kept).
// Single-threaded: methods and callbacks run on the loop's thread; the loop
// must outlive the publisher, and the publisher must not be destroyed inside
// one of its callbacks. Destroying it runs the callbacks still pending, with
// kUnavailable (unless DropPendingOnDestroy).
#ifndef MUXCHAT_SERVER_CLUSTER_PUBLISHER_H_
#define MUXCHAT_SERVER_CLUSTER_PUBLISHER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/server/cluster_message.h"
#include "src/server/event_loop.h"
#include "src/server/redis_link.h"

namespace muxchat::server {

struct ClusterOptions {
  RedisLinkOptions redis;
  // Prefix of every key and channel (several clusters can share one Redis).
  std::string key_prefix = "muxchat";
  // XADD MINID ~: the stream keeps at least this many of the newest
  // messages (counted by seq, whatever its entries hold; Redis trims whole
  // macro-nodes, so a few more). Resume further back than this is a Gap.
  uint32_t stream_maxlen = 10000;
  // How long a client_msg_id is remembered for resends.
  absl::Duration dedupe_ttl = absl::Hours(24);
};

struct PublishRequest {
  uint64_t room_id = 0;
  std::string sender;
  uint64_t sender_account_id = 0;  // 0 = guest
  uint64_t client_msg_id = 0;      // 0 = no dedupe
  // Whose client_msg_ids these are: "a<account id>" for an account (resends
  // after a reconnect to any node match), a node-unique connection name for
  // a guest. No ':'.
  std::string dedupe_scope;
  std::string text;
  // The highest seq this node knows for the room (from its subscriber or
  // durable store). Used only when Redis has lost the room's counter: the
  // next seq is then above both this and the stream's tail, never reused.
  uint64_t seq_floor = 0;
  // Refuse (kNotFound, nothing written) unless the room is in the cluster's
  // registry (ClusterRooms): a publish that crossed the room's deletion
  // must not bring its counter and stream back.
  bool require_registered = false;
};

struct PublishResult {
  uint64_t seq = 0;
  int64_t timestamp_unix_micros = 0;
  bool duplicate = false;  // a resend: seq and timestamp are the original's
};

class ClusterPublisher {
 public:
  using PublishCallback = absl::AnyInvocable<void(absl::StatusOr<PublishResult>)>;
  using ReadCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<ClusterMessage>>)>;

  // One script call stores at most this many messages and, past the first,
  // this many bytes of sender and text; more of a room's publishes in one
  // turn go in further calls, in order. Redis runs nothing else while a
  // script runs: even at the few µs of Redis time a message with a dedupe
  // key costs (the script walks those one by one; without keys a call costs
  // ~0.5 µs a message, docs/SCALING.md §7), a call of 256 stays near 1 ms,
  // and 512 KiB keep its one PUBLISH well inside Redis's pub/sub
  // output-buffer limits (8 MB soft).
  static constexpr size_t kMaxBatchMessages = 256;
  static constexpr size_t kMaxBatchBytes = 512 * 1024;

  // The Lua source of the publish step, and its SHA-1 as EVALSHA takes it.
  static const char* Script();
  static std::string ScriptSha1();

  ClusterPublisher(EventLoop* loop, ClusterOptions options);
  ~ClusterPublisher();
  ClusterPublisher(const ClusterPublisher&) = delete;
  ClusterPublisher& operator=(const ClusterPublisher&) = delete;

  // Up/down changes of the connection (see RedisLink::StatusCallback); while
  // down the server refuses sends (FAILURE_STORAGE today).
  void SetStatusCallback(RedisLink::StatusCallback cb) { status_cb_ = std::move(cb); }
  void Start() { link_.Start(); }
  bool up() const { return link_.up(); }
  const RedisLink& link() const { return link_; }
  // The command connection, for the node's other commands (room registry,
  // accounts): one connection keeps them in order with the publishes.
  RedisLink* mutable_link() { return &link_; }

  // Queues the message for this turn's publish step of its room. Not OK
  // (kUnavailable while Redis is down, kInvalidArgument for a bad request):
  // `done` is not called. OK: `done` runs exactly once, later, with this
  // message's own result — kNotFound if it required the room registered and
  // it is not, kUnavailable if the connection went before the reply (the
  // message may or may not be in the room; also if it went before the batch
  // was sent, then it is not), kInternal for an error from Redis (nothing of
  // the batch stored if the whole call failed; if Redis refused one XADD,
  // that message and the batch's later ones are not stored, the earlier ones
  // are).
  // The request is read during the call only: its message is encoded into
  // the room's pending script call at once (no copy of it is kept).
  absl::Status Publish(const PublishRequest& request, PublishCallback done);
  // Sends the queued publishes now (also done at the end of the turn).
  void Flush();

  // From now on, destroying the publisher drops the callbacks still pending
  // (queued and sent) instead of running them: see RedisLink's.
  void DropPendingOnDestroy();

  // Script calls sent and messages they carried, since construction.
  uint64_t script_calls() const { return script_calls_; }
  uint64_t batched_messages() const { return batched_messages_; }

  // The room's stored messages with seq > after_seq, oldest first, at most
  // `limit`. Same contract as Publish.
  absl::Status ReadAfter(uint64_t room_id, uint64_t after_seq, uint32_t limit, ReadCallback done);

 private:
  using Callbacks = std::vector<PublishCallback>;
  // One script call's worth of one room's publishes, in the order asked,
  // already in the form the call carries them (RESP arguments), so that
  // sending is one command built into one buffer: no string per argument,
  // no argv for hiredis to format (docs/BENCHMARKS.md §11.6).
  struct Batch {
    uint64_t room_id = 0;
    Callbacks done;           // one per message
    std::string flags;        // one digit per message (see the script)
    std::string keys;         // the dedupe keys, as RESP bulk strings
    size_t key_count = 0;
    std::string bodies;       // each message's four fields, one after the other
    std::vector<uint32_t> body_sizes;
    uint64_t floor = 0;
    bool check_registered = false;
    size_t bytes = 0;  // sender + text, against kMaxBatchBytes
  };
  // A script call on its way: the command is kept for a retry with EVAL
  // after a NOSCRIPT (everything from `tail` on is the same for both).
  struct SentCall {
    std::string command;
    size_t tail = 0;
    size_t argc = 0;
    Callbacks done;
  };

  void OnLinkStatus(RedisLinkState state, const absl::Status& why);
  void SendBatch(Batch& batch);
  // Sends the call (as EVAL with the script's source if `full_script`, after
  // a NOSCRIPT). Not OK: the callbacks were not run and are still in it.
  absl::Status Send(bool full_script, std::shared_ptr<SentCall> call);
  // Hands each message its result from the script's reply.
  static void Complete(const redisReply* reply, Callbacks& done);

  EventLoop* const loop_;
  const ClusterOptions options_;
  const std::string sha1_;
  RedisLink link_;
  RedisLink::StatusCallback status_cb_;
  // This turn's batches, in the order of their rooms' first publish; the
  // room's batch still taking messages, by room.
  std::vector<Batch> batches_;
  absl::flat_hash_map<uint64_t, size_t> open_batch_;
  // Cleared message buffers of earlier calls, reused so that a busy room's
  // batch does not grow a new one every turn.
  std::vector<std::string> spare_;
  EventLoop::TimerId flush_timer_ = 0;  // 0: none armed
  bool sending_setup_ = false;          // SCRIPT LOAD on a new connection goes first
  bool drop_pending_ = false;
  uint64_t script_calls_ = 0;
  uint64_t batched_messages_ = 0;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_PUBLISHER_H_
