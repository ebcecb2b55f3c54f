// The race page (/races/{race_id}): a snapshot on connect, then coalesced updates
// and events from /ws/races/{race_id}. It reconnects by itself (backoff + jitter)
// and says when it is behind: disconnected, or no frame for several ticks while
// runners are still running.
import { Backoff, wsUrl } from "/static/js/api.js";
import * as fmt from "/static/js/format.js";
import { createMap } from "/static/js/map.js";
import { flagsHtml, setupCourse } from "/static/js/course.js";

const $ = (id) => document.getElementById(id);
const L = window.L;
const TRAIL = 40; // positions kept per runner for the short trail
const COLOURS = ["#e6194b", "#0047b3", "#1b8a3a", "#b85c00", "#7b1fa2", "#008080",
  "#c2185b", "#5d4037", "#455a64", "#9e9d24", "#283593", "#00838f"];

const raceId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
// ?replay=N plays the stored race at N times real speed (course.js, docs/protocol.md).
const replaySpeed = Number(new URLSearchParams(location.search).get("replay")) || 0;
const race = {
  info: null, standings: new Map(), markers: new Map(), trails: new Map(),
  colours: new Map(), following: null, lastFrameAt: 0, tick: 0, userMoved: false,
};
const feedEvents = [];
window.paceRace = { race, feedEvents };

const map = createMap($("map"), { center: [20, 0], zoom: 2 });
window.paceRace.map = map;
setupCourse({ map, race, raceId, speed: replaySpeed || 1 });
const backoff = new Backoff({ baseMs: 500, maxMs: 15000 });

function colour(id) {
  if (!race.colours.has(id)) race.colours.set(id, COLOURS[race.colours.size % COLOURS.length]);
  return race.colours.get(id);
}

function setLive(state, text) {
  $("live").dataset.state = state;
  $("live").textContent = text;
}

function icon(standing) {
  const html = `<div class="runner-icon" style="background:${colour(standing.participant_id)};width:30px;height:30px">${standing.rank}</div>`;
  return L.divIcon({ html, className: "", iconSize: [30, 30], iconAnchor: [15, 15] });
}

function drawRunner(s) {
  if (!s.position) return;
  const at = [s.position[0], s.position[1]];
  let marker = race.markers.get(s.participant_id);
  if (!marker) {
    marker = L.marker(at, { icon: icon(s), title: s.name, keyboard: true }).addTo(map);
    marker.bindTooltip(fmt.escapeHtml(s.name), { direction: "top", offset: [0, -14] });
    marker.on("click", () => follow(s.participant_id));
    race.markers.set(s.participant_id, marker);
    race.trails.set(s.participant_id, L.polyline([], {
      color: colour(s.participant_id), weight: 5, opacity: 0.8,
    }).addTo(map));
  }
  marker.setLatLng(at).setIcon(icon(s));
  const trail = race.trails.get(s.participant_id);
  const points = trail.getLatLngs();
  const last = points[points.length - 1];
  if (!last || last.lat !== at[0] || last.lng !== at[1]) {
    points.push(L.latLng(at));
    trail.setLatLngs(points.slice(-TRAIL));
  }
}

function merge(standing) {
  const old = race.standings.get(standing.participant_id);
  // Updates carry no splits (they arrive as events): keep the ones we have.
  const splits = standing.splits?.length ? standing.splits : old?.splits || [];
  race.standings.set(standing.participant_id, { ...standing, splits, receivedAt: Date.now() });
}

function ordered() {
  return [...race.standings.values()].sort((a, b) => a.rank - b.rank);
}

function gap(s, leader) {
  if (!leader || s === leader) return "–";
  if (s.finish_time && leader.finish_time) {
    return `+${fmt.duration((Date.parse(s.finish_time) - Date.parse(leader.finish_time)) / 1000)}`;
  }
  const behind = (leader.progress_m ?? leader.distance_m) - (s.progress_m ?? s.distance_m);
  return behind > 0 ? `−${fmt.distance(behind)}` : "–";
}

function renderBoard() {
  const rows = ordered();
  const leader = rows[0];
  $("empty").hidden = rows.length > 0;
  $("board").tBodies[0].innerHTML = rows.map((s) => `
    <tr data-id="${fmt.escapeHtml(s.participant_id)}" class="${s.participant_id === race.following ? "following" : ""}">
      <td>${s.rank}</td>
      <td class="name"><span class="swatch" style="background:${colour(s.participant_id)}"></span>${fmt.escapeHtml(s.name)}</td>
      <td>${fmt.km(s.progress_m ?? s.distance_m)}</td>
      <td>${fmt.pace(s.pace_s_per_km)}</td>
      <td>${gap(s, leader)}</td>
      <td><span class="status ${s.status}">${s.status}</span> ${flagsHtml(s)}</td>
      <td>${s.finish_time ? fmt.clock(s.finish_time) : "–"}</td>
    </tr>`).join("");
}

