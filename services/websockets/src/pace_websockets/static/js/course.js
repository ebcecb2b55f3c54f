// Course races on the race page: the course line and its checkpoints, runners
// moved along the course at their predicted speed between updates (snapped back
// to the real fix when it arrives), and "who arrives here next" on a click.
// Plain races have no course (GET /course is a 404) and nothing here runs.
import * as fmt from "/static/js/format.js";

const L = window.L;
const MOVE_EVERY_MS = 250;
const SNAP_HOLD_MS = 1500; // after a real fix, show it as is for this long
const MAX_AHEAD_M = 400; // never extrapolate further than this past the last fix

// The course as a polyline with cumulative distances (metres) at each vertex.
export class CourseLine {
  constructor(lonLats, laps, lengthM) {
    this.points = lonLats.map(([lon, lat]) => [lat, lon]);
    this.cumulative = [0];
    for (let i = 1; i < this.points.length; i += 1) {
      const [a, b] = [this.points[i - 1], this.points[i]];
      this.cumulative.push(this.cumulative[i - 1] + fmt.haversine(a[0], a[1], b[0], b[1]));
    }
    this.lapM = this.cumulative[this.cumulative.length - 1];
    this.laps = laps || 1;
    // The server's length (plane geometry) scales ours so distances agree.
    this.scale = lengthM ? lengthM / (this.lapM * this.laps) : 1;
  }

  // [lat, lon] of the place `distanceM` along the course (every lap).
  pointAt(distanceM) {
    const lap = this.lapM * this.scale;
    let d = Math.min(Math.max(distanceM, 0), lap * this.laps);
    d = d >= lap * this.laps ? lap : d % lap || (d > 0 ? lap : 0);
    const target = d / this.scale;
    let i = this.cumulative.findIndex((c) => c >= target);
    if (i <= 0) return this.points[Math.max(i, 0)];
    const span = this.cumulative[i] - this.cumulative[i - 1] || 1;
    const f = (target - this.cumulative[i - 1]) / span;
    const [a, b] = [this.points[i - 1], this.points[i]];
    return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f];
  }

  // Distance along the first lap of the course point nearest to `latlng`.
  nearest(latlng, map) {
    const p = map.latLngToLayerPoint(latlng);
    let best = { gap: Infinity, along: 0 };
    for (let i = 1; i < this.points.length; i += 1) {
      const a = map.latLngToLayerPoint(this.points[i - 1]);
      const b = map.latLngToLayerPoint(this.points[i]);
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len2 = dx * dx + dy * dy || 1;
      const t = Math.min(1, Math.max(0, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2));
      const gap = Math.hypot(a.x + t * dx - p.x, a.y + t * dy - p.y);
      if (gap < best.gap) {
        const seg = this.cumulative[i] - this.cumulative[i - 1];
        best = { gap, along: (this.cumulative[i - 1] + t * seg) * this.scale };
      }
    }
    return best.along;
  }
}

// The race clock in ms: the server's time of the last frame, run on since at
// the replay speed (1 when live).
function raceClock(race, speed) {
  if (!race.serverTime) return Date.now();
  return race.serverTime + (Date.now() - race.serverAt) * (speed || 1);
}

// Where a runner should be now: progress plus their course speed since the fix.
export function predictedProgress(standing, clock) {
  if (standing.progress_m == null || !standing.position) return null;
  if (standing.status !== "running" || standing.off_course || standing.stalled) {
    return standing.progress_m;
  }
  const speed = standing.avg_pace_s_per_km ? 1000 / standing.avg_pace_s_per_km : 0;
  const seconds = Math.max(0, (clock - standing.position[2]) / 1000);
  return standing.progress_m + Math.min(speed * seconds, MAX_AHEAD_M);
}

// A private race's spectator token travels in the fragment (#key=...).
export function readHeaders() {
  const key = new URLSearchParams(location.hash.slice(1)).get("key");
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function arrivalsAt(raceId, distanceM) {
  const url = `/api/races/${encodeURIComponent(raceId)}/arrivals?distance_m=${distanceM.toFixed(1)}`;
  const response = await fetch(url, { headers: readHeaders() });
  if (!response.ok) throw new Error(`arrivals: ${response.status}`);
  return response.json();
}

function arrivalsHtml(body) {
  const rows = body.arrivals.slice(0, 8).map((a) => `
    <li><strong>${fmt.escapeHtml(a.name)}</strong> ${fmt.clock(a.time)}
      <span class="hint">(${fmt.clock(a.earliest)}–${fmt.clock(a.latest)})</span></li>`);
  const where = `At ${fmt.distance(body.distance_m)}`;
  if (!rows.length) return `<div class="arrivals">${where}: nobody still to arrive</div>`;
  return `<div class="arrivals">${where}, next:<ol>${rows.join("")}</ol></div>`;
}

function drawCourse(map, geojson) {
  const [line, ...marks] = geojson.features;
  const laps = line.properties?.laps || 1;
  const course = new CourseLine(line.geometry.coordinates, laps, line.properties?.length_m);
  const layer = L.polyline(course.points, {
    color: "#ff6f00", weight: 6, opacity: 0.55, className: "course-line",
  }).addTo(map);
  for (const mark of marks) {
    const [lon, lat] = mark.geometry.coordinates;
    L.circleMarker([lat, lon], {
      radius: 7, color: "#222", weight: 2, fillColor: "#fff", fillOpacity: 1,
      className: "course-checkpoint",
    }).bindTooltip(`${fmt.escapeHtml(mark.properties.name)} · ${fmt.distance(mark.properties.distance_m)}`)
      .addTo(map);
  }
  return { course, layer };
}

// Draw the course (if any) and start moving markers along it.
export async function setupCourse({ map, race, raceId, speed }) {
  const results = document.getElementById("results-link");
  if (results) results.href = `/races/${encodeURIComponent(raceId)}/results${location.hash}`;
  const url = `/api/races/${encodeURIComponent(raceId)}/course`;
  const response = await fetch(url, { headers: readHeaders() });
  if (!response.ok) return null;
  const { course, layer } = drawCourse(map, await response.json());
  race.course = course;
  race.courseLayer = layer;
  race.userMoved = true; // the course frames the map, not the runners
  map.fitBounds(layer.getBounds().pad(0.1), { animate: false });
  document.body.classList.add("course-race");

  layer.on("click", async (event) => {
    const along = course.nearest(event.latlng, map);
    const popup = L.popup().setLatLng(event.latlng).setContent("…").openOn(map);
    try {
      popup.setContent(arrivalsHtml(await arrivalsAt(raceId, along)));
    } catch (error) {
      popup.setContent(fmt.escapeHtml(error.message));
    }
  });

  setInterval(() => moveMarkers(race, course, speed), MOVE_EVERY_MS);
  return course;
}

function moveMarkers(race, course, speed) {
  const clock = raceClock(race, speed);
  for (const [id, marker] of race.markers) {
    const s = race.standings.get(id);
    if (!s || Date.now() - (s.receivedAt || 0) < SNAP_HOLD_MS / (speed || 1)) continue;
    const progress = predictedProgress(s, clock);
    if (progress == null || progress === s.progress_m) continue;
    marker.setLatLng(course.pointAt(progress));
  }
}

// The leaderboard's flags for a course race standing.
export function flagsHtml(s) {
  const flags = [];
  if (s.off_course) flags.push('<span class="flag off-course">off course</span>');
  if (s.stalled) flags.push('<span class="flag stalled">stalled</span>');
  return flags.join(" ");
}
