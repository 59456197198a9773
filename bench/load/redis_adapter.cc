// Redis pub/sub adapter: a subscriber sends SUBSCRIBE and is ready on the
// "subscribe" confirmation, then receives "message" pushes; a publisher is
// ready on the answer to PING and sends PUBLISH (whose integer replies, the
// receiver counts, are read and dropped).
#include "absl/strings/str_cat.h"
#include "bench/load/protocol_adapter.h"
#include "bench/load/resp_parser.h"

namespace muxchat::bench {
namespace {

void AppendBulk(absl::string_view s, wire::Buffer* out) {
  out->Append(absl::StrCat("$", s.size(), "\r\n"));
  out->Append(s);
  out->Append("\r\n", 2);
}

class RedisAdapter final : public ProtocolAdapter {
 public:
  explicit RedisAdapter(const ConnectionSpec& spec)
      : spec_(spec), publish_prefix_(absl::StrCat("*3\r\n$7\r\nPUBLISH\r\n$", spec.room.size(), "\r\n",
                                                  spec.room, "\r\n")) {}

  void Start(wire::Buffer* out) override {
    if (spec_.role != Role::kPublisher) {
      out->Append("*2\r\n$9\r\nSUBSCRIBE\r\n");
      AppendBulk(spec_.room, out);
    } else {
      out->Append("*1\r\n$4\r\nPING\r\n");
    }
  }

  absl::Status OnInput(wire::Buffer* in, wire::Buffer* /*out*/, AdapterEvents* events) override {
    for (;;) {
      absl::StatusOr<size_t> used = ParseResp(in->View(), &value_);
      if (!used.ok()) return used.status();
      if (*used == 0) return absl::OkStatus();
      absl::Status st = Handle(events);
      in->Consume(*used);
      if (!st.ok()) return st;
    }
  }

  void AppendPublish(absl::string_view payload, wire::Buffer* out) override {
    out->Append(publish_prefix_);
    AppendBulk(payload, out);
  }

 private:
  absl::Status Handle(AdapterEvents* events) {
    if (value_.type == '-') return absl::UnavailableError(absl::StrCat("redis error: ", value_.str));
    if (spec_.role == Role::kPublisher) {
      if (value_.type == '+' && value_.str == "PONG") events->OnReady();
      return absl::OkStatus();  // ':' receiver counts of PUBLISH
    }
    if (value_.type != '*' || value_.elements.size() != 3) {
      return absl::InvalidArgumentError("unexpected reply on a subscribed redis connection");
    }
    const absl::string_view kind = value_.elements[0].str;
    if (kind == "message") {
      events->OnPayload(value_.elements[2].str);
    } else if (kind == "subscribe") {
      events->OnReady();
    }
    return absl::OkStatus();
  }

  ConnectionSpec spec_;
  std::string publish_prefix_;
  RespValue value_;
};

}  // namespace

std::unique_ptr<ProtocolAdapter> MakeRedisAdapter(const ConnectionSpec& spec) {
  return std::make_unique<RedisAdapter>(spec);
}

}  // namespace muxchat::bench
