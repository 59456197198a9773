// One client connection: its socket and transport, its lifecycle state, input
// bytes, pending output and session state (nickname, joined rooms, rate
// bucket). Owned by the Server through a unique_ptr; rooms and the chat
// service only borrow it until the Server reports it closed. A Connection is
// never destroyed inside its own callback: Close() marks it, and the Server
// reaps it before the loop polls again. Single-threaded (the event-loop thread).
#ifndef MUXCHAT_SERVER_CONNECTION_H_
#define MUXCHAT_SERVER_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "proto/muxchat.pb.h"
#include "src/server/close_reason.h"
#include "src/server/transport.h"
#include "src/wire/buffer.h"
#include "src/wire/output_queue.h"
#include "src/wire/shared_frame.h"

namespace muxchat::server {

class HttpRequestParser;

class Connection {
 public:
  // The lifecycle, in order. Legal moves are in CanMove (connection.cc):
  //   kSniffing -> kTlsHandshake | kAwaitingHello | kHttp
  //   kTlsHandshake -> kAwaitingHello | kHttp
  //   kAwaitingHello -> kOpen | kHttp       (HTTP inside TLS is told by its first bytes)
  //   kHttp -> kAwaitingHello                (GET /ws upgraded to WebSocket)
  //   any of those -> kClosing -> kShutWrite (our FIN or close_notify is out)
  enum class State { kSniffing, kTlsHandshake, kAwaitingHello, kOpen, kHttp, kClosing, kShutWrite };
  static const char* StateName(State s);
  static bool CanMove(State from, State to);

  // `fd` is owned (closed by the destructor; -1 for an in-memory connection
  // used by tests, fuzzers and benchmarks, which starts awaiting Hello; a
  // socket starts sniffing). `dirty` collects connections with new output to
  // flush; it must outlive this connection.
  Connection(uint64_t id, int fd, std::string peer, absl::Time now, uint64_t max_output_bytes,
             std::vector<Connection*>* dirty);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uint64_t id() const { return id_; }
  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }
  State state() const { return state_; }
  // One compare on the fan-out path: the closing states are the last two.
  bool closing() const { return state_ >= State::kClosing; }
  bool logged_in() const { return state_ == State::kOpen; }
  // Moves along the lifecycle; an illegal move is a bug (checked, logged by
  // the caller through the return value).
  bool MoveTo(State next);

  // The byte stream, set once sniffing has chosen it (null before, and for
  // in-memory connections).
  Transport* transport() { return transport_.get(); }
  void set_transport(std::unique_ptr<Transport> t) { transport_ = std::move(t); }

  // Queues one frame, serialised straight into the output. Dropped silently
  // once closing; a queue past max_output_bytes closes the connection as a
  // slow consumer instead of growing.
  void Send(const v1::ServerFrame& frame);
  // Reserves `n` bytes at the end of the output for the caller to fill at
  // once (several frames encoded in place); null if the connection is
  // closing or `n` more would make it a slow consumer.
  char* SendReserved(size_t n);
  // Queues a frame shared with other recipients (a broadcast).
  void SendShared(const wire::SharedFrame& frame);
  // Queues bytes [begin, end) of a shared block of broadcast frames. Inline:
  // it runs once per recipient of every broadcast.
  void SendSlice(const wire::SharedFrame& block, size_t begin, size_t end) {
    if (Admit(end - begin)) output_.AppendSlice(block, begin, end);
  }
  // The same for a block of broadcasts already framed as WebSocket messages
  // (one framing per broadcast for every WebSocket member): queued marked
  // framed, written by the WebSocket transport as they lie. Only for a
  // connection with websocket() set.
  void SendFramedSlice(const wire::SharedFrame& block, size_t begin, size_t end) {
    if (Admit(end - begin)) output_.AppendFramedSlice(block, begin, end);
  }
  // Whether the connection speaks WebSocket (set once, at the upgrade,
  // before it can join a room): broadcasts then come framed (SendFramedSlice).
  bool websocket() const { return websocket_; }
  void set_websocket() { websocket_ = true; }

  // Marks the connection closing. If `error` is not STATUS_UNSPECIFIED an
  // Error frame is queued first, so the client learns why. Idempotent: the
  // first reason wins.
  // `request_id` tags the Error with the request that caused it (0: none).
  void Close(CloseReason reason, v1::Status error = v1::STATUS_UNSPECIFIED, const std::string& message = "",
             uint64_t request_id = 0);
  // Hands the transport over to a wrapper (a WebSocket upgrade).
  std::unique_ptr<Transport> release_transport() { return std::move(transport_); }
  CloseReason close_reason() const { return close_reason_; }

  // Something besides the queue wants writing (the transport's own bytes):
  // flushed before the loop polls again.
  void RequestFlush() { MarkDirty(); }
  // Bytes owed to the peer: the queue's and the transport's own.
  bool OwesOutput() const {
    return !output_.empty() || (transport_ != nullptr && transport_->HasPendingOutput());
  }

  // Frees buffers an idle connection does not need (input, the output
  // queue's spare chunk, the transport's own); they come back on demand.
  void ReleaseIdleMemory();

