#include "src/server/connection.h"

#include <unistd.h>

#include <algorithm>

#include "src/server/http_request_parser.h"
#include "src/wire/frame_codec.h"

namespace muxchat::server {

Connection::Connection(uint64_t id, int fd, std::string peer, absl::Time now, uint64_t max_output_bytes,
                       std::vector<Connection*>* dirty)
    : id_(id),
      fd_(fd),
      peer_(std::move(peer)),
      max_output_bytes_(max_output_bytes),
      dirty_(dirty),
      state_(fd < 0 ? State::kAwaitingHello : State::kSniffing),
      // Empty until the first read: readv spills into the stack first, so an
      // idle connection holds no input buffer at all.
      input_(0),
      created_(now),
      last_heard_(now) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

HttpRequestParser* Connection::http_parser() {
  if (http_parser_ == nullptr) http_parser_ = std::make_unique<HttpRequestParser>();
  return http_parser_.get();
}

const char* Connection::StateName(State s) {
  switch (s) {
    case State::kSniffing: return "sniffing";
    case State::kTlsHandshake: return "tls_handshake";
    case State::kAwaitingHello: return "awaiting_hello";
    case State::kOpen: return "open";
    case State::kHttp: return "http";
    case State::kClosing: return "closing";
    case State::kShutWrite: return "shut_write";
  }
  return "unknown";
}

bool Connection::CanMove(State from, State to) {
  switch (to) {
    case State::kSniffing: return false;
    case State::kTlsHandshake: return from == State::kSniffing;
    case State::kAwaitingHello:  // kHttp: a WebSocket upgrade
      return from == State::kSniffing || from == State::kTlsHandshake || from == State::kHttp;
    case State::kOpen: return from == State::kAwaitingHello;
    case State::kHttp:
      return from == State::kSniffing || from == State::kTlsHandshake || from == State::kAwaitingHello;
    case State::kClosing: return from != State::kClosing && from != State::kShutWrite;
    case State::kShutWrite: return from == State::kClosing;
  }
  return false;
}

bool Connection::MoveTo(State next) {
  if (!CanMove(state_, next)) return false;
  state_ = next;
  return true;
}

void Connection::ReleaseIdleMemory() {
  input_.ShrinkIfEmpty(0);
  if (output_.empty()) output_.ReleaseSpare();
  if (transport_ != nullptr && output_.empty()) transport_->ReleaseIdleBuffers();
}

void Connection::MarkDirty() {
  if (!in_dirty_list) {
    in_dirty_list = true;
    dirty_->push_back(this);
  }
}

bool Connection::CloseSlowConsumer() {
  Close(CloseReason::kSlowConsumer, v1::FAILURE_SLOW_CONSUMER, "output queue limit exceeded");
  return false;
}

void Connection::Send(const v1::ServerFrame& frame) {
  // The server never builds a frame above its own limit; no cap needed here.
  if (Admit(frame.ByteSizeLong() + wire::kLengthPrefixBytes)) (void)wire::AppendFrame(frame, &output_, UINT32_MAX);
}

char* Connection::SendReserved(size_t n) {
  if (!Admit(n)) return nullptr;
  return output_.AppendUninitialized(n);
}

void Connection::SendShared(const wire::SharedFrame& frame) {
  if (Admit(frame.size())) output_.Append(frame);
}

void Connection::Close(CloseReason reason, v1::Status error, const std::string& message, uint64_t request_id) {
  if (closing()) return;
  if (error != v1::STATUS_UNSPECIFIED) {
    v1::ServerFrame f;
    f.set_request_id(request_id);
    f.mutable_error()->set_status(error);
    f.mutable_error()->set_message(message);
    (void)wire::AppendFrame(f, &output_, UINT32_MAX);  // past the cap on purpose: it is the last frame
  }
  MoveTo(State::kClosing);
  close_reason_ = reason;
  MarkDirty();
}

bool Connection::TakeRequestToken(absl::Time now, uint32_t per_second, uint32_t burst) {
  if (per_second == 0) return true;
  const double cap = std::max<uint32_t>(burst, 1);
  if (tokens_ < 0) {
    tokens_ = cap;
  } else {
    tokens_ = std::min(cap, tokens_ + absl::ToDoubleSeconds(now - tokens_at_) * per_second);
  }
  tokens_at_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    // Forgiven only once the client has slowed down enough for the bucket to
    // refill halfway: a steady flood at a few times the rate also succeeds
    // now and then, and must still add up to a disconnect.
    if (tokens_ >= cap / 2) rate_violations_ = 0;
    return true;
  }
  ++rate_violations_;
  return false;
}

}  // namespace muxchat::server
