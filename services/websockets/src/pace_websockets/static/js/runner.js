// The runner page (/run#token=...): where am I, how far, how fast, and is every
// point safely on the server. The token is in the URL fragment, so it never reaches
// a server log; the same link reopened after a reload resumes the same outbox.
import { getRace } from "/static/js/api.js";
import * as fmt from "/static/js/format.js";
import { createMap } from "/static/js/map.js";
import { Outbox } from "/static/js/outbox.js";
import { Uplink } from "/static/js/uplink.js";

const $ = (id) => document.getElementById(id);
const L = window.L;

const view = {
  map: null, marker: null, accuracy: null, track: null, follow: true,
};
const state = {
  outbox: null, uplink: null, watchId: null, wakeLock: null,
  standing: null, participants: null, lastFix: null, stopArmed: null,
  statsAt: 0, refreshTimer: null, ids: null,
  // Seqs this page generated, read by the browser tests to compare with storage.
  seqs: [],
};
window.paceRunner = {
  state, view,
  markerLatLng: () => view.marker && view.marker.getLatLng(),
};

function showProblem(text) {
  $("problem").textContent = text;
  $("problem").hidden = !text;
}

function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

function setupMap() {
  view.map = createMap($("map"), {
    center: [20, 0], zoom: 2, zoomPosition: "bottomright", noteHost: document.querySelector(".runner-top"),
  });
  view.track = L.polyline([], { color: "#0047b3", weight: 6, opacity: 0.85 }).addTo(view.map);
  view.accuracy = L.circle([0, 0], { radius: 1, color: "#0047b3", weight: 2, fillOpacity: 0.12 });
  view.marker = L.circleMarker([0, 0], {
    radius: 11, color: "#ffffff", weight: 4, fillColor: "#0047b3", fillOpacity: 1,
  });
  view.map.on("dragstart", () => { view.follow = false; $("recenter").hidden = false; });
  $("recenter").style.bottom = "calc(var(--panel-h, 260px) + 0.6rem)";
  $("recenter").addEventListener("click", () => {
    view.follow = true;
    $("recenter").hidden = true;
    if (state.lastFix) view.map.setView([state.lastFix.lat, state.lastFix.lon]);
  });
}

function drawFix(fix) {
  const at = [fix.lat, fix.lon];
  if (!view.map.hasLayer(view.marker)) {
    view.marker.addTo(view.map);
    view.accuracy.addTo(view.map);
    view.map.setView(at, 17);
  }
  view.marker.setLatLng(at);
  view.accuracy.setLatLng(at).setRadius(fix.accuracy || 1);
  if (view.follow) view.map.panTo(at, { animate: false });
}

function onPosition(position) {
  const c = position.coords;
  const fix = {
    time: position.timestamp, lat: c.latitude, lon: c.longitude,
    alt: c.altitude, accuracy: c.accuracy, speed: c.speed, heading: c.heading,
  };
  // Some browsers repeat the same fix; a repeat adds nothing but a duplicate_time.
  if (state.lastFix && state.lastFix.time === fix.time) return;
  state.lastFix = fix;
  showProblem("");
  if (state.gpsNotice) { showNotice(""); state.gpsNotice = false; }
  drawFix(fix);
  if (state.outbox.meta.recording) record(fix);
}

async function record(fix) {
  const point = await state.outbox.add(fix);
  state.seqs.push(point.seq);
  view.track.addLatLng([fix.lat, fix.lon]);
  await renderPending();
  state.uplink.flush();
}

function onPositionError(error) {
  if (error.code === error.PERMISSION_DENIED) {
    showProblem(
      "Location is blocked for this page, so Pace cannot track your run. " +
      "Allow location for this site in your browser settings, then tap Start.",
    );
    showNotice("");
    stopWatching();
    setRecording(false);
  } else {
    state.gpsNotice = true;
    showNotice("Looking for a GPS signal… keep the phone where it can see the sky.");
  }
}

function startWatching() {
  if (!("geolocation" in navigator)) {
    showProblem("This browser cannot share your location (it needs HTTPS and location support).");
    return false;
  }
  if (state.watchId == null) {
    state.watchId = navigator.geolocation.watchPosition(onPosition, onPositionError, {
      enableHighAccuracy: true, maximumAge: 0, timeout: 30000,
    });
  }
  return true;
}

