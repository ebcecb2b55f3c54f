// The public HTTP API, as any client sees it. Errors are RFC 9457 problem details;
// ApiError carries their title/detail so pages can show them as they are.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function request(method, path, { body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { title: "The server cannot be reached (offline?)" });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!response.ok) throw new ApiError(response.status, data || {});
  return data;
}

export const createRace = (fields) => request("POST", "/api/races", { body: fields });

export const addParticipant = (raceId, name, token) =>
  request("POST", `/api/races/${encodeURIComponent(raceId)}/participants`, {
    body: { name }, token,
  });

export const getRace = (raceId) =>
  request("GET", `/api/races/${encodeURIComponent(raceId)}`);

export function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

// Exponential backoff with full jitter: a thousand phones coming back after the same
// network blip spread their reconnects instead of arriving together.
export class Backoff {
  constructor({ baseMs = 500, maxMs = 30000 } = {}) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.attempt = 0;
  }
  next(minimumMs = 0) {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt += 1;
    return Math.max(minimumMs, Math.round(Math.random() * cap));
  }
  reset() { this.attempt = 0; }
}
