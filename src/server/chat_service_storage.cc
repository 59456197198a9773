// ChatService: durable state through Storage (group commit, acknowledgement
// after commit, recovery from failed commits), History paging and periodic
// upkeep — docs/PROTOCOL.md §7.11–7.13 and §9.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/server/chat_service.h"
#include "src/server/cluster_node.h"

namespace muxchat::server {

namespace {

// Two batches may commit at once: while the writer commits one, the next
// turn's writes are already queued behind it, so the writer goes straight on
// to them instead of waiting for the loop to wake, deliver and submit
// (docs/BENCHMARKS.md §9 measures it). More would only split the same
// messages into smaller transactions. A failed commit fails every batch in
// flight after it: Storage refuses them too (storage.h).
constexpr size_t kMaxBatchesInFlight = 2;

// A batch is held for the rest of a connection's ready input (FlushStorage)
// only while smaller than this: a window of 64 messages of 1 KiB is 67 KiB,
// over the 64 KiB read budget of one turn, and split 60 + 4 it cost two
// commits, two wake-ups and two fan-out rounds (docs/BENCHMARKS.md §9.2.4).
constexpr size_t kMaxHeldOps = 1024;

HistoryEntry ToEntry(MessageRecord m) {
  return HistoryEntry{std::move(m.sender), std::move(m.text), m.seq, m.timestamp_unix_micros, m.client_msg_id};
}

}  // namespace

absl::Status ChatService::AttachStorage(Storage* storage, LoadedState state, absl::Time now) {
  for (AccountRecord& a : state.accounts) {
    if (accounts_.Add(a.id, std::move(a.name), std::move(a.password_hash), absl::FromUnixMicros(a.created_unix_micros)) ==
        nullptr) {
      return absl::DataLossError(absl::StrCat("stored account ", a.id, " clashes with another"));
    }
  }
  for (SessionRecord& s : state.sessions) {
    accounts_.AddSession(std::move(s.token_hash), Session{s.account_id, absl::FromUnixMicros(s.expires_unix_micros)});
  }
  for (const RoomRecord& r : state.rooms) {
    RoomOwner owner;
    owner.account_id = r.owner_account_id;
    // A guest's ownership ended with its connection (and the process).
    owner.name = r.owner_account_id != 0 ? r.owner_name : "";
    absl::StatusOr<Room*> room = rooms_.Restore(r.id, r.name, std::move(owner),
                                                absl::FromUnixMicros(r.created_unix_micros), r.last_seq);
    if (!room.ok()) return absl::DataLossError(room.status().message());
  }
  rooms_.ReserveIdsThrough(state.max_room_id);
  for (const MembershipRecord& m : state.memberships) {
    Account* a = accounts_.FindById(m.account_id);
    if (a != nullptr && rooms_.FindById(m.room_id) != nullptr) a->rooms.insert(m.room_id);
  }
  for (MessageRecord& m : state.recent) {
    Room* room = rooms_.FindById(m.room_id);
    if (room == nullptr || m.seq > room->last_seq()) continue;
    const uint64_t last = room->last_seq();
    room->Commit(ToEntry(std::move(m)));
    room->Restore(last);  // the ring is filled oldest first; numbering stays the stored one
  }
  for (const MessageRecord& m : state.recent_client_ids) {
    if (m.client_msg_id == 0 || m.sender_account_id == 0) continue;
    RememberMsgId(m.sender_account_id, m.client_msg_id, m.room_id, m.seq,
                  std::min(now, absl::FromUnixMicros(m.timestamp_unix_micros)));
  }
  storage_ = storage;
  logger_->Log(LogLevel::kInfo, "storage: %d accounts, %d rooms, %d sessions loaded", accounts_.size(), rooms_.size(),
               accounts_.session_count());
  return absl::OkStatus();
}

Connection* ChatService::FindConnection(uint64_t id) const {
  auto it = connections_.find(id);
  return it == connections_.end() || it->second->closing() ? nullptr : it->second;
}

void ChatService::Persist(StorageOp op, Committed done) {
  if (storage_ == nullptr) {
    if (done) done(absl::OkStatus());
    return;
  }
  batch_.ops.push_back(std::move(op));
  batch_done_.emplace_back(std::move(done));
}

void ChatService::PersistMessage(AppendMessage op, const MessageFollowUp& follow_up) {
  batch_.ops.emplace_back(std::move(op));
  batch_done_.emplace_back(follow_up);
}

void ChatService::RunFollowUp(FollowUp& follow_up, const absl::Status& status, StorageOp* op) {
  if (auto* m = std::get_if<MessageFollowUp>(&follow_up)) {
    MessageCommitted(*m, status, op);
  } else if (Committed& done = std::get<Committed>(follow_up)) {
    done(status);
  }
}

void ChatService::MessageCommitted(const MessageFollowUp& m, const absl::Status& status, StorageOp* op) {
  Room* room = rooms_.FindById(m.room_id);  // null: deleted meanwhile, nothing to deliver
  Connection* sender = FindConnection(m.conn_id);
  // The replies quote only the request's id and room.
  auto request = [&m] {
    v1::ClientFrame f;
    f.set_request_id(m.request_id);
    f.set_room_id(m.frame_room_id);
    return f;
  };
  if (!status.ok()) {
    if (room != nullptr) room->RollBack();
    if (m.client_msg_id != 0) msg_ids_.erase({m.sender_key, m.client_msg_id});
    if (sender != nullptr) ReplyFailure(sender, request(), v1::FAILURE_STORAGE, std::string(status.message()), room);
    return;
  }
  auto* append = op != nullptr ? std::get_if<AppendMessage>(op) : nullptr;
  if (append == nullptr) {
    // Storage broke its contract (storage.h): the message is stored, and its
    // seq is spent, but there is nothing to deliver; History will serve it.
    logger_->Log(LogLevel::kError, "storage: committed message %d in room %d did not come back", m.client_msg_id,
                 m.room_id);
    return;
  }
  if (room == nullptr) return;
  MessageRecord& message = append->message;
  if (m.post && sender != nullptr) ReplyPosted(sender, request(), *room, message.seq);
  Deliver(*room, room->Commit(HistoryEntry{std::move(message.sender), std::move(message.text), message.seq,
                                           message.timestamp_unix_micros, message.client_msg_id}));
}

bool ChatService::FlushStorage(bool input_pending) {
  if (storage_ == nullptr || batch_.ops.empty()) return false;
  if (input_pending && !batch_held_ && batch_.ops.size() < kMaxHeldOps) {
    batch_held_ = true;
    return true;
  }
  if (in_flight_.size() >= kMaxBatchesInFlight) return false;
  batch_held_ = false;
  batch_.id = next_batch_id_++;
  const size_t size = batch_.ops.size();
  in_flight_.push_back(InFlightBatch{batch_.id, std::move(batch_done_)});
  batch_done_.clear();
  storage_->Submit(std::move(batch_));
  batch_ = Batch();
  // The next turn's batch is likely this one's size: grown from empty, its
  // two vectors would be reallocated and moved ~log2(size) times.
  batch_.ops.reserve(size);
  batch_done_.reserve(size);
  return false;
}

void ChatService::OnStorageReady(absl::Time now) {
  if (storage_ == nullptr) return;
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  storage_->TakeCompletions(&commits, &reads);
  for (CommitResult& c : commits) {
    // Results come in submission order; one for a batch no longer in flight
    // is Storage refusing a batch this loop has already failed (below).
    if (in_flight_.empty() || in_flight_.front().id != c.batch_id) continue;
    std::vector<FollowUp> done = std::move(in_flight_.front().done);
    in_flight_.pop_front();
    if (!c.status.ok()) {
      ++metrics_->storage_failures;
      logger_->Log(LogLevel::kError, "storage: commit failed: %s", c.status.ToString());
      for (FollowUp& d : done) RunFollowUp(d, c.status, nullptr);
      // The batches behind it carry later seqs: they fail with it (and
      // Storage refuses them, as they were submitted before this was known).
      std::deque<InFlightBatch> later = std::move(in_flight_);
      in_flight_.clear();
      for (InFlightBatch& b : later) {
        for (FollowUp& d : b.done) RunFollowUp(d, c.status, nullptr);
      }
      FailUncommitted(c.status, now);
      continue;
    }
    ++metrics_->storage_commits;
    if (!storage_error_.empty()) {
      logger_->Log(LogLevel::kInfo, "storage: commits succeed again");
      storage_error_.clear();
    }
    for (size_t i = 0; i < done.size(); ++i) {
      RunFollowUp(done[i], absl::OkStatus(), i < c.ops.size() ? &c.ops[i] : nullptr);
    }
  }
  for (ReadResult& r : reads) {
    auto it = reads_.find(r.read_id);
    if (it == reads_.end()) continue;
    std::function<void(ReadResult&)> done = std::move(it->second);
    reads_.erase(it);
    done(r);
  }
  // A held batch waits for the next turn's reads (the loop runs it at once).
  if (!batch_held_) FlushStorage();
}

void ChatService::FailUncommitted(const absl::Status& status, absl::Time now) {
  // Messages gathered after the failed batch carry seqs after its own: they
  // fail too, so that every room's numbering rolls back without a hole.
  std::vector<FollowUp> pending = std::move(batch_done_);
  batch_done_.clear();
  batch_ = Batch();
  batch_held_ = false;
  for (FollowUp& d : pending) RunFollowUp(d, status, nullptr);
  refuse_writes_until_ = now + options_.storage_retry;
  storage_error_ = absl::StrCat("storage cannot take writes now (", status.message(), "); try again shortly");
}

void ChatService::HandleHistory(Connection* conn, const v1::ClientFrame& f) {
  Room* room = FindMembershipOrReply(conn, f, "join before reading the history of");
  if (room == nullptr) return;
  const v1::History& req = f.history();
  const bool forward = req.has_after_seq();
  if (req.before_seq() != 0 && forward) {
    ReplyFailure(conn, f, v1::FAILURE_INVALID, "give before_seq or after_seq, not both", room);
    return;
  }
  const uint32_t limit = req.limit() == 0 ? options_.history_page : std::min(req.limit(), options_.history_page);
  const std::deque<HistoryEntry>& ring = room->history();
  // The ring answers when it holds the whole page asked for.
  auto lower = [](const HistoryEntry& e, uint64_t seq) { return e.seq < seq; };
  std::deque<HistoryEntry>::const_iterator from, to;
  bool covered = false;
  if (forward) {
    // upper_bound on after_seq itself: after_seq + 1 would wrap at 2^64-1.
    from = std::upper_bound(ring.begin(), ring.end(), req.after_seq(),
                            [](uint64_t seq, const HistoryEntry& e) { return seq < e.seq; });
    to = from + std::min<ptrdiff_t>(limit, ring.end() - from);
    covered = req.after_seq() >= room->last_seq() || (!ring.empty() && ring.front().seq <= req.after_seq() + 1);
  } else {
    const uint64_t before = req.before_seq() != 0 ? req.before_seq() : room->last_seq() + 1;
    to = std::lower_bound(ring.begin(), ring.end(), before, lower);
    from = to - std::min<ptrdiff_t>(limit, to - ring.begin());
    const uint64_t wanted_first = before > limit ? before - limit : 1;
    covered = before <= 1 || (!ring.empty() && ring.front().seq <= wanted_first) ||
              (storage_ == nullptr && cluster_ == nullptr);
  }
  if (forward && storage_ == nullptr && cluster_ == nullptr) covered = true;
  if (covered) {
    v1::ServerFrame out;
    v1::Reply* r = SuccessReply(&out, f, *room, absl::StrCat(to - from, " messages"));
    r->set_history_count(static_cast<uint32_t>(to - from));
    r->set_last_seq(room->last_seq());
    if (!ring.empty()) r->set_oldest_seq(ring.front().seq);
    conn->Send(out);
    Replay(conn, room->id(), from, to);
    return;
  }
  if (cluster_ != nullptr) {
    ClusterHistory(conn, f, room, forward, req.after_seq(),
                   forward ? 0 : (req.before_seq() != 0 ? req.before_seq() : room->last_seq() + 1), limit);
    return;
  }
  // Older than the ring: read from storage on its reader thread, answered
  // when it returns (other requests go on meanwhile).
  HistoryRead read;
  read.id = next_read_id_++;
  read.room_id = room->id();
  read.forward = forward;
  read.after_seq = req.after_seq();
  read.before_seq = forward ? 0 : (req.before_seq() != 0 ? req.before_seq() : room->last_seq() + 1);
  read.limit = limit;
  const uint64_t conn_id = conn->id(), room_id = room->id();
  reads_.emplace(read.id, [this, conn_id, room_id, f](ReadResult& result) {
    Connection* c = FindConnection(conn_id);
    Room* r = rooms_.FindById(room_id);
    if (c == nullptr) return;
    if (r == nullptr || !c->rooms().contains(room_id)) {
      ReplyFailure(c, f, v1::FAILURE_NOT_EXISTS, absl::StrCat("room ", room_id, " is gone or was left"));
      return;
    }
    if (!result.status.ok()) {
      ReplyFailure(c, f, v1::FAILURE_STORAGE, absl::StrCat("history unavailable: ", result.status.message()), r);
      return;
    }
    std::vector<HistoryEntry> entries;
    entries.reserve(result.messages.size());
    for (MessageRecord& m : result.messages) entries.push_back(ToEntry(std::move(m)));
    v1::ServerFrame out;
    v1::Reply* reply = SuccessReply(&out, f, *r, absl::StrCat(entries.size(), " messages"));
    reply->set_history_count(static_cast<uint32_t>(entries.size()));
    reply->set_last_seq(r->last_seq());
    reply->set_oldest_seq(result.oldest_seq);
    c->Send(out);
    Replay(c, room_id, entries.begin(), entries.end());
  });
  storage_->Read(std::move(read));
}

void ChatService::Sweep(absl::Time now) {
  if (cluster_ != nullptr) cluster_->Tick();
  // Gaps owed to members whose output drained while their rooms went quiet.
  std::vector<Connection*> owing(owing_gaps_.begin(), owing_gaps_.end());
  for (Connection* c : owing) {
    Connection::DroppedMap* dropped = c->dropped();
    if (dropped == nullptr) {
      owing_gaps_.erase(c);
      continue;
    }
    std::vector<uint64_t> rooms;
    for (const auto& [room_id, range] : *dropped) rooms.push_back(room_id);
    for (uint64_t room_id : rooms) {
      if (!SendOwedGap(c, room_id)) break;
    }
  }
  while (!msg_id_order_.empty() && msg_id_order_.front().first + options_.dedupe_window < now) {
    msg_ids_.erase(msg_id_order_.front().second);
    msg_id_order_.pop_front();
  }
}

}  // namespace muxchat::server
