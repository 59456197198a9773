// Test-only stand-in for muxchatd, so the page can be tested in a browser
// before the server speaks WebSocket: an HTTP server for web/dist plus a `ws`
// WebSocket server at /ws speaking our protobuf (loaded by reflection from
// proto/muxchat.proto, independently of the page's generated code), one
// ClientFrame/ServerFrame per binary message. It keeps the chat rules the page
// relies on (PROTOCOL.md 5, 7, 8): Hello/Welcome, unique nicknames, create,
// join with history replay, leave, delete with room_closed, ListRooms sorted
// by name, seq per room, own echo as acknowledgement. Like muxchatd it serves
// everything on one port: a connection whose first bytes are an HTTP method
// goes to the HTTP/WebSocket side, any other to the TCP protocol (4-byte
// big-endian length + ClientFrame), so the muxchat CLI can join the browsers.
// stop() drops every connection and forgets all state, as a restarted
// muxchatd would.
import { createServer as createNetServer } from "node:net";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { WebSocketServer } from "ws";

const here = dirname(fileURLToPath(import.meta.url));
const root = protobuf.loadSync(join(here, "../../proto/muxchat.proto"));
const ClientFrame = root.lookupType("muxchat.v1.ClientFrame");
const ServerFrame = root.lookupType("muxchat.v1.ServerFrame");
const Status = root.lookupEnum("muxchat.v1.Status").values;

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

const toNum = (v) => (v == null ? 0 : typeof v === "number" ? v : v.toNumber ? v.toNumber() : Number(v));

