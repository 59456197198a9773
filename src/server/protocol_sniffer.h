// Tells what a new connection speaks from its first byte, so one port serves
// muxchat frames, TLS and HTTP. No muxchat length prefix can start like the
// others: 0x16 or an ASCII capital would announce a frame of 369 MiB or more,
// far above any max_frame_bytes the server accepts. Pure functions; any thread.
#ifndef MUXCHAT_SERVER_PROTOCOL_SNIFFER_H_
#define MUXCHAT_SERVER_PROTOCOL_SNIFFER_H_

namespace muxchat::server {

enum class SniffedProtocol {
  kTls,      // a TLS record carrying a handshake (ClientHello)
  kHttp,     // an HTTP method: GET, HEAD (and POST, PUT... refused with 405)
  kMuxchat,  // anything else: the frame decoder judges it (FRAME_TOO_LARGE, PROTOCOL)
};

inline constexpr unsigned char kTlsHandshakeRecord = 0x16;

inline bool StartsHttpMethod(unsigned char first) { return first >= 'A' && first <= 'Z'; }

inline SniffedProtocol SniffProtocol(unsigned char first) {
  if (first == kTlsHandshakeRecord) return SniffedProtocol::kTls;
  if (StartsHttpMethod(first)) return SniffedProtocol::kHttp;
  return SniffedProtocol::kMuxchat;
}

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_PROTOCOL_SNIFFER_H_
