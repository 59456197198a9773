#include "bench/load/protocol_adapter.h"

#include "absl/strings/str_cat.h"
#include "bench/load/irc_line.h"

namespace muxchat::bench {

absl::StatusOr<Target> ParseTarget(absl::string_view name) {
  if (name == "muxchat") return Target::kMuxchat;
  if (name == "redis") return Target::kRedis;
  if (name == "nats") return Target::kNats;
  if (name == "irc") return Target::kIrc;
  if (name == "socketio") return Target::kSocketIo;
  if (name == "nodews") return Target::kNodeWs;
  if (name == "redis-streams") return Target::kRedisStreams;
  if (name == "nats-jetstream") return Target::kNatsJetStream;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown target '", name, "' (muxchat|redis|nats|irc|socketio|nodews|redis-streams|nats-jetstream)"));
}

const char* TargetName(Target t) {
  switch (t) {
    case Target::kMuxchat: return "muxchat";
    case Target::kRedis: return "redis";
    case Target::kNats: return "nats";
    case Target::kIrc: return "irc";
    case Target::kSocketIo: return "socketio";
    case Target::kNodeWs: return "nodews";
    case Target::kRedisStreams: return "redis-streams";
    case Target::kNatsJetStream: return "nats-jetstream";
  }
  return "?";
}

absl::Status ProtocolAdapter::OnMessage(absl::string_view /*message*/, wire::Buffer* /*out*/,
                                        AdapterEvents* /*events*/) {
  return absl::UnimplementedError("this adapter reads a byte stream, not messages");
}

bool TlsAfterGreetingLine(Target t) { return t == Target::kNats || t == Target::kNatsJetStream; }

size_t MaxPayloadBytes(Target t) {
  switch (t) {
    case Target::kIrc:
      // 512 minus CR LF minus the relayed prefix ":nick!~user@host PRIVMSG #channel :",
      // which the publisher cannot see; 400 leaves room for long names.
      return kIrcMaxLineBytes - 112;
    case Target::kMuxchat:
      return 16384;  // default max_text_bytes
    default:
      return 1 << 20;
  }
}

}  // namespace muxchat::bench
