// The page in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): two users chat in a room and see the same messages in
// the same order, a second room in a second tab, history on join, a room
// deleted by its owner, network text shown as text, the dropped-connection
// line and the automatic reconnect. Runs against test/mock_server.mjs (the
// backend is a seam: see backend.mjs; MUXCHATD selects the real server). Screenshots go to
// MUXCHAT_SCREENSHOT_DIR (default web/test-results).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startBackend } from "./backend.mjs";
import { CSP } from "./mock_server.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "../dist");
const shots = process.env.MUXCHAT_SCREENSHOT_DIR ?? join(here, "../test-results");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// The muxchat CLI binary; when set, a CLI user joins the browsers' room.
const CLI = process.env.MUXCHAT_CLI ?? "";
const WAIT_MS = 10000; // every wait is for an event; this only bounds a failure

let backend;
let browser;
let base;
const pages = [];

before(async () => {
  assert.ok(existsSync(join(dist, "index.html")), "web/dist is missing: run scripts/web-build.sh first");
  backend = await startBackend(dist);
  base = backend.pageUrl;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: no sandbox. The rest keeps the browser quiet and
    // off the network (loopback only); playwright gives it an empty profile.
    args: [
      "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  const blocked = [];
  for (const p of pages) blocked.push(...(await p.evaluate(() => window.__csp).catch(() => [])));
  for (const p of pages) await p.context().close().catch(() => {});
  await browser?.close();
  await backend?.stop();
  assert.deepEqual(blocked, [], "the page broke its Content-Security-Policy");
});

async function openUser(nick, viewport = { width: 1280, height: 800 }, extra = {}) {
  const context = await browser.newContext({ viewport, ...extra });
  // Anything the Content-Security-Policy blocks is recorded and fails the run.
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.on("dialog", (d) => d.accept());
  page.on("pageerror", (e) => {
    throw new Error(`page error for ${nick}: ${e.message}`);
  });
  pages.push(page);
  await page.goto(base);
  await page.fill("#nick", nick);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector('#status[data-state="online"]', { timeout: WAIT_MS });
  return page;
}

const roomLog = (room) => `.room-log[data-room="${room}"]`;

/** Waits until the room's chat lines are exactly `expected` (sender: text). */
async function waitForChat(page, room, expected) {
  try {
    await page.waitForFunction(
      ([sel, exp]) => {
        const got = [...document.querySelectorAll(`${sel} .line.msg`)].map(
          (l) => `${l.querySelector(".who").textContent}: ${l.querySelector(".text").textContent}`);
        return JSON.stringify(got) === JSON.stringify(exp);
      },
      [roomLog(room), expected],
      { timeout: WAIT_MS },
    );
  } catch (e) {
    const got = await chatLines(page, room);
    assert.deepEqual(got, expected, "chat lines never matched");
    throw e;
  }
}

function chatLines(page, room) {
  return page.$$eval(`${roomLog(room)} .line.msg`, (ls) =>
    ls.map((l) => `${l.querySelector(".who").textContent}: ${l.querySelector(".text").textContent}`));
}

async function waitForLine(page, room, kind, text) {
  await page.waitForFunction(
    ([sel, k, t]) => [...document.querySelectorAll(`${sel} .line.sys.${k} .text`)].some((e) => e.textContent.includes(t)),
    [room === null ? '.room-log[data-room="lobby"]' : roomLog(room), kind, text],
    { timeout: WAIT_MS },
  );
}

async function say(page, text) {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
}

async function createRoom(page, name) {
  await page.fill("#create-name", name);
  await page.click("#create-form button[type=submit]");
  await page.waitForSelector(`.tab.active[data-room="${name}"]`, { timeout: WAIT_MS });
}

async function joinFromList(page, name) {
  await page.click("#refresh");
  await page.click(`.room-item[data-room="${name}"]`, { timeout: WAIT_MS });
  await page.waitForSelector(`.tab.active[data-room="${name}"]`, { timeout: WAIT_MS });
}

const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold?</b>';
// Every chat line of room "general" so far, in order, as every member sees it.
const general = [];

/** Runs the muxchat CLI against the backend; resolves with {code, stdout}. */
function cli(args, onSpawn = () => {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, ["--port", String(backend.chatPort), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout }));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20000);
    child.once("exit", () => clearTimeout(timer));
    onSpawn(child);
  });
}

