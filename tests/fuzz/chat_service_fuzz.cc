// FuzzChatService: a scripted crowd of in-memory connections against one
// ChatService, with the server's read/flush/reap cycle reproduced around it
// and the room index, limits and per-member seq order checked after every
// step. Odd slots are WebSocket members: their broadcasts come framed once
// per room (ChatService's framed block), and what they are sent is read back
// through a WebSocketTransport whose socket takes a few hundred bytes a
// write and not always all that is owed, so framed ranges grow while half
// written. See fuzz_targets.h for the input format.
#include <poll.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "google/protobuf/stubs/logging.h"
#include "proto/muxchat.pb.h"
#include "src/server/chat_service.h"
#include "src/server/connection.h"
#include "src/server/logger.h"
#include "src/server/server_options.h"
#include "src/server/websocket_transport.h"
#include "src/wire/frame_codec.h"
#include "src/wire/frame_format.h"
#include "src/wire/websocket_codec.h"
#include "tests/fuzz/fuzz_targets.h"

namespace muxchat::fuzz {
namespace {

using server::ChatService;
using server::CloseReason;
using server::Connection;

constexpr size_t kSlots = 8;

// Small limits so a short input reaches every one of them.
server::ServerOptions FuzzOptions() {
  server::ServerOptions o;
  o.max_frame_bytes = 512;
  o.max_text_bytes = 64;
  o.max_room_name_bytes = 16;
  o.history = 4;
  o.max_output_bytes = 8 * 1024;
  o.max_rooms = 5;
  o.max_rooms_per_connection = 3;
  o.max_members_per_room = 4;
  o.messages_per_second = 50;
  o.message_burst = 5;
  o.max_rate_violations = 4;
  // Register and Login hash on the hasher's thread: at libsodium's minimum
  // cost an input with a few of them still runs in milliseconds.
  o.password_opslimit = 1;
  o.password_memlimit = 8192;
  return o;
}

// Names chosen to collide case-insensitively and to break the name rules.
const char* const kNames[] = {"a", "A", "bob", "room", "Room", "x y", "\xe2\x80\xae" "evil", "", "zzzzzzzzzzzzzzzzz"};

// The socket under a WebSocket member's transport: takes 1..700 bytes a
// write (gathered or, every other member, not: TLS stages), keeping them.
class CutSocket final : public server::Transport {
 public:
  CutSocket(std::string* wire, bool vectored, uint32_t seed) : wire_(wire), vectored_(vectored), rng_(seed | 1u) {}
  const char* Name() const override { return vectored_ ? "tcp" : "tls"; }
  server::IoResult Handshake() override { return server::IoResult{}; }
  server::IoResult Read(wire::Buffer*, size_t) override {
    server::IoResult r;
    r.code = server::IoResult::kWouldBlock;
    return r;
  }
  server::IoResult Write(wire::OutputQueue* out, size_t max_bytes) override {
    std::string all;
    out->CopyTo(&all);
    server::IoResult r;
    r.bytes = std::min({all.size(), max_bytes, Room()});
    wire_->append(all, 0, r.bytes);
    out->Consume(r.bytes);
    return r;
  }
  bool WritesVectors() const override { return vectored_; }
  server::IoResult WriteVectors(const iovec* vec, size_t count) override {
    server::IoResult r;
    size_t room = Room();
    for (size_t i = 0; i < count && room > 0; ++i) {
      const size_t n = std::min(room, vec[i].iov_len);
      wire_->append(static_cast<const char*>(vec[i].iov_base), n);
      room -= n;
      r.bytes += n;
    }
    return r;
  }
  void ShutdownWrite() override {}

 private:
  size_t Room() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    return 1 + rng_ % 700;
  }
  std::string* const wire_;
  const bool vectored_;
  uint32_t rng_;
};

bool IsWebSocketSlot(size_t slot) { return slot % 2 == 1; }

// What one connection has seen: the next live seq expected per room it is
// in, learnt from its own join and leave answers.
struct Seen {
  enum Kind { kJoin, kLeave };
  absl::flat_hash_map<uint64_t, uint64_t> next_seq;
  absl::flat_hash_map<uint64_t, Kind> pending;  // request_id -> join/leave awaiting its Reply
  bool tracking = true;  // off once the client reused a request_id still pending
};

class Harness {
 public:
  Harness() : options_(FuzzOptions()), logger_(server::LogLevel::kOff), service_(options_, &logger_) {
    FUZZ_CHECK(server::ChatService::CheckOptions(options_).ok());
    for (size_t i = 0; i < kSlots; ++i) Open(i);
  }
  ~Harness() {
    // Orderly end, as the server's: disconnect everyone, then destroy.
    for (auto& c : conns_) {
      if (c != nullptr && !c->disconnected) {
        c->Close(CloseReason::kShutdown);
        c->disconnected = true;
        service_.OnDisconnect(c.get());
      }
    }
    FUZZ_CHECK(service_.logged_in_count() == 0);
    for (const server::Room* room : service_.rooms().SortedByName()) FUZZ_CHECK(room->member_count() == 0);
  }

