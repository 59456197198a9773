// muxchat-cluster-publish: the cluster's shared step end to end, without
// muxchatd around it. Node A (a loop on one thread) runs the publish script
// through ClusterPublisher with `--window` publishes in flight; node B (a
// loop on another thread) is subscribed to every room and counts what
// arrives. Prints publish acknowledgements per second, deliveries per second
// at B, and the latency of each (ack: send to script reply at A; delivery:
// send at A to arrival at B), p50 / p99. Needs a running Redis:
//
//   redis-server --port 6390 --save "" --appendonly no &
//   build/bench/muxchat-cluster-publish --redis_port=6390 --messages=100000 --window=64
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/server/cluster_publisher.h"
#include "src/server/cluster_subscriber.h"

ABSL_FLAG(int, redis_port, 6379, "Redis port on 127.0.0.1");
ABSL_FLAG(int, messages, 100000, "messages to publish");
ABSL_FLAG(int, window, 64, "publishes in flight at once");
ABSL_FLAG(int, rooms, 1, "rooms the messages are spread over (round robin)");
ABSL_FLAG(int, text_bytes, 100, "bytes of text per message (at least 20: the send time)");
ABSL_FLAG(std::string, key_prefix, "bench", "key prefix (a fresh run should use a fresh one)");
ABSL_FLAG(bool, client_msg_ids, false,
          "give every message a client_msg_id (as the CLI's sends carry), so the script dedupes each one");

namespace {

using muxchat::server::ClusterMessage;
using muxchat::server::ClusterOptions;
using muxchat::server::ClusterPublisher;
using muxchat::server::ClusterSubscriber;
using muxchat::server::EventLoop;
using muxchat::server::PublishRequest;
using muxchat::server::PublishResult;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]) / 1000.0;  // microseconds
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int messages = absl::GetFlag(FLAGS_messages);
  const int window = std::max(1, absl::GetFlag(FLAGS_window));
  const int rooms = std::max(1, absl::GetFlag(FLAGS_rooms));
  const size_t text_bytes = static_cast<size_t>(std::max(20, absl::GetFlag(FLAGS_text_bytes)));
  const bool client_msg_ids = absl::GetFlag(FLAGS_client_msg_ids);
  ClusterOptions options;
  options.redis.port = absl::GetFlag(FLAGS_redis_port);
  options.key_prefix = absl::GetFlag(FLAGS_key_prefix);

  // Node B: subscribed to every room, records delivery latency.
  std::vector<int64_t> delivery_ns;
  delivery_ns.reserve(static_cast<size_t>(messages));
  std::promise<void> subscribed;
  int64_t b_first = 0, b_last = 0;
  std::thread b([&] {
    auto loop = EventLoop::Create("epoll");
    if (!loop.ok()) std::abort();
    bool told = false;
    ClusterSubscriber sub(
        loop->get(), options,
        [&](const ClusterMessage& m) {
          const int64_t now = NowNanos();
          int64_t sent = 0;
          if (absl::SimpleAtoi(m.text.substr(0, 19), &sent)) delivery_ns.push_back(now - sent);
          if (b_first == 0) b_first = now;
          b_last = now;
          if (delivery_ns.size() == static_cast<size_t>(messages)) (*loop)->Quit();
        },
        [&](uint64_t) {
          if (!told && sub.subscribed_rooms() == static_cast<size_t>(rooms)) {
            told = true;
            subscribed.set_value();
          }
        });
    for (int r = 1; r <= rooms; ++r) sub.Acquire(static_cast<uint64_t>(r));
    sub.Start();
    (void)(*loop)->Run();
  });
  subscribed.get_future().wait();

  // Node A: publishes with `window` in flight.
  std::vector<int64_t> ack_ns;
  ack_ns.reserve(static_cast<size_t>(messages));
  int sent = 0, acked = 0, failed = 0;
  int64_t a_start = 0, a_end = 0;
  {
    auto loop = EventLoop::Create("epoll");
    if (!loop.ok()) return 2;
    ClusterPublisher pub(loop->get(), options);
    std::string pad(text_bytes - 19, 'x');
    std::function<void()> send_one = [&] {
      if (sent >= messages) return;
      PublishRequest r;
      r.room_id = static_cast<uint64_t>(sent % rooms + 1);
      r.sender = "bench";
      if (client_msg_ids) {
        r.client_msg_id = static_cast<uint64_t>(sent) + 1;
        r.dedupe_scope = "a1";
      }
      const int64_t t0 = NowNanos();
      r.text = absl::StrCat(absl::StrFormat("%019d", t0), pad);
      ++sent;
      absl::Status st = pub.Publish(r, [&, t0](absl::StatusOr<PublishResult> res) {
        ack_ns.push_back(NowNanos() - t0);
        ++(res.ok() ? acked : failed);
        if (acked + failed == messages) {
          a_end = NowNanos();
          (*loop)->Quit();
        } else {
          send_one();
        }
      });
      if (!st.ok()) {
        std::fprintf(stderr, "publish refused: %s\n", std::string(st.message()).c_str());
        std::exit(2);
      }
    };
    pub.SetStatusCallback([&](muxchat::server::RedisLinkState state, const absl::Status& why) {
      if (state == muxchat::server::RedisLinkState::kUp && sent == 0) {
        a_start = NowNanos();
        for (int i = 0; i < window; ++i) send_one();
      } else if (state == muxchat::server::RedisLinkState::kDown) {
        std::fprintf(stderr, "redis down: %s\n", std::string(why.message()).c_str());
        std::exit(2);
      }
    });
    pub.Start();
    (void)(*loop)->Run();
  }
  b.join();
  const double a_secs = static_cast<double>(a_end - a_start) / 1e9;
  const double b_secs = static_cast<double>(b_last - b_first) / 1e9;
  std::printf("messages %d, window %d, rooms %d, text %zu B, client_msg_ids %s, failed %d\n", messages, window, rooms,
              text_bytes, client_msg_ids ? "yes" : "no", failed);
  std::printf("A publish acks:   %.0f/s   ack latency p50 %.0f us  p99 %.0f us\n", acked / a_secs,
              Percentile(ack_ns, 0.5), Percentile(ack_ns, 0.99));
  std::printf("B deliveries:     %.0f/s   send->delivery p50 %.0f us  p99 %.0f us\n",
              static_cast<double>(delivery_ns.size()) / b_secs, Percentile(delivery_ns, 0.5),
              Percentile(delivery_ns, 0.99));
  return failed == 0 ? 0 : 1;
}
