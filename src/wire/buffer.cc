#include "src/wire/buffer.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

namespace muxchat::wire {

void Buffer::EnsureWritable(size_t n) {
  if (WritableBytes() >= n) return;
  const size_t readable = ReadableBytes();
  if (read_ > 0 && read_ + WritableBytes() >= n) {
    // Enough room once consumed bytes are reclaimed: slide instead of growing.
    std::memmove(data_.data(), data_.data() + read_, readable);
    read_ = 0;
    write_ = readable;
    return;
  }
  if (read_ > 0) {
    std::memmove(data_.data(), data_.data() + read_, readable);
    read_ = 0;
    write_ = readable;
  }
  data_.resize(std::max(data_.size() * 2, write_ + n));
}

void Buffer::ShrinkIfEmpty(size_t keep) {
  if (!empty() || data_.size() <= keep) return;
  std::vector<char>(keep).swap(data_);
  read_ = write_ = 0;
}

ssize_t Buffer::ReadFromFd(int fd, size_t max_bytes) {
  char spill[65536];
  iovec vec[2];
  const size_t writable = std::min(WritableBytes(), max_bytes);
  vec[0].iov_base = BeginWrite();
  vec[0].iov_len = writable;
  vec[1].iov_base = spill;
  vec[1].iov_len = std::min(sizeof spill, max_bytes - writable);
  const int count = vec[1].iov_len > 0 ? 2 : 1;
  const ssize_t n = ::readv(fd, vec, count);
  if (n <= 0) return n;
  if (static_cast<size_t>(n) <= writable) {
    write_ += static_cast<size_t>(n);
  } else {
    write_ += writable;
    const int saved = errno;
    Append(spill, static_cast<size_t>(n) - writable);
    errno = saved;
  }
  return n;
}

}  // namespace muxchat::wire