  void Run(const uint8_t* data, size_t size) {
    size_t i = 0;
    while (i + 2 <= size) {
      const uint8_t op = data[i];
      const size_t len = std::min<size_t>(data[i + 1], size - i - 2);
      const uint8_t* payload = data + i + 2;
      i += 2 + len;
      Step(op, payload, len);
      AwaitPasswords();
      EndOfTurn();
      CheckInvariants();
    }
  }

 private:
  void Open(size_t slot) {
    conns_[slot] = std::make_unique<Connection>(next_id_++, -1, "fuzz", now_, options_.max_output_bytes, &dirty_);
    seen_[slot] = Seen();
    if (IsWebSocketSlot(slot)) {
      // As Server::UpgradeToWebSocket leaves it, before its Hello.
      ws_wire_[slot].clear();
      ws_in_[slot].Clear();
      ws_client_[slot] = std::make_unique<wire::WebSocketDecoder>(1 << 20, wire::WebSocketDecoder::Role::kClient);
      conns_[slot]->set_transport(std::make_unique<server::WebSocketTransport>(
          std::make_unique<CutSocket>(&ws_wire_[slot], slot % 4 == 1, static_cast<uint32_t>(next_id_)),
          options_.max_frame_bytes, "", ""));
      conns_[slot]->set_websocket();
    }
  }

  void Step(uint8_t op, const uint8_t* p, size_t len) {
    const size_t slot = op % kSlots;
    Connection* c = conns_[slot].get();
    const uint8_t kind = op / kSlots;  // 0..31
    if (kind < 16) {
      // Raw bytes, read and decoded exactly as Server::HandleRead does.
      if (c->closing()) return;
      c->input().Append(p, len);
      while (!c->closing()) {
        absl::StatusOr<bool> got = decoder_.Next(&c->input(), &request_);
        if (!got.ok()) {
          c->Close(CloseReason::kProtocolError, v1::FAILURE_PROTOCOL, "bad frame");
          break;
        }
        if (!*got) break;
        Handle(slot, request_);
      }
    } else if (kind < 26) {
      if (!c->closing()) Handle(slot, Structured(p, len));
    } else if (kind < 28) {
      c->Close(CloseReason::kClientClosed);
    } else if (kind < 30) {
      now_ += absl::Milliseconds(10 * (len > 0 ? p[0] : 1));
    } else {
      // A reader that stops reading: its output is kept, not drained.
      stalled_[slot] = !stalled_[slot];
    }
  }

  // Register and Login are answered once the hasher's thread is done; wait
  // for it (as the server's poll on password_fd would) before the next step,
  // so that an input replays the same way every time.
  void AwaitPasswords() {
    for (int round = 0; round < 100 && AnyAuthPending(); ++round) {
      // A connection waiting for an answer no job will give is the bug this
      // looks for; a hasher thread that is merely slow (a loaded machine
      // stalled it for seconds in CI) is waited for, up to libFuzzer's own
      // -timeout.
      pollfd p{service_.password_fd(), POLLIN, 0};
      while (::poll(&p, 1, 1000) != 1) FUZZ_CHECK(service_.password_jobs_outstanding() > 0);
      service_.OnPasswordResults(now_);
    }
    FUZZ_CHECK(!AnyAuthPending());
  }
  bool AnyAuthPending() const {
    for (const auto& c : conns_) {
      if (c != nullptr && !c->closing() && c->auth_pending) return true;
    }
    return false;
  }

  uint8_t At(const uint8_t* p, size_t len, size_t i) { return i < len ? p[i] : 0; }

