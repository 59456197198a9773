// Micro-benchmarks for src/wire/output_queue: the per-recipient cost of queuing
// one broadcast frame by copy (AppendCopy) versus by reference (AppendShared),
// alone and followed by the writev drain to a socket. Used to choose
// OutputQueue::kCopyThresholdBytes; docs/BENCHMARKS.md has the figures.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "src/wire/output_queue.h"
#include "src/wire/shared_frame.h"

namespace muxchat::wire {
namespace {

constexpr int kFramesPerBatch = 32;  // frames queued to one recipient per loop turn

SharedFrame MakeFrame(size_t size) {
  SharedFrame f = SharedFrame::Allocate(size);
  for (size_t i = 0; i < size; ++i) f.MutableData()[i] = static_cast<char>(i);
  return f;
}

// Enqueue only: kFramesPerBatch frames to one queue, then drop them without a
// syscall (Consume), so the figure is the queueing cost alone.
template <bool kShare>
void BM_OutputQueueAppend(benchmark::State& state) {
  const SharedFrame frame = MakeFrame(static_cast<size_t>(state.range(0)));
  OutputQueue q;
  for (auto _ : state) {
    for (int i = 0; i < kFramesPerBatch; ++i) {
      if (kShare) {
        q.AppendShared(frame);
      } else {
        q.AppendCopy(frame.view());
      }
    }
    benchmark::DoNotOptimize(q.PendingBytes());
    q.Consume(q.PendingBytes());
  }
  state.SetItemsProcessed(state.iterations() * kFramesPerBatch);
  state.SetBytesProcessed(state.iterations() * kFramesPerBatch * state.range(0));
}
BENCHMARK_TEMPLATE(BM_OutputQueueAppend, false)
    ->Name("BM_OutputQueueAppendCopy")
    ->RangeMultiplier(2)
    ->Range(64, 16 << 10);
BENCHMARK_TEMPLATE(BM_OutputQueueAppend, true)
    ->Name("BM_OutputQueueAppendShared")
    ->RangeMultiplier(2)
    ->Range(64, 16 << 10);

// Enqueue plus drain: kFramesPerBatch frames queued, then written with
// WriteToFd into a non-blocking AF_UNIX socketpair whose other end is read
// empty (outside the timed region) whenever it fills. This is what a
// connection pays per broadcast: queueing plus its share of writev.
template <bool kShare>
void BM_OutputQueueDrain(benchmark::State& state) {
  const SharedFrame frame = MakeFrame(static_cast<size_t>(state.range(0)));
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  int sndbuf = 4 << 20;
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  std::string sink(1 << 20, '\0');
  OutputQueue q;
  size_t syscalls = 0;
  for (auto _ : state) {
    for (int i = 0; i < kFramesPerBatch; ++i) {
      if (kShare) {
        q.AppendShared(frame);
      } else {
        q.AppendCopy(frame.view());
      }
    }
    while (!q.empty()) {
      const ssize_t n = q.WriteToFd(sv[0], 1 << 20);
      ++syscalls;
      if (n < 0 && errno == EAGAIN) {
        state.PauseTiming();
        while (::read(sv[1], sink.data(), sink.size()) > 0) {
        }
        state.ResumeTiming();
      } else if (n < 0) {
        state.SkipWithError("writev failed");
        break;
      }
    }
  }
  ::close(sv[0]);
  ::close(sv[1]);
  state.counters["writev_per_batch"] =
      benchmark::Counter(static_cast<double>(syscalls) / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(state.iterations() * kFramesPerBatch);
  state.SetBytesProcessed(state.iterations() * kFramesPerBatch * state.range(0));
}
BENCHMARK_TEMPLATE(BM_OutputQueueDrain, false)
    ->Name("BM_OutputQueueDrainCopy")
    ->RangeMultiplier(2)
    ->Range(64, 16 << 10);
BENCHMARK_TEMPLATE(BM_OutputQueueDrain, true)
    ->Name("BM_OutputQueueDrainShared")
    ->RangeMultiplier(2)
    ->Range(64, 16 << 10);

// The same drain into /dev/null: writev cost without socket buffer copies,
// i.e. syscall plus iovec overhead only.
template <bool kShare>
void BM_OutputQueueDrainDevNull(benchmark::State& state) {
  const SharedFrame frame = MakeFrame(static_cast<size_t>(state.range(0)));
  const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    state.SkipWithError("open /dev/null failed");
    return;
  }
  OutputQueue q;
  for (auto _ : state) {
    for (int i = 0; i < kFramesPerBatch; ++i) {
      if (kShare) {
        q.AppendShared(frame);
      } else {
        q.AppendCopy(frame.view());
      }
    }
    while (!q.empty()) {
      if (q.WriteToFd(fd, 1 << 20) < 0) {
        state.SkipWithError("writev failed");
        break;
      }
    }
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations() * kFramesPerBatch);
  state.SetBytesProcessed(state.iterations() * kFramesPerBatch * state.range(0));
}
BENCHMARK_TEMPLATE(BM_OutputQueueDrainDevNull, false)
    ->Name("BM_OutputQueueDrainDevNullCopy")
    ->RangeMultiplier(2)
    ->Range(64, 16 << 10);
BENCHMARK_TEMPLATE(BM_OutputQueueDrainDevNull, true)
    ->Name("BM_OutputQueueDrainDevNullShared")
    ->RangeMultiplier(2)
    ->Range(64, 16 << 10);

}  // namespace
}  // namespace muxchat::wire

BENCHMARK_MAIN();
