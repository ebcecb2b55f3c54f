// The organise page (/): create a race, add runners, hand out join links and QR
// codes. Organiser and runner tokens are kept in this browser's localStorage (the
// server holds only their hashes and cannot show them again).
import { addParticipant, createRace, getRace } from "/static/js/api.js";
import * as fmt from "/static/js/format.js";

const $ = (id) => document.getElementById(id);
const STORE = "pace.organiser.races";

function load() {
  try { return JSON.parse(localStorage.getItem(STORE)) || []; } catch { return []; }
}

function save(races) {
  localStorage.setItem(STORE, JSON.stringify(races));
}

function upsert(entry) {
  const races = load().filter((r) => r.id !== entry.id);
  races.unshift(entry);
  save(races);
  return entry;
}

function showError(id, err) {
  $(id).textContent = err ? `Could not do that: ${err.message}` : "";
  $(id).hidden = !err;
}

function joinUrl(participant) {
  return participant.join_url || `${location.origin}/run#token=${encodeURIComponent(participant.token)}`;
}

function qrSvg(text) {
  const qr = window.qrcode(0, "M");
  qr.addData(text);
  qr.make();
  return qr.createSvgTag({ cellSize: 4, margin: 2, scalable: true, alt: "QR code of the join link" });
}

function runnerCard(runner) {
  const url = joinUrl(runner);
  const card = document.createElement("div");
  card.className = "runner-card";
  card.dataset.participant = runner.id;
  card.innerHTML = `
    <div>
      <h3 style="margin:0.2rem 0">${fmt.escapeHtml(runner.name)}</h3>
      <p class="hint">Open on the runner's phone, or scan the code:</p>
      <p><a class="join mono" href="${fmt.escapeHtml(url)}">${fmt.escapeHtml(url)}</a></p>
      <p><button type="button" class="copy">Copy link</button></p>
    </div>
    <div class="qr">${qrSvg(url)}</div>`;
  card.querySelector(".copy").addEventListener("click", async (event) => {
    try {
      await navigator.clipboard.writeText(url);
      event.target.textContent = "Copied";
    } catch {
      event.target.textContent = "Select the link to copy";
    }
  });
  return card;
}

let current = null;

async function showRace(entry) {
  current = entry;
  $("race").hidden = false;
  $("race-title").textContent = entry.name;
  $("race-link").href = `/races/${encodeURIComponent(entry.id)}`;
  const parts = [entry.distance_m ? fmt.distance(entry.distance_m) : "no target distance"];
  if (entry.starts_at) parts.push(`starts ${new Date(entry.starts_at).toLocaleString()}`);
  $("race-meta").textContent = parts.join(" · ");
  $("runners").replaceChildren(...(entry.runners || []).map(runnerCard));
  renderList();
  try {
    // Runners added from another device have no token here: list them by name.
    const race = await getRace(entry.id);
    const known = new Set((entry.runners || []).map((r) => r.id));
    for (const s of race.standings || []) {
      if (!known.has(s.participant_id)) {
        const p = document.createElement("p");
        p.className = "hint";
        p.textContent = `${s.name}: added elsewhere (its link is on that device)`;
        $("runners").append(p);
      }
    }
  } catch { /* offline: the local list is still right */ }
}

function renderList() {
  const races = load();
  $("mine").hidden = races.length === 0;
  $("race-list").replaceChildren(...races.map((r) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    const n = (r.runners || []).length;
    button.textContent = `${r.name} (${n} runner${n === 1 ? "" : "s"})`;
    button.style.margin = "0.25rem 0";
    button.addEventListener("click", () => showRace(r));
    li.append(button);
    return li;
  }));
}

async function onCreate(event) {
  event.preventDefault();
  showError("create-error", null);
  const body = { name: $("name").value.trim() };
  const km = parseFloat($("distance").value);
  if (Number.isFinite(km) && km > 0) body.distance_m = Math.round(km * 1000 * 100) / 100;
  if ($("starts").value) body.starts_at = new Date($("starts").value).toISOString();
  try {
    const course = $("course").files?.[0];
    if (course) body.course = await course.text();
    const race = await createRace(body);
    const entry = upsert({
      id: race.id, name: race.name, distance_m: race.distance_m, starts_at: race.starts_at,
      organizer_token: race.organizer_token, runners: [],
    });
    $("token-value").textContent = race.organizer_token;
    $("token-once").hidden = false;
    $("create").reset();
    await showRace(entry);
  } catch (err) {
    showError("create-error", err);
  }
}

async function onAdd(event) {
  event.preventDefault();
  showError("add-error", null);
  const name = $("runner-name").value.trim();
  try {
    const p = await addParticipant(current.id, name, current.organizer_token);
    const runner = { id: p.id, name: p.name || name, token: p.token, join_url: p.join_url };
    current.runners = [...(current.runners || []), runner];
    upsert(current);
    $("runners").append(runnerCard(runner));
    $("runner-name").value = "";
    renderList();
  } catch (err) {
    showError("add-error", err);
  }
}

document.querySelectorAll("[data-km]").forEach((b) =>
  b.addEventListener("click", () => { $("distance").value = b.dataset.km; }));
$("create").addEventListener("submit", onCreate);
$("add").addEventListener("submit", onAdd);
$("token-ok").addEventListener("click", () => { $("token-once").hidden = true; });
renderList();