  v1::ClientFrame Structured(const uint8_t* p, size_t len) {
    v1::ClientFrame f;
    f.set_request_id(++next_request_);
    f.set_room_id(At(p, len, 1) % 8);  // IDs 0..7: real, deleted and never-existing ones
    const std::string name = kNames[At(p, len, 2) % (sizeof kNames / sizeof kNames[0])];
    switch (At(p, len, 0) % 12) {
      case 0: {
        f.mutable_hello()->set_nickname(name);
        f.mutable_hello()->set_protocol_version(At(p, len, 3) == 7 ? 2 : 1);
        break;
      }
      case 1: f.mutable_create_room()->set_name(name); break;
      case 2: f.mutable_join_room()->set_name(At(p, len, 3) % 2 ? name : ""); break;
      case 3: f.mutable_leave_room(); break;
      case 4: f.mutable_delete_room()->set_name(At(p, len, 3) % 2 ? name : ""); break;
      case 5: f.mutable_list_rooms(); break;
      case 6: {
        const size_t n = len > 4 ? len - 4 : 0;
        f.mutable_send_message()->set_text(std::string(reinterpret_cast<const char*>(p) + (len - n), n));
        if (f.send_message().text().empty()) f.mutable_send_message()->set_text("hi");
        // Invalid UTF-8 cannot travel in a parsed proto3 string; keep it valid here.
        std::string& t = *f.mutable_send_message()->mutable_text();
        for (char& ch : t) ch = static_cast<char>(0x20 + (static_cast<uint8_t>(ch) % 0x5f));
        break;
      }
      case 7: f.mutable_ping()->set_nonce(At(p, len, 3)); break;
      case 8: f.mutable_pong(); break;
      case 9: {
        f.mutable_post_message()->set_room_name(At(p, len, 3) % 2 ? name : "");
        f.mutable_post_message()->set_text(At(p, len, 4) % 4 ? "posted" : "");
        break;
      }
      case 10: {
        v1::ListRooms* list = f.mutable_list_rooms();
        list->set_after(At(p, len, 3) % 2 ? name : "");
        list->set_limit(At(p, len, 4) % 4);
        list->set_name_prefix(At(p, len, 5) % 2 ? name.substr(0, 1) : "");
        break;
      }
      default: break;  // no body
    }
    return f;
  }

  void Handle(size_t slot, const v1::ClientFrame& f) {
    Seen& seen = seen_[slot];
    if (f.has_join_room() || f.has_leave_room()) {
      if (seen.pending.contains(f.request_id())) seen.tracking = false;
      seen.pending[f.request_id()] = f.has_join_room() ? Seen::kJoin : Seen::kLeave;
    }
    service_.HandleFrame(conns_[slot].get(), f, now_);
  }

  // Server::FlushDirty + ReapClosing, with "writing" replaced by decoding
  // what each connection was sent and checking it.
  void EndOfTurn() {
    for (size_t i = 0; i < dirty_.size(); ++i) {
      Connection* c = dirty_[i];
      c->in_dirty_list = false;
      if (c->closing() && !c->disconnected) {
        c->disconnected = true;
        service_.OnDisconnect(c);
      }
    }
    dirty_.clear();
    for (size_t slot = 0; slot < kSlots; ++slot) {
      Connection* c = conns_[slot].get();
      if (!stalled_[slot] || c->closing()) Drain(slot);
      FUZZ_CHECK(c->output().PendingBytes() <= options_.max_output_bytes + 1024);  // + the final Error frame
      if (c->disconnected) {
        conns_[slot].reset();
        stalled_[slot] = false;
        Open(slot);
      }
    }
  }

  // A WebSocket member's bytes as they leave its transport, some writes'
  // worth (not always all that is owed: the rest stays queued, half a
  // message perhaps, for the next turn's broadcasts to queue behind), read
  // back as a browser would and turned into length-prefixed frames.
  std::string DrainWebSocket(size_t slot) {
    Connection* c = conns_[slot].get();
    drain_rng_ ^= drain_rng_ << 13;
    drain_rng_ ^= drain_rng_ >> 17;
    drain_rng_ ^= drain_rng_ << 5;
    const uint32_t writes = 1 + drain_rng_ % 24;
    for (uint32_t i = 0; i < writes && c->OwesOutput(); ++i) {
      const server::IoResult r = c->transport()->Write(&c->output(), 4096);
      FUZZ_CHECK(r.code == server::IoResult::kOk);
      FUZZ_CHECK(r.bytes > 0);
    }
    ws_in_[slot].Append(ws_wire_[slot]);
    ws_wire_[slot].clear();
    std::string frames;
    wire::WsEvent event;
    for (;;) {
      absl::StatusOr<bool> got = ws_client_[slot]->Next(&ws_in_[slot], &event);
      FUZZ_CHECK(got.ok());
      if (!*got) break;
      FUZZ_CHECK(event.kind == wire::WsEvent::Kind::kMessage);  // nothing asks for a Pong or a Close here
      char prefix[wire::kLengthPrefixBytes];
      wire::EncodeLength(static_cast<uint32_t>(event.payload.size()), prefix);
      frames.append(prefix, sizeof prefix);
      frames.append(event.payload.data(), event.payload.size());
    }
    // All written: no message is left half read.
    if (!c->OwesOutput()) FUZZ_CHECK(ws_in_[slot].empty());
    return frames;
  }

