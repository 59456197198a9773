#include "src/server/websocket_transport.h"

#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
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

// One write's layout: the iovecs handed to sendmsg, where the headers they
// point at live, and what the whole of it means for the queue and for the
// message in progress (a partial write is worked out from the vectors).
struct WebSocketTransport::WritePlan {
  // Linux's IOV_MAX: at two vectors a message, 512 small messages a syscall.
  static constexpr size_t kMaxVectors = 1024;
  // Queue segments looked at per write (a shared range holds many frames).
  static constexpr size_t kMaxSpans = 64;
  iovec vec[kMaxVectors];
  // Headers of bodies above 125 bytes (shorter ones point into a constant
  // table); a message with an empty body has no body vector.
  wire::WsHeader headers[kMaxVectors];
  // The queue's front segments; here rather than on the stack, where 64
  // views would be constructed on every write.
  absl::string_view spans[kMaxSpans];
  bool framed[kMaxSpans];  // the span holds whole WebSocket messages, framed once per broadcast
  size_t span_count = 0;
  size_t count = 0;
  size_t bytes = 0;         // on the wire
  size_t header_count = 0;
  size_t queue_bytes = 0;   // of the queue: prefixes and bodies
  bool whole = false;       // the last vector ends a message

  void Add(const char* data, size_t len) {
    vec[count].iov_base = const_cast<char*>(data);
    vec[count].iov_len = len;
    ++count;
    bytes += len;
  }
};

namespace {

// The 2-byte headers of binary messages of 0..125 bytes, built at compile
// time: a write points at these rather than building one per message.
struct SmallHeaders {
  char bytes[126][2];
};
constexpr SmallHeaders MakeSmallHeaders() {
  SmallHeaders h{};
  for (int i = 0; i < 126; ++i) {
    h.bytes[i][0] = static_cast<char>(0x80 | static_cast<uint8_t>(wire::WsOpcode::kBinary));
    h.bytes[i][1] = static_cast<char>(i);
  }
  return h;
}
constexpr SmallHeaders kSmallHeaders = MakeSmallHeaders();

size_t HeaderSizeFor(uint32_t body) { return body <= 125 ? 2 : body <= 0xFFFF ? 4 : 10; }

// Header and payload bytes of the server message whose header starts at `h`
// (a framed span holds whole messages, so all of its header is there).
size_t FramedMessageSize(const uint8_t* h) {
  const uint8_t length_byte = h[1] & 0x7F;
  if (length_byte <= 125) return 2 + length_byte;
  if (length_byte == 126) return 4 + ((static_cast<size_t>(h[2]) << 8) | h[3]);
  uint64_t length = 0;
  for (size_t i = 2; i < 10; ++i) length = (length << 8) | h[i];
  return 10 + static_cast<size_t>(length);
}

// Reads forward through the queue's front spans.
struct SpanCursor {
  const absl::string_view* spans;
  const bool* framed;
  size_t count;
  size_t index = 0;
  size_t offset = 0;

