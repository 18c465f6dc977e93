// The one place the UI talks to the server: the public HTTP API, nothing private. A token (when auth
// arrives) is kept here and sent with every call and the event stream.
const TOKEN_KEY = "prognos.token";

export function token() { return localStorage.getItem(TOKEN_KEY); }
export function setToken(value) { value ? localStorage.setItem(TOKEN_KEY, value) : localStorage.removeItem(TOKEN_KEY); }

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && (body.error.message || body.error)) || `HTTP ${status}`);
    this.status = status; this.body = body;
  }
}

async function call(method, path, body) {
  const headers = { accept: "application/json" };
  if (token()) headers.authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const doc = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, doc);
  return doc;
}

const q = (params) => {
  const s = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  return s.toString() ? `?${s}` : "";
};

export const api = {
  fleet: (p = {}) => call("GET", `/api/v1/fleet${q(p)}`),
  device: (id) => call("GET", `/api/v1/devices/${encodeURIComponent(id)}`),
  telemetry: (id, p) => call("GET", `/api/v1/devices/${encodeURIComponent(id)}/telemetry${q(p)}`),
  states: (id, p) => call("GET", `/api/v1/devices/${encodeURIComponent(id)}/states${q(p)}`),
  locations: (id, p) => call("GET", `/api/v1/devices/${encodeURIComponent(id)}/locations${q(p)}`),
  alerts: (p = {}) => call("GET", `/api/v1/alerts${q(p)}`),
  alert: (id) => call("GET", `/api/v1/alerts/${encodeURIComponent(id)}`),
  acknowledge: (id, by, note) => call("POST", `/api/v1/alerts/${encodeURIComponent(id)}/acknowledge`, { by, note }),
  resolve: (id, by, note, falseAlarm = false) =>
    call("POST", `/api/v1/alerts/${encodeURIComponent(id)}/resolve`, { by, note, ...(falseAlarm ? { false_alarm: true } : {}) }),
  models: () => call("GET", "/api/v1/models"),
  model: (name) => call("GET", `/api/v1/models/${encodeURIComponent(name)}`),
  version: (name, ref) => call("GET", `/api/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(ref)}`),
  promote: (name, alias, version) =>
    call("PUT", `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, { version }),
  rollback: (name, alias) => call("POST", `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}/rollback`),
  shadow: (name) => call("GET", `/api/v1/models/${encodeURIComponent(name)}/shadow`),
  drift: (name, p) => call("GET", `/api/v1/models/${encodeURIComponent(name)}/drift${q(p)}`),
  retraining: (p = {}) => call("GET", `/api/v1/retraining${q(p)}`),
  system: () => call("GET", "/api/v1/system"),
};

// Live updates: server-sent events. EventSource cannot set headers, so a token travels as a query parameter.
export function events(handlers, onState) {
  const url = "/api/v1/events" + (token() ? `?token=${encodeURIComponent(token())}` : "");
  const source = new EventSource(url);
  source.onopen = () => onState && onState("live");
  source.onerror = () => onState && onState("reconnecting…");
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  return source;
}
