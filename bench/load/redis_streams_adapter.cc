// Redis Streams adapter (bench/compare --durable, Redis with AOF): the room is
// the stream "room:<room>". A publisher is ready on the answer to PING and
// sends pipelined `XADD room:<room> MAXLEN ~ 100000 * p <payload>` (the
// entry IDs it gets back are read and dropped). A subscriber keeps one
// blocking `XREAD COUNT 1000 BLOCK 0 STREAMS room:<room> <id>` outstanding and
// re-issues it from the last ID of each reply, delivering every entry the
// reply carries.
//
// Why the subscriber does not start with `$`: `$` is resolved when Redis runs
// the XREAD, which the client cannot observe (a blocked XREAD answers nothing),
// so the generator could publish before it is in place and the first messages
// would be missed. Instead the subscriber asks for the stream's newest ID
// (`XREVRANGE room:<room> + - COUNT 1`, "0-0" if empty), is ready at that
// answer, and reads after it: the same messages `$` would give, without the
// race.
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/load/protocol_adapter.h"
#include "bench/load/resp_parser.h"

namespace muxchat::bench {
namespace {

// At most this many entries per XREAD reply, so a lagging subscriber gets
// bounded replies (re-parsed from the start while partial) rather than one of
// everything it missed.
constexpr int kReadCount = 1000;

// Trim bound of each stream, approximate (`~`: whole macro nodes), so memory
// stays bounded over long runs without trimming on every XADD.
constexpr int kMaxLen = 100000;

void AppendBulk(absl::string_view s, wire::Buffer* out) {
  out->Append(absl::StrCat("$", s.size(), "\r\n"));
  out->Append(s);
  out->Append("\r\n", 2);
}

void AppendCommand(std::initializer_list<absl::string_view> args, wire::Buffer* out) {
  out->Append(absl::StrCat("*", args.size(), "\r\n"));
  for (absl::string_view a : args) AppendBulk(a, out);
}

class RedisStreamsAdapter final : public ProtocolAdapter {
 public:
  explicit RedisStreamsAdapter(const ConnectionSpec& spec) : spec_(spec), key_(absl::StrCat("room:", spec.room)) {
    // Everything but the payload, the command's eighth and last argument.
    publish_prefix_ = "*8\r\n";
    for (absl::string_view a : {absl::string_view("XADD"), absl::string_view(key_), absl::string_view("MAXLEN"),
                                absl::string_view("~"), absl::string_view(max_len_), absl::string_view("*"),
                                absl::string_view("p")}) {
      absl::StrAppend(&publish_prefix_, "$", a.size(), "\r\n", a, "\r\n");
    }
  }

  void Start(wire::Buffer* out) override {
    if (spec_.role == Role::kPublisher) {
      AppendCommand({"PING"}, out);
    } else {
      AppendCommand({"XREVRANGE", key_, "+", "-", "COUNT", "1"}, out);
    }
  }

  absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, AdapterEvents* events) override {
    if (spec_.role == Role::kPublisher) return PublisherInput(in, events);
    for (;;) {
      absl::StatusOr<size_t> used = ParseRespTree(in->View(), &nodes_);
      if (!used.ok()) return used.status();
      if (*used == 0) return absl::OkStatus();
      absl::Status st = SubscriberReply(out, events);
      in->Consume(*used);
      if (!st.ok()) return st;
    }
  }

  void AppendPublish(absl::string_view payload, wire::Buffer* out) override {
    out->Append(publish_prefix_);
    AppendBulk(payload, out);
  }

 private:
  absl::Status PublisherInput(wire::Buffer* in, AdapterEvents* events) {
    for (;;) {
      absl::StatusOr<size_t> used = ParseResp(in->View(), &value_);
      if (!used.ok()) return used.status();
      if (*used == 0) return absl::OkStatus();
      if (value_.type == '-') {
        absl::Status st = absl::UnavailableError(absl::StrCat("redis error: ", value_.str));
        in->Consume(*used);
        return st;
      }
      if (value_.type == '+' && value_.str == "PONG") events->OnReady();
      in->Consume(*used);  // '$' entry IDs of XADD
    }
  }

  // nodes_[0] is one complete reply: to XREVRANGE before ready, to XREAD after.
  absl::Status SubscriberReply(wire::Buffer* out, AdapterEvents* events) {
    const RespNode& top = nodes_[0];
    if (top.type == '-') return absl::UnavailableError(absl::StrCat("redis error: ", top.str));
    if (!ready_) {
      // [[id, [field, value, ...]]] or [] for an empty or absent stream.
      if (top.type != '*') return absl::InvalidArgumentError("unexpected reply to XREVRANGE");
      last_id_ = "0-0";
      if (top.integer > 0) {
        if (nodes_.size() < 3 || nodes_[1].type != '*' || nodes_[2].type != '$') {
          return absl::InvalidArgumentError("malformed XREVRANGE entry");
        }
        last_id_ = std::string(nodes_[2].str);
      }
      ready_ = true;
      SendRead(out);
      events->OnReady();
      return absl::OkStatus();
    }
    // XREAD: null on a timeout (not with BLOCK 0), else [[key, [[id, [f, v, ...]], ...]]].
    if (top.type != '*') return absl::InvalidArgumentError("unexpected reply to XREAD");
    if (!top.is_null) {
      absl::Status st = Entries(events);
      if (!st.ok()) return st;
    }
    SendRead(out);
    return absl::OkStatus();
  }

  absl::Status Entries(AdapterEvents* events) {
    const auto bad = [] { return absl::InvalidArgumentError("malformed XREAD reply"); };
    // nodes_: 0 = [streams], 1 = [key, entries], 2 = key, 3 = [entries], then each entry.
    if (nodes_.size() < 4 || nodes_[0].integer != 1 || nodes_[1].type != '*' || nodes_[1].integer != 2 ||
        nodes_[3].type != '*') {
      return bad();
    }
    size_t i = 4;
    for (int64_t e = 0; e < nodes_[3].integer; ++e) {
      // entry = [id, [field, value, ...]]
      if (i + 2 >= nodes_.size() || nodes_[i].type != '*' || nodes_[i].integer != 2 || nodes_[i + 1].type != '$' ||
          nodes_[i + 2].type != '*') {
        return bad();
      }
      const size_t entry_end = nodes_[i].end;
      const absl::string_view id = nodes_[i + 1].str;
      for (size_t f = i + 3; f + 1 < entry_end; f += 2) {
        if (nodes_[f].str == "p") {
          events->OnPayload(nodes_[f + 1].str);
          break;
        }
      }
      last_id_.assign(id.data(), id.size());
      i = entry_end;
    }
    return absl::OkStatus();
  }

  void SendRead(wire::Buffer* out) {
    AppendCommand({"XREAD", "COUNT", count_, "BLOCK", "0", "STREAMS", key_, last_id_}, out);
  }

  ConnectionSpec spec_;
  std::string key_;
  std::string publish_prefix_;
  std::string last_id_;
  const std::string count_ = absl::StrCat(kReadCount);
  const std::string max_len_ = absl::StrCat(kMaxLen);
  bool ready_ = false;
  RespValue value_;
  std::vector<RespNode> nodes_;
};

}  // namespace

std::unique_ptr<ProtocolAdapter> MakeRedisStreamsAdapter(const ConnectionSpec& spec) {
  return std::make_unique<RedisStreamsAdapter>(spec);
}

}  // namespace muxchat::bench
