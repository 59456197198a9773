#include "src/wire/shared_frame.h"

#include <new>

namespace muxchat::wire {
namespace {
// Per thread, so several event loops never share (or race on) the counter.
thread_local uint64_t g_allocations = 0;
}  // namespace

SharedFrame SharedFrame::Allocate(size_t size) {
  SharedFrame frame = AllocateBlock(size);
  frame.rep_->size = size;
  return frame;
}

SharedFrame SharedFrame::AllocateBlock(size_t capacity) {
  void* mem = ::operator new(sizeof(Rep) + capacity);
  Rep* rep = new (mem) Rep{1, 0, capacity};
  ++g_allocations;
  return SharedFrame(rep);
}

void SharedFrame::Release() {
  if (rep_ != nullptr && --rep_->refs == 0) {
    rep_->~Rep();
    ::operator delete(rep_);
  }
  rep_ = nullptr;
}

uint64_t SharedFrame::AllocationCount() { return g_allocations; }

}  // namespace muxchat::wire
