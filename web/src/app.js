// The muxchat page: nickname, room list, one tab per joined room, history on
// join, presence, drafts kept per room, reconnect with backoff. All network
// text reaches the DOM through textContent (dom.js), never as HTML.
import { ChatConnection } from "./connection.js";
import { clear, el } from "./dom.js";
import { Status, num, statusName } from "./proto.js";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  me: $("me"),
  login: $("login"),
  loginForm: $("login-form"),
  nick: $("nick"),
  loginError: $("login-error"),
  app: $("app"),
  roomsToggle: $("rooms-toggle"),
  refresh: $("refresh"),
  roomList: $("room-list"),
  roomListNote: $("room-list-note"),
  createForm: $("create-form"),
  createName: $("create-name"),
  tabs: $("tabs"),
  roomHead: $("room-head"),
  log: $("log"),
  composer: $("composer"),
  input: $("input"),
  send: $("send"),
};

const NICK_KEY = "muxchat.nickname";
const encoder = new TextEncoder();

let conn = null;
let limits = null; // Welcome.limits
let roomInfo = new Map(); // lower-case name -> RoomInfo from the last ListRooms
const rooms = new Map(); // room id -> Room (joined, or closed but still shown)
let active = null; // the Room shown, or null for the lobby
const lobby = { log: el("div", { class: "room-log", dataset: { room: "lobby" } }), draft: "" };
ui.log.append(lobby.log);

// ------------------------------------------------------------------ helpers

