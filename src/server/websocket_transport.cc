#include "src/server/websocket_transport.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/wire/frame_format.h"

namespace muxchat::server {
namespace {

// Copies the first `n` queued bytes of `from` to `to` and consumes them.
void MoveFront(wire::OutputQueue* from, size_t n, char* to) {
  absl::string_view spans[16];
  size_t done = 0;
  while (done < n) {
    const size_t count = from->PeekFront(spans, 16, n - done);
    size_t got = 0;
    for (size_t i = 0; i < count; ++i) {
      std::memcpy(to + done + got, spans[i].data(), spans[i].size());
      got += spans[i].size();
    }
    from->Consume(got);
    done += got;
  }
}

// The Close code that goes with the server's reason for ending (PROTOCOL.md §17.3).
uint16_t CloseCodeFor(CloseReason reason) {
  switch (reason) {
    case CloseReason::kShutdown: return wire::kWsCloseGoingAway;
    case CloseReason::kServerFull: return 1013;  // try again later
    case CloseReason::kFrameTooLarge: return wire::kWsCloseMessageTooBig;
    case CloseReason::kProtocolError: return wire::kWsCloseInvalidPayload;
    case CloseReason::kHandshakeError:
    case CloseReason::kSlowConsumer:
    case CloseReason::kTimeout:
    case CloseReason::kFlooding: return wire::kWsClosePolicyViolation;
    case CloseReason::kReadError:
    case CloseReason::kWriteError: return wire::kWsCloseInternalError;
    case CloseReason::kNone:
    case CloseReason::kClientClosed: return wire::kWsCloseNormal;
  }
  return wire::kWsCloseNormal;
}

}  // namespace

WebSocketTransport::WebSocketTransport(std::unique_ptr<Transport> inner, size_t max_message_bytes,
                                       absl::string_view early, absl::string_view preamble)
    : inner_(std::move(inner)), decoder_(max_message_bytes), raw_(0), control_(0) {
  raw_.Append(early);
  early_unparsed_ = !early.empty();
  staged_.AppendCopy(preamble);
}

IoResult WebSocketTransport::Read(wire::Buffer* in, size_t max_bytes) {
  IoResult r;
  early_unparsed_ = false;
  if (!peer_closed_) r = inner_->Read(&raw_, max_bytes);
  if (r.code == IoResult::kError || r.code == IoResult::kWouldBlock) {
    if (r.code == IoResult::kWouldBlock && !raw_.empty()) r = IoResult{};  // early bytes still to parse
    else return r;
  }
  const size_t before = in->ReadableBytes();
  wire::WsEvent event;
  while (!peer_closed_) {
    absl::StatusOr<bool> got = decoder_.Next(&raw_, &event);
    if (!got.ok()) {
      QueueClose(decoder_.close_code(), got.status().message());
      IoResult bad;
      bad.code = IoResult::kError;
      bad.error = absl::StrCat("websocket: ", got.status().message(), " (close ", decoder_.close_code(), ")");
      return bad;
    }
    if (!*got) break;
    switch (event.kind) {
      case wire::WsEvent::Kind::kMessage: {
        // Back to a length-prefixed frame for the decoder above. The message
        // limit is max_frame_bytes, so the length always fits.
        char prefix[wire::kLengthPrefixBytes];
        wire::EncodeLength(static_cast<uint32_t>(event.payload.size()), prefix);
        in->Append(prefix, sizeof prefix);
        in->Append(event.payload);
        break;
      }
      case wire::WsEvent::Kind::kPing:
        if (close_sent_ == 0) wire::AppendWsServerFrame(wire::WsOpcode::kPong, event.payload, &control_);
        break;
      case wire::WsEvent::Kind::kPong:
        break;
      case wire::WsEvent::Kind::kClose:
        // The peer is done: answer its Close (echoing its code) unless ours
        // went first, and report the end of its stream.
        peer_closed_ = true;
        if (close_sent_ == 0) {
          QueueClose(event.close_code == wire::kWsCloseNoStatus ? 0 : event.close_code, "");
        }
        break;
    }
  }
  IoResult out;
  out.bytes = in->ReadableBytes() - before;
  if (peer_closed_ || r.code == IoResult::kEof) out.code = IoResult::kEof;
  return out;
}

void WebSocketTransport::QueueClose(uint16_t code, absl::string_view reason) {
  if (close_sent_ != 0) return;
  close_sent_ = code == 0 ? wire::kWsCloseNoStatus : code;
  wire::AppendWsClose(code, reason, &control_);
}

void WebSocketTransport::Stage(wire::OutputQueue* out) {
  if (!control_.empty()) {
    staged_.AppendCopy(control_.View());
    control_.Clear();
  }
  // After our Close nothing more may follow it.
  if (close_sent_ != 0) {
    out->Consume(out->PendingBytes());
    return;
  }
  // The queue above holds whole frames only (Connection appends whole
  // frames), so each turn of this loop moves exactly one.
  while (!out->empty() && staged_.PendingBytes() < kStageBytes && out->PendingBytes() >= wire::kLengthPrefixBytes) {
    char prefix[wire::kLengthPrefixBytes];
    MoveFront(out, sizeof prefix, prefix);
    const uint32_t body = wire::DecodeLength(prefix);
    const wire::WsHeader header = wire::MakeWsServerHeader(body);
    char* at = staged_.AppendUninitialized(header.size + body);
    std::memcpy(at, header.bytes, header.size);
    MoveFront(out, body, at + header.size);
  }
}

IoResult WebSocketTransport::Write(wire::OutputQueue* out, size_t max_bytes) {
  Stage(out);
  if (staged_.empty()) return IoResult{};
  return inner_->Write(&staged_, max_bytes);
}

bool WebSocketTransport::HasBufferedInput() const {
  // Whole frames left in raw_ (a read stopped at the budget) count too.
  return early_unparsed_ || inner_->HasBufferedInput();
}

void WebSocketTransport::ShutdownWrite() {
  // Our side ends with a Close (its code from the reason, unless one was
  // already sent), then the inner transport's own ending. Best effort: one
  // write, never blocking.
  if (close_sent_ == 0) QueueClose(CloseCodeFor(reason_), "");
  if (!control_.empty()) {
    staged_.AppendCopy(control_.View());
    control_.Clear();
  }
  if (!staged_.empty()) (void)inner_->Write(&staged_, staged_.PendingBytes());
  inner_->ShutdownWrite();
}

void WebSocketTransport::ReleaseIdleBuffers() {
  raw_.ShrinkIfEmpty(0);
  if (staged_.empty()) staged_.ReleaseSpare();
  inner_->ReleaseIdleBuffers();
}

}  // namespace muxchat::server
