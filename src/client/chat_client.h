// ChatClient: one client connection to a muxchat server (protocol: docs/PROTOCOL.md),
// with blocking request/reply calls, fire-and-forget sends acknowledged by the
// server's echo, and an event queue for everything else. The socket is
// non-blocking; every wait is a poll() bounded by a deadline, and while
// waiting the client both reads (queuing events, answering keepalive pings)
// and flushes its output, so neither side can deadlock the other.
//
// Keepalive: the server pings a connection it has not heard from for
// Limits.keepalive_millis and drops it if no Pong comes within its timeout.
// The library has no thread of its own, so pings are answered only while the
// owner drives the socket: every blocking call and every wait answers them,
// and so does Pump() — an owner with nothing to ask must still poll fd() for
// POLLIN and call Pump() when it is readable (or call it at least once per
// keepalive_interval()). A ChatClient nobody drives at all is dropped.
//
// Thread rule: not thread-safe; one thread at a time may use an instance.
// Ownership: the ChatClient owns its socket and closes it in Close() or on
// destruction. Frames and statuses returned are copies owned by the caller.
#ifndef MUXCHAT_CLIENT_CHAT_CLIENT_H_
#define MUXCHAT_CLIENT_CHAT_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/muxchat.pb.h"
#include "src/client/client_stream.h"
#include "src/client/server_status.h"
#include "src/wire/buffer.h"
#include "src/wire/frame_codec.h"

namespace muxchat::client {

class ChatClient {
 public:
  // Largest server frame accepted; a bigger length prefix closes the
  // connection with kDataLoss. Generous: the server's own cap is 64 KiB by default.
  static constexpr uint32_t kMaxInboundFrameBytes = 16 * 1024 * 1024;
  // How long SendRequest may wait for the kernel to accept our bytes.
  static constexpr absl::Duration kDefaultWriteTimeout = absl::Seconds(10);

  // Blocking connect with timeout. `host` is a name or an IPv4/IPv6 literal
  // (brackets around an IPv6 literal are accepted); every resolved address is
  // tried in turn until one connects or the deadline passes. Name resolution
  // itself (getaddrinfo) is not bounded by `timeout`. Errors: kDeadlineExceeded,
  // kUnavailable (refused/unreachable), kNotFound (name does not resolve).
  // With tls.enabled, a TLS handshake follows within the same deadline; its
  // failures are kUnavailable with a one-line reason (see MakeTlsStream).
  static absl::StatusOr<std::unique_ptr<ChatClient>> Connect(const std::string& host, uint16_t port,
                                                             absl::Duration timeout,
                                                             const ClientTlsOptions& tls = {});

  ~ChatClient();
  ChatClient(const ChatClient&) = delete;
  ChatClient& operator=(const ChatClient&) = delete;

  // --- Request/reply calls. Each sends one request and waits up to `timeout`
  // for its answer; events arriving meanwhile are queued. A failure Reply
  // becomes StatusFromServer(status, message). kDeadlineExceeded on timeout
  // (a late answer is then delivered as an event). After the connection is
  // closed they return the close status (see Pump()).

