// The seam between the load generator and one pub/sub protocol: an adapter
// speaks one target's protocol on one connection, as a publisher or a
// subscriber of one room. The generator owns sockets and buffers; the adapter
// only turns bytes into events and requests into bytes. One adapter per
// connection; single-threaded.
#ifndef MUXCHAT_BENCH_LOAD_PROTOCOL_ADAPTER_H_
#define MUXCHAT_BENCH_LOAD_PROTOCOL_ADAPTER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/wire/buffer.h"

namespace muxchat::bench {

// kSocketIo and kNodeWs: the Node peers in bench/peers/node/ (WebSocket).
// kRedisStreams and kNatsJetStream: the durable peers (bench/compare --durable).
enum class Target { kMuxchat, kRedis, kNats, kIrc, kSocketIo, kNodeWs, kRedisStreams, kNatsJetStream };
// kIdle: connected and as far as the target's idle client goes (muxchat:
// Hello answered by Welcome, in no room; Redis and NATS have no log-in, so
// they subscribe to the spec's channel like a subscriber), then nothing.
enum class Role { kPublisher, kSubscriber, kIdle };

absl::StatusOr<Target> ParseTarget(absl::string_view name);
const char* TargetName(Target t);

struct ConnectionSpec {
  Role role = Role::kSubscriber;
  std::string name;       // unique client name / nickname for this run
  std::string room;       // room / channel / subject name for this run
  bool creates_room = false;  // muxchat: this connection creates the room first
};

// What an adapter reports back while parsing input.
class AdapterEvents {
 public:
  virtual void OnReady() = 0;                           // subscribed / joined; may publish
  virtual void OnPayload(absl::string_view payload) = 0;  // a message from another client
  virtual void OnRejected(absl::string_view why) = 0;     // a publish the server refused
 protected:
  ~AdapterEvents() = default;
};

class ProtocolAdapter {
 public:
  virtual ~ProtocolAdapter() = default;
  // Appends the bytes to send right after connecting (handshake, subscribe).
  virtual void Start(wire::Buffer* out) = 0;
  // Consumes every complete unit in `in`, appending any replies to `out`.
  // An error is fatal for the connection.
  virtual absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, AdapterEvents* events) = 0;
  // Appends one publish of `payload` to `out` (only after OnReady).
  virtual void AppendPublish(absl::string_view payload, wire::Buffer* out) = 0;
  // Handles one whole message whose framing an outer layer has already
  // removed (muxchat over WebSocket: one ServerFrame, no length prefix), so
  // that layer can hand over the bytes where they lie instead of re-framing
  // them into a second buffer for OnInput. `message` need only live for the
  // call. Adapters with no such unit return kUnimplemented.
  virtual absl::Status OnMessage(absl::string_view message, wire::Buffer* out, AdapterEvents* events);
};

// Whether the target's TLS starts after one cleartext line from the server
// (NATS 2.9 sends INFO in the clear, then the client upgrades) rather than at
// once (muxchat, Redis).
bool TlsAfterGreetingLine(Target t);

// Largest payload the target can carry in one message (IRC: one 512-byte line).
size_t MaxPayloadBytes(Target t);

std::unique_ptr<ProtocolAdapter> MakeMuxchatAdapter(const ConnectionSpec& spec);
std::unique_ptr<ProtocolAdapter> MakeRedisAdapter(const ConnectionSpec& spec);
std::unique_ptr<ProtocolAdapter> MakeNatsAdapter(const ConnectionSpec& spec);
std::unique_ptr<ProtocolAdapter> MakeRedisStreamsAdapter(const ConnectionSpec& spec);
std::unique_ptr<ProtocolAdapter> MakeNatsJetStreamAdapter(const ConnectionSpec& spec);
std::unique_ptr<ProtocolAdapter> MakeIrcAdapter(const ConnectionSpec& spec, absl::string_view oper_name,
                                                absl::string_view oper_password);
// `host` goes in the WebSocket upgrade's Host header.
std::unique_ptr<ProtocolAdapter> MakeSocketIoAdapter(const ConnectionSpec& spec, const std::string& host);
std::unique_ptr<ProtocolAdapter> MakeNodeWsAdapter(const ConnectionSpec& spec, const std::string& host);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_PROTOCOL_ADAPTER_H_
