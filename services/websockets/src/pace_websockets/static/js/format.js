// Numbers as runners read them: km with two decimals, h:mm:ss, min:ss per km.

export function distance(m) {
  if (m == null || !Number.isFinite(m)) return "–";
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(2)} km`;
}

export function km(m) {
  if (m == null || !Number.isFinite(m)) return "–";
  return (m / 1000).toFixed(2);
}

export function duration(s) {
  if (s == null || !Number.isFinite(s) || s < 0) return "–";
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const ss = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${Number(mm)}:${ss}`;
}

export function pace(sPerKm) {
  // Slower than an hour a kilometre is standing still, not a pace.
  if (sPerKm == null || !Number.isFinite(sPerKm) || sPerKm <= 0 || sPerKm >= 3600) {
    return "–";
  }
  const total = Math.round(sPerKm);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

export function clock(value) {
  if (value == null) return "–";
  const date = typeof value === "number" ? new Date(value) : new Date(value);
  if (Number.isNaN(date.getTime())) return "–";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function rfc3339(ms) {
  // Date.toISOString gives UTC with a "Z" offset, which RFC 3339 accepts.
  return new Date(ms).toISOString();
}

export function haversine(lat1, lon1, lat2, lon2) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.min(1, Math.sqrt(a)));
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}