function wsUrl() {
  const override = new URLSearchParams(location.search).get("ws");
  if (override) return override;
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

function sameName(a, b) {
  return a.toLowerCase() === b.toLowerCase();
}

function hue(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
  return h;
}

function timeOf(micros) {
  const d = micros ? new Date(micros / 1000) : new Date();
  return {
    short: d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    full: d.toLocaleString(),
    iso: d.toISOString(),
  };
}

function scrolledToBottom(log) {
  return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40 || log !== activeLog();
}

function activeLog() {
  return active ? active.log : lobby.log;
}

function append(log, node) {
  const stick = scrolledToBottom(log);
  log.append(node);
  if (stick && log === activeLog()) ui.log.scrollTop = ui.log.scrollHeight;
}

/** A system line (kind: "info" | "presence" | "drop" | "ok" | "warn"). */
function sysLine(log, text, kind = "info") {
  const t = timeOf(0);
  append(
    log,
    el("div", { class: `line sys ${kind}`, dataset: { kind } },
      el("time", { datetime: t.iso, title: t.full }, t.short),
      el("span", { class: "text" }, text)),
  );
}

function everywhere(text, kind) {
  sysLine(lobby.log, text, kind);
  for (const r of rooms.values()) if (!r.closed) sysLine(r.log, text, kind);
}

function setStatus(state, text) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

// -------------------------------------------------------------------- rooms

class Room {
  constructor(id, name) {
    this.id = id;
    this.name = name;
    this.members = 0;
    this.lastSeq = 0;
    this.replayLeft = 0;
    this.closed = false;
    this.draft = "";
    this.unread = 0;
    this.log = el("div", { class: "room-log", dataset: { room: name }, hidden: true });
    this.tab = el("div", { class: "tab", role: "tab", dataset: { room: name } });
    ui.log.append(this.log);
    ui.tabs.append(this.tab);
    this.renderTab();
  }

  renderTab() {
    clear(this.tab);
    this.tab.classList.toggle("closed", this.closed);
    this.tab.classList.toggle("active", active === this);
    this.tab.setAttribute("aria-selected", String(active === this));
    this.tab.append(
      el("button", { class: "tab-name", type: "button", onclick: () => activate(this) }, this.name,
        this.unread ? el("span", { class: "badge", "aria-label": "unread" }, String(this.unread)) : null),
      el("button", {
        class: "tab-close",
        type: "button",
        title: this.closed ? "Close tab" : `Leave ${this.name}`,
        "aria-label": this.closed ? "Close tab" : `Leave ${this.name}`,
        onclick: () => leave(this),
      }, "×"),
    );
  }

  get owner() {
    const info = roomInfo.get(this.name.toLowerCase());
    return info ? info.owner : "";
  }
}

function activate(room) {
  const prev = active;
  if (prev) prev.draft = ui.input.value;
  else lobby.draft = ui.input.value;
  active = room;
  for (const r of rooms.values()) {
    r.log.hidden = r !== room;
    r.renderTab();
  }
  lobby.log.hidden = room !== null;
  if (room) {
    room.unread = 0;
    room.renderTab();
  }
  ui.input.value = room ? room.draft : lobby.draft;
  autosize();
  renderRoomHead();
  renderComposer();
  ui.log.scrollTop = ui.log.scrollHeight;
  document.body.classList.remove("rooms-open");
  ui.roomsToggle.setAttribute("aria-expanded", "false");
}

function renderRoomHead() {
  clear(ui.roomHead);
  // Element.append would print a null as "null": drop the absent parts.
  const put = (...parts) => ui.roomHead.append(...parts.filter(Boolean));
  if (!active) {
    put(el("span", { class: "room-title" }, "Lobby"),
      el("span", { class: "room-meta" }, "pick a room or create one"));
    return;
  }
  const r = active;
  const me = conn ? conn.nickname : "";
  put(
    el("span", { class: "room-title" }, r.name),
    el("span", { class: "room-meta", dataset: { testid: "members" } },
      r.closed ? "closed" : `${r.members} ${r.members === 1 ? "member" : "members"}`),
    r.owner ? el("span", { class: "room-meta" }, `owner ${r.owner}`) : null,
    !r.closed && r.owner && me && sameName(r.owner, me)
      ? el("button", { class: "danger", type: "button", onclick: () => deleteRoom(r) }, "Delete room")
      : null,
  );
}

function renderComposer() {
  const canType = active !== null && !active.closed;
  ui.input.disabled = !canType;
  ui.input.placeholder = !active
    ? "Join a room to chat"
    : active.closed
      ? "This room is closed"
      : `Message ${active.name}`;
  ui.send.disabled = !canType || !(conn && conn.isOpen);
}

function renderRoomList() {
  clear(ui.roomList);
  const list = [...roomInfo.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const info of list) {
    const joined = [...rooms.values()].some((r) => !r.closed && sameName(r.name, info.name));
    const n = num(info.memberCount);
    ui.roomList.append(
      el("li", {},
        el("button", {
          class: `room-item${joined ? " joined" : ""}`,
          type: "button",
          dataset: { room: info.name },
          onclick: () => join(info.name),
        },
        el("span", { class: "room-name" }, info.name),
        el("span", { class: "room-count", title: `owner ${info.owner}` }, `${n} ${n === 1 ? "member" : "members"}`))),
    );
  }
  if (list.length === 0) ui.roomListNote.textContent = "No rooms yet. Create one below.";
}

async function refreshRooms() {
  if (!conn || !conn.isOpen) return;
  try {
    const f = await conn.request({ listRooms: {} });
    const reply = f.reply;
    roomInfo = new Map(reply.rooms.map((r) => [r.name.toLowerCase(), r]));
    const total = reply.totalRooms || reply.rooms.length;
    ui.roomListNote.textContent = total > reply.rooms.length ? `${reply.rooms.length} of ${total} rooms shown` : "";
    renderRoomList();
    renderRoomHead();
  } catch (e) {
    /* dropped: the reconnect refreshes */
  }
}

function findRoomByName(name) {
  for (const r of rooms.values()) if (sameName(r.name, name)) return r;
  return null;
}

async function join(name, { rejoin = false } = {}) {
  const existing = findRoomByName(name);
  if (existing && !existing.closed && !rejoin) {
    activate(existing);
    return;
  }
  if (!conn || !conn.isOpen) return;
  let f;
  try {
    f = await conn.request({ joinRoom: { name } });
  } catch (e) {
    return;
  }
  const reply = f.reply;
  if (reply.status !== Status.SUCCESS) {
    if (existing && rejoin) {
      existing.closed = true;
      sysLine(existing.log, `Could not rejoin ${name}: ${reply.message || statusName(reply.status)}`, "warn");
      existing.renderTab();
      if (active === existing) {
        renderRoomHead();
        renderComposer();
      }
    } else {
      sysLine(activeLog(), `Could not join ${name}: ${reply.message || statusName(reply.status)}`, "warn");
    }
    return;
  }
  const id = num(reply.roomId);
  let room = existing;
  if (room && room.id !== id) {
    // Same name, new room (the server restarted or it was recreated): its
    // seq numbers start again.
    rooms.delete(room.id);
    room.lastSeq = 0;
    sysLine(room.log, "This is a new room with the same name; earlier messages above are from the old one.", "info");
  }
  if (!room) room = new Room(id, reply.roomName || name);
  room.id = id;
  room.name = reply.roomName || room.name;
  room.closed = false;
  room.members = num(reply.memberCount);
  room.replayLeft = num(reply.historyCount);
  room.rejoining = rejoin;
  rooms.set(id, room);
  if (room.replayLeft === 0) joinedLine(room, rejoin);
  else if (!rejoin) sysLine(room.log, "Earlier messages", "info");
  room.renderTab();
  if (!rejoin || active === room) activate(room);
  refreshRooms();
}

function joinedLine(room, rejoin) {
  const m = `${room.members} ${room.members === 1 ? "member" : "members"}`;
  sysLine(room.log, rejoin ? `Back in ${room.name} (${m})` : `You joined ${room.name} (${m})`, "presence");
}

async function leave(room) {
  if (!room.closed && conn && conn.isOpen) {
    try {
      await conn.request({ leaveRoom: {} }, room.id);
    } catch (e) {
      /* leaving anyway */
    }
  }
  rooms.delete(room.id);
  room.log.remove();
  room.tab.remove();
  if (active === room) {
    active = null;
    const next = [...rooms.values()].pop() ?? null;
    activate(next);
  }
  refreshRooms();
}

async function create(name) {
  if (!conn || !conn.isOpen) return false;
  let f;
  try {
    f = await conn.request({ createRoom: { name } });
  } catch (e) {
    return false;
  }
  const r = f.reply;
  if (r.status !== Status.SUCCESS) {
    sysLine(activeLog(), `Could not create ${name}: ${r.message || statusName(r.status)}`, "warn");
    return false;
  }
  await refreshRooms();
  await join(r.roomName || name);
  return true;
}

async function deleteRoom(room) {
  if (!conn || !conn.isOpen) return;
  if (!window.confirm(`Delete ${room.name} for everyone in it?`)) return;
  try {
    const f = await conn.request({ deleteRoom: {} }, room.id);
    if (f.reply.status !== Status.SUCCESS) {
      sysLine(room.log, `Could not delete: ${f.reply.message || statusName(f.reply.status)}`, "warn");
    }
  } catch (e) {
    /* dropped */
  }
  refreshRooms();
}

// ------------------------------------------------------------------- events

function chatLine(room, m) {
  const seq = num(m.seq);
  if (seq !== 0 && seq <= room.lastSeq) return; // replayed again after a rejoin
  room.lastSeq = Math.max(room.lastSeq, seq);
  const t = timeOf(num(m.timestampUnixMicros));
  const own = conn && m.sender === conn.nickname;
  append(
    room.log,
    el("div", {
      class: `line msg${own ? " own" : ""}${m.replay ? " replay" : ""}`,
      dataset: { seq: String(seq) },
      style: `--hue:${hue(m.sender)}`,
    },
    el("time", { datetime: t.iso, title: t.full }, t.short),
    el("span", { class: "who" }, m.sender),
    el("span", { class: "text" }, m.text)),
  );
  if (room !== active && !m.replay) {
    room.unread++;
    room.renderTab();
  }
}

// Keeps the sidebar's count for a joined room current between refreshes.
function setMembers(room, n) {
  room.members = n;
  const info = roomInfo.get(room.name.toLowerCase());
  if (info) {
    info.memberCount = n;
    renderRoomList();
  }
  if (room === active) renderRoomHead();
}

function onEvent(f) {
  const room = rooms.get(num(f.roomId));
  if (f.chatMessage && room) {
    chatLine(room, f.chatMessage);
    if (f.chatMessage.replay && room.replayLeft > 0 && --room.replayLeft === 0) joinedLine(room, room.rejoining);
  } else if (f.memberJoined && room) {
    setMembers(room, f.memberJoined.memberCount);
    sysLine(room.log, `${f.memberJoined.nickname} joined (${room.members} ${room.members === 1 ? "member" : "members"})`, "presence");
  } else if (f.memberLeft && room) {
    setMembers(room, f.memberLeft.memberCount);
    const why = f.memberLeft.reason && f.memberLeft.reason !== "left" ? `, ${f.memberLeft.reason}` : "";
    sysLine(room.log, `${f.memberLeft.nickname} left${why} (${room.members} ${room.members === 1 ? "member" : "members"})`, "presence");
  } else if (f.roomClosed && room) {
    room.closed = true;
    const by = f.roomClosed.closedBy ? ` by ${f.roomClosed.closedBy}` : "";
    sysLine(room.log, `Room ${f.roomClosed.name || room.name} was closed${by}: ${f.roomClosed.reason || "closed"}`, "warn");
    room.renderTab();
    if (room === active) {
      renderRoomHead();
      renderComposer();
    }
    refreshRooms();
  } else if (f.shutdown) {
    everywhere(`The server is shutting down${f.shutdown.reason ? `: ${f.shutdown.reason}` : ""}`, "warn");
  } else if (f.error) {
    everywhere(`Server error: ${f.error.message || statusName(f.error.status)}`, "warn");
  }
}

function onSendFailed(roomId, text, reply) {
  const room = rooms.get(roomId);
  const log = room ? room.log : activeLog();
  const why = reply ? reply.message || statusName(reply.status) : "connection lost before it was delivered";
  sysLine(log, `Not sent (${why}): ${text}`, "warn");
  // Give the text back so it can be sent again, unless something new is typed.
  if (room === active && ui.input.value === "") {
    ui.input.value = text;
    autosize();
  } else if (room && room !== active && room.draft === "") {
    room.draft = text;
  }
}

let droppedOnce = false;

function onState(state, info) {
  if (state === "connecting") {
    setStatus("connecting", droppedOnce ? "reconnecting…" : "connecting…");
  } else if (state === "retrying") {
    const s = Math.max(1, Math.round(info.delayMs / 1000));
    setStatus("offline", `offline · retry in ${s} s`);
    if (conn && conn.everOpened && !droppedOnce) {
      droppedOnce = true;
      everywhere("Connection lost. Reconnecting…", "drop");
    }
  } else if (state === "open") {
    limits = info.welcome.limits;
    setStatus("online", "connected");
    ui.me.textContent = info.welcome.nickname;
    showApp();
    if (info.reconnect) {
      droppedOnce = false;
      everywhere("Reconnected.", "ok");
      for (const r of [...rooms.values()]) if (!r.closed) join(r.name, { rejoin: true });
    } else {
      sysLine(lobby.log, `Connected as ${info.welcome.nickname}. Pick a room or create one.`, "ok");
    }
    refreshRooms();
    renderComposer();
  } else if (state === "stopped") {
    setStatus("idle", "not connected");
    if (!conn || !conn.everOpened) {
      ui.loginError.textContent = info.reason;
      ui.login.hidden = false;
      ui.app.hidden = true;
      conn = null;
    }
  }
  renderComposer();
}

function showApp() {
  ui.login.hidden = true;
  ui.app.hidden = false;
}

// -------------------------------------------------------------------- input

function autosize() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
}

