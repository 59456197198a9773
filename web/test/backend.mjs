// The server the browser test talks to. With MUXCHATD naming a muxchatd
// binary: that real server on 127.0.0.1 port 0 (the browsers' /ws and the
// CLI's TCP on the same port). It serves the page itself when it has
// --web_root; until then the page comes from a tiny static server here and
// muxchatd is told to accept that page's Origin (--allowed_origins). Without
// MUXCHATD: test/mock_server.mjs, page and chat on one port.
//   backend.pageUrl          where the browsers open the page
//   backend.sameOrigin       the page comes from the chat port itself (the mock,
//                            or muxchatd with --web_root), with the page's CSP
//   backend.chatPort         muxchatd's (or the mock's) port, for the CLI
//   backend.restart(fn)      drops the server, runs fn while it is down, and
//                            starts it again on the same port
//   backend.dropConnections  (mock only) cuts connections, keeps the rooms
//   backend.stop()
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { CSP, MockChatServer, staticHandler } from "./mock_server.mjs";

export async function startBackend(dist) {
  if (process.env.MUXCHATD) return startMuxchatd(process.env.MUXCHATD, dist);
  const mock = new MockChatServer(dist);
  const port = await mock.start(0);
  return {
    kind: "mock",
    sameOrigin: true,
    pageUrl: `http://127.0.0.1:${port}/`,
    chatPort: port,
    async restart(whileDown) {
      await mock.stop();
      await whileDown();
      await mock.start(port);
    },
    dropConnections: () => mock.dropConnections(),
    stop: () => mock.stop(),
  };
}

function launch(binary, listen, extraArgs) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [`--listen=${listen}`, "--log_level=warn", "--memory", ...extraArgs], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`muxchatd exited with ${code} before it was ready`)));
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const m = /muxchatd listening on .*:(\d+)\s*$/.exec(line);
      if (m) resolve({ child, port: Number(m[1]) });
    });
  });
}

function hasFlag(binary, flag) {
  try {
    return execFileSync(binary, ["--helpfull"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).includes(`--${flag}`);
  } catch (e) {
    return `${e.stdout ?? ""}`.includes(`--${flag}`);
  }
}

async function startMuxchatd(binary, dist) {
  let pageServer = null;
  let chatPortNow = 0;
  let args;
  if (hasFlag(binary, "web_root")) {
    args = [`--web_root=${dist}`];
  } else {
    pageServer = createServer(staticHandler(dist, () => CSP.replace("connect-src 'self'", `connect-src 'self' ws://127.0.0.1:${chatPortNow}`)));
    await new Promise((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
    args = [`--allowed_origins=http://127.0.0.1:${pageServer.address().port}`];
  }
  let { child, port } = await launch(binary, "127.0.0.1:0", args);
  chatPortNow = port;
  const pageUrl = pageServer
    ? `http://127.0.0.1:${pageServer.address().port}/?ws=${encodeURIComponent(`ws://127.0.0.1:${port}/ws`)}`
    : `http://127.0.0.1:${port}/`;
  const kill = (c) =>
    new Promise((resolve) => {
      if (c.exitCode !== null) return resolve();
      c.removeAllListeners("exit");
      c.once("exit", resolve);
      c.kill("SIGKILL"); // a crash: no shutdown notice, as in a dropped network
    });
  return {
    kind: "muxchatd",
    sameOrigin: !pageServer,
    pageUrl,
    chatPort: port,
    async restart(whileDown) {
      await kill(child);
      await whileDown();
      ({ child } = await launch(binary, `127.0.0.1:${port}`, args));
    },
    async stop() {
      await kill(child);
      if (pageServer) await new Promise((resolve) => pageServer.close(resolve));
    },
  };
}