  wire::Buffer& input() { return input_; }
  // The HTTP request being read in state kHttp; made on first use.
  HttpRequestParser* http_parser();
  wire::OutputQueue& output() { return output_; }

  // Session state, managed by the ChatService.
  void LogIn(std::string nickname, std::string folded) {
    nickname_ = std::move(nickname);
    folded_nickname_ = std::move(folded);
    MoveTo(State::kOpen);
  }
  const std::string& nickname() const { return nickname_; }
  const std::string& folded_nickname() const { return folded_nickname_; }
  // Who the session is: an account (non-zero) or a guest, and the hash of
  // the session token an account logged in with. Set before LogIn.
  uint64_t account_id() const { return account_id_; }
  const std::string& token_hash() const { return token_hash_; }
  void set_identity(uint64_t account_id, std::string token_hash) {
    account_id_ = account_id;
    token_hash_ = std::move(token_hash);
  }
  // A Register or Login whose password is being hashed: the connection
  // waits for its Welcome before any other request.
  bool auth_pending = false;

  // Chat messages of a room not queued because the client read too slowly
  // (above the soft output limit): owed to it as one Gap per room.
  struct DroppedRange {
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
  };
  using DroppedMap = absl::flat_hash_map<uint64_t, DroppedRange>;
  // Null while nothing was dropped (most connections): no map per connection.
  DroppedMap* dropped() { return dropped_.get(); }
  DroppedMap& mutable_dropped() {
    if (dropped_ == nullptr) dropped_ = std::make_unique<DroppedMap>();
    return *dropped_;
  }
  void clear_dropped() { dropped_.reset(); }
  // Bytes queued and not yet written (the queue's, not the transport's).
  size_t queued_bytes() const { return output_.PendingBytes(); }
  absl::flat_hash_set<uint64_t>& rooms() { return rooms_; }
  const absl::flat_hash_set<uint64_t>& rooms() const { return rooms_; }

  // Token bucket for requests. Returns false when the request must be refused.
  // rate_violations() counts refusals since the bucket was last at least half
  // full after a request, i.e. since the client last slowed down.
  bool TakeRequestToken(absl::Time now, uint32_t per_second, uint32_t burst);
  uint32_t rate_violations() const { return rate_violations_; }

  // Activity bookkeeping for handshake and keepalive timeouts.
  absl::Time created() const { return created_; }
  absl::Time last_heard() const { return last_heard_; }
  void Heard(absl::Time now) {
    last_heard_ = now;
    ping_outstanding_ = false;
  }
  bool ping_outstanding() const { return ping_outstanding_; }
  void set_ping_outstanding(absl::Time now) {
    ping_outstanding_ = true;
    ping_sent_ = now;
  }
  absl::Time ping_sent() const { return ping_sent_; }

  // Flush and teardown bookkeeping owned by the Server (and by the tests and
  // fuzzers that stand in for it). The lifecycle itself is state().
  bool in_dirty_list = false;
  bool disconnected = false;   // ChatService::OnDisconnect has run
  absl::Time closing_since;
  // The socket side, independent of the lifecycle: what the poller watches
  // and whether the peer's direction has ended (EOF or error).
  uint32_t interest = 0;       // kPollRead | kPollWrite as registered
  int transport_slot = 0;      // the transport's metrics label, set with the transport (no lookup per write)
  bool peer_gone = false;

 private:
  void MarkDirty();
  // False (and the connection closed as a slow consumer) if `bytes` more
  // would take its queue past max_output_bytes. Inline, with the rare work
  // (closing, joining the dirty list) out of line, so the fan-out's common
  // case is a few compares.
  bool Admit(size_t bytes) {
    if (closing()) return false;
    if (output_.PendingBytes() + bytes > max_output_bytes_) return CloseSlowConsumer();
    if (!in_dirty_list) MarkDirty();
    return true;
  }
  // Closes the connection as a slow consumer; returns false (for Admit).
  bool CloseSlowConsumer();

  // First here, in the padding after peer_gone: the fields the fan-out reads
  // keep the offsets they had without it.
  bool websocket_ = false;
  const uint64_t id_;
  const int fd_;
  std::unique_ptr<Transport> transport_;
  const std::string peer_;
  const uint64_t max_output_bytes_;
  std::vector<Connection*>* const dirty_;

  State state_;
  CloseReason close_reason_ = CloseReason::kNone;
  wire::Buffer input_;
  wire::OutputQueue output_;
  std::unique_ptr<HttpRequestParser> http_parser_;  // HTTP connections only

  std::string nickname_;
  std::string folded_nickname_;
  uint64_t account_id_ = 0;
  std::string token_hash_;
  std::unique_ptr<DroppedMap> dropped_;
  absl::flat_hash_set<uint64_t> rooms_;

  double tokens_ = -1;  // < 0: bucket not yet filled
  absl::Time tokens_at_;
  uint32_t rate_violations_ = 0;

  const absl::Time created_;
  absl::Time last_heard_;
  bool ping_outstanding_ = false;
  absl::Time ping_sent_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CONNECTION_H_