  // Handshake. On success nickname() and welcome() are set. A failure Reply
  // (e.g. FAILURE_ALREADY_EXISTS) leaves the connection open for a retry.
  absl::StatusOr<v1::Welcome> Hello(const std::string& nickname, absl::Duration timeout,
                                    const std::string& client_name = "muxchat-lib");
  // Accounts (docs/PROTOCOL.md §5), each instead of Hello. Welcome carries
  // session_token. A failure Reply (FAILURE_AUTH, FAILURE_ALREADY_EXISTS,
  // FAILURE_INVALID, FAILURE_RATE_LIMITED) leaves the connection open for
  // another try.
  absl::StatusOr<v1::Welcome> Register(const std::string& name, const std::string& password, absl::Duration timeout,
                                       const std::string& client_name = "muxchat-lib");
  absl::StatusOr<v1::Welcome> Login(const std::string& name, const std::string& password, absl::Duration timeout,
                                    const std::string& client_name = "muxchat-lib");
  // Hello with a session token: that account, no rooms restored.
  absl::StatusOr<v1::Welcome> HelloWithToken(const std::string& token, absl::Duration timeout,
                                             const std::string& client_name = "muxchat-lib");
  // Resume: logs in with `token` and restores the account's rooms. Returns
  // the Welcome; then, as events whose request_id is resume_request_id(): per
  // room a room_resumed, maybe a gap, its replayed ChatMessages (replay =
  // true), and last a Reply (SUCCESS) ending the resume.
  absl::StatusOr<v1::Welcome> Resume(const std::string& token, const std::vector<v1::RoomCursor>& cursors,
                                     absl::Duration timeout, const std::string& client_name = "muxchat-lib");
  uint64_t resume_request_id() const { return resume_request_id_; }
  // Pages the stored messages of a room we are in: the Reply (history_count,
  // last_seq, oldest_seq) is returned; its history_count ChatMessages
  // (replay = true, ascending) follow as events.
  absl::StatusOr<v1::Reply> History(uint64_t room_id, const v1::History& query, absl::Duration timeout);
  // Revokes this session's token; the server then closes the connection.
  absl::StatusOr<v1::Reply> Logout(absl::Duration timeout);
  absl::StatusOr<v1::Reply> CreateRoom(const std::string& name, absl::Duration timeout);
  // On success the Reply's history_count replayed ChatMessages follow as events.
  absl::StatusOr<v1::Reply> JoinRoom(const std::string& name, absl::Duration timeout);
  absl::StatusOr<v1::Reply> JoinRoomById(uint64_t room_id, absl::Duration timeout);
  absl::StatusOr<v1::Reply> LeaveRoom(uint64_t room_id, absl::Duration timeout);
  absl::StatusOr<v1::Reply> DeleteRoom(const std::string& name, absl::Duration timeout);
  // One page of the room list (the first, with a default query): rooms
  // sorted by case-folded name; Reply.next_cursor, if set, goes into the next
  // query's `after`.
  absl::StatusOr<v1::Reply> ListRooms(absl::Duration timeout);
  absl::StatusOr<v1::Reply> ListRooms(const v1::ListRooms& query, absl::Duration timeout);
  // Every room whose name starts with `name_prefix` (all when empty), paging
  // until the server says there is no more, within one `timeout` overall. The
  // rooms of all pages come in one Reply (total_rooms as the server last
  // said, next_cursor empty). Against a server without paging: its one page.
  absl::StatusOr<v1::Reply> ListAllRooms(absl::Duration timeout, const std::string& name_prefix = "");
  // One page of room `room_id`'s member nicknames (ListMembers), sorted by
  // case-folded nickname; Reply.next_cursor, if set, goes into `after`.
  absl::StatusOr<v1::Reply> ListMembers(uint64_t room_id, const v1::ListMembers& query, absl::Duration timeout);
  // Every member of room `room_id`, paging within one `timeout` overall; the
  // names of all pages in one Reply (member_count as the last page said,
  // next_cursor empty). A server without ListMembers answers FAILURE_INVALID.
  absl::StatusOr<v1::Reply> ListAllMembers(uint64_t room_id, absl::Duration timeout);
  absl::StatusOr<v1::Pong> Ping(uint64_t nonce, absl::Duration timeout);

  // --- Chat messages.

  // Queues (and flushes) a SendMessage without waiting for its
  // acknowledgement; returns its request_id. Every send carries a
  // client_msg_id: `client_msg_id` when non-zero (a resend after a
  // reconnect: see UnackedSends), else a fresh random one
  // (last_client_msg_id() tells which). The send is pending until the
  // server's echo carrying that client_msg_id acknowledges it (from a server
  // that echoes no client_msg_id: per room and in FIFO order, our own echo,
  // sender == nickname()), or a Reply with its request_id ends it — a
  // refusal, or SUCCESS with last_seq for a resend the server already had.
  // The echo and the Reply are then delivered as events.
  absl::StatusOr<uint64_t> Send(uint64_t room_id, absl::string_view text, uint64_t client_msg_id = 0);
  uint64_t last_client_msg_id() const { return last_client_msg_id_; }
  // Sends not yet acknowledged, in send order: after a reconnect, send each
  // again on the new connection with the same client_msg_id (the server
  // answers one it already has with a Reply instead of a second message).
  struct UnackedSend {
    uint64_t room_id = 0;
    uint64_t client_msg_id = 0;
    std::string text;
  };
  std::vector<UnackedSend> UnackedSends() const;
  // Send, then wait until the send is acknowledged: returns the echoed
  // ChatMessage (with its seq). That echo is the answer to this call and is
  // NOT also queued as an event. A failure Reply -> StatusFromServer(...).
  absl::StatusOr<v1::ChatMessage> SendAndWait(uint64_t room_id, absl::string_view text,
                                              absl::Duration timeout);
  // Posts to a room by name without joining it (PostMessage): the members
  // see the message and no join or leave. Waits for the server's Reply,
  // whose last_seq is the message's seq. If we are a member, our own copy of
  // the message arrives as an event and acknowledges no Send().
  absl::StatusOr<v1::Reply> Post(const std::string& room_name, absl::string_view text, absl::Duration timeout);

