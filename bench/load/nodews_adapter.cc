// Adapter for bench/peers/node/ws_broadcast_server.js (target "nodews"): a
// WebSocket to /ROOM?role=sub|pub, ready on the server's text "ready"; then a
// publisher sends each payload as one binary message and a subscriber
// receives each as one binary message.
#include "absl/strings/str_cat.h"
#include "bench/load/protocol_adapter.h"
#include "bench/load/websocket_client.h"

namespace muxchat::bench {
namespace {

class NodeWsAdapter final : public ProtocolAdapter {
 public:
  NodeWsAdapter(const ConnectionSpec& spec, std::string host) : spec_(spec), host_(std::move(host)) {}

  void Start(wire::Buffer* out) override {
    ws_.StartUpgrade(absl::StrCat("/", spec_.room, "?role=", spec_.role == Role::kPublisher ? "pub" : "sub"),
                     host_, out);
  }

  absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, AdapterEvents* events) override {
    return ws_.OnInput(in, out, [&](bool text, absl::string_view payload) {
      if (text) {
        if (payload != "ready") return absl::InvalidArgumentError(absl::StrCat("unexpected text: ", payload));
        events->OnReady();
      } else {
        events->OnPayload(payload);
      }
      return absl::OkStatus();
    });
  }

  void AppendPublish(absl::string_view payload, wire::Buffer* out) override { ws_.AppendBinary(payload, out); }

 private:
  ConnectionSpec spec_;
  std::string host_;
  WebSocketClient ws_;
};

}  // namespace

std::unique_ptr<ProtocolAdapter> MakeNodeWsAdapter(const ConnectionSpec& spec, const std::string& host) {
  return std::make_unique<NodeWsAdapter>(spec, host);
}

}  // namespace muxchat::bench
