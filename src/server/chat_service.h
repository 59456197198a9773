// The chat semantics of protocol v1: handshake, nicknames, rooms, fan-out.
// Knows Connections only as places to send frames; knows nothing of sockets,
// so tests and fuzzers drive it with in-memory connections. Borrows the
// options and logger, which must outlive it. Single-threaded.
#ifndef MUXCHAT_SERVER_CHAT_SERVICE_H_
#define MUXCHAT_SERVER_CHAT_SERVICE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/muxchat.pb.h"
#include "src/server/account_registry.h"
#include "src/server/chat_frame.h"
#include "src/server/connection.h"
#include "src/server/logger.h"
#include "src/server/login_limiter.h"
#include "src/server/metrics.h"
#include "src/server/password_hasher.h"
#include "src/server/room_registry.h"
#include "src/server/server_options.h"
#include "src/server/storage.h"

namespace muxchat::server {

inline constexpr char kServerVersion[] = "muxchatd/0.1.0";

class ClusterAccounts;
class ClusterNode;
struct ClusterMessage;
struct ClusterRoomEvent;
struct ClusterRoomRecord;

class ChatService {
 public:
  // The frame-size contract of docs/PROTOCOL.md §12: every frame either side
  // may need to send (the largest ChatMessage or replay, SendMessage and
  // PostMessage with the longest text, a one-room ListRooms page, Welcome,
  // any Reply) fits max_frame_bytes. kInvalidArgument, naming the largest
  // max_text_bytes that would fit, when it does not. Call before starting.
  static absl::Status CheckOptions(const ServerOptions& options);

  ChatService(const ServerOptions& options, Logger* logger);
  ChatService(const ChatService&) = delete;
  ChatService& operator=(const ChatService&) = delete;

  // Handles one request from a connection that is not closing.
  void HandleFrame(Connection* conn, const v1::ClientFrame& frame, absl::Time now);
  // Removes a closing connection from every room (telling the other members)
  // and frees its nickname. Call exactly once, before destroying it.
  void OnDisconnect(Connection* conn);

  // Makes rooms, accounts and messages durable: loads `state` (what
  // Storage::Open read) and from now on writes every change through
  // `storage`, which must outlive this service. Call once, before any
  // connection. Without it everything lives in memory.
  absl::Status AttachStorage(Storage* storage, LoadedState state, absl::Time now);
  bool durable() const { return storage_ != nullptr; }
  // Shares rooms with other nodes through `node` (--cluster_redis): the
  // room registry and every room's messages live in Redis, and this service
  // fans out what the node hears. Call once, before any connection and
  // before node->Start(); `node` must outlive the service. Not together
  // with storage.
  void AttachCluster(ClusterNode* node);
  bool clustered() const { return cluster_ != nullptr; }
  // Hands storage the writes of this loop turn when no batch is in flight
  // (group commit: the next batch gathers while one commits). Call before
  // each poll. `input_pending`: this turn left input unread that a
  // connection had ready (its read budget ran out), so the batch is held for
  // one more turn to take the rest, rather than committing a window of
  // messages in two transactions (docs/BENCHMARKS.md §9.2.4). Held at most
  // one turn, and not once it holds kMaxHeldOps writes. Returns true when it
  // held the batch: the caller must run the next turn without waiting.
  bool FlushStorage(bool input_pending = false);
  // Storage's completion fd became readable: runs the commits' and reads'
  // follow-ups (deliveries, replies).
  void OnStorageReady(absl::Time now);
  // Cluster mode (docs/SCALING.md §2): accounts, sessions and account
  // memberships live in Redis through `accounts` (borrowed, used until this
  // service is destroyed). Its RedisLink must be destroyed BEFORE this
  // service: a reply still pending calls back into the service, also when
  // the link is destroyed. Register, Login, token Hello, guest Hello,
  // Resume and Logout then wait for Redis; while it is down they are refused
  // with FAILURE_STORAGE and the connection stays open. Call before any
  // connection.
  void AttachClusterAccounts(ClusterAccounts* accounts) { cluster_accounts_ = accounts; }
  // The password hasher's completion fd and its follow-up (Register/Login).
  int password_fd() const { return hasher_.completion_fd(); }
  void OnPasswordResults(absl::Time now);
  // Register/Login jobs with the hasher whose answers are not taken yet.
  size_t password_jobs_outstanding() const { return hasher_.outstanding(); }
  // Periodic upkeep (the server's sweep): Gaps owed to members whose output
  // drained, and the dedupe window.
  void Sweep(absl::Time now);

