// In-process room broadcast: one SendMessage handled by the ChatService for a
// room of N members (in-memory connections, no sockets), i.e. validation,
// history record, one encode and N queue appends, then every member's queue
// dropped as if written. Items are deliveries (N per broadcast). Shows how
// fan-out cost grows with room size independently of the kernel.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/muxchat.pb.h"
#include "src/server/chat_service.h"
#include "src/server/connection.h"
#include "src/server/logger.h"
#include "src/server/server_options.h"

namespace muxchat::server {
namespace {

struct Fixture {
  ServerOptions options;
  Logger logger{LogLevel::kError};
  std::unique_ptr<ChatService> service;
  std::vector<Connection*> dirty;
  std::vector<std::unique_ptr<Connection>> members;
  uint64_t room_id = 0;

  Fixture(int n, uint32_t history) {
    options.messages_per_second = 0;
    options.history = history;
    options.max_members_per_room = static_cast<uint32_t>(n) + 1;
    options.max_connections = static_cast<uint32_t>(n) + 1;
    service = std::make_unique<ChatService>(options, &logger);
    const absl::Time now = absl::Now();
    for (int i = 0; i < n; ++i) {
      members.push_back(std::make_unique<Connection>(i + 1, -1, "bench", now, options.max_output_bytes, &dirty));
      v1::ClientFrame hello;
      hello.set_request_id(1);
      hello.mutable_hello()->set_nickname(absl::StrCat("member", i));
      hello.mutable_hello()->set_protocol_version(1);
      service->HandleFrame(members.back().get(), hello, now);
      if (i == 0) {
        v1::ClientFrame create;
        create.set_request_id(2);
        create.mutable_create_room()->set_name("bench");
        service->HandleFrame(members[0].get(), create, now);
      }
      v1::ClientFrame join;
      join.set_request_id(3);
      join.mutable_join_room()->set_name("bench");
      service->HandleFrame(members.back().get(), join, now);
    }
    room_id = service->rooms().FindByName("bench")->id();
    Drain();
  }

  void Drain() {
    for (Connection* c : dirty) {
      c->output().Consume(c->output().PendingBytes());
      c->in_dirty_list = false;
    }
    dirty.clear();
  }
};

void BM_Broadcast(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Fixture fx(n, static_cast<uint32_t>(state.range(2)));
  v1::ClientFrame send;
  send.set_room_id(fx.room_id);
  send.mutable_send_message()->set_text(std::string(static_cast<size_t>(state.range(1)), 'x'));
  Connection* sender = fx.members[0].get();
  for (auto _ : state) {
    fx.service->HandleFrame(sender, send, absl::Now());
    if (fx.dirty.size() != static_cast<size_t>(n)) {
      state.SkipWithError("not every member received the broadcast");
      break;
    }
    fx.Drain();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * state.range(1));
}
BENCHMARK(BM_Broadcast)
    ->ArgNames({"members", "payload", "history"})
    ->ArgsProduct({{1, 10, 100, 1000, 10000}, {64, 1024}, {100}})
    ->Args({1, 64, 0})
    ->Args({1000, 64, 0});

}  // namespace
}  // namespace muxchat::server

BENCHMARK_MAIN();
