// muxchat adapter, speaking our own frames through the wire codec: Hello; the
// room's creator sends CreateRoom (an existing room is fine); then JoinRoom,
// ready at its SUCCESS reply (an idle connection is ready at Welcome). Chat messages from other senders are
// deliveries; the server's echo of our own sends is ignored (the generator's
// window is acknowledged by a designated subscriber, the same for every
// target). Server pings are answered; any Error frame is fatal.
#include "absl/strings/str_cat.h"
#include "bench/load/chat_frame_scanner.h"
#include "bench/load/protocol_adapter.h"
#include "proto/muxchat.pb.h"
#include "src/wire/frame_codec.h"

namespace muxchat::bench {
namespace {

enum RequestId : uint64_t { kHelloId = 1, kCreateId = 2, kJoinId = 3 };

// What muxchatd accepts by default; a longer prefix is a broken stream.
constexpr uint32_t kMaxFrameBytes = wire::kDefaultMaxFrameBytes;

class MuxchatAdapter final : public ProtocolAdapter {
 public:
  explicit MuxchatAdapter(const ConnectionSpec& spec) : spec_(spec) {}

  void Start(wire::Buffer* out) override {
    v1::ClientFrame f;
    f.set_request_id(kHelloId);
    auto* h = f.mutable_hello();
    h->set_nickname(spec_.name);
    h->set_client_name("muxchat-bench/0.1");
    h->set_protocol_version(wire::kProtocolVersion);
    Send(f, out);
  }

  absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, AdapterEvents* events) override {
    while (in->ReadableBytes() >= wire::kLengthPrefixBytes) {
      const uint32_t length = wire::DecodeLength(in->Peek());
      // Judged from the prefix alone, before the body is buffered.
      if (length > kMaxFrameBytes) return TooLarge(length);
      if (in->ReadableBytes() < wire::kLengthPrefixBytes + length) break;
      absl::Status st = OnMessage(absl::string_view(in->Peek() + wire::kLengthPrefixBytes, length), out, events);
      if (!st.ok()) return st;
      in->Consume(wire::kLengthPrefixBytes + length);
    }
    return absl::OkStatus();
  }

  // One ServerFrame without its prefix: OnInput's unit, and what the
  // WebSocket adapter hands over in place from each binary message.
  absl::Status OnMessage(absl::string_view body, wire::Buffer* out, AdapterEvents* events) override {
    if (body.size() > kMaxFrameBytes) return TooLarge(body.size());
    // Chat frames, nearly all the traffic, are scanned in place.
    ScannedChat chat;
    if (ScanChatFrame(body, &chat)) {
      if (!chat.replay && chat.sender != nickname_) events->OnPayload(chat.text);
      return absl::OkStatus();
    }
    if (!frame_.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return absl::InvalidArgumentError(absl::StrCat("frame of ", body.size(), " bytes is not a valid ServerFrame"));
    }
    return Handle(out, events);
  }

  void AppendPublish(absl::string_view payload, wire::Buffer* out) override {
    publish_.set_room_id(room_id_);
    publish_.mutable_send_message()->set_text(payload.data(), payload.size());
    (void)wire::AppendFrame(publish_, out);
  }

 private:
  static absl::Status TooLarge(size_t length) {
    return absl::ResourceExhaustedError(
        absl::StrCat("frame length ", length, " exceeds max_frame_bytes ", kMaxFrameBytes));
  }

  static void Send(const v1::ClientFrame& f, wire::Buffer* out) { (void)wire::AppendFrame(f, out); }

  void SendJoin(wire::Buffer* out) {
    v1::ClientFrame f;
    f.set_request_id(kJoinId);
    f.mutable_join_room()->set_name(spec_.room);
    Send(f, out);
  }

  absl::Status Handle(wire::Buffer* out, AdapterEvents* events) {
    switch (frame_.body_case()) {
      case v1::ServerFrame::kChatMessage: {
        const v1::ChatMessage& m = frame_.chat_message();
        if (m.replay() || m.sender() == nickname_) return absl::OkStatus();
        events->OnPayload(m.text());
        return absl::OkStatus();
      }
      case v1::ServerFrame::kWelcome: {
        nickname_ = frame_.welcome().nickname();
        if (spec_.role == Role::kIdle) {
          events->OnReady();
        } else if (spec_.creates_room) {
          v1::ClientFrame f;
          f.set_request_id(kCreateId);
          f.mutable_create_room()->set_name(spec_.room);
          Send(f, out);
        } else {
          SendJoin(out);
        }
        return absl::OkStatus();
      }
      case v1::ServerFrame::kReply: {
        const v1::Reply& r = frame_.reply();
        if (frame_.request_id() == kCreateId) {
          if (r.status() != v1::SUCCESS && r.status() != v1::FAILURE_ALREADY_EXISTS) {
            return absl::UnavailableError(absl::StrCat("CreateRoom failed: ", v1::Status_Name(r.status()),
                                                       " ", r.message()));
          }
          SendJoin(out);
        } else if (frame_.request_id() == kJoinId) {
          if (r.status() != v1::SUCCESS) {
            return absl::UnavailableError(absl::StrCat("JoinRoom failed: ", v1::Status_Name(r.status()),
                                                       " ", r.message()));
          }
          room_id_ = r.room_id();
          events->OnReady();
        } else if (frame_.request_id() == kHelloId) {
          return absl::UnavailableError(absl::StrCat("Hello refused: ", v1::Status_Name(r.status()), " ",
                                                     r.message()));
        } else if (r.status() != v1::SUCCESS) {
          events->OnRejected(absl::StrCat(v1::Status_Name(r.status()), " ", r.message()));
        }
        return absl::OkStatus();
      }
      case v1::ServerFrame::kPing: {
        v1::ClientFrame f;
        f.mutable_pong()->set_nonce(frame_.ping().nonce());
        Send(f, out);
        return absl::OkStatus();
      }
      case v1::ServerFrame::kError:
        return absl::UnavailableError(absl::StrCat("server error ", v1::Status_Name(frame_.error().status()),
                                                   ": ", frame_.error().message()));
      case v1::ServerFrame::kShutdown:
        return absl::UnavailableError("server shutting down");
      default:
        return absl::OkStatus();  // member joined/left, pong...
    }
  }

  ConnectionSpec spec_;
  v1::ServerFrame frame_;
  v1::ClientFrame publish_;
  std::string nickname_;
  uint64_t room_id_ = 0;
};

}  // namespace

std::unique_ptr<ProtocolAdapter> MakeMuxchatAdapter(const ConnectionSpec& spec) {
  return std::make_unique<MuxchatAdapter>(spec);
}

}  // namespace muxchat::bench