  // Counts requests, logins, messages and deliveries into `metrics` from now
  // on (it must outlive this service); until set, into a private registry.
  void set_metrics(Metrics* metrics) { metrics_ = metrics; }
  const Metrics& metrics() const { return *metrics_; }

  const RoomRegistry& rooms() const { return rooms_; }
  size_t logged_in_count() const { return logged_in_; }
  const AccountRegistry& accounts() const { return accounts_; }
  const v1::Limits& limits() const { return limits_; }

 private:
  // HandleFrame's work; HandleFrame counts the request's outcome around it.
  void DispatchFrame(Connection* conn, const v1::ClientFrame& frame, absl::Time now);
  void HandleHello(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  // Register / Login: checked here, then the password goes to the hasher;
  // FinishRegister / FinishLogin run when it answers.
  void HandleRegister(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  void HandleLogin(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  void FinishRegister(Connection* conn, const v1::ClientFrame& f, const PasswordResult& r, absl::Time now);
  void FinishLogin(Connection* conn, const v1::ClientFrame& f, const PasswordResult& r, absl::Time now);
  void HandleLogout(Connection* conn, const v1::ClientFrame& f);
  void HandleResume(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  void HandleHistory(Connection* conn, const v1::ClientFrame& f);
  // The tail of every handshake request that asked Redis (cluster mode):
  // `sent` is what sending the question returned. Sent: `conn` waits for the
  // answer (auth_pending, and findable by ID for the callback) and true.
  // Not sent: answers `f` FAILURE_STORAGE with `failure` (empty: "the
  // cluster's shared store is unavailable", with sent's message) and false.
  bool WaitForCluster(Connection* conn, const v1::ClientFrame& f, const absl::Status& sent,
                      absl::string_view failure = {});
  // Checks a handshake frame's protocol_version; false (connection closing) if wrong.
  bool CheckVersion(Connection* conn, const v1::ClientFrame& f, uint32_t version);
  // Logs `conn` in as `name` (an account when account != null) and sends
  // Welcome answering `f`, with `token` when one was just issued.
  void CompleteLogin(Connection* conn, const v1::ClientFrame& f, const std::string& name, Account* account,
                     std::string token_hash, const std::string& token, absl::Time expires);
  // Issues a session for `account`, stores it (with the account itself when
  // `new_account`; a failed commit forgets both) and then sends Welcome.
  void StartSession(Connection* conn, const v1::ClientFrame& f, const Account& account, bool new_account,
                    absl::Time now);
  // Issues a session for `account`: the token (returned) and its hash and expiry.
  std::string IssueSession(const Account& account, absl::Time now, std::string* hash, absl::Time* expires);
  // Resume: adds conn to a room of its account and replays after `cursor`
  // (or like a join when it has none).
  void ResumeRoom(Connection* conn, const v1::ClientFrame& f, Room* room, const uint64_t* cursor);
  // Queues `entries` (ascending) to conn as replayed ChatMessages in one reservation.
  template <typename It>
  void Replay(Connection* conn, uint64_t room_id, It begin, It end);
  void SendGap(Connection* conn, uint64_t room_id, uint64_t first, uint64_t last, const char* reason, uint64_t request_id);
  void HandleCreate(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  void HandleJoin(Connection* conn, const v1::ClientFrame& f);
  // Adds conn to `room` (checked: not yet a member, limits) and replays.
  void JoinRoom(Connection* conn, const v1::ClientFrame& f, Room* room);
  void HandleLeave(Connection* conn, const v1::ClientFrame& f);
  void HandleDelete(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  // Tells the members a room is closed and removes it (with its memberships).
  void CloseRoom(Room* room, const std::string& closed_by, const std::string& reason);
  // MemberJoined to the room's other members.
  void AnnounceJoin(const Room& room, const Connection* conn);
  // An account's durable membership of a room it just joined.
  void RememberMembership(Connection* conn, uint64_t room_id);
  void HandleList(Connection* conn, const v1::ClientFrame& f);
  void HandleSend(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  void HandlePost(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  // ListMembers: one page of the envelope room's member nicknames, sorted by
  // folded nickname, resuming after `after`, within max_frame_bytes.
  void HandleListMembers(Connection* conn, const v1::ClientFrame& f);
  struct MemberName {
    std::string folded;
    std::string nickname;
  };
  // One page of `rest` (the members past the request's cursor, any order)
  // of a room with `total` members.
  void ReplyMemberPage(Connection* conn, const v1::ClientFrame& f, const Room& room, std::vector<MemberName> rest,
                       size_t total);
  // ListMembers in a cluster: the members on every node, from Redis.
  void ClusterListMembers(Connection* conn, const v1::ClientFrame& f, Room* room);
  // A guest Hello in a cluster: claims the nickname in Redis, then Welcome
  // or FAILURE_ALREADY_EXISTS. As WaitForCluster: true while the connection
  // waits; false once refused (not counted: the caller counts the request).
  bool ClaimClusterNickname(Connection* conn, const v1::ClientFrame& f, const std::string& folded);
  // Takes a SendMessage or PostMessage whose room and text were checked:
  // refuses a storage outage, answers a resent client_msg_id with its seq,
  // and otherwise delivers at once (memory) or once committed (durable).
  void Accept(Room* room, Connection* sender, const v1::ClientFrame& f, const std::string& text,
              uint64_t client_msg_id, bool post, absl::Time now);
  // Queues a recorded entry's ChatMessage to every member.
  void Deliver(const Room& room, const HistoryEntry& e);
  // The Reply a PostMessage gets once its message has a seq.
  void ReplyPosted(Connection* conn, const v1::ClientFrame& f, const Room& room, uint64_t seq);
  // Resend dedupe: who sent (account, or the guest's connection).
  static uint64_t SenderKey(const Connection& c) {
    return c.account_id() != 0 ? c.account_id() : (c.id() | (uint64_t{1} << 63));
  }
  void RememberMsgId(uint64_t sender_key, uint64_t client_msg_id, uint64_t room_id, uint64_t seq, absl::Time now);

  // Storage: queues a write for this turn's batch; `done` runs once it is
  // committed or failed (in order). Without storage, runs `done` at once.
  using Committed = std::function<void(const absl::Status&)>;
  void Persist(StorageOp op, Committed done = nullptr);
  // What a stored message needs once its batch is committed (delivered, the
  // post answered) or failed (rolled back), as data rather than a closure:
  // one per message sent, where a closure and its captured copy of the
  // message were the durable loop's largest cost (docs/BENCHMARKS.md §9.2.6).
  // The message itself comes back with the commit (CommitResult::ops).
  struct MessageFollowUp {
    uint64_t room_id;
    uint64_t conn_id;
    uint64_t sender_key;
    uint64_t client_msg_id;
    uint64_t request_id;     // of the SendMessage or PostMessage, for a reply
    uint64_t frame_room_id;  // the request's envelope room_id, for a reply
    bool post;
  };
  using FollowUp = std::variant<Committed, MessageFollowUp>;
  void PersistMessage(AppendMessage op, const MessageFollowUp& follow_up);
  // Runs one follow-up; `op` is its committed op when `status` is OK.
  void RunFollowUp(FollowUp& follow_up, const absl::Status& status, StorageOp* op);
  void MessageCommitted(const MessageFollowUp& m, const absl::Status& status, StorageOp* op);
  // A failed commit: every write not yet committed fails with it, and sends
  // are refused for a moment.
  void FailUncommitted(const absl::Status& status, absl::Time now);
  Connection* FindConnection(uint64_t id) const;

  // Cluster mode (chat_service_cluster.cc).
  void ClusterCreate(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  void ClusterDelete(Connection* conn, const v1::ClientFrame& f, Room* room, v1::ServerFrame out);
  // A join of a room this node does not follow yet waits while the node
  // reads its recent messages; true when the join was queued so.
  bool ClusterJoinWaits(Connection* conn, const v1::ClientFrame& f, Room* room);
  // Follows a room (reading its newest messages first); `then` runs once it
  // is followed, at once if it is, or with the reason it could not be.
  void ClusterFollow(uint64_t room_id, std::function<void(const absl::Status&)> then);
  bool ClusterFollowing(uint64_t room_id) const;
  // ClusterFollow for each room, then `then` once: `all` false when some
  // room could not be followed (Redis unreachable).
  void ClusterFollowAll(const std::vector<uint64_t>& room_ids, std::function<void(bool all)> then);
  void ClusterAccept(Room* room, Connection* sender, const v1::ClientFrame& f, const std::string& text,
                     uint64_t client_msg_id, bool post);
  void ClusterHistory(Connection* conn, const v1::ClientFrame& f, Room* room, bool forward, uint64_t after_seq,
                      uint64_t before_seq, uint32_t limit);
  void OnClusterMessage(ClusterMessage&& m);
  void OnClusterGap(uint64_t room_id, uint64_t first, uint64_t last);
  void OnClusterRoomEvent(const ClusterRoomEvent& e);
  void OnClusterRoomsLoaded(std::vector<ClusterRoomRecord> rooms);
  void OnClusterPresence(uint64_t room_id, absl::string_view payload);
  void OnClusterSubscribed(uint64_t room_id);
  // The room of a registry record, made locally if this node lacks it.
  Room* AdoptClusterRoom(const ClusterRoomRecord& r);
  // A local room is closing: stop following it and refuse its waiting joins.
  void ForgetClusterRoom(uint64_t room_id);
  // The last local member left: stop following (its ring goes stale).
  void MaybeUnfollow(Room* room);
  std::string ClusterUnavailable() const;
  // Answers a Ping with a Pong carrying its nonce.
  static void AnswerPing(Connection* conn, const v1::ClientFrame& f);
  // Ends the connection because of request `f`: unlike Connection::Close's
  // own Error frame, this one carries f's request_id.
  void CloseForRequest(Connection* conn, const v1::ClientFrame& f, CloseReason reason, v1::Status status,
                       const std::string& message);

  // The room a request names (by name if given, else by room_id), or null
  // after replying FAILURE_NOT_EXISTS. A name longer than any room's is not
  // echoed back, so the reply stays within max_frame_bytes.
  Room* FindRoomOrReply(Connection* conn, const v1::ClientFrame& f, absl::string_view name);
  // The room with the frame's room_id if conn is a member, or null after
  // replying NOT_EXISTS or NOT_MEMBER ("<refusal> '<room>'").
  Room* FindMembershipOrReply(Connection* conn, const v1::ClientFrame& f, absl::string_view refusal);
  // Fills a SUCCESS reply about `room` answering `f`; returns it for extras.
  static v1::Reply* SuccessReply(v1::ServerFrame* out, const v1::ClientFrame& f, const Room& room,
                                 std::string message);
  // A failure Reply. Its envelope room_id (and Reply.room_id/room_name) name
  // `room` when the request resolved to an existing one, else the envelope
  // echoes the request's room_id.
  void ReplyFailure(Connection* conn, const v1::ClientFrame& f, v1::Status status, const std::string& message,
                    const Room* room = nullptr);
  // Encodes once and queues the same bytes to every member except `skip`.
  void Broadcast(const Room& room, const v1::ServerFrame& frame, const Connection* skip);
  // Reserves `n` bytes at the end of the current broadcast block (a new block
  // when it is full) and returns where they start in block_.
  size_t PlaceInBlock(size_t n);
  void SendToMembers(const Room& room, size_t begin, size_t end, const Connection* skip);
  // Writes the length-prefixed frames at [begin, end) of block_ once more,
  // each as a WebSocket message (header, then the body without its prefix),
  // into ws_block_, and sets [*ws_begin, *ws_end) to where they lie there.
  // Run once per broadcast to a room with WebSocket members: every one of
  // them then queues that same range, as TCP members queue block_'s.
  void FrameForWebSocket(size_t begin, size_t end, size_t* ws_begin, size_t* ws_end);
  // The same for a chat message: a member above the soft output limit gets
  // it dropped and owes a Gap instead (sent once it has drained).
  void SendChatToMembers(const Room& room, size_t begin, size_t end, uint64_t seq);
  // Its loop over the members, compiled twice so that a room without
  // WebSocket members (kWebSocket false) pays no test per member for them.
  template <bool kWebSocket>
  void SendChatToEach(const Room& room, size_t begin, size_t end, size_t ws_begin, size_t ws_end, uint64_t seq);
  bool SendOwedGap(Connection* member, uint64_t room_id);
  void RemoveMember(Room* room, Connection* conn, const char* reason);

  const ServerOptions& options_;
  Logger* const logger_;
  v1::Limits limits_;
  RoomRegistry rooms_;
  // Guests' nicknames (folded -> connection); accounts' names are reserved
  // by the AccountRegistry and may be logged in on several connections.
  absl::flat_hash_map<std::string, Connection*> nicknames_;
  // Connections that logged in or wait for an asynchronous answer, by ID:
  // follow-ups look them up, so a connection gone meanwhile is skipped.
  absl::flat_hash_map<uint64_t, Connection*> connections_;
  size_t logged_in_ = 0;

  AccountRegistry accounts_;
  ClusterAccounts* cluster_accounts_ = nullptr;
  PasswordHasher hasher_;
  LoginLimiter login_limiter_;
  uint64_t next_password_job_ = 1;
  struct PasswordJob {
    uint64_t conn_id;
    std::string peer;           // for the login limiter, even once the connection is gone
    v1::ClientFrame request;    // password cleared
  };
  absl::flat_hash_map<uint64_t, PasswordJob> password_jobs_;

  // Durable state (null storage: memory only).
  Storage* storage_ = nullptr;
  Batch batch_;                       // this turn's writes
  std::vector<FollowUp> batch_done_;  // their follow-ups, same order
  bool batch_held_ = false;           // FlushStorage held batch_ for a turn
  uint64_t next_batch_id_ = 1;
  // Submitted batches, oldest first, with their follow-ups; at most
  // kMaxBatchesInFlight (chat_service_storage.cc says why two).
  struct InFlightBatch {
    uint64_t id;
    std::vector<FollowUp> done;
  };
  std::deque<InFlightBatch> in_flight_;
  absl::Time refuse_writes_until_ = absl::InfinitePast();
  std::string storage_error_;
  uint64_t next_read_id_ = 1;
  absl::flat_hash_map<uint64_t, std::function<void(ReadResult&)>> reads_;

  // Cluster mode (null: one node).
  ClusterNode* cluster_ = nullptr;
  struct ClusterRoomState {
    bool following = false;
    bool warming = false;  // its recent messages are being read; joins wait
    bool subscribing = false;  // followed, but its subscription is not confirmed yet: joins still wait
    uint64_t epoch = 0;    // a read answered after the room was dropped and warmed again is ignored
    uint32_t pins = 0;     // a Resume in progress will add a member: keep following
    std::vector<std::function<void(const absl::Status&)>> waiters;  // run once followed (or failed)
  };
  absl::flat_hash_map<uint64_t, ClusterRoomState> cluster_rooms_;
  uint64_t cluster_epochs_ = 0;
  // Waiters of a room being closed, run once it is removed.
  std::vector<std::function<void(const absl::Status&)>> pending_room_waiters_;

  // Resend dedupe: (sender key, client_msg_id) -> room and seq, for
  // options_.dedupe_window, oldest first in dedupe_order_.
  struct MsgIdEntry {
    uint64_t room_id;
    uint64_t seq;
  };
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, MsgIdEntry> msg_ids_;
  std::deque<std::pair<absl::Time, std::pair<uint64_t, uint64_t>>> msg_id_order_;

  // Members owing a Gap (some chat messages dropped as a slow consumer).
  absl::flat_hash_set<Connection*> owing_gaps_;
  // Broadcast frames are written one after another into shared blocks, and
  // members' queues reference byte ranges of them: a member's consecutive
  // messages form one range (no per-member copy, one iovec). A block is freed
  // when the last queue that references it has written its range.
  static constexpr size_t kBlockBytes = 64 * 1024;
  wire::SharedFrame block_;
  // The same broadcasts framed as WebSocket messages, for WebSocket members
  // (FrameForWebSocket); allocated only once a room has one.
  wire::SharedFrame ws_block_;

  Metrics own_metrics_;
  Metrics* metrics_ = &own_metrics_;
  // The status the request being handled was answered with (ReplyFailure and
  // fatal refusals set it); counted by HandleFrame.
  v1::Status request_status_ = v1::SUCCESS;
};

template <typename It>
inline void ChatService::Replay(Connection* conn, uint64_t room_id, It begin, It end) {
  // The replay is this member's alone: encoded straight into its queue, in
  // one reservation, not one shared frame per entry.
  size_t replay_bytes = 0;
  for (It it = begin; it != end; ++it) replay_bytes += ChatFrameSize(room_id, *it, /*replay=*/true);
  if (char* out = replay_bytes > 0 ? conn->SendReserved(replay_bytes) : nullptr) {
    for (It it = begin; it != end; ++it) {
      WriteChatFrame(room_id, *it, /*replay=*/true, out);
      out += ChatFrameSize(room_id, *it, /*replay=*/true);
    }
  }
}

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CHAT_SERVICE_H_
