// Fan-out server on the "ws" package, the Node peer muxchat-bench's target
// "nodews" talks to (bench/compare --ws). One process, one thread, loopback.
//
//   node ws_broadcast_server.js PORT      prints "listening on 127.0.0.1:PORT"
//
// Protocol: connect to ws://127.0.0.1:PORT/ROOM?role=sub (or role=pub); the
// server answers the text message "ready" once the connection is a member of
// ROOM (subscribers) or may publish to it (publishers). Every message a
// publisher sends, binary or text, is sent to each subscriber of its room as
// it came, with the loop from the ws README's broadcast example (one send per
// subscriber). No compression (ws's server default).
"use strict";
const http = require("http");
const { WebSocketServer } = require("ws");

const port = Number(process.argv[2] || 0);
const rooms = new Map(); // room name -> Set of subscriber sockets

const server = http.createServer((req, res) => {
  res.writeHead(426).end();
});
const wss = new WebSocketServer({ server, maxPayload: 1 << 20 });

wss.on("connection", (ws, req) => {
  const url = new URL(req.url, "http://x");
  const room = decodeURIComponent(url.pathname.slice(1));
  if (url.searchParams.get("role") === "pub") {
    ws.on("message", (data, isBinary) => {
      const members = rooms.get(room);
      if (!members) return;
      for (const client of members) {
        if (client.readyState === 1) client.send(data, { binary: isBinary });
      }
    });
  } else {
    let members = rooms.get(room);
    if (!members) rooms.set(room, (members = new Set()));
    members.add(ws);
    ws.on("close", () => {
      members.delete(ws);
      if (members.size === 0 && rooms.get(room) === members) rooms.delete(room);
    });
  }
  ws.on("error", () => {});
  ws.send("ready");
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
