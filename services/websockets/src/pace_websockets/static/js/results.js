// The results page (/races/{race_id}/results): the results table, a race-flow
// chart (each runner's gap to the leader over distance, plain SVG), the pace
// per kilometre of a chosen runner, and every track on the map. Everything comes
// from GET /api/races/{id}/results, /course and each track.geojson.
import * as fmt from "/static/js/format.js";
import { createMap } from "/static/js/map.js";
import { readHeaders } from "/static/js/course.js";

const $ = (id) => document.getElementById(id);
const L = window.L;
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#e6194b", "#0047b3", "#1b8a3a", "#b85c00", "#7b1fa2", "#008080",
  "#c2185b", "#5d4037", "#455a64", "#9e9d24", "#283593", "#00838f"];
const PAD = { left: 52, right: 12, top: 12, bottom: 28 };

const parts = location.pathname.split("/").filter(Boolean);
const raceId = decodeURIComponent(parts[parts.length - 2]);
const api = `/api/races/${encodeURIComponent(raceId)}`;
window.paceResults = { ready: false };

async function getJson(path) {
  const response = await fetch(api + path, { headers: readHeaders() });
  if (!response.ok) throw new Error(`${path || "race"}: ${response.status}`);
  return response.json();
}

function el(name, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

// A chart frame: scales from data ranges to the SVG's pixel box, and its axes.
function frame(svg, xMax, yMin, yMax, xLabel, yLabel) {
  svg.replaceChildren();
  const w = svg.clientWidth || 600;
  const h = svg.clientHeight || 260;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const x = (v) => PAD.left + (v / (xMax || 1)) * (w - PAD.left - PAD.right);
  const y = (v) => PAD.top + ((v - yMin) / ((yMax - yMin) || 1)) * (h - PAD.top - PAD.bottom);
  for (let i = 0; i <= 4; i += 1) {
    const value = yMin + ((yMax - yMin) * i) / 4;
    svg.append(el("line", { class: "grid", x1: PAD.left, x2: w - PAD.right, y1: y(value), y2: y(value) }));
    svg.append(el("text", { x: 4, y: y(value) + 4 }, yLabel(value)));
  }
  svg.append(el("line", { class: "axis", x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: h - PAD.bottom }));
  svg.append(el("text", { x: w - PAD.right - 60, y: h - 6 }, xLabel));
  return { x, y, w, h };
}

// Seconds behind the leader at each split everybody in the chart has passed.
export function flowSeries(results) {
  const runners = results.filter((r) => r.splits.some((s) => s.elapsed_s != null));
  const marks = new Map();
  for (const r of runners) {
    for (const s of r.splits) {
      if (s.time == null) continue;
      const best = marks.get(s.distance_m);
      const t = Date.parse(s.time);
      if (best == null || t < best) marks.set(s.distance_m, t);
    }
  }
  return runners.map((r) => ({
    result: r,
    points: r.splits.filter((s) => s.time != null && marks.has(s.distance_m))
      .map((s) => [s.distance_m, (Date.parse(s.time) - marks.get(s.distance_m)) / 1000]),
  }));
}

function drawFlow(results, colours) {
  const series = flowSeries(results);
  const xMax = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const yMax = Math.max(10, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const svg = $("flow");
  const { x, y } = frame(svg, xMax, 0, yMax, "distance (km)", (v) => `+${fmt.duration(v)}`);
  for (const { result, points } of series) {
    if (points.length < 2) continue;
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    const path = el("path", { class: "runner-line", d, stroke: colours.get(result.participant_id) });
    path.append(el("title", {}, result.name));
    svg.append(path);
  }
  for (const km of [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))]) {
    svg.append(el("text", { x: x(km) - 8, y: svg.viewBox.baseVal.height - 14 }, fmt.km(km)));
  }
}

// Seconds per km for each kilometre the runner completed (from km_splits).
export function paceBars(result) {
  const splits = (result.km_splits || []).filter((s) => s.elapsed_s != null);
  const bars = [];
  for (let i = 1; i < splits.length; i += 1) {
    const metres = splits[i].distance_m - splits[i - 1].distance_m;
    if (metres < 100) continue;
    const seconds = splits[i].elapsed_s - splits[i - 1].elapsed_s;
    bars.push({ label: fmt.km(splits[i].distance_m), pace: (seconds / metres) * 1000 });
  }
  return bars;
}