function stopWatching() {
  if (state.watchId != null) navigator.geolocation.clearWatch(state.watchId);
  state.watchId = null;
}

// Screen wake lock, where the browser allows it: a sleeping phone stops GPS updates.
async function keepAwake(on) {
  if (!on) { await state.wakeLock?.release().catch(() => {}); state.wakeLock = null; return; }
  if (!("wakeLock" in navigator)) { showNotice("This browser may let the screen sleep: keep Pace open in front."); return; }
  try {
    state.wakeLock = await navigator.wakeLock.request("screen");
  } catch {
    // Stopped meanwhile (location denied, Stop): a sleeping screen no longer matters.
    if (state.outbox.meta.recording) showNotice("The screen may sleep (wake lock refused): keep Pace open in front.");
  }
}

async function setRecording(on) {
  await state.outbox.saveMeta({ recording: on });
  $("start").disabled = on;
  $("stop").disabled = !on;
  $("stop").textContent = "Stop";
  await keepAwake(on);
  renderStats();
}

async function start() {
  showProblem("");
  if (startWatching()) await setRecording(true);
}

// Stopping by accident ends a race, so Stop needs a second tap within 3 s.
async function stop() {
  if (!state.stopArmed) {
    $("stop").textContent = "Tap again to stop";
    state.stopArmed = setTimeout(() => { state.stopArmed = null; $("stop").textContent = "Stop"; }, 3000);
    return;
  }
  clearTimeout(state.stopArmed);
  state.stopArmed = null;
  stopWatching();
  await setRecording(false);
}

async function renderPending() {
  const count = await state.outbox.count();
  const el = $("pending");
  el.dataset.count = String(count);
  el.textContent = count === 0 ? "all sent" : `${count} waiting to be sent`;
  renderStats();
}

function renderConnection({ state: conn, retryInMs, message }) {
  const text = {
    connecting: "Connecting…",
    live: "Live",
    waiting: `Reconnecting${retryInMs ? ` in ${Math.ceil(retryInMs / 1000)} s` : "…"}`,
    offline: "Offline: points are kept on this phone",
    refused: "Refused by the server",
  }[conn];
  $("conn").dataset.state = conn === "live" ? "live" : conn === "connecting" ? "connecting" : "offline";
  $("conn-text").textContent = text || conn;
  if (conn === "refused") {
    showProblem(`The server refused this join link: ${message?.message || message?.code}. Ask the organiser for a new link.`);
  }
}

// Distance shown is the server's (filtered, authoritative). While points wait to be
// sent it adds the raw length of the unsent tail, marked with "≈".
function displayedDistance() {
  const base = state.standing?.distance_m || 0;
  const pending = Number($("pending").dataset.count);
  if (!pending || !state.lastFix) return fmt.km(base);
  const from = state.standing?.position;
  const tail = view.track.getLatLngs().slice(-pending);
  let extra = 0;
  let prev = from ? { lat: from[0], lng: from[1] } : tail[0];
  for (const p of tail) { extra += fmt.haversine(prev.lat, prev.lng, p.lat, p.lng); prev = p; }
  return `≈${fmt.km(base + extra)}`;
}

function renderStats() {
  const s = state.standing;
  $("distance").textContent = displayedDistance();
  $("pace").textContent = fmt.pace(s?.pace_s_per_km);
  $("avg-pace").textContent = fmt.pace(s?.avg_pace_s_per_km);
  $("rank").textContent = s ? `${s.rank}/${state.participants ?? "?"}` : "–";
  let elapsed = s?.elapsed_s;
  if (elapsed != null && s.status === "running" && s.position && state.outbox?.meta.recording) {
    elapsed += Math.max(0, (Date.now() - s.position[2]) / 1000);
  }
  $("elapsed").textContent = fmt.duration(elapsed);
  const recording = state.outbox?.meta.recording;
  $("status").textContent = s?.status === "finished"
    ? `Finished ${fmt.clock(s.finish_time)}`
    : recording ? "Recording" : s && s.status !== "waiting" ? "Stopped" : "Ready";
}