  void Drain(size_t slot) {
    Connection* c = conns_[slot].get();
    std::string bytes;
    if (c->websocket()) {
      bytes = DrainWebSocket(slot);
    } else {
      c->output().CopyTo(&bytes);
      c->output().Consume(bytes.size());
    }
    wire::Buffer buf;
    buf.Append(bytes);
    wire::FrameDecoder dec(UINT32_MAX);
    v1::ServerFrame f;
    Seen& seen = seen_[slot];
    while (true) {
      absl::StatusOr<bool> got = dec.Next(&buf, &f);
      FUZZ_CHECK(got.ok());
      if (!*got) break;
      FUZZ_CHECK(f.ByteSizeLong() <= options_.max_frame_bytes);  // the bound Welcome announces
      if (f.has_reply()) {
        auto it = seen.pending.find(f.request_id());
        if (it != seen.pending.end()) {
          if (f.reply().status() == v1::SUCCESS) {
            if (it->second == Seen::kJoin) {
              auto [at, fresh] = seen.next_seq.try_emplace(f.reply().room_id(), f.reply().last_seq() + 1);
              // Already a member: the room's newest seq is the last one we saw.
              if (!fresh && seen.tracking) FUZZ_CHECK(at->second == f.reply().last_seq() + 1);
            } else {
              seen.next_seq.erase(f.reply().room_id());
            }
          }
          seen.pending.erase(it);
        }
      }
      if (f.has_room_closed()) seen.next_seq.erase(f.room_id());
      if (f.has_chat_message()) {
        const v1::ChatMessage& m = f.chat_message();
        if (!seen.tracking) continue;
        auto it = seen.next_seq.find(f.room_id());
        FUZZ_CHECK(it != seen.next_seq.end());  // only rooms we are in
        if (m.replay()) {
          FUZZ_CHECK(m.seq() < it->second);
        } else {
          FUZZ_CHECK(m.seq() == it->second);  // live messages: no gap, no repeat
          ++it->second;
        }
      }
    }
    FUZZ_CHECK(buf.empty());
  }

  void CheckInvariants() {
    const auto rooms = service_.rooms().SortedByName();
    FUZZ_CHECK(rooms.size() <= options_.max_rooms);
    absl::flat_hash_map<const Connection*, size_t> memberships;
    for (const server::Room* room : rooms) {
      FUZZ_CHECK(room->member_count() <= options_.max_members_per_room);
      FUZZ_CHECK(service_.rooms().FindById(room->id()) == room);
      absl::flat_hash_set<const Connection*> unique(room->members().begin(), room->members().end());
      FUZZ_CHECK(unique.size() == room->member_count());
      FUZZ_CHECK(room->websocket_member_count() ==
                 static_cast<size_t>(std::count_if(room->members().begin(), room->members().end(),
                                                   [](const Connection* m) { return m->websocket(); })));
      for (const Connection* m : room->members()) {
        FUZZ_CHECK(m->logged_in() || m->closing());
        FUZZ_CHECK(!m->disconnected);
        FUZZ_CHECK(m->rooms().contains(room->id()));
        FUZZ_CHECK(room->HasMember(m));
        ++memberships[m];
      }
    }
    size_t logged_in = 0;
    for (const auto& c : conns_) {
      FUZZ_CHECK(c->rooms().size() <= options_.max_rooms_per_connection);
      const auto it = memberships.find(c.get());
      FUZZ_CHECK(c->rooms().size() == (it == memberships.end() ? 0 : it->second));
      for (uint64_t id : c->rooms()) {
        const server::Room* room = service_.rooms().FindById(id);
        FUZZ_CHECK(room != nullptr && room->HasMember(c.get()));
      }
      if (!c->nickname().empty()) ++logged_in;
    }
    FUZZ_CHECK(service_.logged_in_count() == logged_in);
  }

  const server::ServerOptions options_;
  server::Logger logger_;
  ChatService service_;
  wire::FrameDecoder decoder_{512};
  v1::ClientFrame request_;
  std::vector<Connection*> dirty_;
  // WebSocket slots: bytes written by the transport not yet read back, what
  // is read back but not yet a whole message, and the browser's decoder.
  // Before conns_: their transports write into ws_wire_.
  std::array<std::string, kSlots> ws_wire_;
  std::array<wire::Buffer, kSlots> ws_in_;
  std::array<std::unique_ptr<wire::WebSocketDecoder>, kSlots> ws_client_;
  uint32_t drain_rng_ = 1;
  std::array<std::unique_ptr<Connection>, kSlots> conns_;
  std::array<Seen, kSlots> seen_;
  std::array<bool, kSlots> stalled_{};
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  uint64_t next_id_ = 16;
  uint64_t next_request_ = 1u << 20;
};

}  // namespace

int FuzzChatService(const uint8_t* data, size_t size) {
  static const bool quiet = SilenceProtobufLogs();
  (void)quiet;
  Harness h;
  h.Run(data, size);
  return 0;
}

}  // namespace muxchat::fuzz
