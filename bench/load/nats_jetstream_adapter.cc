// NATS JetStream adapter (bench/compare --durable; nats-server -js with file
// storage), over the text protocol with headers enabled. The room is the
// stream <room> on subject room.<room>:
// - the room's first publisher creates the stream ($JS.API.STREAM.CREATE,
//   file storage, at most 100,000 messages like the Redis streams' MAXLEN)
//   and is ready at its answer; other publishers are ready at a PONG;
// - a subscriber subscribes to its own deliver subject, then creates an
//   ephemeral push consumer on the stream ($JS.API.CONSUMER.CREATE: that
//   deliver subject, ack policy none, deliver policy new) and is ready at its
//   answer, so every message stored after it is pushed to it;
// - publishers PUB with a reply subject, which makes JetStream answer each
//   stored message with a PubAck (a plain PUB would not say whether it was
//   stored); a PubAck with an error, or "no responders", is a rejected publish.
//   The generator's window is the same as for every target (the designated
//   subscriber's receipts), which also bounds the PubAcks outstanding.
// Each connection's API answers and PubAcks come to _INBOX.<name>.*.
// Server PINGs are answered with PONG. Single-threaded; one per connection.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/load/nats_parser.h"
#include "bench/load/protocol_adapter.h"

namespace muxchat::bench {
namespace {

constexpr absl::string_view kInboxSid = "1";
constexpr absl::string_view kDeliverSid = "2";
constexpr int kStreamMaxMsgs = 100000;

// A status message (HMSG "NATS/1.0 503", no body): nobody answers the subject,
// e.g. JetStream is not enabled or no stream takes it.
bool IsNoResponders(const NatsOp& op) {
  return absl::StartsWith(op.headers, "NATS/1.0 503");
}

class NatsJetStreamAdapter final : public ProtocolAdapter {
 public:
  explicit NatsJetStreamAdapter(const ConnectionSpec& spec)
      : spec_(spec),
        inbox_(absl::StrCat("_INBOX.", spec.name)),
        subject_(absl::StrCat("room.", spec.room)),
        publish_reply_(absl::StrCat(inbox_, ".ack")) {}

  void Start(wire::Buffer* out) override {
    out->Append(absl::StrCat("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
                             "\"no_responders\":true,\"name\":\"",
                             spec_.name, "\"}\r\n"));
    out->Append(absl::StrCat("SUB ", inbox_, ".* ", kInboxSid, "\r\n"));
    if (spec_.role == Role::kPublisher) {
      if (spec_.creates_room) {
        ApiRequest(absl::StrCat("$JS.API.STREAM.CREATE.", spec_.room),
                   absl::StrCat("{\"name\":\"", spec_.room, "\",\"subjects\":[\"", subject_,
                                "\"],\"retention\":\"limits\",\"storage\":\"file\",\"max_msgs\":", kStreamMaxMsgs,
                                ",\"discard\":\"old\",\"num_replicas\":1}"),
                   out);
      } else {
        out->Append("PING\r\n");
      }
      return;
    }
    const std::string deliver = absl::StrCat("_DLV.", spec_.name);
    out->Append(absl::StrCat("SUB ", deliver, " ", kDeliverSid, "\r\n"));
    ApiRequest(absl::StrCat("$JS.API.CONSUMER.CREATE.", spec_.room),
               absl::StrCat("{\"stream_name\":\"", spec_.room, "\",\"config\":{\"deliver_subject\":\"", deliver,
                            "\",\"deliver_policy\":\"new\",\"ack_policy\":\"none\",\"replay_policy\":\"instant\"}}"),
               out);
  }

  absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, AdapterEvents* events) override {
    for (;;) {
      absl::StatusOr<size_t> used = ParseNatsOp(in->View(), &op_);
      if (!used.ok()) return used.status();
      if (*used == 0) return absl::OkStatus();
      absl::Status st = Handle(out, events);
      in->Consume(*used);
      if (!st.ok()) return st;
    }
  }

  void AppendPublish(absl::string_view payload, wire::Buffer* out) override {
    out->Append(absl::StrCat("PUB ", subject_, " ", publish_reply_, " ", payload.size(), "\r\n"));
    out->Append(payload);
    out->Append("\r\n", 2);
  }

 private:
  void ApiRequest(absl::string_view subject, absl::string_view json, wire::Buffer* out) {
    out->Append(absl::StrCat("PUB ", subject, " ", inbox_, ".api ", json.size(), "\r\n"));
    out->Append(json);
    out->Append("\r\n", 2);
  }

  absl::Status Handle(wire::Buffer* out, AdapterEvents* events) {
    switch (op_.kind) {
      case NatsOp::kMsg:
        return Message(events);
      case NatsOp::kPing:
        out->Append("PONG\r\n");
        return absl::OkStatus();
      case NatsOp::kPong:
        if (!ready_ && spec_.role == Role::kPublisher && !spec_.creates_room) Ready(events);
        return absl::OkStatus();
      case NatsOp::kErr:
        return absl::UnavailableError(absl::StrCat("nats error: ", op_.args));
      case NatsOp::kInfo:
      case NatsOp::kOk:
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  absl::Status Message(AdapterEvents* events) {
    if (op_.sid == kDeliverSid) {
      // Status messages (100: idle heartbeat, flow control) carry no payload
      // of ours; this consumer asks for neither, but they are not deliveries.
      if (absl::StartsWith(op_.headers, "NATS/1.0 1")) return absl::OkStatus();
      events->OnPayload(op_.payload);
      return absl::OkStatus();
    }
    if (op_.subject == publish_reply_) {
      if (IsNoResponders(op_)) {
        events->OnRejected("no JetStream stream for the subject (no responders)");
      } else if (absl::StrContains(op_.payload, "\"error\"")) {
        events->OnRejected(op_.payload);
      }
      return absl::OkStatus();
    }
    // The answer to the stream or consumer creation.
    if (IsNoResponders(op_)) {
      return absl::UnavailableError("no JetStream API (nats-server started without -js?)");
    }
    if (absl::StrContains(op_.payload, "\"error\"")) {
      return absl::UnavailableError(absl::StrCat("JetStream API error: ", op_.payload));
    }
    if (!ready_) Ready(events);
    return absl::OkStatus();
  }

  void Ready(AdapterEvents* events) {
    ready_ = true;
    events->OnReady();
  }

  ConnectionSpec spec_;
  std::string inbox_;
  std::string subject_;
  std::string publish_reply_;
  NatsOp op_;
  bool ready_ = false;
};

}  // namespace

std::unique_ptr<ProtocolAdapter> MakeNatsJetStreamAdapter(const ConnectionSpec& spec) {
  return std::make_unique<NatsJetStreamAdapter>(spec);
}

}  // namespace muxchat::bench
