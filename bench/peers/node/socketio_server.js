// Fan-out server on Socket.IO 4 rooms, the Node peer muxchat-bench's target
// "socketio" talks to (bench/compare --ws). One process, one thread, loopback.
//
//   node socketio_server.js PORT          prints "listening on 127.0.0.1:PORT"
//
// Clients connect with the WebSocket transport only
// (/socket.io/?EIO=4&transport=websocket) to the main namespace. Events:
//   "join" (room)          -> socket.join(room), then emits "joined" to it
//   "pub"  (room, payload) -> socket.to(room).emit("msg", payload): every
//                             member of the room but the sender
// Payloads travel as JSON strings in text packets (42["msg","..."]), the
// plain Socket.IO way for string data. Defaults otherwise (no compression
// over WebSocket: Socket.IO 4's perMessageDeflate default is off).
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const server = http.createServer();
const io = new Server(server, { serveClient: false, transports: ["websocket"] });

io.on("connection", (socket) => {
  socket.on("join", (room) => {
    socket.join(room);
    socket.emit("joined", room);
  });
  socket.on("pub", (room, payload) => {
    socket.to(room).emit("msg", payload);
  });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
