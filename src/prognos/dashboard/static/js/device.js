// Device: every sensor over a chosen range (downsampled by the server to what the chart can show), the anomaly
// score with alerts overlaid, state and location history, remaining life with its interval, the models.
import { api } from "./api.js";
import { onLive } from "./app.js";
import { timeChart, color } from "./charts.js";
import { ago, badge, esc, fmt, when } from "./util.js";

const RANGES = { "1h": 3600e3, "6h": 6 * 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const POINTS = 800; // per series: what a chart this wide can draw

export async function devicePage(main, id) {
  const device = await api.device(id);
  const latest = device.latest || {};
  const last = Math.max(0, ...Object.values(latest).map((v) => v.ts));
  const keys = Object.keys(latest);
  const sensors = keys.filter((k) => !k.startsWith("pred.")).sort();
  const models = [...new Set(keys.filter((k) => k.startsWith("pred.") && k.endsWith(".version") && !k.includes(".shadow."))
    .map((k) => k.slice(5, -8)))].sort();
  const scoreKey = keys.find((k) => k.endsWith(".anomaly.score") && !k.includes(".shadow."));
  const rulKey = keys.find((k) => k.endsWith(".rul.p50") && !k.includes(".shadow."));
  let view = { end: last || Date.now(), span: RANGES["6h"] };
  main.innerHTML = `
    <h1>${esc(id)} <span class="muted">${esc(device.type || "")}</span></h1>
    <dl class="kv"><dt>Last seen</dt><dd>${ago(last)} (${when(last)})</dd>
      <dt>Models</dt><dd>${models.map((m) => `<a href="#/model/${encodeURIComponent(m)}">${esc(m)}</a> v${fmt(latest[`pred.${m}.version`]?.value)}`).join(", ") || "none yet"}</dd></dl>
    <div class="bar" role="group" aria-label="Time range">
      ${Object.keys(RANGES).map((r) => `<button data-range="${r}">${r}</button>`).join("")}
      <button data-pan="-1" aria-label="Earlier">◀ earlier</button><button data-pan="1" aria-label="Later">later ▶</button>
      <span class="muted" id="span" aria-live="polite"></span><span class="muted">Drag across a chart to zoom.</span>
    </div>
    <div class="grid">
      <div class="card chart" id="score-card"><h3>Anomaly score, alerts shaded</h3><div id="score"></div></div>
      <div class="card chart" id="rul-card"><h3>Remaining life (median, 10–90 % interval)</h3><div id="rul"></div></div>
      <div class="card chart"><h3>State</h3><div id="states"></div></div>
      <div class="card chart"><h3>Location track</h3><div id="track"></div></div>
    </div>
    <h2>Sensors</h2><div class="grid" id="sensors"></div>`;
  if (!rulKey) main.querySelector("#rul-card").hidden = true;

  async function draw() {
    const start = Math.round(view.end - view.span), end = Math.round(view.end);
    main.querySelector("#span").textContent = `${when(start)} – ${when(end)}`;
    const [tele, alerts, states, locs] = await Promise.all([
      api.telemetry(id, { start, end, points: POINTS, keys: [...sensors, scoreKey, rulKey, rulKey?.replace(".p50", ".p10"), rulKey?.replace(".p50", ".p90")].filter(Boolean).join(",") }),
      api.alerts({ device_id: id, limit: 1000 }),
      api.states(id, { start, end }),
      api.locations(id, { start, end }),
    ]);
    const s = tele.series;
    const bands = alerts.alerts.filter((a) => (a.resolved_ts ?? end) >= start && a.opened_ts <= end)
      .map((a) => [a.opened_ts, a.resolved_ts ?? end, a.severity === "critical" ? "rgba(185,28,28,0.18)" : "rgba(217,119,6,0.18)"]);
    const zoom = (a, b) => { view = { end: b, span: Math.max(60e3, b - a) }; draw(); };
    if (scoreKey && s[scoreKey]) timeChart(main.querySelector("#score"), [{ label: "score", ...s[scoreKey] }], { bands, onZoom: zoom, sync: "dev", range: [start, end] });
    else main.querySelector("#score").innerHTML = `<p class="muted">No anomaly model scores this device in this range.</p>`;
    if (rulKey && s[rulKey]) {
      const lo = s[rulKey.replace(".p50", ".p10")], hi = s[rulKey.replace(".p50", ".p90")];
      timeChart(main.querySelector("#rul"), [{ label: "p50 s", ...s[rulKey] }, ...(lo ? [{ label: "p10", ...lo, dash: [4, 4], color: "#6b7280" }] : []),
        ...(hi ? [{ label: "p90", ...hi, dash: [4, 4], color: "#6b7280" }] : [])], { onZoom: zoom, sync: "dev", range: [start, end] });
    }
    stateBand(main.querySelector("#states"), states.states, start, end);
    track(main.querySelector("#track"), locs.locations);
    const box = main.querySelector("#sensors");
    box.innerHTML = sensors.map((k, i) => `<div class="card chart"><h3>${esc(k)}</h3><div data-sensor="${esc(k)}"></div></div>`).join("");
    sensors.forEach((k, i) => {
      const el = box.querySelector(`[data-sensor="${CSS.escape(k)}"]`);
      if (s[k]) timeChart(el, [{ label: k, ...s[k], color: color(i) }], { height: 140, bands, onZoom: zoom, sync: "dev", range: [start, end] });
      else el.innerHTML = `<p class="muted">No data in this range.</p>`;
    });
    Object.assign(main.dataset, { start: String(start), end: String(end), points: String(POINTS), drawn: String(Date.now()) });
  }
  for (const b of main.querySelectorAll("[data-range]")) b.onclick = () => { view = { end: last || Date.now(), span: RANGES[b.dataset.range] }; draw(); };
  for (const b of main.querySelectorAll("[data-pan]")) b.onclick = () => { view = { ...view, end: view.end + Number(b.dataset.pan) * view.span / 2 }; draw(); };
  await draw();
  let pending = null;
  const off = onLive((kind, d) => {
    if ((kind === "scored" && d.devices.includes(id)) || (kind === "alert" && d.device_id === id)) {
      if (!pending) pending = setTimeout(async () => { pending = null; const dev = await api.device(id); const t = Math.max(...Object.values(dev.latest).map((v) => v.ts)); if (t > view.end && view.end >= last) view.end = t; draw(); }, 1500);
    }
  });
  return () => { off(); clearTimeout(pending); };
}

function stateBand(el, rows, start, end) {
  const byKey = {};
  for (const r of rows) (byKey[r.key] ||= []).push(r);
  const keys = Object.keys(byKey);
  if (!keys.length) { el.innerHTML = `<p class="muted">No state reported.</p>`; return; }
  const names = [...new Set(rows.map((r) => r.value))];
  el.innerHTML = keys.map((k) => {
    const seg = byKey[k].sort((a, b) => a.ts - b.ts).map((r, i, a) => {
      const a0 = Math.max(start, r.ts), a1 = i + 1 < a.length ? a[i + 1].ts : end;
      const left = (100 * (a0 - start)) / (end - start), width = Math.max(0.2, (100 * (a1 - a0)) / (end - start));
      return `<span title="${esc(r.value)} from ${when(r.ts)}" style="position:absolute;left:${left}%;width:${width}%;top:0;bottom:0;background:${color(names.indexOf(r.value))}"></span>`;
    }).join("");
    return `<div>${esc(k)}</div><div style="position:relative;height:22px;border:1px solid #d1d5db" role="img" aria-label="${esc(k)} over time">${seg}</div>`;
  }).join("") + `<p>${names.map((n, i) => `<span class="badge" style="background:${color(i)};color:#fff">${esc(n)}</span>`).join(" ")}</p>`;
}

function track(el, rows) {
  if (!rows.length) { el.innerHTML = `<p class="muted">No location reported.</p>`; return; }
  const lats = rows.map((r) => r.lat), lons = rows.map((r) => r.lon);
  const [a, b, c, d] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const w = 300, h = 160, pad = 10;
  const x = (lon) => pad + ((lon - c) / Math.max(d - c, 1e-6)) * (w - 2 * pad);
  const y = (lat) => h - pad - ((lat - a) / Math.max(b - a, 1e-6)) * (h - 2 * pad);
  const pts = rows.map((r) => `${x(r.lon).toFixed(1)},${y(r.lat).toFixed(1)}`).join(" ");
  const lastRow = rows[rows.length - 1];
  el.innerHTML = `<svg class="track" width="${w}" height="${h}" role="img" aria-label="Location track, ${rows.length} points">
    <polyline points="${pts}" fill="none" stroke="#1d4ed8" stroke-width="2"/><circle cx="${x(lastRow.lon)}" cy="${y(lastRow.lat)}" r="5" fill="#b91c1c"/></svg>
    <div class="muted">last at ${fmt(lastRow.lat, 7)}, ${fmt(lastRow.lon, 7)} (${when(lastRow.ts)})</div>`;
}
