// A growable byte buffer with a read index and a write index (after muduo's
// Buffer): bytes are appended at the back and consumed from the front without
// moving memory on every read. Single-threaded; the owner decides its lifetime.
#ifndef MUXCHAT_WIRE_BUFFER_H_
#define MUXCHAT_WIRE_BUFFER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "absl/strings/string_view.h"

namespace muxchat::wire {

class Buffer {
 public:
  explicit Buffer(size_t initial_capacity = 1024) : data_(initial_capacity) {}

  Buffer(Buffer&&) = default;
  Buffer& operator=(Buffer&&) = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  size_t ReadableBytes() const { return write_ - read_; }
  size_t WritableBytes() const { return data_.size() - write_; }
  bool empty() const { return read_ == write_; }
  const char* Peek() const { return data_.data() + read_; }
  absl::string_view View() const { return {Peek(), ReadableBytes()}; }
  // The readable bytes, writable in place (a WebSocket decoder unmasks its
  // payload where it lies instead of copying it out).
  char* MutablePeek() { return data_.data() + read_; }

  // Consumes n readable bytes (n <= ReadableBytes()).
  void Consume(size_t n) {
    read_ += n;
    if (read_ == write_) read_ = write_ = 0;
  }
  void Clear() { read_ = write_ = 0; }

  void Append(const void* data, size_t n) {
    if (n == 0) return;  // an empty buffer has no storage: memcpy from/to null is undefined even for 0 bytes
    EnsureWritable(n);
    std::memcpy(data_.data() + write_, data, n);
    write_ += n;
  }
  void Append(absl::string_view s) { Append(s.data(), s.size()); }

  // Makes room for n more bytes; BeginWrite() then points at them until
  // CommitWrite(n) marks them readable.
  void EnsureWritable(size_t n);
  char* BeginWrite() { return data_.data() + write_; }
  void CommitWrite(size_t n) { write_ += n; }

  // Bytes currently allocated; used by memory accounting.
  size_t Capacity() const { return data_.capacity(); }
  // Releases memory beyond `keep` bytes when the buffer is empty, so an idle
  // connection does not hold a buffer (or the peak of a burst) while it
  // sends nothing; the server does this from its periodic sweep.
  void ShrinkIfEmpty(size_t keep);

  // Reads once from fd with readv into the free space plus a 64 KiB stack
  // spill, so one syscall drains a socket without pre-growing every buffer.
  // Returns read(2)'s result; errno is preserved on -1.
  ssize_t ReadFromFd(int fd, size_t max_bytes);

 private:
  std::vector<char> data_;
  size_t read_ = 0;
  size_t write_ = 0;
};

}  // namespace muxchat::wire

#endif  // MUXCHAT_WIRE_BUFFER_H_