// The server throttles stats to one a second and sends the latest one at the end
// of the interval, so an ack is followed by stats within about a second. If none
// comes (a server before that change, a lost frame), the page reads its standing
// from the public race API instead.
function refreshSoon() {
  const asked = Date.now();
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(async () => {
    if (state.statsAt > asked || !state.ids) return;
    try {
      const race = await getRace(state.ids.race_id);
      const mine = (race.standings || []).find((s) => s.participant_id === state.ids.participant_id);
      if (mine && state.statsAt <= asked) onStats({ standing: mine, participants: race.standings.length });
    } catch { /* offline: the next stats or ack will try again */ }
  }, 2500);
}

function onStats(message) {
  state.statsAt = Date.now();
  state.standing = message.standing;
  state.participants = message.participants;
  renderStats();
}

async function onWelcome(message) {
  state.ids = { race_id: message.race_id, participant_id: message.participant_id };
  try {
    await restoreSentTrack(message.race_id, message.participant_id);
    const race = await getRace(message.race_id);
    $("race-name").textContent = race.distance_m ? `${race.name} · ${fmt.distance(race.distance_m)}` : race.name;
    const mine = (race.standings || []).find((s) => s.participant_id === message.participant_id);
    if (mine && !state.standing) onStats({ standing: mine, participants: race.standings.length });
  } catch { /* the race name is a nicety; the socket is what matters */ }
  await renderPending();
}

// After a reload the outbox holds only unsent points: the server's GPX export
// (public, counted points only) gives back the track already sent.
async function restoreSentTrack(raceId, participantId) {
  if (state.sentTrackLoaded) return;
  state.sentTrackLoaded = true;
  const path = `/api/races/${encodeURIComponent(raceId)}/participants/${encodeURIComponent(participantId)}/track.gpx`;
  const response = await fetch(path);
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "application/xml");
  const sent = [...doc.getElementsByTagName("trkpt")].map((p) => [Number(p.getAttribute("lat")), Number(p.getAttribute("lon"))]);
  view.track.setLatLngs([...sent, ...view.track.getLatLngs()]);
}

async function restoreTrack() {
  for (const point of await state.outbox.pending()) {
    view.track.addLatLng([point.lat, point.lon]);
  }
}

// One tab per join link: two tabs recording into the same outbox would hand out
// the same seqs. A second tab waits for the first to close (Web Locks API).
async function holdLinkLock(token) {
  if (!navigator.locks) return;
  let granted;
  const got = new Promise((resolve) => { granted = resolve; });
  navigator.locks.request(`pace-runner:${token}`, () => { granted(); return new Promise(() => {}); });
  const warn = setTimeout(() => showProblem(
    "This join link is already open in another tab. Use that tab, or close it: this one takes over.",
  ), 3000);
  await got;
  clearTimeout(warn);
  showProblem("");
}

async function main() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  setupMap();
  new ResizeObserver(() => {
    document.documentElement.style.setProperty("--panel-h", `${document.querySelector(".runner-panel").offsetHeight}px`);
    view.map.invalidateSize();
  }).observe(document.querySelector(".runner-panel"));
  if (!token) {
    showProblem("This page needs your join link (it ends in #token=…). Ask the organiser for it.");
    $("start").disabled = true;
    return;
  }
  await holdLinkLock(token);
  try {
    state.outbox = await Outbox.open(token);
  } catch {
    showProblem("This browser cannot store points (private mode?). Open the link in a normal tab.");
    return;
  }
  await restoreTrack();
  state.uplink = new Uplink(token, state.outbox);
  state.uplink.addEventListener("state", (e) => renderConnection(e.detail));
  state.uplink.addEventListener("stats", (e) => onStats(e.detail));
  state.uplink.addEventListener("welcome", (e) => onWelcome(e.detail));
  state.uplink.addEventListener("ack", () => { renderPending(); refreshSoon(); });
  state.uplink.addEventListener("error", (e) => showNotice(`Server: ${e.detail.message}`));
  state.uplink.start();

  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.outbox.meta.recording) keepAwake(true);
  });
  setInterval(renderStats, 1000);
  await renderPending();
  await checkPermission();
  // A reload or a reopened tab carries on recording where it left off.
  if (state.outbox.meta.recording) await start();
}

async function checkPermission() {
  try {
    const status = await navigator.permissions.query({ name: "geolocation" });
    const show = () => {
      if (status.state === "denied") onPositionError({ code: 1, PERMISSION_DENIED: 1 });
    };
    status.addEventListener("change", show);
    show();
  } catch { /* no Permissions API: the first watchPosition error will tell */ }
}

main();
