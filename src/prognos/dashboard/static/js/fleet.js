// Fleet: every device, its status and what its models say now; sortable, filterable, live.
import { api } from "./api.js";
import { onLive } from "./app.js";
import { ago, badge, compare, duration, esc, fmt, sortable } from "./util.js";

const ORDER = { alarm: 0, warning: 1, offline: 2, healthy: 3 };

export async function fleetPage(main) {
  const state = { key: "status", dir: 1, text: "", status: "", rows: [], counts: {} };
  main.innerHTML = `
    <h1>Fleet</h1>
    <div class="bar">
      <label>Filter <input id="filter" type="search" placeholder="device or type" aria-label="Filter devices"></label>
      <label>Status <select id="status" aria-label="Filter by status">
        <option value="">all</option><option>alarm</option><option>warning</option><option>healthy</option><option>offline</option>
      </select></label>
      <span class="counts" id="counts" aria-live="polite"></span>
    </div>
    <table id="fleet"><thead><tr>
      <th data-key="device_id" scope="col">Device</th><th data-key="type" scope="col">Type</th>
      <th data-key="status" scope="col">Status</th><th data-key="last_seen" scope="col">Last seen</th>
      <th data-key="score" scope="col">Anomaly (× alarm cut)</th><th data-key="state" scope="col">State</th>
      <th data-key="rul" scope="col">Remaining life (p10–p90)</th><th data-key="alerts" scope="col">Open alerts</th>
    </tr></thead><tbody></tbody></table>`;
  const table = main.querySelector("#fleet");
  const value = (r, k) => ({
    status: ORDER[r.status], score: r.anomaly?.["anomaly.ratio"] ?? r.anomaly?.["anomaly.score"],
    state: r.state?.class, rul: r.rul?.["rul.p50"], alerts: r.alerts.open,
  }[k] ?? r[k]);

  function render() {
    const text = state.text.toLowerCase();
    const rows = state.rows
      .filter((r) => (!state.status || r.status === state.status) &&
        (!text || r.device_id.toLowerCase().includes(text) || (r.type || "").toLowerCase().includes(text)))
      .sort((a, b) => state.dir * compare(value(a, state.key), value(b, state.key)) || compare(a.device_id, b.device_id));
    table.tBodies[0].innerHTML = rows.map((r) => {
      const a = r.anomaly, s = r.state, l = r.rul;
      const score = !a ? "–" : a["anomaly.ratio"] === undefined ? fmt(a["anomaly.score"])
        : `${fmt(a["anomaly.ratio"], 2)}× <span class="muted" title="raw score; how often normal data scores as high">` +
          `(score ${fmt(a["anomaly.score"])}${a["anomaly.p"] !== undefined ? `, p ${a["anomaly.p"].toExponential(1)}` : ""})</span>`;
      const life = l ? `${duration(l["rul.p50"])} <span class="muted">(${duration(l["rul.p10"])}–${duration(l["rul.p90"])})</span>` : "–";
      return `<tr data-device="${esc(r.device_id)}" data-status="${r.status}">
        <td><a href="#/device/${encodeURIComponent(r.device_id)}">${esc(r.device_id)}</a></td><td>${esc(r.type || "–")}</td>
        <td>${badge(r.status)}</td><td>${ago(r.last_seen)}</td><td class="num">${score}</td>
        <td>${s ? `${esc(s.class ?? s["classify.index"])} <span class="muted">${fmt(s["classify.prob"], 2)}</span>` : "–"}</td>
        <td class="num">${life}</td>
        <td class="num">${r.alerts.open ? `<a href="#/alerts?device=${encodeURIComponent(r.device_id)}">${r.alerts.open}</a> ${badge(r.alerts.severity)}` : "0"}</td></tr>`;
    }).join("");
    main.querySelector("#counts").innerHTML = Object.entries(state.counts).map(([k, n]) => `<span>${badge(k)} ${n}</span>`).join("") +
      `<span class="muted">${rows.length} of ${state.rows.length} shown</span>`;
    table.dataset.rows = String(rows.length);
    sortable(table, state, render);
  }

  async function load() {
    const doc = await api.fleet();
    state.rows = doc.devices;
    state.counts = doc.counts;
    render();
    main.dataset.updated = String(doc.ts);
  }
  main.querySelector("#filter").oninput = (e) => { state.text = e.target.value; render(); };
  main.querySelector("#status").onchange = (e) => { state.status = e.target.value; render(); };
  await load();
  let pending = null;
  const off = onLive(() => { if (!pending) pending = setTimeout(() => { pending = null; load(); }, 1000); });
  return () => { off(); clearTimeout(pending); };
}