function render(changed) {
  for (const s of changed) drawRunner(race.standings.get(s.participant_id));
  renderBoard();
  const followed = race.following && race.standings.get(race.following);
  if (followed?.position) {
    map.panTo([followed.position[0], followed.position[1]], { animate: false });
  } else if (!race.userMoved && race.markers.size) {
    fitAll();
  }
}

function fitAll() {
  const bounds = L.latLngBounds([...race.markers.values()].map((m) => m.getLatLng()));
  map.fitBounds(bounds.pad(0.2), { maxZoom: 17, animate: false });
}

function follow(id) {
  race.following = race.following === id ? null : id;
  $("unfollow").hidden = !race.following;
  const s = race.following && race.standings.get(id);
  if (s?.position) map.setView([s.position[0], s.position[1]], Math.max(map.getZoom(), 16));
  renderBoard();
}

function onSnapshot(message) {
  race.info = message.race;
  race.standings.clear();
  for (const s of message.standings) merge(s);
  const target = race.info.distance_m ? ` · ${fmt.distance(race.info.distance_m)}` : "";
  $("race-name").textContent = `${race.info.name}${target}`;
  document.title = `Pace · ${race.info.name}`;
  render(message.standings);
}

function onUpdate(message) {
  for (const s of message.standings) merge(s);
  render(message.standings);
}

function describe(e) {
  const name = fmt.escapeHtml(e.name || race.standings.get(e.participant_id)?.name || "A runner");
  const kinds = {
    started: `${name} started`,
    split: `${name} passed km ${e.km} in ${fmt.duration(e.elapsed_s)}`,
    finished: `${name} finished in ${fmt.duration(e.elapsed_s)}`,
    disconnected: `${name} lost connection`,
    corrected: `${name}'s result was corrected`,
    checkpoint: `${name} passed ${fmt.escapeHtml(e.checkpoint || "a checkpoint")}`,
    off_course: `${name} is off course`,
    back_on_course: `${name} is back on course`,
    stalled: `${name} has stopped`,
    moving: `${name} is moving again`,
  };
  return kinds[e.event] || `${name}: ${fmt.escapeHtml(e.event)}`;
}

function onEvent(e) {
  feedEvents.push(e);
  const text = describe(e);
  const item = document.createElement("li");
  item.dataset.event = e.event;
  item.innerHTML = `<strong>${fmt.clock(e.time)}</strong> ${text}`;
  $("feed").prepend(item);
  while ($("feed").children.length > 50) $("feed").lastChild.remove();
  if (e.event === "finished" || e.event === "split") toast(text, e.event);
}

function toast(html, kind) {
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.innerHTML = html;
  $("toasts").append(el);
  setTimeout(() => el.remove(), kind === "finished" ? 8000 : 4000);
}

function connect() {
  setLive("connecting", "Connecting…");
  const path = replaySpeed
    ? `/api/races/${encodeURIComponent(raceId)}/replay?speed=${replaySpeed}`
    : `/ws/races/${encodeURIComponent(raceId)}`;
  // A private race's spectator key rides in the fragment (#key=...); a browser
  // WebSocket cannot send headers, so it goes to the server as ?key=.
  const key = new URLSearchParams(location.hash.slice(1)).get("key");
  const keyed = key ? `${path}${path.includes("?") ? "&" : "?"}key=${encodeURIComponent(key)}` : path;
  const ws = new WebSocket(wsUrl(keyed));
  let retryAfter = 0;
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    race.lastFrameAt = Date.now();
    if (message.tick != null) race.tick = message.tick;
    if (message.server_time != null) {
      race.serverTime = message.server_time;
      race.serverAt = Date.now();
    }
    const handler = {
      snapshot: () => {
        backoff.reset();
        setLive("live", replaySpeed ? `Replay ×${replaySpeed}` : "Live");
        onSnapshot(message);
      },
      update: () => onUpdate(message),
      event: () => onEvent(message),
      error: () => setLive("offline", message.message || message.code),
      reconnect: () => { retryAfter = message.retry_after_ms || 0; },
    }[message.type];
    if (handler) handler();
  };
  ws.onclose = (event) => {
    if (replaySpeed && event.code === 1000) {
      setLive("live", "Replay finished");
      return;
    }
    const delay = backoff.next(retryAfter);
    setLive("offline", `Disconnected · retrying in ${Math.ceil(delay / 1000)} s`);
    setTimeout(connect, delay);
  };
}

// No frame for a while while someone is running means we are behind.
function watchLag() {
  if ($("live").dataset.state === "offline" || !race.lastFrameAt || replaySpeed) return;
  const running = ordered().some((s) => s.status === "running");
  const quiet = (Date.now() - race.lastFrameAt) / 1000;
  if (running && quiet > 5) setLive("behind", `Behind · last update ${Math.round(quiet)} s ago`);
  else if ($("live").dataset.state !== "connecting") setLive("live", "Live");
}

$("board").addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-id]");
  if (row) follow(row.dataset.id);
});
$("unfollow").addEventListener("click", () => follow(race.following));
// Until someone pans the map by hand, it keeps every runner in view.
map.on("dragstart", () => { race.userMoved = true; });
addEventListener("online", () => backoff.reset());
setInterval(watchLag, 1000);
connect();
