#include "src/wire/output_queue.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <utility>

namespace muxchat::wire {
namespace {
constexpr int kMaxIovecs = 128;
}  // namespace

void OutputQueue::AppendCopy(absl::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(AppendUninitialized(bytes.size()), bytes.data(), bytes.size());
}

char* OutputQueue::AppendUninitialized(size_t n) { return AppendUninitializedAs(n, /*framed=*/false); }

char* OutputQueue::AppendUninitializedAs(size_t n, bool framed) {
  if (segments_.empty() || segments_.back().shared || segments_.back().framed != framed ||
      segments_.back().chunk.size + n > segments_.back().chunk.capacity) {
    Segment seg;
    if (spare_.capacity >= n) {
      seg.chunk = std::exchange(spare_, Chunk());
      seg.chunk.size = 0;
    } else {
      const bool first = segments_.empty() && spare_.capacity == 0;
      seg.chunk.capacity = std::max(first ? kFirstChunkBytes : kChunkBytes, n);
      seg.chunk.data = std::unique_ptr<char[]>(new char[seg.chunk.capacity]);
    }
    seg.framed = framed;
    segments_.push_back(std::move(seg));
  }
  Chunk& tail = segments_.back().chunk;
  char* at = tail.data.get() + tail.size;
  tail.size += n;
  pending_ += n;
  return at;
}

void OutputQueue::AppendShared(SharedFrame frame) {
  if (frame.size() == 0) return;
  pending_ += frame.size();
  Segment seg;
  seg.end = frame.size();
  seg.shared = std::move(frame);
  segments_.push_back(std::move(seg));
}

void OutputQueue::AppendNewSlice(const SharedFrame& block, size_t begin, size_t end, bool framed) {
  if (begin == end) return;
  if (slice_segments_ >= kMaxSliceSegments) {
    // One contiguous copy: framed messages stay whole in one segment.
    std::memcpy(AppendUninitializedAs(end - begin, framed), block.data() + begin, end - begin);
    return;
  }
  pending_ += end - begin;
  ++slice_segments_;
  Segment seg;
  seg.shared = block;
  seg.begin = begin;
  seg.end = end;
  seg.slice = true;
  seg.framed = framed;
  segments_.push_back(std::move(seg));
}

ssize_t OutputQueue::WriteToFd(int fd, size_t max_bytes) {
  iovec vec[kMaxIovecs];
  int count = 0;
  size_t total = 0;
  for (auto it = segments_.begin(); it != segments_.end() && count < kMaxIovecs && total < max_bytes;
       ++it) {
    const size_t len = std::min(it->size() - it->offset, max_bytes - total);
    vec[count].iov_base = const_cast<char*>(it->data() + it->offset);
    vec[count].iov_len = len;
    total += len;
    ++count;
  }
  if (count == 0) return 0;
  // sendmsg rather than writev: MSG_NOSIGNAL turns a peer's reset into EPIPE
  // instead of a process-wide SIGPIPE. Non-sockets (pipes, files) fall back.
  msghdr msg{};
  msg.msg_iov = vec;
  msg.msg_iovlen = static_cast<size_t>(count);
  ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  if (n < 0 && errno == ENOTSOCK) n = ::writev(fd, vec, count);
  if (n > 0) Consume(static_cast<size_t>(n));
  return n;
}

void OutputQueue::Consume(size_t n) {
  pending_ -= std::min(n, pending_);
  while (n > 0 && !segments_.empty()) {
    Segment& front = segments_.front();
    const size_t left = front.size() - front.offset;
    if (n < left) {
      front.offset += n;
      return;
    }
    n -= left;
    if (!front.shared && front.chunk.capacity == kChunkBytes) spare_ = std::move(front.chunk);
    if (front.slice) --slice_segments_;
    segments_.pop_front();
  }
}

size_t OutputQueue::PeekFront(absl::string_view* spans, size_t max_spans, size_t max_bytes, bool* framed) const {
  size_t count = 0;
  size_t total = 0;
  for (auto it = segments_.begin(); it != segments_.end() && count < max_spans && total < max_bytes; ++it) {
    const size_t len = std::min(it->size() - it->offset, max_bytes - total);
    if (framed != nullptr) framed[count] = it->framed;
    spans[count++] = absl::string_view(it->data() + it->offset, len);
    total += len;
  }
  return count;
}

void OutputQueue::CopyTo(std::string* out) const {
  for (const Segment& seg : segments_) out->append(seg.data() + seg.offset, seg.size() - seg.offset);
}

}  // namespace muxchat::wire
