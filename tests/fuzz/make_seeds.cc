// Writes the seed corpus for the fuzz targets: valid frames and short chat
// sessions, in each target's input format (tests/fuzz/fuzz_targets.h).
//   make_fuzz_seeds tests/fuzz/corpus
// The output is committed; rerun only when the formats change.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "proto/muxchat.pb.h"
#include "src/wire/frame_codec.h"
#include "src/wire/websocket_codec.h"

namespace {

using muxchat::v1::ClientFrame;
using muxchat::wire::EncodeFrameToString;

ClientFrame Hello(const std::string& nick) {
  ClientFrame f;
  f.set_request_id(1);
  f.mutable_hello()->set_nickname(nick);
  f.mutable_hello()->set_protocol_version(1);
  f.mutable_hello()->set_client_name("seed");
  return f;
}
ClientFrame Create(const std::string& name) {
  ClientFrame f;
  f.set_request_id(2);
  f.mutable_create_room()->set_name(name);
  return f;
}
ClientFrame Join(const std::string& name, uint64_t room_id = 0) {
  ClientFrame f;
  f.set_request_id(3);
  f.set_room_id(room_id);
  f.mutable_join_room()->set_name(name);
  return f;
}
ClientFrame Send(uint64_t room, const std::string& text) {
  ClientFrame f;
  f.set_request_id(4);
  f.set_room_id(room);
  f.mutable_send_message()->set_text(text);
  return f;
}
ClientFrame Leave(uint64_t room) {
  ClientFrame f;
  f.set_request_id(5);
  f.set_room_id(room);
  f.mutable_leave_room();
  return f;
}
ClientFrame Delete(const std::string& name) {
  ClientFrame f;
  f.set_request_id(6);
  f.mutable_delete_room()->set_name(name);
  return f;
}
ClientFrame List() {
  ClientFrame f;
  f.set_request_id(7);
  f.mutable_list_rooms();
  return f;
}
ClientFrame Ping() {
  ClientFrame f;
  f.set_request_id(8);
  f.mutable_ping()->set_nonce(42);
  return f;
}

// Accounts, resume and history (issue 9).
ClientFrame Register(const std::string& name, const std::string& password) {
  ClientFrame f;
  f.set_request_id(9);
  f.mutable_register_()->set_name(name);
  f.mutable_register_()->set_password(password);
  f.mutable_register_()->set_protocol_version(1);
  return f;
}
ClientFrame Login(const std::string& name, const std::string& password) {
  ClientFrame f;
  f.set_request_id(10);
  f.mutable_login()->set_name(name);
  f.mutable_login()->set_password(password);
  f.mutable_login()->set_protocol_version(1);
  return f;
}
ClientFrame HelloToken(const std::string& token) {
  ClientFrame f = Hello("ignored");
  f.mutable_hello()->set_token(token);
  return f;
}
ClientFrame Logout() {
  ClientFrame f;
  f.set_request_id(11);
  f.mutable_logout();
  return f;
}
ClientFrame Resume(const std::string& token, const std::vector<std::pair<uint64_t, uint64_t>>& cursors) {
  ClientFrame f;
  f.set_request_id(12);
  f.mutable_resume()->set_token(token);
  f.mutable_resume()->set_protocol_version(1);
  for (const auto& [room, seq] : cursors) {
    auto* c = f.mutable_resume()->add_cursors();
    c->set_room_id(room);
    c->set_last_seq(seq);
  }
  return f;
}
// after = -1: no after_seq (backwards from before_seq); else forwards.
ClientFrame History(uint64_t room, uint64_t before, int64_t after, uint32_t limit) {
  ClientFrame f;
  f.set_request_id(13);
  f.set_room_id(room);
  f.mutable_history()->set_before_seq(before);
  if (after >= 0) f.mutable_history()->set_after_seq(static_cast<uint64_t>(after));
  f.mutable_history()->set_limit(limit);
  return f;
}

void Write(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// chat_service record: [op = kind * 8 + slot][len][bytes]; kind 0 = raw bytes.
std::string Raw(int slot, const ClientFrame& f) {
  const std::string frame = EncodeFrameToString(f);
  return std::string(1, static_cast<char>(slot)) + static_cast<char>(frame.size()) + frame;
}
std::string Op(int kind, int slot, const std::string& payload) {
  return std::string(1, static_cast<char>(kind * 8 + slot)) + static_cast<char>(payload.size()) + payload;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root = argv[1];

  // frame_decoder: [cap hi][cap lo][split seed] then frames.
  const std::string cap64k("\xff\xff\x07", 3);  // 65535 % 70000
  const std::string cap16("\x00\x10\x01", 3);
  std::string session = EncodeFrameToString(Hello("alice")) + EncodeFrameToString(Create("room")) +
                        EncodeFrameToString(Join("room")) + EncodeFrameToString(Send(1, "hello")) +
                        EncodeFrameToString(List()) + EncodeFrameToString(Ping());
  const auto fd = root / "frame_decoder";
  Write(fd, "session", cap64k + session);
  Write(fd, "session_small_cap", cap16 + session);
  Write(fd, "partial", cap64k + session.substr(0, session.size() - 3));
  Write(fd, "all_ones_length", cap64k + std::string("\xff\xff\xff\xff", 4));
  Write(fd, "zero_length", cap64k + std::string(4, '\0') + EncodeFrameToString(Ping()));
  Write(fd, "bad_protobuf", cap64k + std::string("\x00\x00\x00\x03\xff\xff\xff", 7));
  Write(fd, "bad_utf8", cap64k + std::string("\x00\x00\x00\x07\x52\x05\x0a\x01\xff\x18\x01", 11));

  // chat_service: two then three clients in one room, sends, leave, delete,
  // disconnect, a reader that stalls, time steps.
  const auto cs = root / "chat_service";
  std::string s = Raw(0, Hello("alice")) + Raw(1, Hello("bob")) + Raw(0, Create("room")) + Raw(0, Join("room")) +
                  Raw(1, Join("", 1)) + Raw(0, Send(1, "hi bob")) + Raw(1, Send(1, "hi alice")) + Raw(0, List());
  Write(cs, "two_chat", s);
  Write(cs, "leave_delete", s + Raw(1, Leave(1)) + Raw(0, Send(1, "alone")) + Raw(1, Delete("room")) +
                                Raw(0, Delete("room")) + Raw(1, Join("room")));
  Write(cs, "disconnect", s + Op(26, 1, "") + Raw(0, Send(1, "bye")) + Raw(2, Hello("bob")) + Raw(2, Join("room")));
  std::string stall = s + Op(30, 1, "");
  for (int i = 0; i < 12; ++i) stall += Raw(0, Send(1, std::string(60, 'x')));
  Write(cs, "stalled_reader", stall + Op(28, 0, "\xff"));
  std::string limits = Raw(0, Hello("alice"));
  for (int i = 0; i < 6; ++i) limits += Raw(0, Create("r" + std::to_string(i)));
  for (int i = 0; i < 5; ++i) limits += Raw(0, Join("r" + std::to_string(i)));
  for (int slot = 1; slot < 6; ++slot) limits += Raw(slot, Hello("u" + std::to_string(slot))) + Raw(slot, Join("r0"));
  Write(cs, "limits", limits);
  Write(cs, "structured", Op(16, 0, std::string("\x00\x00\x02", 3)) + Op(16, 0, std::string("\x01\x00\x03", 3)) +
                              Op(16, 0, std::string("\x02\x01\x03\x01", 4)) + Op(16, 0, "\x06\x01\x00\x00hey!") +
                              Op(16, 1, std::string("\x00\x00\x01", 3)) + Op(16, 1, "\x04\x01\x03\x01"));
  // Accounts: register, a wrong and a right login, a guest taking a
  // registered name, garbage and well-formed unknown tokens, logout, resume
  // with cursors past the end and for rooms never joined, history limits.
  const std::string token43(43, 'A');
  std::string acc = Raw(0, Register("alice", "password1")) + Raw(1, Login("alice", "wrong-password")) +
                    Raw(1, Login("ALICE", "password1")) + Raw(2, Hello("alice")) + Raw(3, HelloToken("garbage")) +
                    Raw(4, HelloToken(token43)) + Raw(0, Create("room")) + Raw(0, Join("room")) +
                    Raw(0, Send(1, "kept")) + Raw(0, History(1, 0, -1, 0)) + Raw(0, History(1, 0, -1, 4000000000u)) +
                    Raw(0, History(1, 0, 0, 3)) + Raw(0, History(1, 5, 1, 2)) + Raw(0, History(99, 0, -1, 1)) + Raw(0, Logout()) + Raw(0, Logout());
  Write(cs, "accounts", acc);
  Write(cs, "register_edges", Raw(0, Register("bob", "")) + Raw(0, Register("bob", "short")) +
                                  Raw(0, Register("bob", std::string("pass\0word", 9))) +
                                  Raw(0, Register("x y", "password1")) + Raw(0, Register("bob", std::string(200, 'p'))) +
                                  Raw(1, Register("BOB", "password2")) + Raw(0, Login("", "")));
  Write(cs, "resume", Raw(0, Resume(token43, {{1, 0}, {1, 1000000}, {2, 3}, {0, 0}, {~0ull, ~0ull}})) +
                          Raw(1, Resume("", {})) + Raw(2, Resume("not a token", {{1, 1}})) +
                          Raw(3, Register("carol", "password3")) + Raw(3, Resume(token43, {{1, 1}})));
  Write(cs, "garbage_then_hello", Op(0, 3, "\x00\x00\x00\x02\xff\xff") + Raw(3, Hello("alice")));

  // websocket_decoder: [cap hi][cap lo][split seed] then masked client frames.
  const auto ws = root / "websocket_decoder";
  using muxchat::wire::WsOpcode;
  auto frame = [](WsOpcode op, const std::string& payload, bool fin = true, uint8_t rsv = 0) {
    muxchat::wire::Buffer b;
    muxchat::wire::AppendWsClientFrame(op, payload, 0x37FA213Du, &b, fin, rsv);
    return std::string(b.View());
  };
  const std::string hello = EncodeFrameToString(Hello("alice"));
  const std::string body = hello.substr(muxchat::wire::kLengthPrefixBytes);
  Write(ws, "session", cap64k + frame(WsOpcode::kBinary, body) + frame(WsOpcode::kPing, "p") +
                           frame(WsOpcode::kBinary, std::string(300, 'x')) +
                           frame(WsOpcode::kClose, std::string("\x03\xe8" "bye", 5)));
  Write(ws, "fragmented", cap64k + frame(WsOpcode::kBinary, "ab", false) + frame(WsOpcode::kPong, "") +
                              frame(WsOpcode::kContinuation, std::string(200, 'c'), true));
  Write(ws, "small_cap", cap16 + frame(WsOpcode::kBinary, std::string(20, 'y')));
  Write(ws, "text", cap64k + frame(WsOpcode::kText, "hi"));
  Write(ws, "reserved_bits", cap64k + frame(WsOpcode::kBinary, "x", true, 4));
  Write(ws, "unmasked", cap64k + std::string("\x82\x01x", 3));
  Write(ws, "length_2_63", cap64k + std::string("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", 10));
  Write(ws, "close_bad_utf8", cap64k + frame(WsOpcode::kClose, std::string("\x03\xe8\xff", 3)));
  auto server = [](WsOpcode op, const std::string& payload) {
    muxchat::wire::Buffer b;
    muxchat::wire::AppendWsServerFrame(op, payload, &b);
    return std::string(b.View());
  };
  const std::string client_role("\xff\xff\x85", 3);  // cap 65535 % 70000, client role, seed 5
  Write(ws, "client_session", client_role + server(WsOpcode::kBinary, body) + server(WsOpcode::kPing, "k") +
                                  server(WsOpcode::kBinary, std::string(130, 'q')) +
                                  server(WsOpcode::kClose, std::string("\x03\xe9", 2)));
  Write(ws, "client_masked", client_role + frame(WsOpcode::kBinary, "masked"));
  Write(ws, "big_64bit_length", cap64k + frame(WsOpcode::kBinary, std::string(65536, 'z')));

  // cluster_payload: a room channel's payload as the publish script writes it
  // (src/server/cluster_message.h): fields "<length>:<bytes>".
  const auto cp = root / "cluster_payload";
  auto field = [](const std::string& v) { return std::to_string(v.size()) + ":" + v; };
  auto message = [&](const std::string& seq, const std::string& text, const std::string& cmid = "0") {
    return field(seq) + field("1764480000123456") + field("alice") + field("0") + field(cmid) + field(text);
  };
  Write(cp, "one", "m1;" + message("1", "hello"));
  Write(cp, "batch", "mb1;" + field("3") + message("4", "a") + message("5", std::string("b\0:c", 5), "77") +
                         message("9", std::string(300, 't')));
  Write(cp, "batch_of_one", "mb1;" + field("1") + message("12", ""));
  auto message_body = [&](const std::string& text) {
    return field("alice") + field("0") + field("0") + field(text);
  };
  Write(cp, "batch2", "mb2;" + field("3") + field("40") + field("1764480000123456") + message_body("a") +
                          message_body(std::string("b\0:c", 5)) + message_body(std::string(300, 't')));
  Write(cp, "batch2_count_too_low",
        "mb2;" + field("1") + field("40") + field("17") + message_body("a") + message_body("b"));
  Write(cp, "count_too_high", "mb1;" + field("3") + message("4", "a") + message("5", "b"));
  Write(cp, "not_ascending", "mb1;" + field("2") + message("5", "a") + message("5", "b"));
  Write(cp, "trailing", "m1;" + message("1", "x") + "1:y");
  return 0;
}
