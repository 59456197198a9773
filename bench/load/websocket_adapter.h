// muxchat over WebSocket for the load generator (muxchat-bench --ws): wraps
// the plain muxchat adapter. Start sends the upgrade request and holds the
// inner adapter's first frames until the 101 arrives (RFC 6455 §4.1); then
// each server message (one ServerFrame, no length prefix) is handed to the
// inner adapter with its prefix restored, and each frame the inner adapter
// writes leaves as one masked binary message. WebSocket Pings are answered.
// One per connection; single-threaded.
#ifndef MUXCHAT_BENCH_LOAD_WEBSOCKET_ADAPTER_H_
#define MUXCHAT_BENCH_LOAD_WEBSOCKET_ADAPTER_H_

#include <memory>
#include <string>

#include "bench/load/protocol_adapter.h"

namespace muxchat::bench {

// `host` goes in the Host header (and a matching Origin is not sent: the
// server accepts clients without one). `inner` is normally MakeMuxchatAdapter.
std::unique_ptr<ProtocolAdapter> MakeWebSocketAdapter(std::unique_ptr<ProtocolAdapter> inner,
                                                      const std::string& host);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_WEBSOCKET_ADAPTER_H_