function submit() {
  const text = ui.input.value;
  if (text.trim() === "" || !active || active.closed) return;
  const max = limits ? limits.maxTextBytes : 16384;
  if (encoder.encode(text).length > max) {
    sysLine(active.log, `That message is longer than the server's ${max}-byte limit; it is still in the box.`, "warn");
    return;
  }
  try {
    conn.sendMessage(active.id, text);
  } catch (e) {
    sysLine(active.log, "Not connected: your message stays in the box until the connection is back.", "warn");
    return;
  }
  ui.input.value = "";
  active.draft = "";
  autosize();
}

ui.composer.addEventListener("submit", (e) => {
  e.preventDefault();
  submit();
});
ui.input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
ui.input.addEventListener("input", () => {
  if (active) active.draft = ui.input.value;
  else lobby.draft = ui.input.value;
  autosize();
});

ui.loginForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const nick = ui.nick.value.trim();
  if (!nick) return;
  ui.loginError.textContent = "";
  try {
    localStorage.setItem(NICK_KEY, nick);
  } catch (err) {
    /* private mode */
  }
  conn = new ChatConnection(wsUrl(), nick, { onState, onEvent, onSendFailed });
  conn.start();
});

ui.createForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = ui.createName.value.trim();
  if (!name) return;
  if (await create(name)) ui.createName.value = "";
});

ui.refresh.addEventListener("click", refreshRooms);
ui.status.addEventListener("click", () => conn && conn.retryNow());
ui.roomsToggle.addEventListener("click", () => {
  const open = document.body.classList.toggle("rooms-open");
  ui.roomsToggle.setAttribute("aria-expanded", String(open));
  if (open) refreshRooms();
});

try {
  ui.nick.value = localStorage.getItem(NICK_KEY) ?? "";
} catch (err) {
  /* private mode */
}
activate(null);
