// Alerts: the list with filters; one alert with its window, the sensors behind it, actions and history.
import { api } from "./api.js";
import { onLive } from "./app.js";
import { timeChart } from "./charts.js";
import { badge, esc, fmt, when } from "./util.js";

export async function alertsPage(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const f = { state: params.get("state") || "", severity: params.get("severity") || "", device_id: params.get("device") || "" };
  main.innerHTML = `
    <h1>Alerts</h1>
    <div class="bar">
      <label>State <select id="state"><option value="">all</option><option>open</option><option>acknowledged</option><option>resolved</option></select></label>
      <label>Severity <select id="severity"><option value="">all</option><option>critical</option><option>warning</option><option>info</option></select></label>
      <label>Device <input id="device" type="search" placeholder="device id"></label>
      <span class="muted" id="count" aria-live="polite"></span>
    </div>
    <table id="alerts"><thead><tr><th scope="col">Opened</th><th scope="col">State</th><th scope="col">Severity</th>
      <th scope="col">Rule</th><th scope="col">Device</th><th scope="col">Value</th><th scope="col">Top sensors</th></tr></thead><tbody></tbody></table>`;
  const sel = (id) => main.querySelector(id);
  sel("#state").value = f.state; sel("#severity").value = f.severity; sel("#device").value = f.device_id;
  async function load() {
    const doc = await api.alerts({ ...f, limit: 500 });
    sel("#alerts").tBodies[0].innerHTML = doc.alerts.map((a) => `<tr data-alert="${esc(a.id)}" data-state="${a.state}">
      <td><a href="#/alert/${encodeURIComponent(a.id)}">${when(a.opened_ts)}</a></td><td>${badge(a.state)}</td><td>${badge(a.severity)}</td>
      <td>${esc(a.rule)}</td><td><a href="#/device/${encodeURIComponent(a.device_id)}">${esc(a.device_id)}</a></td>
      <td class="num">${fmt(a.value)}</td><td>${(a.explanation?.top_sensors || []).map(([s]) => esc(s)).join(", ")}</td></tr>`).join("");
    sel("#count").textContent = `${doc.alerts.length} alerts`;
    sel("#alerts").dataset.rows = String(doc.alerts.length);
  }
  for (const [id, k] of [["#state", "state"], ["#severity", "severity"], ["#device", "device_id"]]) {
    sel(id).onchange = (e) => { f[k] = e.target.value; load(); };
  }
  await load();
  const off = onLive((kind) => { if (kind === "alert") load(); });
  return off;
}