  // --- Low level.

  // Assigns a fresh request_id unless the frame has one (kInvalidArgument if
  // that id is still outstanding), queues the frame and flushes it, waiting for
  // POLLOUT at most write_timeout(); returns the id. The answer must then be
  // collected with WaitForReply, except for send_message frames, which are
  // tracked like Send(), and pong frames, which get no answer. Errors:
  // kResourceExhausted (frame larger than the server's max_frame_bytes; nothing
  // sent), kDeadlineExceeded (the server did not read for write_timeout(); the
  // connection is then closed), or the close status.
  absl::StatusOr<uint64_t> SendRequest(v1::ClientFrame frame);
  // The answer to request `request_id` (a Welcome, Reply or Pong frame; for an
  // awaited send_message the own echo or the failure Reply). Events arriving
  // meanwhile are queued. kNotFound if the id is not awaited (unknown, already
  // collected, or given up on after a timeout). kDeadlineExceeded on timeout;
  // the request is then no longer awaited and a late answer becomes an event.
  // If the connection closes first: the close status (the server's error for
  // an Error frame, else kUnavailable).
  absl::StatusOr<v1::ServerFrame> WaitForReply(uint64_t request_id, absl::Duration timeout);

  // Next event: any ServerFrame that is not the answer to an awaited request
  // (chat messages incl. own echoes of Send(), replays, member joined/left,
  // room closed, shutdown, error, answers nobody waits for), in arrival order.
  // kDeadlineExceeded on timeout (timeout 0 = poll only), kUnavailable once the
  // connection is closed and no queued events remain. Server keepalive pings
  // are answered with Pong automatically and never surfaced.
  absl::StatusOr<v1::ServerFrame> NextEvent(absl::Duration timeout);

  // For event-loop integration: call when poll() reports fd() readable (or
  // writable, if HasPendingOutput()). Flushes what the kernel accepts and reads
  // whatever is available, without blocking; decodes and queues events. Once
  // the connection is closed it returns the close status: kUnavailable when the
  // peer closed or the socket failed, the StatusFromServer error after an Error
  // frame (kDataLoss for undecodable input). Stop polling fd() after that, and
  // drain the remaining events with NextEvent(absl::ZeroDuration()).
  // Safe to call at any time (it never blocks): calling it while idle is how
  // an owner that polls fd() keeps the connection alive (see the top).
  absl::Status Pump();
  // The server's keepalive idle time (Welcome limits); InfiniteDuration when
  // the server never pings or before a Welcome. An idle owner must drive the
  // socket at least this often.
  absl::Duration keepalive_interval() const;
  bool HasQueuedEvent() const { return !events_.empty(); }
  // True while bytes are queued for the server, or TLS needs to write to
  // make progress (poll for POLLOUT too).
  bool HasPendingOutput() const { return !out_.empty() || (stream_ != nullptr && stream_->WantsWrite()); }
  // Sends not yet acknowledged by an echo or removed by a failure Reply.
  size_t PendingAcks() const { return sends_.size(); }
  // The socket, valid until Close() (-1 after). Do not read or write it directly.
  int fd() const { return stream_ == nullptr ? -1 : stream_->fd(); }
  // "tcp" or the TLS version in use ("TLSv1.3"); empty after Close().
  std::string transport() const { return stream_ == nullptr ? std::string() : stream_->Describe(); }
  bool closed() const { return !close_status_.ok(); }
  // While a blocking call waits, also watch `fd` (e.g. the caller's signalfd
  // for Ctrl+C): once it is readable the call returns kCancelled at once,
  // leaving the fd unread for the caller. -1 (the default) watches nothing.
  // The request itself may still reach the server; its answer, if it comes,
  // is then delivered as an event (as after a timeout).
  void set_interrupt_fd(int fd) { interrupt_fd_ = fd; }
  // Why the connection is closed (OkStatus while it is open).
  const absl::Status& close_status() const { return close_status_; }
  // Closes the socket; queued events stay readable through NextEvent.
  void Close();