/** Serves `dir` over HTTP: GET of files only, "/" is index.html. */
export function staticHandler(dir) {
  return async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const rel = normalize(path === "/" ? "/index.html" : path);
    if (rel.includes("..")) {
      res.writeHead(400).end();
      return;
    }
    try {
      const body = await readFile(join(dir, rel));
      res.writeHead(200, { "Content-Type": TYPES[extname(rel)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
    }
  };
}

export class MockChatServer {
  constructor(distDir) {
    this.distDir = distDir;
    this.http = null;
    this.wss = null;
    this.net = null;
    this.sockets = new Set();
    this.port = 0;
  }

  reset() {
    this.clients = new Set();
    this.rooms = new Map(); // id -> {id, name, owner, members:Set<client>, history:[], seq, created}
    this.nextRoomId = 1;
    this.nextSession = 1;
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); resolves with the port. */
  async start(port = 0) {
    this.reset();
    this.http = createServer(staticHandler(this.distDir));
    this.wss = new WebSocketServer({ server: this.http, path: "/ws" });
    this.wss.on("connection", (ws) => this.accept(ws));
    this.net = createNetServer((socket) => this.sniff(socket));
    await new Promise((resolve, reject) => {
      this.net.once("error", reject);
      this.net.listen(port, "127.0.0.1", resolve);
    });
    this.port = this.net.address().port;
    return this.port;
  }

  // The first bytes decide: "GET " or "HEAD" is HTTP, anything else a TCP client.
  sniff(socket) {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (d) => {
      head = Buffer.concat([head, d]);
      if (head.length < 4) return;
      socket.off("data", onData);
      socket.pause();
      const text = head.subarray(0, 4).toString("latin1");
      if (text === "GET " || text === "HEAD") {
        socket.unshift(head);
        this.http.emit("connection", socket);
        socket.resume();
      } else {
        this.acceptTcp(socket, head);
      }
    };
    socket.on("data", onData);
  }

  // A TCP client: the same chat, framed with a 4-byte big-endian length.
  acceptTcp(socket, first) {
    const send = (bytes) => {
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(bytes.length);
      socket.write(Buffer.concat([prefix, bytes]));
    };
    const client = { ws: { readyState: 1, send, close: () => socket.end(), terminate: () => socket.destroy() }, nick: null, rooms: new Set() };
    socket.once("close", () => {
      client.ws.readyState = 3;
      this.disconnect(client);
    });
    this.clients.add(client);
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const n = buf.readUInt32BE(0);
        if (buf.length < 4 + n) break;
        const body = buf.subarray(4, 4 + n);
        buf = buf.subarray(4 + n);
        let frame;
        try {
          frame = ClientFrame.decode(body);
        } catch {
          socket.destroy();
          return;
        }
        this.handle(client, frame);
      }
    };
    onData(first);
    socket.on("data", onData);
    socket.resume();
  }

  /** Cuts every connection (no Close frame) but keeps running, rooms intact: a network blip. */
  dropConnections() {
    for (const c of this.clients) c.ws.terminate();
    for (const s of this.sockets) s.destroy();
  }

  /** Drops every connection at once (no Close frame, like a crash) and stops listening. */
  async stop() {
    for (const c of this.clients) c.ws.terminate();
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.wss.close(resolve));
    await new Promise((resolve) => this.net.close(resolve));
  }

  accept(ws) {
    const client = { ws, nick: null, rooms: new Set() };
    this.clients.add(client);
    ws.on("message", (data, isBinary) => {
      if (!isBinary) {
        ws.close(1003, "binary frames only");
        return;
      }
      let frame;
      try {
        frame = ClientFrame.decode(new Uint8Array(data));
      } catch {
        this.send(client, { error: { status: Status.FAILURE_PROTOCOL, message: "bad frame" } });
        ws.close(1002);
        return;
      }
      this.handle(client, frame);
    });
    ws.on("close", () => this.disconnect(client));
  }

  send(client, frame) {
    if (client.ws.readyState !== 1) return;
    client.ws.send(ServerFrame.encode(ServerFrame.create(frame)).finish());
  }

  reply(client, req, fields) {
    this.send(client, { requestId: req.requestId, roomId: fields.roomId ?? 0, reply: fields });
  }

  findRoom(name, id) {
    if (name) {
      for (const r of this.rooms.values()) if (r.name.toLowerCase() === name.toLowerCase()) return r;
      return null;
    }
    return this.rooms.get(toNum(id)) ?? null;
  }

  handle(c, f) {
    const body = f.body;
    if (!c.nick && body !== "hello") {
      this.send(c, { error: { status: Status.FAILURE_HANDSHAKE, message: "Hello first" } });
      c.ws.close();
      return;
    }
    switch (body) {
      case "hello": {
        const nick = f.hello.nickname;
        if (!nick || /\s/.test(nick) || nick.length > 32) {
          this.reply(c, f, { status: Status.FAILURE_INVALID, message: "invalid nickname" });
          return;
        }
        for (const o of this.clients) {
          if (o.nick && o.nick.toLowerCase() === nick.toLowerCase()) {
            this.reply(c, f, { status: Status.FAILURE_ALREADY_EXISTS, message: `nickname ${nick} is taken` });
            return;
          }
        }
        c.nick = nick;
        this.send(c, {
          requestId: f.requestId,
          welcome: {
            sessionId: this.nextSession++,
            serverVersion: "mock",
            protocolVersion: 1,
            nickname: nick,
            limits: { maxFrameBytes: 65536, maxTextBytes: 16384, maxNameBytes: 64, history: 100 },
          },
        });
        return;
      }
      case "createRoom": {
        const name = f.createRoom.name;
        if (this.findRoom(name)) {
          this.reply(c, f, { status: Status.FAILURE_ALREADY_EXISTS, message: `room ${name} exists` });
          return;
        }
        const r = { id: this.nextRoomId++, name, owner: c.nick, members: new Set(), history: [], seq: 0, created: Date.now() };
        this.rooms.set(r.id, r);
        this.reply(c, f, { status: Status.SUCCESS, roomId: r.id, roomName: r.name, memberCount: 0 });
        return;
      }
      case "joinRoom": {
        const r = this.findRoom(f.joinRoom.name, f.roomId);
        if (!r) {
          this.reply(c, f, { status: Status.FAILURE_NOT_EXISTS, message: "no such room" });
          return;
        }
        if (r.members.has(c)) {
          this.reply(c, f, { status: Status.SUCCESS, roomId: r.id, roomName: r.name, memberCount: r.members.size, lastSeq: r.seq });
          return;
        }
        r.members.add(c);
        c.rooms.add(r);
        this.reply(c, f, {
          status: Status.SUCCESS, roomId: r.id, roomName: r.name, memberCount: r.members.size,
          historyCount: r.history.length, lastSeq: r.seq,
        });
        for (const m of r.history) this.send(c, { roomId: r.id, chatMessage: { ...m, replay: true } });
        for (const o of r.members) {
          if (o !== c) this.send(o, { roomId: r.id, memberJoined: { nickname: c.nick, memberCount: r.members.size } });
        }
        return;
      }
      case "leaveRoom": {
        const r = this.findRoom("", f.roomId);
        if (!r || !r.members.has(c)) {
          this.reply(c, f, { status: r ? Status.FAILURE_NOT_MEMBER : Status.FAILURE_NOT_EXISTS, message: "not in that room" });
          return;
        }
        this.removeMember(r, c, "left");
        this.reply(c, f, { status: Status.SUCCESS, roomId: r.id, roomName: r.name, memberCount: r.members.size });
        return;
      }
      case "deleteRoom": {
        const r = this.findRoom(f.deleteRoom.name, f.roomId);
        if (!r) {
          this.reply(c, f, { status: Status.FAILURE_NOT_EXISTS, message: "no such room" });
          return;
        }
        if (r.owner.toLowerCase() !== c.nick.toLowerCase()) {
          this.reply(c, f, { status: Status.FAILURE_PERMISSION_DENIED, message: "only the owner may delete" });
          return;
        }
        for (const o of r.members) {
          o.rooms.delete(r);
          this.send(o, { roomId: r.id, roomClosed: { name: r.name, closedBy: c.nick, reason: "deleted by owner" } });
        }
        this.rooms.delete(r.id);
        this.reply(c, f, { status: Status.SUCCESS, roomId: r.id, roomName: r.name });
        return;
      }
      case "listRooms": {
        const rooms = [...this.rooms.values()]
          .sort((a, b) => (a.name < b.name ? -1 : 1))
          .map((r) => ({ roomId: r.id, name: r.name, memberCount: r.members.size, owner: r.owner, createdUnixMicros: r.created * 1000, messageCount: r.seq }));
        this.reply(c, f, { status: Status.SUCCESS, rooms, totalRooms: rooms.length });
        return;
      }
      case "sendMessage": {
        const r = this.findRoom("", f.roomId);
        if (!r || !r.members.has(c)) {
          this.reply(c, f, { status: r ? Status.FAILURE_NOT_MEMBER : Status.FAILURE_NOT_EXISTS, message: "not in that room" });
          return;
        }
        const text = f.sendMessage.text;
        if (!text) {
          this.reply(c, f, { status: Status.FAILURE_INVALID, message: "empty text" });
          return;
        }
        const m = { sender: c.nick, text, seq: ++r.seq, timestampUnixMicros: Date.now() * 1000 };
        r.history.push(m);
        if (r.history.length > 100) r.history.shift();
        for (const o of r.members) this.send(o, { roomId: r.id, chatMessage: m });
        return;
      }
      case "ping":
        this.send(c, { requestId: f.requestId, pong: { nonce: f.ping.nonce } });
        return;
      case "pong":
        return;
      default:
        this.reply(c, f, { status: Status.FAILURE_INVALID, message: "empty or unknown request" });
    }
  }

  removeMember(r, c, reason) {
    r.members.delete(c);
    c.rooms.delete(r);
    for (const o of r.members) {
      this.send(o, { roomId: r.id, memberLeft: { nickname: c.nick, memberCount: r.members.size, reason } });
    }
  }

  disconnect(c) {
    if (!this.clients.has(c)) return;
    this.clients.delete(c);
    for (const r of [...c.rooms]) this.removeMember(r, c, "disconnected");
  }
}
