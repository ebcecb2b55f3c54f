// The runner's connection to /ws/runner, in the protocol of docs/protocol.md:
//   -> hello {token}          <- welcome {last_seq}: drop what the server holds
//   -> points [...] batches    <- ack {seq, rejected}: drop up to seq
//   <- stats, error, reconnect
// Every point stays in the Outbox until an ack covers it; after any reconnect the
// welcome's last_seq says where to resume, so nothing is lost or stored twice.
import { Backoff, wsUrl } from "/static/js/api.js";
import { rfc3339 } from "/static/js/format.js";

const BATCH = 500; // well under the protocol's 1000 points per message
const ACK_TIMEOUT_MS = 20000; // a socket that swallows points without acks is dead
// Codes after which retrying cannot help: a wrong or revoked link, a race that is
// over, or the same link now open in another tab or phone (two tabs must not take
// the connection from each other forever).
const FATAL = new Set(["bad_token", "race_ended", "replaced"]);

export class Uplink extends EventTarget {
  constructor(token, outbox) {
    super();
    this.token = token;
    this.outbox = outbox;
    this.backoff = new Backoff();
    this.state = "connecting";
    this.ws = null;
    this.welcomed = false;
    this.sentSeq = 0;
    this.flushing = false;
    this.again = false;
    this.generation = 0;
    this.rejected = 0;
    this.retryTimer = null;
    this.ackTimer = null;
    this.lastError = null;
    addEventListener("online", () => this.connectNow());
    // Chromium keeps an open WebSocket through an "offline" notice while the OS has
    // no network, so the socket is dropped here and reopened when back online.
    addEventListener("offline", () => this.drop("offline"));
  }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  start() { this.connect(); }

  connectNow() {
    this.backoff.reset();
    clearTimeout(this.retryTimer);
    if (!this.ws) this.connect();
  }

  connect() {
    if (this.state === "refused") return;
    if (!navigator.onLine) { this.setState("offline"); return; }
    this.setState("connecting");
    const ws = new WebSocket(wsUrl("/ws/runner"));
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", token: this.token, client: "pace-web" }));
    ws.onmessage = (event) => { if (ws === this.ws) this.receive(JSON.parse(event.data)); };
    ws.onclose = () => this.closed(ws);
    ws.onerror = () => {};
  }

  drop(state) {
    const ws = this.ws;
    if (ws) { this.closed(ws); ws.close(); }
    this.setState(state);
  }

  closed(ws, minDelayMs = 0) {
    if (this.ws !== ws) return;
    this.ws = null;
    this.welcomed = false;
    clearTimeout(this.ackTimer);
    if (this.state === "refused") return;
    const delay = this.backoff.next(minDelayMs);
    this.setState(navigator.onLine ? "waiting" : "offline", { retryInMs: delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  async receive(message) {
    const handler = {
      welcome: () => this.welcome(message),
      ack: () => this.ack(message),
      stats: () => this.dispatchEvent(new CustomEvent("stats", { detail: message })),
      error: () => this.error(message),
      reconnect: () => this.reconnect(message),
    }[message.type];
    if (handler) await handler();
  }

  async welcome(message) {
    this.backoff.reset();
    await this.outbox.raiseSeqTo(message.last_seq);
    await this.outbox.drop(message.last_seq);
    this.sentSeq = message.last_seq;
    this.generation += 1;
    this.welcomed = true;
    this.setState("live", { participantId: message.participant_id, raceId: message.race_id });
    this.dispatchEvent(new CustomEvent("welcome", { detail: message }));
    await this.flush();
  }

  async ack(message) {
    clearTimeout(this.ackTimer);
    this.rejected += (message.rejected || []).length;
    await this.outbox.drop(message.seq);
    this.dispatchEvent(new CustomEvent("ack", { detail: message }));
    if (this.sentSeq > message.seq) this.armAckTimer();
  }

  error(message) {
    this.lastError = message;
    this.dispatchEvent(new CustomEvent("error", { detail: message }));
    if (FATAL.has(message.code)) {
      this.setState("refused", { message });
      this.ws?.close();
    }
  }

  reconnect(message) {
    const ws = this.ws;
    if (!ws) return;
    this.closed(ws, message.retry_after_ms || 0);
    ws.close();
  }

  // Sends every stored point after the last one sent on this connection. Called on
  // welcome and after each new fix; one flush at a time keeps seqs in order.
  async flush() {
    if (this.flushing) { this.again = true; return; }
    this.flushing = true;
    try {
      do {
        this.again = false;
        await this.sendPending();
      } while (this.again);
    } finally {
      this.flushing = false;
    }
  }

  async sendPending() {
    while (this.welcomed && this.ws?.readyState === WebSocket.OPEN) {
      // A welcome during the await resets sentSeq: re-read rather than skip a gap.
      const generation = this.generation;
      const points = (await this.outbox.pending(this.sentSeq)).slice(0, BATCH);
      if (generation !== this.generation) continue;
      if (!points.length || !this.welcomed) return;
      this.ws.send(JSON.stringify({ type: "points", points: points.map(toWire) }));
      this.sentSeq = points[points.length - 1].seq;
      this.armAckTimer();
    }
  }

  armAckTimer() {
    clearTimeout(this.ackTimer);
    const ws = this.ws;
    this.ackTimer = setTimeout(() => { if (ws && ws === this.ws) this.drop("waiting"); }, ACK_TIMEOUT_MS);
  }
}

function toWire(point) {
  const wire = { seq: point.seq, time: rfc3339(point.time), lat: point.lat, lon: point.lon };
  for (const key of ["alt", "accuracy", "speed", "heading"]) {
    if (point[key] != null && Number.isFinite(point[key])) wire[key] = point[key];
  }
  return wire;
}
