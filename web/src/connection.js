// One WebSocket to muxchatd: the Hello handshake, request/reply matching by
// request_id, answers to the server's keepalive pings, and reconnection with
// exponential backoff when the socket drops. Knows nothing about the page.
import { PROTOCOL_VERSION, Status, decodeServerFrame, encodeClientFrame, num } from "./proto.js";

// Backoff before reconnect attempt n (ms): doubling from 500 ms up to 15 s,
// with +-20% jitter so a restarted server is not hit by every page at once.
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;
// A request the server does not answer in this time is failed locally (the
// socket is then most likely dead; the close event follows).
const REQUEST_TIMEOUT_MS = 15000;

export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class ChatConnection {
  /**
   * handlers: {
   *   onState(state, info)  state: "connecting" | "open" | "retrying" | "stopped";
   *                         info: {delayMs} for retrying, {welcome, reconnect} for open,
   *                         {reason} for stopped
   *   onEvent(frame)        every ServerFrame with request_id 0 (and pings handled here)
   *   onSendFailed(roomId, text, reply)  a SendMessage refused by the server
   * }
   */
  constructor(url, nickname, handlers) {
    this.url = url;
    this.nickname = nickname;
    this.h = handlers;
    this.ws = null;
    this.nextRequestId = 1;
    this.pending = new Map(); // request_id -> {resolve, reject, timer}
    this.sends = new Map(); // request_id -> {roomId, text}: SendMessage in flight
    this.sendOrder = new Map(); // roomId -> [request_id...] oldest first (FIFO rule)
    this.attempt = 0;
    this.everOpened = false;
    this.stopped = false;
    this.retryTimer = null;
    this.welcome = null;
  }

  get isOpen() {
    return this.welcome !== null && this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop(reason = "stopped") {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, "bye");
    this.h.onState("stopped", { reason });
  }

  open() {
    this.h.onState("connecting", {});
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleRetry();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => this.hello();
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.dropped();
    };
  }

  async hello() {
    try {
      const reply = await this.request({
        hello: { nickname: this.nickname, clientName: "muxchat-web/0.1", protocolVersion: PROTOCOL_VERSION },
      });
      if (reply.welcome) {
        this.welcome = reply.welcome;
        this.nickname = reply.welcome.nickname;
        const reconnect = this.everOpened;
        this.everOpened = true;
        this.attempt = 0;
        this.h.onState("open", { welcome: reply.welcome, reconnect });
        return;
      }
      const r = reply.reply;
      // A refused nickname on the first try is the user's to fix; on a
      // reconnect our old session may still be registered, so try again.
      if (!this.everOpened) {
        this.stop(r ? r.message || "nickname refused" : "handshake refused");
      } else if (this.ws) {
        this.ws.close(1000, "retry");
      }
    } catch (e) {
      // the socket closed under us: onclose schedules the retry
    }
  }

  dropped() {
    this.welcome = null;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error("connection lost"));
      this.pending.delete(id);
    }
    // Sends never acknowledged go back to the page so no text is lost.
    const unsent = [...this.sends.values()];
    this.sends.clear();
    this.sendOrder.clear();
    for (const s of unsent) this.h.onSendFailed(s.roomId, s.text, null);
    if (this.stopped) return;
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.stopped) return;
    const delayMs = backoffDelay(this.attempt++);
    this.h.onState("retrying", { delayMs });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delayMs);
  }

  /** Reconnect now instead of waiting out the backoff. */
  retryNow() {
    if (this.ws || this.stopped) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  write(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) throw new Error("not connected");
    this.ws.send(encodeClientFrame(frame));
  }

  /** Sends a request and resolves with the ServerFrame that answers it. */
  request(body, roomId = 0) {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      try {
        this.write({ requestId, roomId, ...body });
      } catch (e) {
        reject(e);
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error("no answer from the server"));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(requestId, { resolve, reject, timer });
    });
  }

  /**
   * SendMessage has no reply on success: the echo of our own message is the
   * acknowledgement (PROTOCOL.md 7.6, FIFO rule). Throws when not connected,
   * so the caller keeps the text.
   */
  sendMessage(roomId, text) {
    if (!this.isOpen) throw new Error("not connected");
    const requestId = this.nextRequestId++;
    this.write({ requestId, roomId, sendMessage: { text } });
    this.sends.set(requestId, { roomId, text });
    const q = this.sendOrder.get(roomId) ?? [];
    q.push(requestId);
    this.sendOrder.set(roomId, q);
  }

  receive(data) {
    let frame;
    try {
      frame = decodeServerFrame(data);
    } catch (e) {
      console.warn("muxchat: undecodable frame", e);
      return;
    }
    const requestId = num(frame.requestId);
    if (frame.ping) {
      try {
        this.write({ pong: { nonce: frame.ping.nonce } });
      } catch (e) {
        /* closing anyway */
      }
      return;
    }
    if (requestId !== 0 && this.sends.has(requestId) && frame.reply) {
      const s = this.sends.get(requestId);
      this.sends.delete(requestId);
      const q = this.sendOrder.get(s.roomId) ?? [];
      const i = q.indexOf(requestId);
      if (i >= 0) q.splice(i, 1);
      if (frame.reply.status !== Status.SUCCESS) this.h.onSendFailed(s.roomId, s.text, frame.reply);
      return;
    }
    if (requestId !== 0 && this.pending.has(requestId) && (frame.reply || frame.welcome || frame.pong)) {
      const p = this.pending.get(requestId);
      this.pending.delete(requestId);
      clearTimeout(p.timer);
      p.resolve(frame);
      return;
    }
    if (frame.chatMessage && !frame.chatMessage.replay && frame.chatMessage.sender === this.nickname) {
      const roomId = num(frame.roomId);
      const q = this.sendOrder.get(roomId);
      if (q && q.length) this.sends.delete(q.shift());
    }
    this.h.onEvent(frame);
  }
}
