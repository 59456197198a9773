// Smoke test of the Socket.IO cluster peer: a client on node A publishes to
// a room whose only member is a client on node C; the message must arrive
// through Redis. Publishes again every 100 ms until it does (the adapter
// subscribes to Redis asynchronously after start-up), at most 5 s.
//
//   node cluster_smoke.js PORT_A PORT_C     exit 0 and "socketio A->C ok" on success
"use strict";
const { io } = require("socket.io-client");

const [portA, portC] = process.argv.slice(2).map(Number);
const opts = { transports: ["websocket"], reconnection: false };
const a = io(`http://127.0.0.1:${portA}`, opts);
const c = io(`http://127.0.0.1:${portC}`, opts);
const room = `smoke-${process.pid}`;
const started = Date.now();
let tries = 0;
let timer = null;

function done(code, line) {
  clearInterval(timer);
  console.log(line);
  a.close();
  c.close();
  process.exit(code);
}

c.on("connect", () => c.emit("join", room));
c.on("joined", () => {
  const publish = () => {
    if (Date.now() - started > 5000) done(1, `socketio A->C FAILED: nothing after ${tries} publishes`);
    tries++;
    a.emit("pub", room, `hello from A #${tries}`);
  };
  if (a.connected) publish();
  else a.on("connect", publish);
  timer = setInterval(publish, 100);
});
c.on("msg", (payload) => done(0, `socketio A->C ok: "${payload}" after ${tries} publish(es), ${Date.now() - started} ms`));
for (const s of [a, c]) s.on("connect_error", (err) => done(1, `socketio A->C FAILED: ${err.message}`));
