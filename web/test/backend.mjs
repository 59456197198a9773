// The server the browser test talks to. Today: test/mock_server.mjs (the
// page's protocol over `ws`), because muxchatd does not serve /ws yet. When
// MUXCHATD names a muxchatd binary, that real server is started instead,
// on 127.0.0.1 port 0 with --web_root pointing at web/dist.
//   backend.port             where the page and /ws are served
//   backend.restart(fn)      drops the server, runs fn while it is down, and
//                            starts it again on the same port
//   backend.stop()
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { MockChatServer } from "./mock_server.mjs";

export async function startBackend(dist) {
  if (process.env.MUXCHATD) return startMuxchatd(process.env.MUXCHATD, dist);
  const mock = new MockChatServer(dist);
  const port = await mock.start(0);
  return {
    kind: "mock",
    port,
    async restart(whileDown) {
      await mock.stop();
      await whileDown();
      await mock.start(port);
    },
    // Connections cut, server state kept (only the mock can do this).
    dropConnections: () => mock.dropConnections(),
    stop: () => mock.stop(),
  };
}

function launch(binary, dist, listen) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [`--listen=${listen}`, `--web_root=${dist}`, "--log_level=warn"], {
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

async function startMuxchatd(binary, dist) {
  let { child, port } = await launch(binary, dist, "127.0.0.1:0");
  const kill = (c) =>
    new Promise((resolve) => {
      if (c.exitCode !== null) return resolve();
      c.removeAllListeners("exit");
      c.once("exit", resolve);
      c.kill("SIGKILL"); // a crash: no shutdown notice, as in a dropped network
    });
  return {
    kind: "muxchatd",
    port,
    async restart(whileDown) {
      await kill(child);
      await whileDown();
      ({ child } = await launch(binary, dist, `127.0.0.1:${port}`));
    },
    stop: () => kill(child),
  };
}
