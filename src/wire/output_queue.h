// The bytes waiting to be written to one socket: a queue of segments, each
// either bytes copied into a contiguous chunk (small frames: one memcpy beats
// one iovec and a refcount) or a reference to a SharedFrame (large frames:
// never copied per recipient). Written with writev, many frames per syscall.
// A segment may instead hold bytes already in a wrapping transport's framing
// (WebSocket messages framed once per broadcast for every WebSocket member):
// it is marked `framed`, never merged with unmarked bytes, and each framed
// append is whole messages lying in one segment, so the transport can write
// such a segment as it lies. Single-threaded; owned by its connection.
#ifndef MUXCHAT_WIRE_OUTPUT_QUEUE_H_
#define MUXCHAT_WIRE_OUTPUT_QUEUE_H_

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "src/wire/shared_frame.h"

namespace muxchat::wire {

class OutputQueue {
 public:
  // Frames up to this size are copied into the queue's own chunk; larger ones
  // are shared by reference. Measured (docs/BENCHMARKS.md): in
  // bench/output_queue_benchmark.cc copying wins up to 1 KiB, ties at 2 KiB and
  // loses from 4 KiB on; end to end, a 1 KiB chat payload (a ~1.07 KiB frame)
  // fanned out to 10 members delivered 8-25% more with 2048 than with 1024,
  // at less server CPU per delivery. So: copy up to 2 KiB, share above.
  static constexpr size_t kCopyThresholdBytes = 2048;
  // Size of one inline chunk; small frames accumulate in it contiguously.
  static constexpr size_t kChunkBytes = 16 * 1024;
  // The first chunk of a queue with none to reuse: most connections only get
  // a few replies, and a full chunk for a Welcome left ~4 KiB resident per idle
  // connection even after it was freed (muxchat-idle-mem, docs/BENCHMARKS.md §4).
  // Only full chunks are kept as the spare, so steady traffic still reuses one.
  static constexpr size_t kFirstChunkBytes = 512;
  // At most this many ranges of shared blocks per queue; past it, slices are
  // copied. A range keeps its whole block alive, so a reader that falls
  // behind on thinly spread ranges (a quiet room among busy ones) would
  // otherwise pin far more memory than the bytes it is owed.
  static constexpr size_t kMaxSliceSegments = 8;

  OutputQueue() = default;
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  // Queues a frame, copying or sharing it according to kCopyThresholdBytes.
  void Append(const SharedFrame& frame) {
    if (frame.size() <= kCopyThresholdBytes) {
      AppendCopy(frame.view());
    } else {
      AppendShared(frame);
    }
  }
  void AppendCopy(absl::string_view bytes);
  // Reserves n contiguous bytes at the tail for the caller to fill at once
  // (serialising a message in place); they count as pending immediately.
  char* AppendUninitialized(size_t n);
  void AppendShared(SharedFrame frame);
  // Queues bytes [begin, end) of a shared block (see SharedFrame). When they
  // continue the range queued last from the same block, that range just
  // grows: consecutive broadcasts cost no copy, no refcount and no iovec.
  // Past kMaxSliceSegments ranges, the bytes are copied instead.
  // Inline for the common case of a fan-out (the range grows), which runs
  // once per recipient; a new range goes out of line.
  void AppendSlice(const SharedFrame& block, size_t begin, size_t end) {
    AppendSliceMarked(block, begin, end, /*framed=*/false);
  }
  // The same for bytes [begin, end) of a block of messages already in the
  // transport's own framing (whole WebSocket messages): the queue marks them
  // framed, so the transport writes them as they lie. A block is either all
  // framed or all length-prefixed frames, never both.
  void AppendFramedSlice(const SharedFrame& block, size_t begin, size_t end) {
    AppendSliceMarked(block, begin, end, /*framed=*/true);
  }

  // Frees the drained chunk kept for reuse (an idle connection need not hold
  // 16 KiB for traffic that may never come back).
  void ReleaseSpare() { spare_ = Chunk(); }

  // Bytes queued and not yet written.
  size_t PendingBytes() const { return pending_; }
  bool empty() const { return pending_ == 0; }
  size_t SegmentCount() const { return segments_.size(); }
  size_t SliceSegmentCount() const { return slice_segments_; }

  // One writev of up to max_bytes. Returns bytes written, or -1 with errno
  // from writev (EAGAIN included).
  ssize_t WriteToFd(int fd, size_t max_bytes);

  // Drops `n` queued bytes as if written (used by WriteToFd, by transports
  // that write through PeekFront, and by tests).
  void Consume(size_t n);
  // Fills `spans` with views of up to `max_spans` segments from the front,
  // covering at most `max_bytes` in all, without consuming anything; returns
  // how many it filled. For transports that cannot hand the kernel an iovec
  // (TLS encrypts into records): they write these bytes, then Consume() what
  // went out. Views stay valid until the next Consume() or Append*().
  // With `framed`, also says for each span whether its segment is framed.
  size_t PeekFront(absl::string_view* spans, size_t max_spans, size_t max_bytes, bool* framed = nullptr) const;
  // Where the next byte to write lives, or null when empty; lets tests tell
  // bytes shared between queues from copies.
  const char* FrontData() const {
    return segments_.empty() ? nullptr : segments_.front().data() + segments_.front().offset;
  }
  // Appends all pending bytes to `out` without consuming them (tests).
  void CopyTo(std::string* out) const;

 private:
  // Raw bytes with a fill mark: unlike std::string, growing the fill does not
  // zero memory that is about to be overwritten.
  struct Chunk {
    std::unique_ptr<char[]> data;
    size_t size = 0;
    size_t capacity = 0;
  };
  struct Segment {
    SharedFrame shared;  // set for a shared segment: bytes [begin, end) of it
    size_t begin = 0;
    size_t end = 0;
    bool slice = false;  // counted in slice_segments_
    bool framed = false; // whole messages in the transport's framing (AppendFramedSlice)
    Chunk chunk;         // inline bytes otherwise
    size_t offset = 0;   // bytes of this segment already written
    const char* data() const { return shared ? shared.data() + begin : chunk.data.get(); }
    size_t size() const { return shared ? end - begin : chunk.size; }
  };

  // AppendSlice and AppendFramedSlice: a range continuing the last one of
  // the same block grows it (a block is never both framed and not, so the
  // last range's mark is already right); else a new range so marked.
  void AppendSliceMarked(const SharedFrame& block, size_t begin, size_t end, bool framed) {
    if (!segments_.empty()) {
      Segment& last = segments_.back();
      if (last.shared && last.shared.SharesBytesWith(block) && last.end == begin) {
        last.end = end;
        pending_ += end - begin;
        return;
      }
    }
    AppendNewSlice(block, begin, end, framed);
  }
  // AppendSlice / AppendFramedSlice when the bytes do not continue the last range.
  void AppendNewSlice(const SharedFrame& block, size_t begin, size_t end, bool framed);
  // AppendUninitialized into a segment of the given kind.
  char* AppendUninitializedAs(size_t n, bool framed);

  std::deque<Segment> segments_;
  Chunk spare_;  // a drained chunk kept for reuse, so steady traffic does not allocate
  size_t pending_ = 0;
  size_t slice_segments_ = 0;  // segments that reference a block range
};

}  // namespace muxchat::wire

#endif  // MUXCHAT_WIRE_OUTPUT_QUEUE_H_