  size_t Contiguous() const { return index < count ? spans[index].size() - offset : 0; }
  // The current span holds framed messages (call only while Contiguous() > 0).
  bool Framed() const { return framed[index]; }
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
  plan->count = 0;
  plan->bytes = 0;
  plan->header_count = 0;
  plan->queue_bytes = 0;
  plan->whole = false;
  plan->span_count = out.PeekFront(plan->spans, WritePlan::kMaxSpans, out.PendingBytes(), plan->framed);
  SpanCursor cursor{plan->spans, plan->framed, plan->span_count};
  // Adds up to `len` body bytes, across spans; true when all of them fit.
  auto add_body = [&](size_t len) {
    while (len > 0) {
      const size_t take = std::min({len, max_bytes - plan->bytes, cursor.Contiguous()});
      if (take == 0 || plan->count == WritePlan::kMaxVectors) return false;
      plan->Add(cursor.At(), take);
      plan->queue_bytes += take;
      cursor.Skip(take);
      len -= take;
    }
    return true;
  };
  if (header_sent_ < header_.size) {
    const size_t rest = header_.size - header_sent_;
    const size_t take = std::min(rest, max_bytes);
    if (take == 0) return;
    plan->Add(header_.bytes + header_sent_, take);
    if (take < rest) return;
  }
  if (!add_body(frame_left_)) return;
  plan->whole = true;
  if (!start_messages) return;
  while (plan->bytes < max_bytes && plan->count + 2 <= WritePlan::kMaxVectors) {
    if (cursor.Contiguous() > 0 && cursor.Framed()) {
      // Broadcasts framed once for every WebSocket member (a range of the
      // room's framed block): written as they lie, one vector for them all,
      // as a TCP member's range is. The span ends where a message does.
      const size_t len = cursor.Contiguous();
      const size_t take = std::min(len, max_bytes - plan->bytes);
      plan->Add(cursor.At(), take);
      plan->queue_bytes += take;
      cursor.Skip(take);
      if (take < len) {
        plan->whole = false;
        return;
      }
      continue;
    }
    if (cursor.Contiguous() > 0) {
      // The usual case, kept short (it runs once per message per member):
      // whole frames lying in this span, within the budget.
      const char* const first = cursor.At();
      const char* at = first;
      const char* const end = first + cursor.Contiguous();
      iovec* v = plan->vec + plan->count;
      iovec* const last = plan->vec + WritePlan::kMaxVectors - 1;
      size_t bytes = plan->bytes;
      while (end - at >= static_cast<ptrdiff_t>(wire::kLengthPrefixBytes) && v < last) {
        const uint32_t body = wire::DecodeLength(at);
        if (body > static_cast<size_t>(end - at) - wire::kLengthPrefixBytes) break;
        const size_t header_size = HeaderSizeFor(body);
        if (max_bytes - bytes < header_size + body) break;
        const char* header = kSmallHeaders.bytes[body <= 125 ? body : 0];
        if (body > 125) {
          // Four stores, not a whole WsHeader: only its bytes are read back.
          wire::WsHeader& h = plan->headers[plan->header_count++];
          if (body <= 0xFFFF) {
            h.bytes[0] = kSmallHeaders.bytes[0][0];
            h.bytes[1] = 126;
            h.bytes[2] = static_cast<char>(body >> 8);
            h.bytes[3] = static_cast<char>(body);
          } else {
            h = wire::MakeWsServerHeader(body);
          }
          header = h.bytes;
        }
        v->iov_base = const_cast<char*>(header);
        v->iov_len = header_size;
        ++v;
        if (body > 0) {
          v->iov_base = const_cast<char*>(at + wire::kLengthPrefixBytes);
          v->iov_len = body;
          ++v;
        }
        bytes += header_size + body;
        at += wire::kLengthPrefixBytes + body;
      }
      const size_t consumed = static_cast<size_t>(at - first);
      plan->count = static_cast<size_t>(v - plan->vec);
      plan->bytes = bytes;
      plan->queue_bytes += consumed;
      cursor.Skip(consumed);
      if (consumed > 0) continue;
    }
    // Otherwise one message piece by piece: a prefix or body across spans
    // (Connection never makes one, handled all the same), or the budget
    // ending inside it.
    char prefix[wire::kLengthPrefixBytes];
    if (!cursor.Take(sizeof prefix, prefix)) return;
    plan->whole = false;
    plan->queue_bytes += sizeof prefix;
    const uint32_t body = wire::DecodeLength(prefix);
    wire::WsHeader& header = plan->headers[plan->header_count++];
    header = wire::MakeWsServerHeader(body);
    const size_t take = std::min<size_t>(header.size, max_bytes - plan->bytes);
    plan->Add(header.bytes, take);
    if (take < header.size || !add_body(body)) return;
    plan->whole = true;
  }
}

void WebSocketTransport::Advance(const WritePlan& plan, size_t n, wire::OutputQueue* out) {
  if (n == plan.bytes && plan.whole) {
    // All of it went out and it ended with a message: no state to keep.
    header_ = wire::WsHeader();
    header_sent_ = 0;
    frame_left_ = 0;
    out->Consume(plan.queue_bytes);
    return;
  }
  // Part of it: walk the queue's front (the spans the plan was built from,
  // still unconsumed) over the n wire bytes, message by message, to where
  // the write stopped. Only partial writes pay for this walk.
  SpanCursor cursor{plan.spans, plan.framed, plan.span_count};
  size_t consumed = 0;
  // Bytes of the message in progress that lie in the queue.
  auto rest = [&]() {
    const size_t take = std::min(n, frame_left_);
    frame_left_ -= take;
    consumed += take;
    n -= take;
    cursor.Skip(take);
  };
  if (header_sent_ < header_.size) {
    const size_t take = std::min<size_t>(n, header_.size - header_sent_);
    header_sent_ = static_cast<uint8_t>(header_sent_ + take);
    n -= take;
  }
  rest();
  while (n > 0) {
    if (cursor.Framed()) {
      // Header and body both lie in the queue.
      header_ = wire::WsHeader();
      header_sent_ = 0;
      frame_left_ = FramedMessageSize(reinterpret_cast<const uint8_t*>(cursor.At()));
      rest();
      continue;
    }
    // A length-prefixed frame: its header was built for the write.
    char prefix[wire::kLengthPrefixBytes];
    if (!cursor.Take(sizeof prefix, prefix)) break;  // cannot happen: n came from these spans
    consumed += sizeof prefix;
    const uint32_t body = wire::DecodeLength(prefix);
    header_ = wire::MakeWsServerHeader(body);
    const size_t take = std::min<size_t>(n, header_.size);
    header_sent_ = static_cast<uint8_t>(take);
    n -= take;
    frame_left_ = body;
    rest();
  }
  out->Consume(consumed);
}

void WebSocketTransport::Stage(wire::OutputQueue* out) {
  WritePlan& plan = ScratchPlan();
  while (staged_.PendingBytes() < kStageBytes) {
    // A control frame waiting for the message in progress goes next.
    BuildPlan(*out, kStageBytes - staged_.PendingBytes(), close_sent_ == 0 && control_.empty(), &plan);
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
    // TLS may still hold sealed records the socket did not take.
    if (staged_.empty() && !inner_->HasPendingOutput()) return IoResult{};
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
  // A control frame waiting for the message in progress goes right after it
  // (the next call), before any further message.
  WritePlan& plan = ScratchPlan();
  BuildPlan(*out, max_bytes - total, close_sent_ == 0 && control_.empty(), &plan);
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