function drawPace(result, colour) {
  const bars = paceBars(result);
  const svg = $("pace");
  const paces = bars.map((b) => b.pace);
  const slow = Math.max(...paces, 300) + 15;
  const fast = Math.max(0, Math.min(...paces, slow) - 30);
  const { x, y, h } = frame(svg, bars.length, fast, slow, "km", (v) => fmt.pace(v));
  bars.forEach((b, i) => {
    const top = y(b.pace);
    svg.append(el("rect", {
      class: "bar", x: x(i) + 2, y: top, width: Math.max(2, x(1) - x(0) - 4),
      height: Math.max(0, h - PAD.bottom - top), fill: colour,
    }));
    svg.append(el("text", { x: x(i) + 4, y: h - 14 }, b.label));
  });
}

function drawTable(results) {
  const marks = results[0]?.splits.map((s) => s.name) || [];
  $("results").tHead.innerHTML = `<tr><th>#</th><th class="name">Runner</th><th>Status</th>
    <th>Finish</th><th>Time</th>${marks.map((m) => `<th>${fmt.escapeHtml(m)}</th>`).join("")}</tr>`;
  $("results").tBodies[0].innerHTML = results.map((r) => `
    <tr data-id="${fmt.escapeHtml(r.participant_id)}">
      <td>${r.rank}</td><td class="name">${fmt.escapeHtml(r.name)}</td>
      <td><span class="status ${r.status}">${r.status}</span></td>
      <td>${r.finish_time ? fmt.clock(r.finish_time) : "–"}</td>
      <td>${fmt.duration(r.elapsed_s)}</td>
      ${r.splits.map((s) => `<td>${fmt.duration(s.elapsed_s)}</td>`).join("")}
    </tr>`).join("");
}

async function drawMap(results, colours) {
  const map = createMap($("map"), { center: [20, 0], zoom: 2 });
  const bounds = [];
  const course = await fetch(`${api}/course`, { headers: readHeaders() });
  if (course.ok) {
    const line = L.geoJSON(await course.json(), {
      style: { color: "#ff6f00", weight: 6, opacity: 0.4 },
      pointToLayer: (feature, at) => L.circleMarker(at, { radius: 5, color: "#222" }),
    }).addTo(map);
    bounds.push(line.getBounds());
  }
  for (const r of results.filter((x) => x.status !== "DNS")) {
    const track = await getJson(`/participants/${encodeURIComponent(r.participant_id)}/track.geojson`);
    if (!track.geometry) continue;
    const layer = L.geoJSON(track, {
      style: { color: colours.get(r.participant_id), weight: 3, className: "track-line" },
    }).bindTooltip(fmt.escapeHtml(r.name)).addTo(map);
    bounds.push(layer.getBounds());
  }
  if (bounds.length) {
    map.fitBounds(bounds.reduce((a, b) => a.extend(b)).pad(0.05), { animate: false });
  }
}

async function main() {
  $("live-link").href = `/races/${encodeURIComponent(raceId)}${location.hash}`;
  $("replay-link").href = `/races/${encodeURIComponent(raceId)}?replay=60${location.hash}`;
  $("csv-link").href = `${api}/results?format=csv`;
  $("json-link").href = `${api}/results`;
  const body = await getJson("/results");
  const results = body.results;
  $("race-name").textContent = `${body.race.name} · results`;
  document.title = `Pace · ${body.race.name} · results`;
  const colours = new Map(results.map((r, i) => [r.participant_id, COLOURS[i % COLOURS.length]]));
  drawTable(results);
  drawFlow(results, colours);
  const runners = results.filter((r) => r.status !== "DNS");
  $("runner").innerHTML = runners.map((r) =>
    `<option value="${fmt.escapeHtml(r.participant_id)}">${fmt.escapeHtml(r.name)}</option>`).join("");
  const showPace = () => {
    const chosen = runners.find((r) => r.participant_id === $("runner").value);
    if (chosen) drawPace(chosen, colours.get(chosen.participant_id));
  };
  $("runner").addEventListener("change", showPace);
  showPace();
  $("status").textContent = `${results.length} participants`;
  await drawMap(results, colours);
  window.paceResults = { ready: true, results };
}

main().catch((error) => {
  $("status").textContent = `Could not load the results: ${error.message}`;
  window.paceResults = { ready: true, error: error.message };
});