test("the page comes from the chat port with its Content-Security-Policy", async (t) => {
  if (!backend.sameOrigin) return t.skip("the page is served by the test, not by the chat server");
  assert.equal(Number(new URL(base).port), backend.chatPort, "page and /ws on one port");
  for (const [path, type] of [["/", "text/html"], ["/app.js", "text/javascript"], ["/style.css", "text/css"]]) {
    const res = await fetch(new URL(path, base));
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get("content-type") ?? "", new RegExp(`^${type}`), path);
    assert.equal(res.headers.get("content-security-policy"), CSP, path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
  }
});

test("two users chat in one room and see the same messages in the same order", async () => {
  const alice = await openUser("alice");
  const bob = await openUser("bob");
  await createRoom(alice, "general");
  // The room list shows the room with its member count before bob joins.
  await bob.click("#refresh");
  await bob.waitForSelector('.room-item[data-room="general"] >> text=1 member', { timeout: WAIT_MS });
  await joinFromList(bob, "general");
  await waitForLine(alice, "general", "presence", "bob joined (2 members)");

  await say(alice, "hello bob");
  await say(bob, "hi alice");
  await say(alice, "how are you?");
  await say(bob, HOSTILE);
  general.push("alice: hello bob", "bob: hi alice", "alice: how are you?", `bob: ${HOSTILE}`);
  await waitForChat(alice, "general", general);
  await waitForChat(bob, "general", general);

  // Network text is text: no script ran, no element was made from it.
  for (const p of [alice, bob]) {
    assert.equal(await p.evaluate(() => window.__pwned), undefined);
    assert.equal(await p.locator(`${roomLog("general")} .text b, ${roomLog("general")} .text img, ${roomLog("general")} .text script`).count(), 0);
  }
  // Timestamps are shown in local time (HH:MM).
  const time = await alice.locator(`${roomLog("general")} .line.msg time`).first().textContent();
  assert.match(time, /\d{1,2}[:.]\d{2}/);
});

test("a taken nickname gets the server's reason and another try", async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(base);
    await page.fill("#nick", "ALICE"); // nicknames compare case-insensitively
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() => document.getElementById("login-error").textContent.length > 0, null, { timeout: WAIT_MS });
    assert.equal(await page.locator("#app").isHidden(), true);
    await page.fill("#nick", "alice2");
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector('#status[data-state="online"]', { timeout: WAIT_MS });
    assert.equal(await page.locator("#me").textContent(), "alice2");
  } finally {
    await context.close();
  }
});

test("a muxchat CLI user chats with the browsers in the same order", { skip: !CLI && "set MUXCHAT_CLI to the muxchat binary" }, async () => {
  const [alice, bob] = pages;
  // dave listens from the CLI for the next three live messages.
  const listening = cli(["--nick", "dave", "--room", "general", "--listen", "--count", "3", "--json"]);
  await waitForLine(alice, "general", "presence", "dave joined");
  await say(alice, "to the CLI, one");
  await waitForChat(bob, "general", [...general, "alice: to the CLI, one"]);
  await say(bob, "to the CLI, two");
  await waitForChat(alice, "general", [...general, "alice: to the CLI, one", "bob: to the CLI, two"]);
  const sent = await cli(["--nick", "erin", "--room", "general", "--send", "from the CLI"]);
  assert.equal(sent.code, 0);
  general.push("alice: to the CLI, one", "bob: to the CLI, two", "erin: from the CLI");
  await waitForChat(alice, "general", general);
  await waitForChat(bob, "general", general);
  const heard = await listening;
  assert.equal(heard.code, 0);
  const lines = heard.stdout.trim().split("\n").map((l) => JSON.parse(l)).map((m) => `${m.sender}: ${m.text}`);
  assert.deepEqual(lines, general.slice(-3));
});

test("a second room opens in a second tab and keeps its own messages", async () => {
  const [alice, bob] = pages;
  await createRoom(bob, "random");
  await joinFromList(alice, "random");
  assert.equal(await alice.locator(".tab").count(), 2);
  await say(alice, "in random");
  await waitForChat(bob, "random", ["alice: in random"]);
  // Switching tabs keeps each room's lines apart and shows an unread badge.
  await say(bob, "unread for alice?");
  await alice.click('.tab[data-room="general"] .tab-name');
  await say(bob, "still random");
  await alice.waitForSelector('.tab[data-room="random"] .badge', { timeout: WAIT_MS });
  await waitForChat(alice, "general", general);
  await waitForChat(alice, "random", ["alice: in random", "bob: unread for alice?", "bob: still random"]);
  await alice.click('.tab[data-room="random"] .tab-name');
});