  void set_write_timeout(absl::Duration timeout) { write_timeout_ = timeout; }
  absl::Duration write_timeout() const { return write_timeout_; }

  // The nickname as registered by the server; empty before a successful Hello.
  const std::string& nickname() const { return nickname_; }
  // The server's Welcome; default instance before a successful Hello.
  const v1::Welcome& welcome() const { return welcome_; }

 private:
  explicit ChatClient(std::unique_ptr<ClientStream> stream);

  // Sends a Hello/Register/Login/Resume frame and waits for its Welcome.
  absl::StatusOr<v1::Welcome> Handshake(v1::ClientFrame frame, absl::Duration timeout);
  uint64_t NewClientMsgId();
  // Drops send `id` from the unacknowledged sends.
  void ForgetSend(uint64_t id);
  // Sends `frame`; `awaited` registers the id for WaitForReply.
  absl::StatusOr<uint64_t> SendFrame(v1::ClientFrame frame, bool awaited);
  // SendFrame + WaitForReply + "the answer must be a SUCCESS Reply".
  absl::StatusOr<v1::Reply> Call(v1::ClientFrame frame, absl::Duration timeout);
  // Waits until `ready()` holds, the connection closes, or `deadline` passes
  // (kDeadlineExceeded). Returns OK when ready() holds.
  template <typename Ready>
  absl::Status WaitUntil(Ready ready, absl::Time deadline);
  // One poll() for POLLIN (+POLLOUT while output is pending) up to
  // `deadline`, then flush/read as ready. Returns false if the deadline passed
  // with nothing ready.
  bool PollOnce(absl::Time deadline);
  int interrupt_fd_ = -1;
  bool interrupted_ = false;
  // Blocks until the output buffer is empty (reading meanwhile).
  absl::Status Flush(absl::Time deadline);
  // Non-blocking write of as much output as the kernel takes.
  void WriteSome();
  // Non-blocking read of what is available; decodes and dispatches frames.
  void ReadSome();
  void Dispatch(v1::ServerFrame frame);
  // Delivers `frame`, the answer to request `id`, to its waiter or as an event.
  void Deliver(uint64_t id, v1::ServerFrame frame);
  // Records why the connection ended (first reason wins); stops reading.
  void MarkClosed(absl::Status why);
  uint64_t NextRequestId();

  std::unique_ptr<ClientStream> stream_;  // null once closed
  wire::Buffer in_;
  wire::Buffer out_;
  wire::FrameDecoder decoder_{kMaxInboundFrameBytes};
  uint32_t max_outbound_frame_bytes_ = wire::kDefaultMaxFrameBytes;
  absl::Duration write_timeout_ = kDefaultWriteTimeout;
  absl::Status close_status_;
  uint64_t next_request_id_ = 1;

  std::deque<v1::ServerFrame> events_;
  // Requests whose answer someone collects with WaitForReply.
  absl::flat_hash_set<uint64_t> awaited_;
  // Answers to awaited requests, until collected.
  absl::flat_hash_map<uint64_t, v1::ServerFrame> answers_;
  // Unacknowledged sends: request_ids in send order, per room; each send by
  // request_id; and request_id by client_msg_id.
  absl::flat_hash_map<uint64_t, std::deque<uint64_t>> pending_sends_;
  absl::flat_hash_map<uint64_t, UnackedSend> sends_;
  absl::flat_hash_map<uint64_t, uint64_t> by_msg_id_;
  uint64_t last_client_msg_id_ = 0;
  uint64_t resume_request_id_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  // PostMessage requests not yet answered. After a post's SUCCESS Reply, its
  // (room, seq): if we are a member, our copy of the post is the very next
  // frame, and it acknowledges no Send(). Any other frame clears it.
  absl::flat_hash_set<uint64_t> post_requests_;
  std::optional<std::pair<uint64_t, uint64_t>> post_copy_;

  std::string nickname_;
  v1::Welcome welcome_;
};

// StatusFromServer and ServerStatusOf come with this header; see server_status.h.

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_CHAT_CLIENT_H_
