// Adapter for bench/peers/node/socketio_server.js (target "socketio"):
// Engine.IO 4 over a WebSocket from the first byte
// (/socket.io/?EIO=4&transport=websocket), Socket.IO packets as text.
// Engine.IO: the server's open packet "0{...}", ping "2" answered by pong "3",
// a message is "4" + a Socket.IO packet. Socket.IO: "0" connects to the main
// namespace (answered "0{...}"), "2[...]" is an event. So a subscriber sends
// 40, then 42["join","ROOM"], and is ready on 42["joined",...]; a publisher
// sends 40 and is ready on the server's 40{...}, then publishes
// 42["pub","ROOM","PAYLOAD"]; subscribers receive 42["msg","PAYLOAD"]. The
// payload is the generator's ASCII (hex digits and 'x'), so it needs no JSON
// escaping; anything else is counted as foreign by the generator.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/load/protocol_adapter.h"
#include "bench/load/websocket_client.h"

namespace muxchat::bench {
namespace {

constexpr absl::string_view kMsgPrefix = "42[\"msg\",\"";
constexpr absl::string_view kMsgSuffix = "\"]";

class SocketIoAdapter final : public ProtocolAdapter {
 public:
  SocketIoAdapter(const ConnectionSpec& spec, std::string host)
      : spec_(spec), host_(std::move(host)), publish_prefix_(absl::StrCat("42[\"pub\",\"", spec.room, "\",\"")) {}

  void Start(wire::Buffer* out) override {
    ws_.StartUpgrade("/socket.io/?EIO=4&transport=websocket", host_, out);
  }

  absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, AdapterEvents* events) override {
    return ws_.OnInput(in, out, [&](bool text, absl::string_view p) -> absl::Status {
      if (!text) return absl::InvalidArgumentError("binary Engine.IO message (none expected)");
      if (absl::StartsWith(p, kMsgPrefix) && absl::EndsWith(p, kMsgSuffix)) {
        events->OnPayload(p.substr(kMsgPrefix.size(), p.size() - kMsgPrefix.size() - kMsgSuffix.size()));
        return absl::OkStatus();
      }
      if (p == "2") {  // Engine.IO ping
        ws_.AppendText("3", out);
        return absl::OkStatus();
      }
      if (absl::StartsWith(p, "0{")) {  // Engine.IO open: connect to the main namespace
        ws_.AppendText("40", out);
        return absl::OkStatus();
      }
      if (absl::StartsWith(p, "40")) {  // Socket.IO connected
        if (spec_.role == Role::kPublisher) {
          events->OnReady();
        } else {
          ws_.AppendText(absl::StrCat("42[\"join\",\"", spec_.room, "\"]"), out);
        }
        return absl::OkStatus();
      }
      if (absl::StartsWith(p, "42[\"joined\"")) {
        events->OnReady();
        return absl::OkStatus();
      }
      if (absl::StartsWith(p, "44")) return absl::UnavailableError(absl::StrCat("socket.io connect error: ", p));
      if (p == "1") return absl::UnavailableError("engine.io close");
      return absl::InvalidArgumentError(absl::StrCat("unexpected packet: ", p.substr(0, 80)));
    });
  }

  void AppendPublish(absl::string_view payload, wire::Buffer* out) override {
    scratch_.clear();
    absl::StrAppend(&scratch_, publish_prefix_, payload, kMsgSuffix);
    ws_.AppendText(scratch_, out);
  }

 private:
  ConnectionSpec spec_;
  std::string host_;
  std::string publish_prefix_;
  std::string scratch_;
  WebSocketClient ws_;
};

}  // namespace

std::unique_ptr<ProtocolAdapter> MakeSocketIoAdapter(const ConnectionSpec& spec, const std::string& host) {
  return std::make_unique<SocketIoAdapter>(spec, host);
}

}  // namespace muxchat::bench
