// IRC adapter (tested with ngIRCd): NICK/USER, wait for the end of the MOTD
// (376) or its absence (422); a publisher then becomes an operator (OPER) and
// sets user mode +F (ngIRCd's relaxed flood protection) before joining; both
// roles JOIN the channel and are ready at the end of NAMES (366). PRIVMSGs to
// the channel are deliveries; PING is answered with PONG. IRC does not echo a
// PRIVMSG to its sender. Lines are at most 512 bytes, so payloads are small.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bench/load/irc_line.h"
#include "bench/load/protocol_adapter.h"

namespace muxchat::bench {
namespace {

class IrcAdapter final : public ProtocolAdapter {
 public:
  IrcAdapter(const ConnectionSpec& spec, absl::string_view oper_name, absl::string_view oper_password)
      : spec_(spec),
        channel_(absl::StrCat("#", spec.room)),
        oper_name_(oper_name),
        oper_password_(oper_password),
        privmsg_prefix_(absl::StrCat("PRIVMSG ", channel_, " :")) {}

  void Start(wire::Buffer* out) override {
    out->Append(absl::StrCat("NICK ", spec_.name, "\r\nUSER ", spec_.name, " 0 * :muxchat-bench\r\n"));
  }

  absl::Status OnInput(wire::Buffer* in, wire::Buffer* out, AdapterEvents* events) override {
    absl::string_view line;
    size_t used;
    while (NextIrcLine(in->View(), &line, &used)) {
      absl::Status st = ParseIrcLine(line, &msg_) ? Handle(out, events) : absl::OkStatus();
      in->Consume(used);
      if (!st.ok()) return st;
    }
    if (in->ReadableBytes() > 64 * 1024) return absl::InvalidArgumentError("IRC line too long");
    return absl::OkStatus();
  }

  void AppendPublish(absl::string_view payload, wire::Buffer* out) override {
    out->Append(privmsg_prefix_);
    out->Append(payload);
    out->Append("\r\n", 2);
  }

 private:
  absl::Status Handle(wire::Buffer* out, AdapterEvents* events) {
    const absl::string_view cmd = msg_.command;
    if (cmd == "PRIVMSG") {
      if (msg_.params.size() == 2) events->OnPayload(msg_.params[1]);
      return absl::OkStatus();
    }
    if (cmd == "PING") {
      out->Append(absl::StrCat("PONG :", msg_.params.empty() ? "" : msg_.params.back(), "\r\n"));
      return absl::OkStatus();
    }
    if (cmd == "ERROR") {
      return absl::UnavailableError(
          absl::StrCat("irc ERROR: ", msg_.params.empty() ? "" : msg_.params.back()));
    }
    if (cmd == "376" || cmd == "422") {  // end of / no MOTD: registered
      if (spec_.role == Role::kPublisher && !oper_name_.empty()) {
        out->Append(absl::StrCat("OPER ", oper_name_, " ", oper_password_, "\r\n"));
      } else {
        Join(out);
      }
      return absl::OkStatus();
    }
    if (cmd == "381") {  // you are now an IRC operator
      out->Append(absl::StrCat("MODE ", spec_.name, " +F\r\n"));
      Join(out);
      return absl::OkStatus();
    }
    if (cmd == "366") {  // end of NAMES: joined
      if (!ready_) {
        ready_ = true;
        events->OnReady();
      }
      return absl::OkStatus();
    }
    if (cmd == "404" || cmd == "401" || cmd == "403") {  // cannot send / no such nick / channel
      events->OnRejected(msg_.params.empty() ? cmd : msg_.params.back());
      return absl::OkStatus();
    }
    if (cmd.size() == 3 && absl::ascii_isdigit(cmd[0]) && (cmd[0] == '4' || cmd[0] == '5')) {
      if (cmd == "464" || cmd == "491") {
        return absl::PermissionDeniedError(absl::StrCat("irc OPER refused: ", cmd));
      }
      if (!ready_) return absl::UnavailableError(absl::StrCat("irc setup failed: ", msg_.params.back()));
    }
    return absl::OkStatus();
  }

  void Join(wire::Buffer* out) { out->Append(absl::StrCat("JOIN ", channel_, "\r\n")); }

  ConnectionSpec spec_;
  std::string channel_;
  std::string oper_name_;
  std::string oper_password_;
  std::string privmsg_prefix_;
  IrcMessage msg_;
  bool ready_ = false;
};

}  // namespace

std::unique_ptr<ProtocolAdapter> MakeIrcAdapter(const ConnectionSpec& spec, absl::string_view oper_name,
                                                absl::string_view oper_password) {
  return std::make_unique<IrcAdapter>(spec, oper_name, oper_password);
}

}  // namespace muxchat::bench
