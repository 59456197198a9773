#include "src/wire/websocket_codec.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace muxchat::wire {
namespace {

constexpr uint32_t kMask = 0x37FA213D;  // RFC 6455 §5.7's example key
constexpr size_t kMax = 64 * 1024;

std::string ClientFrame(WsOpcode op, const std::string& payload, bool fin = true, uint8_t rsv = 0) {
  Buffer b;
  AppendWsClientFrame(op, payload, kMask, &b, fin, rsv);
  return std::string(b.View());
}

// What the decoder produced, flattened for comparison.
struct Outcome {
  std::vector<std::string> events;  // "msg:<payload>", "ping:..", "pong:..", "close:<code>:<reason>"
  absl::StatusCode error = absl::StatusCode::kOk;
  uint16_t close_code = 0;
  size_t left = 0;
};

std::string Describe(const WsEvent& e) {
  switch (e.kind) {
    case WsEvent::Kind::kMessage:
      return "msg:" + std::string(e.payload);
    case WsEvent::Kind::kPing:
      return "ping:" + std::string(e.payload);
    case WsEvent::Kind::kPong:
      return "pong:" + std::string(e.payload);
    case WsEvent::Kind::kClose:
      return "close:" + std::to_string(e.close_code) + ":" + std::string(e.payload);
  }
  return "?";
}

// Feeds `bytes` in the given piece sizes (the rest in one piece), decoding
// after each piece as a server does after every read.
Outcome Decode(const std::string& bytes, const std::vector<size_t>& pieces = {},
               size_t max = kMax) {
  WebSocketDecoder dec(max);
  Buffer in(8);
  Outcome out;
  size_t fed = 0, k = 0;
  while (fed < bytes.size()) {
    const size_t n = k < pieces.size() ? std::min(pieces[k++], bytes.size() - fed)
                                       : bytes.size() - fed;
    in.Append(bytes.data() + fed, n);
    fed += n;
    while (true) {
      WsEvent ev;
      const size_t before = in.ReadableBytes();
      absl::StatusOr<bool> got = dec.Next(&in, &ev);
      if (!got.ok()) {
        out.error = got.status().code();
        out.close_code = dec.close_code();
        out.left = in.ReadableBytes();
        return out;
      }
      if (!*got) {
        // Only whole fragments of an unfinished message may have been taken.
        EXPECT_LE(in.ReadableBytes(), before);
        break;
      }
      out.events.push_back(Describe(ev));
      if (ev.kind == WsEvent::Kind::kClose) {
        out.left = in.ReadableBytes();
        return out;
      }
    }
  }
  out.left = in.ReadableBytes();
  return out;
}

void ExpectFailure(const std::string& bytes, uint16_t close_code, absl::StatusCode code,
                   size_t max = kMax) {
  const Outcome o = Decode(bytes, {}, max);
  EXPECT_EQ(o.error, code);
  EXPECT_EQ(o.close_code, close_code);
}

// ------------------------------------------------------------ valid frames

TEST(WebSocketDecoder, DecodesMaskedBinaryMessage) {
  const Outcome o = Decode(ClientFrame(WsOpcode::kBinary, "Hello"));
  ASSERT_EQ(o.error, absl::StatusCode::kOk);
  EXPECT_EQ(o.events, std::vector<std::string>{"msg:Hello"});
  EXPECT_EQ(o.left, 0u);
}

TEST(WebSocketDecoder, RfcMaskedExampleBytesDecode) {
  // RFC 6455 §5.7 "A single-frame masked text message" with the opcode
  // changed from text (0x81) to binary (0x82).
  const std::string bytes("\x82\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
  EXPECT_EQ(Decode(bytes).events, std::vector<std::string>{"msg:Hello"});
}

TEST(WebSocketDecoder, UnmasksInPlaceWithoutCopying) {
  Buffer in;
  in.Append(ClientFrame(WsOpcode::kBinary, "in place"));
  const char* start = in.Peek();
  WebSocketDecoder dec(kMax);
  WsEvent ev;
  ASSERT_TRUE(*dec.Next(&in, &ev));
  EXPECT_EQ(ev.payload, "in place");
  EXPECT_EQ(ev.payload.data(), start + 6) << "payload must point into the input buffer";
}

TEST(WebSocketDecoder, UnmasksEveryPayloadLengthWithAnyKey) {
  // Lengths around the 8-byte word loop and its tail, several keys.
  for (uint32_t mask : {0x00000000u, 0x37FA213Du, 0xFFFFFFFFu, 0x01020304u}) {
    for (size_t n = 0; n <= 70; ++n) {
      std::string p(n, '\0');
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>(i * 7 + n);
      Buffer b;
      AppendWsClientFrame(WsOpcode::kBinary, p, mask, &b);
      WebSocketDecoder dec(kMax);
      WsEvent ev;
      ASSERT_TRUE(*dec.Next(&b, &ev));
      EXPECT_EQ(ev.payload, p) << "length " << n << " mask " << mask;
    }
  }
}

TEST(WebSocketDecoder, DecodesEmptyBinaryMessage) {
  EXPECT_EQ(Decode(ClientFrame(WsOpcode::kBinary, "")).events, std::vector<std::string>{"msg:"});
}

TEST(WebSocketDecoder, Decodes125ByteLengthInSevenBits) {
  const std::string p(125, 'a');
  const std::string f = ClientFrame(WsOpcode::kBinary, p);
  EXPECT_EQ(static_cast<uint8_t>(f[1]), 0x80 | 125);
  EXPECT_EQ(Decode(f).events, std::vector<std::string>{"msg:" + p});
}

TEST(WebSocketDecoder, Decodes126ByteLengthIn16Bits) {
  const std::string p(126, 'b');
  const std::string f = ClientFrame(WsOpcode::kBinary, p);
  EXPECT_EQ(static_cast<uint8_t>(f[1]), 0x80 | 126);
  EXPECT_EQ(Decode(f).events, std::vector<std::string>{"msg:" + p});
}

TEST(WebSocketDecoder, Decodes65535ByteLengthIn16Bits) {
  const std::string p(65535, 'c');
  const std::string f = ClientFrame(WsOpcode::kBinary, p);
  EXPECT_EQ(static_cast<uint8_t>(f[1]), 0x80 | 126);
  EXPECT_EQ(Decode(f).events, std::vector<std::string>{"msg:" + p});
}

TEST(WebSocketDecoder, Decodes65536ByteLengthIn64Bits) {
  const std::string p(65536, 'd');
  const std::string f = ClientFrame(WsOpcode::kBinary, p);
  EXPECT_EQ(static_cast<uint8_t>(f[1]), 0x80 | 127);
  EXPECT_EQ(Decode(f, {}, 65536).events, std::vector<std::string>{"msg:" + p});
}

TEST(WebSocketDecoder, DecodesSeveralFramesFromOneRead) {
  const std::string s = ClientFrame(WsOpcode::kBinary, "one") + ClientFrame(WsOpcode::kPing, "p") +
                        ClientFrame(WsOpcode::kBinary, "two");
  EXPECT_EQ(Decode(s).events, (std::vector<std::string>{"msg:one", "ping:p", "msg:two"}));
}

TEST(WebSocketDecoder, ReassemblesFragmentedMessage) {
  const std::string s = ClientFrame(WsOpcode::kBinary, "ab", false) +
                        ClientFrame(WsOpcode::kContinuation, "", false) +
                        ClientFrame(WsOpcode::kContinuation, "cd", false) +
                        ClientFrame(WsOpcode::kContinuation, "e", true);
  EXPECT_EQ(Decode(s).events, std::vector<std::string>{"msg:abcde"});
}

TEST(WebSocketDecoder, ControlFramesMayInterleaveFragments) {
  const std::string s = ClientFrame(WsOpcode::kBinary, "ab", false) +
                        ClientFrame(WsOpcode::kPing, "x") + ClientFrame(WsOpcode::kPong, "y") +
                        ClientFrame(WsOpcode::kContinuation, "cd", true);
  EXPECT_EQ(Decode(s).events, (std::vector<std::string>{"ping:x", "pong:y", "msg:abcd"}));
}

TEST(WebSocketDecoder, MessageAfterFragmentedMessageStartsFresh) {
  const std::string s = ClientFrame(WsOpcode::kBinary, "ab", false) +
                        ClientFrame(WsOpcode::kContinuation, "cd", true) +
                        ClientFrame(WsOpcode::kBinary, "ef", false) +
                        ClientFrame(WsOpcode::kContinuation, "g", true);
  EXPECT_EQ(Decode(s).events, (std::vector<std::string>{"msg:abcd", "msg:efg"}));
}

TEST(WebSocketDecoder, PingPayloadIsDelivered) {
  const std::string p(125, 'p');
  EXPECT_EQ(Decode(ClientFrame(WsOpcode::kPing, p)).events, std::vector<std::string>{"ping:" + p});
}

TEST(WebSocketDecoder, PongIsDelivered) {
  EXPECT_EQ(Decode(ClientFrame(WsOpcode::kPong, "")).events, std::vector<std::string>{"pong:"});
}

TEST(WebSocketDecoder, WaitsForWholeFrameAndConsumesNothing) {
  const std::string f = ClientFrame(WsOpcode::kBinary, std::string(300, 'x'));
  for (size_t n = 0; n < f.size(); ++n) {
    Buffer in;
    in.Append(f.data(), n);
    WebSocketDecoder dec(kMax);
    WsEvent ev;
    absl::StatusOr<bool> got = dec.Next(&in, &ev);
    ASSERT_TRUE(got.ok()) << n;
    EXPECT_FALSE(*got) << n;
    EXPECT_EQ(in.ReadableBytes(), n);
  }
}

// Every way to split a stream in two, and byte by byte, gives the same events.
TEST(WebSocketDecoder, SameEventsAtEverySplitPoint) {
  const std::string s =
      ClientFrame(WsOpcode::kBinary, "first") + ClientFrame(WsOpcode::kBinary, std::string(200, 'L')) +
      ClientFrame(WsOpcode::kBinary, "frag", false) + ClientFrame(WsOpcode::kPing, "mid") +
      ClientFrame(WsOpcode::kContinuation, std::string(130, 'm'), true) +
      ClientFrame(WsOpcode::kPong, "") + ClientFrame(WsOpcode::kClose, std::string("\x03\xe8" "bye", 5));
  const Outcome whole = Decode(s);
  ASSERT_EQ(whole.error, absl::StatusCode::kOk);
  ASSERT_EQ(whole.events.size(), 6u);
  EXPECT_EQ(whole.events.back(), "close:1000:bye");
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    const Outcome o = Decode(s, {cut});
    EXPECT_EQ(o.events, whole.events) << "split at " << cut;
    EXPECT_EQ(o.error, absl::StatusCode::kOk) << "split at " << cut;
  }
  EXPECT_EQ(Decode(s, std::vector<size_t>(s.size(), 1)).events, whole.events);
}

TEST(WebSocketDecoder, ErrorsFoundAtEverySplitPoint) {
  // A good message, then a text frame: the error must not depend on how the
  // bytes arrive, and the good message must come out first.
  const std::string s = ClientFrame(WsOpcode::kBinary, "ok") + ClientFrame(WsOpcode::kText, "no");
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    const Outcome o = Decode(s, {cut});
    EXPECT_EQ(o.events, std::vector<std::string>{"msg:ok"}) << cut;
    EXPECT_EQ(o.close_code, kWsCloseUnsupportedData) << cut;
  }
}

