// The live subscription: one WebSocket, every event, reconnect with backoff and resume from the
// last event seen (the server replays the gap from its timeline), a visible state.
const MAX_DELAY_MS = 30000;
const PING_MS = 5 * 60 * 1000; // API Gateway closes a socket idle for 10 minutes

export class Live {
  constructor({ onEvent, onState, onGap }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onGap = onGap; // the server could not replay everything: reload the views
    this.socket = null;
    this.lastId = null;
    this.seen = new Set(); // a resumed gap can overlap what the socket delivers: show each once
    this.failures = 0;
    this.url = null;
    this.ticket = null;
    this.timer = null;
    this.pinger = null;
    this.stopped = true;
  }

  // ticket(): resolves to a fresh single-use connect ticket (POST /v2/realtime/tickets), so the
  // API key never travels in the WebSocket URL, where access logs and proxies keep it.
  start(url, ticket) {
    this.stop();
    if (!url) {
      this.onState("off", "Live updates not configured");
      return;
    }
    Object.assign(this, { url, ticket, stopped: false, failures: 0 });
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  retryLater() {
    this.failures += 1;
    // full jitter, like the retry engine: clients that dropped together do not return together
    const delay = Math.random() * Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(this.failures, 5));
    this.onState("reconnecting", `Reconnecting in ${Math.ceil(delay / 1000)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  async connect() {
    this.onState(this.failures ? "reconnecting" : "connecting", this.failures ? "Reconnecting…" : "Connecting…");
    let ticket;
    try {
      ticket = await this.ticket();
    } catch {
      if (!this.stopped) this.retryLater();
      return;
    }
    if (this.stopped) return;
    const separator = this.url.includes("?") ? "&" : "?";
    const socket = new WebSocket(`${this.url}${separator}ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ action: "subscribe", events: ["*"] }));
      if (this.lastId) socket.send(JSON.stringify({ action: "resume", after: this.lastId }));
      this.pinger = setInterval(() => socket.send(JSON.stringify({ action: "ping" })), PING_MS);
    });
    socket.addEventListener("message", (message) => this.receive(message.data));
    socket.addEventListener("close", () => {
      clearInterval(this.pinger);
      if (this.socket !== socket || this.stopped) return;
      this.retryLater();
    });
  }

  receive(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message.action === "ack" && message.of === "subscribe") {
      this.failures = 0;
      this.onState("live", "Live");
    } else if (message.action === "event" && message.event) {
      const id = message.event.id;
      if (this.seen.has(id)) return;
      this.seen.add(id);
      if (this.seen.size > 1000) this.seen.delete(this.seen.values().next().value);
      if (!this.lastId || id > this.lastId) this.lastId = id; // ids sort by time
      this.onEvent(message.event);
    } else if (message.action === "error" && this.lastId) {
      this.onGap(message.error?.message || "Some events were missed.");
    }
  }
}
