// One node of a Socket.IO 4 cluster: socketio_server.js's rooms and events,
// with @socket.io/redis-adapter so that a broadcast to a room reaches its
// members on every node (each node publishes the packet to Redis, every node
// subscribes). The peer bench/compare --cluster (issue 12) sets next to
// muxchatd nodes sharing rooms through Redis. One process, one thread,
// loopback. Started by bench/peers/cluster_peers.py.
//
//   node socketio_cluster_server.js PORT REDIS_PORT
//       prints "listening on 127.0.0.1:PORT" once its two Redis clients
//       (publish, subscribe) are connected
//
// Events as socketio_server.js: "join" (room) -> joins, answers "joined";
// "pub" (room, payload) -> "msg" (payload) to every member of the room on
// every node but the sender.
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const port = Number(process.argv[2] || 0);
const redisPort = Number(process.argv[3] || 6379);

async function main() {
  const pubClient = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) c.on("error", (err) => console.error(`redis: ${err.message}`));
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const server = http.createServer();
  const io = new Server(server, {
    serveClient: false,
    transports: ["websocket"],
    adapter: createAdapter(pubClient, subClient),
  });
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
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
