// NATS adapter (text protocol): CONNECT without verbose acks, then a
// subscriber sends SUB and PING and is ready at the PONG (the server has then
// processed the SUB); a publisher sends PING and is ready at the PONG, then
// sends PUB. Server PINGs are answered with PONG.
#include "absl/strings/str_cat.h"
#include "bench/load/nats_parser.h"
#include "bench/load/protocol_adapter.h"

namespace muxchat::bench {
namespace {

class NatsAdapter final : public ProtocolAdapter {
 public:
  explicit NatsAdapter(const ConnectionSpec& spec) : spec_(spec) {}

  void Start(wire::Buffer* out) override {
    out->Append(absl::StrCat("CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"", spec_.name,
                             "\"}\r\n"));
    if (spec_.role != Role::kPublisher) out->Append(absl::StrCat("SUB ", spec_.room, " 1\r\n"));
    out->Append("PING\r\n");
  }

  absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, AdapterEvents* events) override {
    for (;;) {
      absl::StatusOr<size_t> used = ParseNatsOp(in->View(), &op_);
      if (!used.ok()) return used.status();
      if (*used == 0) return absl::OkStatus();
      switch (op_.kind) {
        case NatsOp::kMsg:
          events->OnPayload(op_.payload);
          break;
        case NatsOp::kPing:
          out->Append("PONG\r\n");
          break;
        case NatsOp::kPong:
          if (!ready_) {
            ready_ = true;
            events->OnReady();
          }
          break;
        case NatsOp::kErr: {
          absl::Status st = absl::UnavailableError(absl::StrCat("nats error: ", op_.args));
          in->Consume(*used);
          return st;
        }
        case NatsOp::kInfo:
        case NatsOp::kOk:
          break;
      }
      in->Consume(*used);
    }
  }

  void AppendPublish(absl::string_view payload, wire::Buffer* out) override {
    out->Append(absl::StrCat("PUB ", spec_.room, " ", payload.size(), "\r\n"));
    out->Append(payload);
    out->Append("\r\n", 2);
  }

 private:
  ConnectionSpec spec_;
  NatsOp op_;
  bool ready_ = false;
};

}  // namespace

std::unique_ptr<ProtocolAdapter> MakeNatsAdapter(const ConnectionSpec& spec) {
  return std::make_unique<NatsAdapter>(spec);
}

}  // namespace muxchat::bench
