// Unit tests for the page's protocol code, in node without a browser: the
// framing rule (one protobuf per message, no length prefix) against an
// independent decoder (protobufjs reflection on proto/muxchat.proto), the
// reconnect backoff, and ChatConnection's request matching and FIFO rule for
// sends, over a fake WebSocket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { ChatConnection, backoffDelay } from "../src/connection.js";
import { Status, decodeServerFrame, encodeClientFrame, num } from "../src/proto.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = protobuf.loadSync(join(here, "../../proto/muxchat.proto"));
const RefClientFrame = root.lookupType("muxchat.v1.ClientFrame");
const RefServerFrame = root.lookupType("muxchat.v1.ServerFrame");
const serverBytes = (obj) => RefServerFrame.encode(RefServerFrame.create(obj)).finish();

test("a ClientFrame is the bare protobuf, no length prefix", () => {
  const bytes = encodeClientFrame({ requestId: 7, roomId: 3, sendMessage: { text: "hi" } });
  const back = RefClientFrame.decode(bytes);
  assert.equal(back.body, "sendMessage");
  assert.equal(num(back.requestId), 7);
  assert.equal(num(back.roomId), 3);
  assert.equal(back.sendMessage.text, "hi");
  // Field 1 (request_id, varint) comes first: tag byte 0x08, not a length.
  assert.equal(bytes[0], 0x08);
});

test("a ServerFrame decodes with 64-bit fields as numbers", () => {
  const f = decodeServerFrame(serverBytes({ roomId: 2 ** 40, chatMessage: { sender: "a", text: "b", seq: 5, timestampUnixMicros: 1.7e15 } }));
  assert.equal(num(f.roomId), 2 ** 40);
  assert.equal(num(f.chatMessage.seq), 5);
  assert.equal(num(f.chatMessage.timestampUnixMicros), 1.7e15);
});

test("garbage is not a ServerFrame", () => {
  assert.throws(() => decodeServerFrame(new Uint8Array([0xff, 0xff, 0xff])));
});

test("backoff doubles from 500 ms to a 15 s cap", () => {
  const mid = () => 0.5;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 10].map((a) => backoffDelay(a, mid)), [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
});

test("backoff jitter stays within 20%", () => {
  assert.equal(backoffDelay(0, () => 0), 400);
  assert.equal(backoffDelay(0, () => 0.999999), 600);
  assert.equal(backoffDelay(9, () => 0.999999), 18000);
});

// A WebSocket that records what is sent and lets the test play the server.
class FakeSocket {
  static OPEN = 1;
  static last = null;
  constructor(url) {
    this.url = url;
    this.readyState = 1;
    this.sent = [];
    FakeSocket.last = this;
  }
  send(bytes) {
    this.sent.push(RefClientFrame.decode(bytes));
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  serve(obj) {
    // A copy in its own ArrayBuffer, as a browser delivers it (node Buffers share a pool).
    this.onmessage({ data: new Uint8Array(serverBytes(obj)).buffer });
  }
}

function connect() {
  globalThis.WebSocket = FakeSocket;
  const seen = { states: [], events: [], failed: [] };
  const conn = new ChatConnection("ws://test/ws", "alice", {
    onState: (s) => seen.states.push(s),
    onEvent: (f) => seen.events.push(f),
    onSendFailed: (roomId, text, reply) => seen.failed.push({ roomId, text, status: reply ? reply.status : null }),
  });
  conn.start();
  const ws = FakeSocket.last;
  ws.onopen();
  const hello = ws.sent[0];
  assert.equal(hello.body, "hello");
  ws.serve({ requestId: hello.requestId, welcome: { nickname: "alice", limits: {} } });
  return { conn, ws, seen };
}

test("Hello is sent on open and Welcome opens the connection", async () => {
  const { conn, seen } = connect();
  await new Promise((r) => setImmediate(r));
  assert.equal(conn.isOpen, true);
  assert.deepEqual(seen.states, ["connecting", "open"]);
  conn.stop();
});

test("a reply resolves the request with the same request_id", async () => {
  const { conn, ws } = connect();
  await new Promise((r) => setImmediate(r));
  const p = conn.request({ listRooms: {} });
  const req = ws.sent.at(-1);
  ws.serve({ requestId: num(req.requestId) + 100, reply: { status: Status.SUCCESS, message: "other" } }); // not ours
  ws.serve({ requestId: req.requestId, reply: { status: Status.SUCCESS, totalRooms: 4 } });
  const f = await p;
  assert.equal(f.reply.totalRooms, 4);
  conn.stop();
});

test("server pings are answered with the same nonce", async () => {
  const { conn, ws, seen } = connect();
  await new Promise((r) => setImmediate(r));
  ws.serve({ ping: { nonce: 99 } });
  const pong = ws.sent.at(-1);
  assert.equal(pong.body, "pong");
  assert.equal(num(pong.pong.nonce), 99);
  assert.equal(seen.events.length, 0);
  conn.stop();
});

test("own echoes acknowledge sends in order; a refused send and unacknowledged ones come back", async () => {
  const { conn, ws, seen } = connect();
  await new Promise((r) => setImmediate(r));
  conn.sendMessage(5, "one");
  conn.sendMessage(5, "two");
  conn.sendMessage(5, "three");
  const [one, two] = ws.sent.slice(-3);
  ws.serve({ roomId: 5, chatMessage: { sender: "alice", text: "one", seq: 1 } });
  ws.serve({ requestId: two.requestId, reply: { status: Status.FAILURE_RATE_LIMITED, message: "slow down" } });
  assert.deepEqual(seen.failed, [{ roomId: 5, text: "two", status: Status.FAILURE_RATE_LIMITED }]);
  assert.equal(num(one.requestId) > 0, true);
  // "three" is still in flight when the socket drops: it is handed back.
  ws.close();
  assert.deepEqual(seen.failed.at(-1), { roomId: 5, text: "three", status: null });
  assert.equal(seen.failed.length, 2);
  conn.stop();
});

test("sending while disconnected throws, so the page keeps the text", () => {
  globalThis.WebSocket = FakeSocket;
  const conn = new ChatConnection("ws://test/ws", "bob", { onState() {}, onEvent() {}, onSendFailed() {} });
  assert.throws(() => conn.sendMessage(1, "kept"));
});
