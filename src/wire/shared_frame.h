// Reference-counted bytes shared by many output queues: one broadcast is
// encoded once and the same bytes are queued to every recipient. Either a
// single frame (Allocate) or an append-only block of consecutive frames
// (AllocateBlock + Extend) of which queues reference byte ranges. Bytes once
// written never move or change, so a range stays valid while referenced.
// The count is deliberately non-atomic: a SharedFrame and all its copies
// belong to one event-loop thread. Header and bytes live in one allocation.
#ifndef MUXCHAT_WIRE_SHARED_FRAME_H_
#define MUXCHAT_WIRE_SHARED_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/strings/string_view.h"

namespace muxchat::wire {

class SharedFrame {
 public:
  SharedFrame() = default;
  // Allocates a frame of `size` bytes for the creator to fill through
  // MutableData() before sharing it.
  static SharedFrame Allocate(size_t size);
  // Allocates an empty block that can grow to `capacity` bytes by Extend.
  static SharedFrame AllocateBlock(size_t capacity);

  SharedFrame(const SharedFrame& other) : rep_(other.rep_) {
    if (rep_ != nullptr) ++rep_->refs;
  }
  SharedFrame(SharedFrame&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  SharedFrame& operator=(SharedFrame other) noexcept {
    std::swap(rep_, other.rep_);
    return *this;
  }
  ~SharedFrame() { Release(); }

  explicit operator bool() const { return rep_ != nullptr; }
  const char* data() const { return rep_->bytes(); }
  size_t size() const { return rep_ == nullptr ? 0 : rep_->size; }
  absl::string_view view() const { return {data(), size()}; }
  // How many SharedFrame handles point at these bytes (tests, benchmarks).
  uint32_t use_count() const { return rep_ == nullptr ? 0 : rep_->refs; }
  // For filling: a frame only before it is shared (use_count() == 1); a block
  // only in the bytes the latest Extend added, never any earlier byte.
  char* MutableData() { return rep_->bytes(); }

  // Block use: bytes still free, and n more bytes (n <= remaining()) for the
  // caller to fill at once, appended after every byte already handed out.
  size_t remaining() const { return rep_ == nullptr ? 0 : rep_->capacity - rep_->size; }
  char* Extend(size_t n) {
    char* at = rep_->bytes() + rep_->size;
    rep_->size += n;
    return at;
  }
  bool SharesBytesWith(const SharedFrame& other) const { return rep_ == other.rep_; }

  // SharedFrame allocations made by the calling thread so far;
  // lets tests prove that a broadcast encodes once.
  static uint64_t AllocationCount();

 private:
  struct Rep {
    uint32_t refs;
    size_t size;
    size_t capacity;
    char* bytes() { return reinterpret_cast<char*>(this + 1); }
  };
  explicit SharedFrame(Rep* rep) : rep_(rep) {}
  void Release();

  Rep* rep_ = nullptr;
};

}  // namespace muxchat::wire

#endif  // MUXCHAT_WIRE_SHARED_FRAME_H_
