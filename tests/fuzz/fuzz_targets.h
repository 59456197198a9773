// The fuzz entry points, as plain functions in a normal library: libFuzzer
// drivers (built only with -DMUXCHAT_FUZZ=ON and clang) call them from
// LLVMFuzzerTestOneInput, and corpus_test runs every stored seed and
// regression input through them under ctest, without libFuzzer.
// A broken invariant aborts (FUZZ_CHECK), which both treat as a crash.
// Each call is self-contained; safe to call repeatedly from one thread.
#ifndef MUXCHAT_TESTS_FUZZ_FUZZ_TARGETS_H_
#define MUXCHAT_TESTS_FUZZ_FUZZ_TARGETS_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                             \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

namespace muxchat::fuzz {

// Input: [2 bytes: frame cap selector][1 byte: split seed][bytes...]. The
// bytes are fed to a FrameDecoder once whole and once in pseudo-random
// pieces; both must yield the same frames and the same final error.
int FuzzFrameDecoder(const uint8_t* data, size_t size);

// Input: a script of records [op][len][len bytes] driving up to 8 in-memory
// Connections through a ChatService: raw bytes through a FrameDecoder as the
// server reads them, structured requests, disconnects, time steps. After
// every record the two-way room index, the limits and each member's seq
// order are checked; odd slots are WebSocket members, read back through a
// WebSocketTransport that writes some of what is owed each turn.
int FuzzChatService(const uint8_t* data, size_t size);

// Input: [2 bytes: message cap selector][1 byte: role bit 0x80 (set: read
// server frames as a client), split seed in the low bits][bytes...]: WebSocket
// frames fed to a WebSocketDecoder once whole and once in pseudo-random
// pieces; both must yield the same events and close code.
int FuzzWebSocketDecoder(const uint8_t* data, size_t size);

// Input: [1 byte: limits selector][1 byte: split seed][bytes...]. The bytes
// go to an HttpRequestParser once whole and once in pseudo-random pieces;
// both must reach the same request or error status, within the head limit.
int FuzzHttpRequestParser(const uint8_t* data, size_t size);

// Input: [1 byte: frame cap selector][1 byte: seed][bytes...]: what a new
// connection sends, through the server's front end: the first-byte sniffer,
// then the frame decoder, or the HTTP parser and, for GET /ws, the WebSocket
// upgrade and WebSocketTransport over a transport that hands the rest out in
// pieces; frames written back through it are read as a client would.
int FuzzConnectionFront(const uint8_t* data, size_t size);

// Input: a room channel's payload as Redis delivers it to a cluster node
// ("m1;" one message, "mb2;" a batch, "mb1;" an earlier node's batch): decoded, it must be the room's
// messages in ascending seq order that re-encode to the same messages, or a
// clean refusal.
int FuzzClusterPayload(const uint8_t* data, size_t size);

// protobuf logs every string field with invalid UTF-8 it refuses to parse;
// fuzzing produces millions. Returns true so it can initialise a static.
bool SilenceProtobufLogs();

}  // namespace muxchat::fuzz

#endif  // MUXCHAT_TESTS_FUZZ_FUZZ_TARGETS_H_