test("a newcomer gets the room's history on join", async () => {
  const carol = await openUser("carol", { width: 390, height: 844 }, { deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await carol.click("#rooms-toggle");
  await joinFromList(carol, "general");
  await waitForChat(carol, "general", general);
  assert.equal(await carol.locator(`${roomLog("general")} .line.msg.replay`).count(), general.length);
  await waitForLine(carol, "general", "presence", "You joined general (3 members)");
  await say(carol, "hi all, from a phone");
  general.push("carol: hi all, from a phone");
  await waitForChat(pages[0], "general", general);
});

test("screenshots at laptop and phone widths", async () => {
  const [alice, , carol] = pages;
  await alice.click('.tab[data-room="general"] .tab-name');
  await alice.screenshot({ path: join(shots, "web-laptop.png") });
  await carol.screenshot({ path: join(shots, "web-phone.png") });
  await carol.click("#rooms-toggle");
  await carol.waitForSelector("body.rooms-open");
  await carol.waitForTimeout(300); // the drawer's 0.18 s slide-in, for the picture only
  await carol.screenshot({ path: join(shots, "web-phone-rooms.png") });
  await carol.click(`.room-item[data-room="general"]`);
});

test("the room list reads every page of ListRooms", async () => {
  const [alice, bob] = pages;
  for (const name of ["zeta-1", "zeta-2", "zeta-3"]) await createRoom(alice, name);
  await bob.click("#refresh");
  // general, random and three more: three pages of the mock's two.
  await bob.waitForFunction(
    () => [...document.querySelectorAll(".room-item")].map((e) => e.dataset.room).join(",") ===
      "general,random,zeta-1,zeta-2,zeta-3",
    null,
    { timeout: WAIT_MS },
  );
  for (const name of ["zeta-1", "zeta-2", "zeta-3"]) await alice.click(`.tab[data-room="${name}"] .tab-close`);
});

test("a room deleted by its owner shows the closed notice", async () => {
  const [alice, bob] = pages;
  await bob.click('.tab[data-room="random"] .tab-name');
  await bob.click("#room-head button.danger");
  await waitForLine(alice, "random", "warn", "was closed by bob: deleted by owner");
  await alice.waitForSelector('.tab.closed[data-room="random"]', { timeout: WAIT_MS });
  await alice.click('.tab[data-room="random"] .tab-name');
  assert.equal(await alice.locator("#input").isDisabled(), true);
});

test("after a network blip the page rejoins its rooms without repeating messages", { skip: process.env.MUXCHATD && "the mock alone can cut connections and keep its rooms" }, async () => {
  const [alice, bob] = pages;
  await alice.click('.tab[data-room="general"] .tab-name');
  await bob.click('.tab[data-room="general"] .tab-name');
  backend.dropConnections();
  await waitForLine(alice, "general", "drop", "Connection lost");
  await waitForLine(alice, "general", "presence", "Back in general");
  await waitForLine(bob, "general", "presence", "Back in general");
  // History was replayed on the rejoin; no line may appear twice.
  await waitForChat(alice, "general", general);
  await say(bob, "after the blip");
  general.push("bob: after the blip");
  await waitForChat(alice, "general", general);
  await waitForChat(bob, "general", general);
});

test("a dropped connection shows a line, keeps the draft, and reconnects", async () => {
  const [alice] = pages;
  await alice.click('.tab[data-room="general"] .tab-name');
  await alice.fill("#input", "a draft typed before the drop");
  await backend.restart(async () => {
    await waitForLine(alice, "general", "drop", "Connection lost");
    await alice.waitForSelector('#status[data-state="offline"]', { timeout: WAIT_MS });
    // Typing goes on while offline; sending keeps the text in the box.
    await alice.press("#input", "Enter");
    assert.equal(await alice.inputValue("#input"), "a draft typed before the drop");
    await alice.screenshot({ path: join(shots, "web-dropped.png") });
  });
  await alice.waitForSelector('#status[data-state="online"]', { timeout: 20000 });
  await waitForLine(alice, "general", "ok", "Reconnected.");
  assert.equal(await alice.inputValue("#input"), "a draft typed before the drop");
  // The restarted server forgot its rooms: the page says so and carries on.
  await waitForLine(alice, "general", "warn", "Could not rejoin general");
  await createRoom(alice, "after-restart");
  await say(alice, "back");
  await waitForChat(alice, "after-restart", ["alice: back"]);
});
