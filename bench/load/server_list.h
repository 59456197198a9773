// The servers of one load-generator run and which of them each connection
// talks to. With one server (the usual run) everything goes there. With
// several (the nodes of a cluster, bench/compare --cluster) the publishers are
// spread over them round robin by global publisher index, and the subscribers
// of a room round robin starting at the node after its first publisher's, so
// that a room's designated subscriber (its first, whose receipts pace the
// publishers' window) sits on another node than the publisher: the window
// then bounds cross-node traffic, the point of a cluster run. Stateless
// functions; any thread.
#ifndef MUXCHAT_BENCH_LOAD_SERVER_LIST_H_
#define MUXCHAT_BENCH_LOAD_SERVER_LIST_H_

#include "src/wire/host_port.h"

namespace muxchat::bench {

// One server of the run; `--servers` is parsed by wire::ParseHostPortList
// (every entry with its port) and printed by wire::FormatHostPortList.
using ServerAddress = wire::HostPort;

// Index into the server list of publisher `k` (0-based) of `room`, with
// `publishers` publishers per room and `servers` servers (>= 1).
int PublisherServer(int room, int k, int publishers, int servers);

// Index of subscriber `k` of `room`: round robin from the node after the
// room's first publisher's (its own node when there is only one).
int SubscriberServer(int room, int k, int publishers, int servers);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_SERVER_LIST_H_
