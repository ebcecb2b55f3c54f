// The straightforward Node.js peer for `make bench`: ws + better-sqlite3.
// Every point is inserted and committed on its own (WAL, synchronous=FULL, the
// same durability as Pace's default) before its ack, and broadcast as its own
// JSON frame to every spectator of the race. Env: PACE_PORT, PACE_HOST,
// PACE_DATABASE_URL=sqlite:///path.
"use strict";
const http = require("http");
const crypto = require("crypto");
const { WebSocketServer } = require("ws");
const Database = require("better-sqlite3");

const dbPath = (process.env.PACE_DATABASE_URL || "sqlite:///./peer.db").replace("sqlite:///", "");
const db = new Database(dbPath);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.exec(
  "CREATE TABLE IF NOT EXISTS points (participant_id TEXT, seq INTEGER, time INTEGER, " +
    "lat REAL, lon REAL, PRIMARY KEY (participant_id, seq))"
);
const insert = db.prepare("INSERT OR IGNORE INTO points VALUES (?, ?, ?, ?, ?)");
const lastSeq = db.prepare("SELECT max(seq) AS s FROM points WHERE participant_id = ?");

const races = new Map(); // race id -> organizer token
const tokens = new Map(); // participant token -> [participant id, race id]
const spectators = new Map(); // race id -> Set of sockets
const newId = (n) => crypto.randomBytes(n).toString("base64url");

function readJson(req, done) {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => done(body ? JSON.parse(body) : {}));
}

function reply(res, status, obj) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(obj));
}

const server = http.createServer((req, res) => {
  const parts = req.url.split("/");
  if (req.method === "POST" && req.url === "/api/races") {
    readJson(req, (body) => {
      const id = newId(6);
      const organizer = newId(32);
      races.set(id, organizer);
      reply(res, 201, { id, name: body.name, organizer_token: organizer });
    });
  } else if (req.method === "POST" && parts[4] === "participants") {
    readJson(req, (body) => {
      if (races.get(parts[3]) !== (req.headers.authorization || "").replace("Bearer ", "")) {
        return reply(res, 401, { detail: "bad organizer token" });
      }
      const id = newId(6);
      const token = newId(32);
      tokens.set(token, [id, parts[3]]);
      reply(res, 201, { id, name: body.name, token, join_url: "" });
    });
  } else {
    reply(res, 404, { detail: "not found" });
  }
});

const runnerWss = new WebSocketServer({ noServer: true });
const spectatorWss = new WebSocketServer({ noServer: true });

server.on("upgrade", (req, socket, head) => {
  if (req.url === "/ws/runner") {
    runnerWss.handleUpgrade(req, socket, head, (ws) => onRunner(ws));
  } else if (req.url.startsWith("/ws/races/")) {
    const raceId = req.url.split("/")[3];
    spectatorWss.handleUpgrade(req, socket, head, (ws) => onSpectator(ws, raceId));
  } else {
    socket.destroy();
  }
});

function onRunner(ws) {
  let who = null;
  ws.on("message", (data) => {
    const msg = JSON.parse(data);
    if (who === null) {
      who = tokens.get(msg.token);
      const last = lastSeq.get(who[0]).s || 0;
      ws.send(JSON.stringify({ type: "welcome", participant_id: who[0], race_id: who[1], last_seq: last }));
      return;
    }
    for (const p of msg.points) {
      const timeMs = Date.parse(p.time);
      insert.run(who[0], p.seq, timeMs, p.lat, p.lon);
      ws.send(JSON.stringify({ type: "ack", seq: p.seq }));
      const frame = JSON.stringify({
        type: "update",
        standings: [{ participant_id: who[0], position: [p.lat, p.lon, timeMs] }],
      });
      for (const s of spectators.get(who[1]) || []) s.send(frame);
    }
  });
}

function onSpectator(ws, raceId) {
  ws.send(JSON.stringify({ type: "snapshot", standings: [] }));
  if (!spectators.has(raceId)) spectators.set(raceId, new Set());
  spectators.get(raceId).add(ws);
  ws.on("close", () => spectators.get(raceId).delete(ws));
}

server.listen(Number(process.env.PACE_PORT || 8000), process.env.PACE_HOST || "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
