#include "src/server/websocket_transport.h"

#include <sys/uio.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/wire/frame_format.h"

namespace muxchat::server {
namespace {

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
    : inner_(std::move(inner)),
      vectored_(inner_->WritesVectors()),
      decoder_(max_message_bytes),
      raw_(0),
      control_(0) {
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

// One write's layout: the iovecs handed to sendmsg and, for each, what it
// carries, so that a partial write can be accounted for to the byte.
struct WebSocketTransport::WritePlan {
  // Linux's IOV_MAX: at two vectors a message, 512 small messages a syscall.
  static constexpr size_t kMaxVectors = 1024;
  // Queue segments looked at per write (a shared range holds many frames).
  static constexpr size_t kMaxSpans = 64;
  enum class Kind : uint8_t { kHeaderStart, kHeaderRest, kBody };
  struct Piece {
    Kind kind;
    uint16_t header;  // kHeaderStart: index in headers
    uint32_t body;    // kHeaderStart: the message's body length
  };
  iovec vec[kMaxVectors];
  Piece piece[kMaxVectors];
  wire::WsHeader headers[kMaxVectors];  // a message with an empty body has no body vector
  size_t count = 0;
  size_t bytes = 0;         // on the wire
  size_t header_count = 0;
  size_t queue_bytes = 0;   // of the queue: prefixes and bodies
  bool whole = false;       // the last piece ends a message

  void Add(const char* data, size_t len, Piece p) {
    vec[count].iov_base = const_cast<char*>(data);
    vec[count].iov_len = len;
    piece[count] = p;
    ++count;
    bytes += len;
    queue_bytes += p.kind == Kind::kBody ? len : p.kind == Kind::kHeaderStart ? wire::kLengthPrefixBytes : 0;
  }
};

namespace {

// Reads forward through the queue's front spans.
struct SpanCursor {
  const absl::string_view* spans;
  size_t count;
  size_t index = 0;
  size_t offset = 0;

  size_t Contiguous() const { return index < count ? spans[index].size() - offset : 0; }
  const char* At() const { return spans[index].data() + offset; }
  void Skip(size_t n) {
    offset += n;
    while (index < count && offset == spans[index].size()) {
      ++index;
      offset = 0;
    }
  }
  // Copies the next n bytes to `to` and moves past them, if there are n.
  bool Take(size_t n, char* to) {
    SpanCursor probe = *this;
    for (size_t got = 0; got < n;) {
      const size_t len = std::min(n - got, probe.Contiguous());
      if (len == 0) return false;
      std::memcpy(to + got, probe.At(), len);
      probe.Skip(len);
      got += len;
    }
    *this = probe;
    return true;
  }
};

}  // namespace

// The plan of the write in progress: one per thread, as the loop writes one
// connection at a time (30 KiB that no connection keeps).
WebSocketTransport::WritePlan& WebSocketTransport::ScratchPlan() {
  static thread_local WebSocketTransport::WritePlan plan;
  return plan;
}

void WebSocketTransport::BuildPlan(const wire::OutputQueue& out, size_t max_bytes, bool start_messages,
                                   WritePlan* plan) const {
  using Kind = WritePlan::Kind;
  plan->count = 0;
  plan->bytes = 0;
  plan->header_count = 0;
  plan->queue_bytes = 0;
  plan->whole = false;
  absl::string_view spans[WritePlan::kMaxSpans];
  SpanCursor cursor{spans, out.PeekFront(spans, WritePlan::kMaxSpans, out.PendingBytes())};
  // Adds up to `len` body bytes, across spans; true when all of them fit.
  auto add_body = [&](size_t len) {
    while (len > 0) {
      const size_t take = std::min({len, max_bytes - plan->bytes, cursor.Contiguous()});
      if (take == 0 || plan->count == WritePlan::kMaxVectors) return false;
      plan->Add(cursor.At(), take, {Kind::kBody, 0, 0});
      cursor.Skip(take);
      len -= take;
    }
    return true;
  };
  if (header_sent_ < header_.size) {
    const size_t take = std::min<size_t>(header_.size - header_sent_, max_bytes);
    if (take == 0) return;
    plan->Add(header_.bytes + header_sent_, take, {Kind::kHeaderRest, 0, 0});
    if (take < static_cast<size_t>(header_.size - header_sent_)) return;
  }
  if (!add_body(frame_left_)) return;
  plan->whole = true;
  if (!start_messages) return;
  while (plan->bytes < max_bytes && plan->count + 2 <= WritePlan::kMaxVectors) {
    const size_t contiguous = cursor.Contiguous();
    if (contiguous >= wire::kLengthPrefixBytes) {
      // The usual case, kept short (it runs once per message per member): the
      // whole frame lies in this span and fits the budget.
      const char* frame = cursor.At();
      const uint32_t body = wire::DecodeLength(frame);
      const size_t frame_bytes = wire::kLengthPrefixBytes + body;
      const uint16_t index = static_cast<uint16_t>(plan->header_count);
      wire::WsHeader& header = plan->headers[index];
      header = wire::MakeWsServerHeader(body);
      if (contiguous >= frame_bytes && max_bytes - plan->bytes >= header.size + body) {
        ++plan->header_count;
        plan->Add(header.bytes, header.size, {Kind::kHeaderStart, index, body});
        if (body > 0) plan->Add(frame + wire::kLengthPrefixBytes, body, {Kind::kBody, 0, 0});
        cursor.Skip(frame_bytes);
        continue;
      }
    }
    // Otherwise piece by piece: a prefix or body across spans (not made by
    // Connection, handled all the same), or the budget ending inside.
    char prefix[wire::kLengthPrefixBytes];
    if (!cursor.Take(sizeof prefix, prefix)) return;
    plan->whole = false;
    const uint32_t body = wire::DecodeLength(prefix);
    const uint16_t index = static_cast<uint16_t>(plan->header_count++);
    wire::WsHeader& header = plan->headers[index];
    header = wire::MakeWsServerHeader(body);
    const size_t take = std::min<size_t>(header.size, max_bytes - plan->bytes);
    plan->Add(header.bytes, take, {Kind::kHeaderStart, index, body});
    if (take < header.size || !add_body(body)) return;
    plan->whole = true;
  }
}

void WebSocketTransport::Advance(const WritePlan& plan, size_t n, wire::OutputQueue* out) {
  using Kind = WritePlan::Kind;
  if (n == plan.bytes && plan.whole) {
    // All of it went out and it ended with a message: no state to keep.
    header_ = wire::WsHeader();
    header_sent_ = 0;
    frame_left_ = 0;
    out->Consume(plan.queue_bytes);
    return;
  }
  size_t consumed = 0;
  for (size_t i = 0; i < plan.count && n > 0; ++i) {
    const size_t take = std::min(n, plan.vec[i].iov_len);
    n -= take;
    const WritePlan::Piece& p = plan.piece[i];
    switch (p.kind) {
      case Kind::kHeaderStart:
        // The message starts with its first header byte: its prefix leaves
        // the queue now, and the header is kept in case it went out in part.
        consumed += wire::kLengthPrefixBytes;
        header_ = plan.headers[p.header];
        header_sent_ = static_cast<uint8_t>(take);
        frame_left_ = p.body;
        break;
      case Kind::kHeaderRest:
        header_sent_ = static_cast<uint8_t>(header_sent_ + take);
        break;
      case Kind::kBody:
        consumed += take;
        frame_left_ -= take;
        break;
    }
  }
  out->Consume(consumed);
}

void WebSocketTransport::Stage(wire::OutputQueue* out) {
  WritePlan& plan = ScratchPlan();
  while (staged_.PendingBytes() < kStageBytes) {
    BuildPlan(*out, kStageBytes - staged_.PendingBytes(), close_sent_ == 0, &plan);
    if (plan.bytes == 0) return;
    char* at = staged_.AppendUninitialized(plan.bytes);
    for (size_t i = 0; i < plan.count; ++i) {
      std::memcpy(at, plan.vec[i].iov_base, plan.vec[i].iov_len);
      at += plan.vec[i].iov_len;
    }
    Advance(plan, plan.bytes, out);
  }
}

IoResult WebSocketTransport::Write(wire::OutputQueue* out, size_t max_bytes) {
  if (!InFrame()) {
    // Control frames go between messages, never inside one.
    if (!control_.empty()) {
      staged_.AppendCopy(control_.View());
      control_.Clear();
    }
    // After our Close nothing more may follow it.
    if (close_sent_ != 0) out->Consume(out->PendingBytes());
  }
  if (!vectored_) {
    Stage(out);
    if (staged_.empty()) return IoResult{};
    return inner_->Write(&staged_, max_bytes);
  }
  // Plain TCP. The staged raw bytes (the 101, control frames) go first.
  size_t total = 0;
  if (!staged_.empty()) {
    IoResult r = inner_->Write(&staged_, max_bytes);
    if (r.code != IoResult::kOk || !staged_.empty() || r.bytes >= max_bytes) return r;
    total = r.bytes;
  }
  // Then the messages, in place: one header per message from the plan, the
  // body straight from the queue's (shared) bytes.
  WritePlan& plan = ScratchPlan();
  BuildPlan(*out, max_bytes - total, close_sent_ == 0, &plan);
  IoResult r;
  if (plan.count > 0) r = inner_->WriteVectors(plan.vec, plan.count);
  if (r.code == IoResult::kOk) {
    Advance(plan, r.bytes, out);
  } else if (r.code != IoResult::kWouldBlock || total == 0) {
    return r;
  } else {
    r = IoResult{};  // progress made: say so; the next call will block
  }
  r.bytes += total;
  return r;
}

bool WebSocketTransport::HasBufferedInput() const {
  // Whole frames left in raw_ (a read stopped at the budget) count too.
  return early_unparsed_ || inner_->HasBufferedInput();
}

void WebSocketTransport::ShutdownWrite() {
  // Our side ends with a Close (its code from the reason, unless one was
  // already sent), then the inner transport's own ending. Best effort: one
  // write, never blocking.
  // A Close inside a half-written message would garble both; the peer then
  // sees the stream end instead.
  if (close_sent_ == 0) QueueClose(CloseCodeFor(reason_), "");
  if (!control_.empty() && !InFrame()) {
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
