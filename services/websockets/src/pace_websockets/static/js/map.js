// A Leaflet map with the configured tiles. When tiles cannot load (offline, no
// internet, blocked) the map stays usable: markers and trails are drawn on a plain
// background, and a small note says the tiles are missing.
import config from "/static/config.js";

export function createMap(element, {
  center = [0, 0], zoom = 2, zoomPosition = "topleft", noteHost = element,
} = {}) {
  const L = window.L;
  const map = L.map(element, { zoomControl: false, attributionControl: true })
    .setView(center, zoom);
  L.control.zoom({ position: zoomPosition }).addTo(map);
  const note = document.createElement("div");
  note.className = "map-note";
  note.hidden = true;
  noteHost.appendChild(note);

  if (!config.tileUrl) {
    note.textContent = "Map tiles are off";
    note.hidden = false;
    return map;
  }
  let loaded = 0;
  let failed = 0;
  const layer = L.tileLayer(config.tileUrl, {
    maxZoom: 19, attribution: config.tileAttribution, crossOrigin: false,
  });
  layer.on("tileload", () => { loaded += 1; note.hidden = true; });
  layer.on("tileerror", () => {
    failed += 1;
    if (loaded === 0 || failed > 8) {
      note.textContent = "Map tiles unavailable: positions still update";
      note.hidden = false;
    }
  });
  layer.addTo(map);
  return map;
}