export async function alertPage(main, id) {
  async function render() {
    const a = await api.alert(id);
    const why = a.explanation || {};
    const contrib = Object.entries(why.contributions || {}).sort((x, y) => y[1] - x[1]);
    const top = contrib.length ? contrib[0][1] : 1;
    main.innerHTML = `
      <h1>Alert ${badge(a.state)} ${badge(a.severity)} <span class="muted">${esc(a.rule)}</span></h1>
      <dl class="kv"><dt>Device</dt><dd><a href="#/device/${encodeURIComponent(a.device_id)}">${esc(a.device_id)}</a></dd>
        <dt>Opened</dt><dd>${when(a.opened_ts)}</dd><dt>Value</dt><dd>${fmt(a.value)}</dd>
        <dt>Model</dt><dd>${why.model ? `<a href="#/model/${encodeURIComponent(why.model)}">${esc(why.model)}</a> v${esc(why.version)}` : "–"}</dd>
        <dt>Window</dt><dd>${why.window ? `${when(why.window[0])} – ${when(why.window[1])}` : "–"}</dd>
        <dt>Acknowledged by</dt><dd>${esc(a.acknowledged_by || "–")} ${a.note ? `<span class="muted">“${esc(a.note)}”</span>` : ""}</dd>
        <dt>Id</dt><dd><code>${esc(a.id)}</code></dd></dl>
      <div class="bar" style="margin-top:12px">
        <label>Your name <input id="by" value="${esc(localStorage.getItem("prognos.by") || "")}" placeholder="who" required></label>
        <label>Note <input id="note" placeholder="optional"></label>
        <button class="primary" id="ack" ${a.state !== "open" ? "disabled" : ""}>Acknowledge</button>
        <button id="resolve" ${a.state === "resolved" ? "disabled" : ""}>Resolve</button>
        <button id="false-alarm" title="Nothing was wrong: the device's normal learns it" ${a.history.some((h) => h.false_alarm) ? "disabled" : ""}>False alarm</button>
        <span id="msg" role="status" aria-live="polite"></span>
      </div>
      <h2>Per-sensor contributions</h2>
      <div class="contrib" id="contrib">${contrib.map(([s, v]) => `<span>${esc(s)}</span>
        <span><span class="fill" style="display:block;width:${Math.max(0.5, (100 * v) / top)}%"></span></span><span class="num">${fmt(v)}</span>`).join("") || `<span class="muted">This model gives no per-sensor explanation.</span>`}</div>
      <h2>The triggering window <span class="muted">(shaded; each sensor scaled to its own range)</span></h2><div class="card chart"><div id="window"></div></div>
      <h2>Actions</h2><table><thead><tr><th>Action</th><th>Outcome</th><th>Attempts</th><th>Status</th><th>Error</th><th>At</th></tr></thead><tbody>
        ${Object.entries(a.actions).map(([k, o]) => `<tr><td>${esc(k)}</td><td>${o.ok ? badge("resolved").replace(">resolved<", ">done<") : badge("open").replace(">open<", ">failed<")}</td>
          <td class="num">${o.attempts}</td><td>${esc(o.status ?? o.topic ?? "")}</td><td>${esc(o.error || "")}</td><td>${when(o.ts)}</td></tr>`).join("") || `<tr><td colspan="6" class="muted">No actions for this rule.</td></tr>`}
      </tbody></table>
      <h2>History</h2><ul>${a.history.map((h) => `<li>${when(h.ts)} — ${esc(h.event)}${h.by ? ` by ${esc(h.by)}` : ""}${h.value !== undefined && h.value !== null ? `, value ${fmt(h.value)}` : ""}${h.false_alarm ? " — a false alarm" : ""}</li>`).join("")}</ul>`;
    const act = async (fn) => {
      const by = main.querySelector("#by").value.trim();
      if (!by) { main.querySelector("#msg").textContent = "Say who you are first."; main.querySelector("#by").focus(); return; }
      localStorage.setItem("prognos.by", by);
      try { await fn(id, by, main.querySelector("#note").value || null); await render(); main.querySelector("#msg").textContent = "Saved."; }
      catch (e) { main.querySelector("#msg").textContent = e.message; }
    };
    main.querySelector("#ack").onclick = () => act(api.acknowledge);
    main.querySelector("#resolve").onclick = () => act(api.resolve);
    main.querySelector("#false-alarm").onclick = () => act((i, by, note) => api.resolve(i, by, note, true));
    if (why.window) {
      const [w0, w1] = why.window, pad = Math.max(60e3, w1 - w0);
      const sensors = (why.top_sensors || []).map(([s]) => s);
      const tele = await api.telemetry(a.device_id, { start: w0 - pad, end: w1 + pad, points: 400, keys: sensors.join(",") || undefined });
      // Sensors of other units on one axis: each scaled to its own range here, so every shape shows.
      const series = Object.entries(tele.series).filter(([k]) => !k.startsWith("pred.")).map(([k, v]) => {
        const lo = Math.min(...v.values), hi = Math.max(...v.values), span = hi - lo || 1;
        return { label: `${k} (${fmt(lo)}…${fmt(hi)})`, ts: v.ts, values: v.values.map((x) => (x - lo) / span) };
      });
      if (series.length) timeChart(main.querySelector("#window"), series, { bands: [[w0, w1, "rgba(185,28,28,0.15)"]] });
      else main.querySelector("#window").innerHTML = `<p class="muted">No readings stored for this window any more.</p>`;
    }
  }
  await render();
  return onLive((kind, d) => { if (kind === "alert" && d.id === id) render(); });
}