// ------------------------------------------------------ protocol violations

TEST(WebSocketDecoder, UnmaskedFrameIsProtocolError) {
  Buffer b;
  AppendWsServerFrame(WsOpcode::kBinary, "x", &b);  // server frames carry no mask
  ExpectFailure(std::string(b.View()), kWsCloseProtocolError, absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketDecoder, UnmaskedFrameRejectedFromTwoBytes) {
  ExpectFailure(std::string("\x82\x7f", 2), kWsCloseProtocolError,
                absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketDecoder, EachReservedBitIsProtocolError) {
  for (uint8_t rsv : {1, 2, 4}) {
    ExpectFailure(ClientFrame(WsOpcode::kBinary, "x", true, rsv), kWsCloseProtocolError,
                  absl::StatusCode::kInvalidArgument);
  }
}

TEST(WebSocketDecoder, EveryUnknownOpcodeIsProtocolError) {
  for (uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    Buffer b;
    AppendWsClientFrameRaw(static_cast<uint8_t>(0x80 | op), "x", kMask, &b);
    ExpectFailure(std::string(b.View()), kWsCloseProtocolError, absl::StatusCode::kInvalidArgument);
  }
}

TEST(WebSocketDecoder, TextMessageIsUnsupportedData) {
  ExpectFailure(ClientFrame(WsOpcode::kText, "hi"), kWsCloseUnsupportedData,
                absl::StatusCode::kUnimplemented);
}

TEST(WebSocketDecoder, FragmentedTextMessageIsUnsupportedData) {
  ExpectFailure(ClientFrame(WsOpcode::kText, "h", false), kWsCloseUnsupportedData,
                absl::StatusCode::kUnimplemented);
}

TEST(WebSocketDecoder, ContinuationWithoutStartIsProtocolError) {
  ExpectFailure(ClientFrame(WsOpcode::kContinuation, "x"), kWsCloseProtocolError,
                absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketDecoder, NewDataFrameInsideFragmentedMessageIsProtocolError) {
  ExpectFailure(ClientFrame(WsOpcode::kBinary, "a", false) + ClientFrame(WsOpcode::kBinary, "b"),
                kWsCloseProtocolError, absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketDecoder, TextFrameInsideFragmentedMessageIsProtocolError) {
  ExpectFailure(ClientFrame(WsOpcode::kBinary, "a", false) + ClientFrame(WsOpcode::kText, "b"),
                kWsCloseProtocolError, absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketDecoder, FragmentedControlFrameIsProtocolError) {
  for (WsOpcode op : {WsOpcode::kPing, WsOpcode::kPong, WsOpcode::kClose}) {
    ExpectFailure(ClientFrame(op, "", false), kWsCloseProtocolError,
                  absl::StatusCode::kInvalidArgument);
  }
}

TEST(WebSocketDecoder, ControlFrameAbove125BytesIsProtocolError) {
  for (WsOpcode op : {WsOpcode::kPing, WsOpcode::kPong, WsOpcode::kClose}) {
    ExpectFailure(ClientFrame(op, std::string(126, 'x')), kWsCloseProtocolError,
                  absl::StatusCode::kInvalidArgument);
  }
}

TEST(WebSocketDecoder, NonMinimal16BitLengthIsProtocolError) {
  // Length 5 written in the 16-bit form.
  const std::string bytes("\x82\xfe\x00\x05\x00\x00\x00\x00hello", 13);
  ExpectFailure(bytes, kWsCloseProtocolError, absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketDecoder, NonMinimal64BitLengthIsProtocolError) {
  // Length 200 written in the 64-bit form.
  std::string bytes("\x82\xff\x00\x00\x00\x00\x00\x00\x00\xc8\x00\x00\x00\x00", 14);
  bytes += std::string(200, 'x');
  ExpectFailure(bytes, kWsCloseProtocolError, absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketDecoder, LengthWithTopBitSetIsProtocolErrorFromHeaderAlone) {
  // 2^63: the most significant bit MUST be 0 (§5.2). No payload follows.
  const std::string bytes("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", 10);
  ExpectFailure(bytes, kWsCloseProtocolError, absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketDecoder, AllOnesLengthIsProtocolError) {
  const std::string bytes("\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10);
  ExpectFailure(bytes, kWsCloseProtocolError, absl::StatusCode::kInvalidArgument);
}

TEST(WebSocketDecoder, HugeLengthIsMessageTooBigFromHeaderAlone) {
  // 2^63 - 1: legal encoding, far above the cap; judged before any payload.
  const std::string bytes("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff", 10);
  ExpectFailure(bytes, kWsCloseMessageTooBig, absl::StatusCode::kResourceExhausted);
}

TEST(WebSocketDecoder, MessageAtCapIsAccepted) {
  const std::string p(1000, 'x');
  EXPECT_EQ(Decode(ClientFrame(WsOpcode::kBinary, p), {}, 1000).events,
            std::vector<std::string>{"msg:" + p});
}

TEST(WebSocketDecoder, MessageOneAboveCapIsMessageTooBig) {
  ExpectFailure(ClientFrame(WsOpcode::kBinary, std::string(1001, 'x')), kWsCloseMessageTooBig,
                absl::StatusCode::kResourceExhausted, 1000);
}

TEST(WebSocketDecoder, FragmentsAboveCapTogetherAreMessageTooBig) {
  const std::string s = ClientFrame(WsOpcode::kBinary, std::string(600, 'a'), false) +
                        ClientFrame(WsOpcode::kContinuation, std::string(401, 'b'), true);
  ExpectFailure(s, kWsCloseMessageTooBig, absl::StatusCode::kResourceExhausted, 1000);
}

TEST(WebSocketDecoder, NextAfterErrorFailsPrecondition) {
  Buffer in;
  in.Append(ClientFrame(WsOpcode::kText, "x") + ClientFrame(WsOpcode::kBinary, "y"));
  WebSocketDecoder dec(kMax);
  WsEvent ev;
  EXPECT_FALSE(dec.Next(&in, &ev).ok());
  EXPECT_EQ(dec.Next(&in, &ev).status().code(), absl::StatusCode::kFailedPrecondition);
}

// ------------------------------------------------------------ close frames

TEST(WebSocketDecoder, EmptyCloseReportsNoStatus) {
  EXPECT_EQ(Decode(ClientFrame(WsOpcode::kClose, "")).events,
            std::vector<std::string>{"close:1005:"});
}

TEST(WebSocketDecoder, CloseWithOneBytePayloadIsProtocolError) {
  ExpectFailure(ClientFrame(WsOpcode::kClose, "\x03"), kWsCloseProtocolError,
                absl::StatusCode::kInvalidArgument);
}

std::string CloseBody(uint16_t code, const std::string& reason = "") {
  std::string s;
  s.push_back(static_cast<char>(code >> 8));
  s.push_back(static_cast<char>(code & 0xFF));
  return s + reason;
}

TEST(WebSocketDecoder, EveryValidCloseCodeIsAccepted) {
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                        3000, 3999, 4000, 4999}) {
    const Outcome o = Decode(ClientFrame(WsOpcode::kClose, CloseBody(code, "r")));
    EXPECT_EQ(o.error, absl::StatusCode::kOk) << code;
    EXPECT_EQ(o.events, std::vector<std::string>{"close:" + std::to_string(code) + ":r"}) << code;
  }
}

TEST(WebSocketDecoder, EveryInvalidCloseCodeIsProtocolError) {
  // Reserved, never-on-the-wire (1005, 1006, 1015) and unassigned codes.
  for (uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    const Outcome o = Decode(ClientFrame(WsOpcode::kClose, CloseBody(code)));
    EXPECT_EQ(o.close_code, kWsCloseProtocolError) << code;
    EXPECT_EQ(o.error, absl::StatusCode::kInvalidArgument) << code;
  }
}

TEST(WebSocketDecoder, CloseReasonMustBeUtf8) {
  for (const std::string& bad : {std::string("\xff"), std::string("\xc0\xaf"),  // overlong '/'
                                std::string("\xed\xa0\x80"),                   // surrogate
                                std::string("\xf4\x90\x80\x80"),               // above U+10FFFF
                                std::string("ok\xe2\x82")}) {                  // truncated
    const Outcome o = Decode(ClientFrame(WsOpcode::kClose, CloseBody(1000, bad)));
    EXPECT_EQ(o.close_code, kWsCloseInvalidPayload);
    EXPECT_EQ(o.error, absl::StatusCode::kDataLoss);
  }
}

TEST(WebSocketDecoder, CloseReasonUtf8IsAccepted) {
  const std::string reason = "bye \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  EXPECT_EQ(Decode(ClientFrame(WsOpcode::kClose, CloseBody(1001, reason))).events,
            std::vector<std::string>{"close:1001:" + reason});
}

TEST(WebSocketDecoder, CloseMayInterruptFragmentedMessage) {
  const std::string s =
      ClientFrame(WsOpcode::kBinary, "ab", false) + ClientFrame(WsOpcode::kClose, CloseBody(1000));
  EXPECT_EQ(Decode(s).events, std::vector<std::string>{"close:1000:"});
}

TEST(WebSocketDecoder, NothingIsReadAfterClose) {
  Buffer in;
  in.Append(ClientFrame(WsOpcode::kClose, CloseBody(1000)) + ClientFrame(WsOpcode::kBinary, "late"));
  WebSocketDecoder dec(kMax);
  WsEvent ev;
  ASSERT_TRUE(*dec.Next(&in, &ev));
  EXPECT_EQ(ev.kind, WsEvent::Kind::kClose);
  EXPECT_EQ(dec.Next(&in, &ev).status().code(), absl::StatusCode::kFailedPrecondition);
}

// ------------------------------------------------------------ client role

TEST(WebSocketDecoder, ClientRoleReadsUnmaskedServerFrames) {
  Buffer in;
  AppendWsServerFrame(WsOpcode::kBinary, std::string(300, 's'), &in);
  AppendWsServerFrame(WsOpcode::kPing, "p", &in);
  AppendWsClose(kWsCloseGoingAway, "shutdown", &in);
  WebSocketDecoder dec(kMax, WebSocketDecoder::Role::kClient);
  WsEvent ev;
  ASSERT_TRUE(*dec.Next(&in, &ev));
  EXPECT_EQ(ev.payload, std::string(300, 's'));
  ASSERT_TRUE(*dec.Next(&in, &ev));
  EXPECT_EQ(ev.kind, WsEvent::Kind::kPing);
  ASSERT_TRUE(*dec.Next(&in, &ev));
  EXPECT_EQ(ev.kind, WsEvent::Kind::kClose);
  EXPECT_EQ(ev.close_code, kWsCloseGoingAway);
  EXPECT_EQ(ev.payload, "shutdown");
  EXPECT_TRUE(in.empty());
}

TEST(WebSocketDecoder, ClientRoleRejectsMaskedFrame) {
  Buffer in;
  in.Append(ClientFrame(WsOpcode::kBinary, "x"));
  WebSocketDecoder dec(kMax, WebSocketDecoder::Role::kClient);
  WsEvent ev;
  EXPECT_EQ(dec.Next(&in, &ev).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dec.close_code(), kWsCloseProtocolError);
}

// --------------------------------------------------------------- encoders

std::string Hex(absl::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

TEST(WsServerHeader, SevenBitLengths) {
  EXPECT_EQ(Hex(MakeWsServerHeader(0).view()), "8200");
  EXPECT_EQ(Hex(MakeWsServerHeader(125).view()), "827d");
}

TEST(WsServerHeader, SixteenBitLengths) {
  EXPECT_EQ(Hex(MakeWsServerHeader(126).view()), "827e007e");
  EXPECT_EQ(Hex(MakeWsServerHeader(65535).view()), "827effff");
}

TEST(WsServerHeader, SixtyFourBitLengths) {
  EXPECT_EQ(Hex(MakeWsServerHeader(65536).view()), "827f0000000000010000");
  EXPECT_EQ(Hex(MakeWsServerHeader(uint64_t{1} << 32).view()), "827f0000000100000000");
}

TEST(WsServerHeader, CarriesOpcodeWithFinAndNoMask) {
  EXPECT_EQ(Hex(MakeWsServerHeader(3, WsOpcode::kPong).view()), "8a03");
  EXPECT_EQ(Hex(MakeWsServerHeader(2, WsOpcode::kClose).view()), "8802");
}

TEST(WsServerHeader, SameBytesForEveryRecipientOfALength) {
  const WsHeader a = MakeWsServerHeader(5000);
  const WsHeader b = MakeWsServerHeader(5000);
  EXPECT_EQ(a.view(), b.view());
}

TEST(WsServerFrame, HeaderThenPayloadUnmasked) {
  Buffer b;
  AppendWsServerFrame(WsOpcode::kBinary, "Hello", &b);
  EXPECT_EQ(Hex(b.View()), "820548656c6c6f");  // RFC 6455 §5.7, binary opcode
}

TEST(WsServerClose, CarriesCodeAndReason) {
  Buffer b;
  AppendWsClose(kWsCloseMessageTooBig, "too big", &b);
  EXPECT_EQ(Hex(b.View()), "880903f1" + Hex("too big"));
}

TEST(WsServerClose, ZeroCodeSendsEmptyClose) {
  Buffer b;
  AppendWsClose(0, "ignored", &b);
  EXPECT_EQ(Hex(b.View()), "8800");
}

TEST(WsServerClose, LongReasonIsCutAtUtf8Boundary) {
  // 122 ASCII bytes then a 2-byte character: 124 bytes would split it.
  const std::string reason = std::string(122, 'r') + "\xc3\xa9" + "tail";
  Buffer b;
  AppendWsClose(kWsCloseNormal, reason, &b);
  ASSERT_EQ(static_cast<uint8_t>(b.View()[1]), 2 + 122);
  EXPECT_EQ(b.View().substr(4), std::string(122, 'r'));
}

TEST(WsServerClose, FitsControlFrameLimit) {
  Buffer b;
  AppendWsClose(kWsCloseNormal, std::string(500, 'x'), &b);
  EXPECT_EQ(b.ReadableBytes(), 2 + kWsMaxControlPayload);
}

TEST(WsClientFrame, MatchesRfcMaskedExample) {
  Buffer b;
  AppendWsClientFrame(WsOpcode::kText, "Hello", kMask, &b);
  EXPECT_EQ(Hex(b.View()), "818537fa213d7f9f4d5158");  // RFC 6455 §5.7
}

TEST(WebSocketCloseCodes, ValidityTable) {
  EXPECT_TRUE(IsValidWsCloseCode(1000));
  EXPECT_FALSE(IsValidWsCloseCode(1005));
  EXPECT_FALSE(IsValidWsCloseCode(1006));
  EXPECT_TRUE(IsValidWsCloseCode(1014));
  EXPECT_FALSE(IsValidWsCloseCode(1015));
  EXPECT_FALSE(IsValidWsCloseCode(2999));
  EXPECT_TRUE(IsValidWsCloseCode(3000));
  EXPECT_TRUE(IsValidWsCloseCode(4999));
  EXPECT_FALSE(IsValidWsCloseCode(5000));
}

}  // namespace
}  // namespace muxchat::wire
