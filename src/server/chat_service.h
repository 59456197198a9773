// The chat semantics of protocol v1: handshake, nicknames, rooms, fan-out.
// Knows Connections only as places to send frames; knows nothing of sockets,
// so tests and fuzzers drive it with in-memory connections. Borrows the
// options and logger, which must outlive it. Single-threaded.
#ifndef MUXCHAT_SERVER_CHAT_SERVICE_H_
#define MUXCHAT_SERVER_CHAT_SERVICE_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/muxchat.pb.h"
#include "src/server/connection.h"
#include "src/server/logger.h"
#include "src/server/metrics.h"
#include "src/server/room_registry.h"
#include "src/server/server_options.h"

namespace muxchat::server {

inline constexpr char kServerVersion[] = "muxchatd/0.1.0";

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

  // Counts requests, logins, messages and deliveries into `metrics` from now
  // on (it must outlive this service); until set, into a private registry.
  void set_metrics(Metrics* metrics) { metrics_ = metrics; }
  const Metrics& metrics() const { return *metrics_; }

  const RoomRegistry& rooms() const { return rooms_; }
  size_t logged_in_count() const { return nicknames_.size(); }
  const v1::Limits& limits() const { return limits_; }

 private:
  // HandleFrame's work; HandleFrame counts the request's outcome around it.
  void DispatchFrame(Connection* conn, const v1::ClientFrame& frame, absl::Time now);
  void HandleHello(Connection* conn, const v1::ClientFrame& f);
  void HandleCreate(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  void HandleJoin(Connection* conn, const v1::ClientFrame& f);
  void HandleLeave(Connection* conn, const v1::ClientFrame& f);
  void HandleDelete(Connection* conn, const v1::ClientFrame& f);
  void HandleList(Connection* conn, const v1::ClientFrame& f);
  void HandleSend(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  void HandlePost(Connection* conn, const v1::ClientFrame& f, absl::Time now);
  // ListMembers: one page of the envelope room's member nicknames, sorted by
  // folded nickname, resuming after `after`, within max_frame_bytes.
  void HandleListMembers(Connection* conn, const v1::ClientFrame& f);
  // Stamps `text` into `room`'s history and queues the ChatMessage to every member.
  void Deliver(Room* room, const Connection* sender, const std::string& text, absl::Time now);
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
  void RemoveMember(Room* room, Connection* conn, const char* reason);

  const ServerOptions& options_;
  Logger* const logger_;
  v1::Limits limits_;
  RoomRegistry rooms_;
  absl::flat_hash_map<std::string, Connection*> nicknames_;  // folded -> owner
  // Broadcast frames are written one after another into shared blocks, and
  // members' queues reference byte ranges of them: a member's consecutive
  // messages form one range (no per-member copy, one iovec). A block is freed
  // when the last queue that references it has written its range.
  static constexpr size_t kBlockBytes = 64 * 1024;
  wire::SharedFrame block_;

  Metrics own_metrics_;
  Metrics* metrics_ = &own_metrics_;
  // The status the request being handled was answered with (ReplyFailure and
  // fatal refusals set it); counted by HandleFrame.
  v1::Status request_status_ = v1::SUCCESS;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CHAT_SERVICE_H_
