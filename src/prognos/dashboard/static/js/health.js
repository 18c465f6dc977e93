// Drift and system health: every model's data and prediction drift over time (the figures the drift rules
// see), and the server's own numbers — the same ones /metrics exports — as rates and latencies, live.
import { api } from "./api.js";
import { timeChart, color } from "./charts.js";
import { esc, fmt } from "./util.js";

export async function healthPage(main) {
  main.innerHTML = `<h1>Drift and system health</h1>
    <h2>System</h2><div class="grid" id="system">
      <div class="card chart"><h3>Ingest (readings/s)</h3><div id="ingest"></div></div>
      <div class="card chart"><h3>Decision latency, mean (ms)</h3><div id="decide"></div></div>
      <div class="card chart"><h3>Inference: ONNX Runtime time per batch, mean (ms)</h3><div id="infer"></div></div>
      <div class="card chart"><h3>Queues: store (readings), scorer (batches)</h3><div id="queues"></div></div>
    </div><dl class="kv" id="numbers"></dl>
    <h2>Drift</h2><div class="bar"><label>Model <select id="model"></select></label>
      <span class="muted">PSI per input; above 0.25 is a real shift.</span></div>
    <div class="grid"><div class="card chart"><h3>Data drift (PSI per sensor)</h3><div id="data"></div></div>
      <div class="card chart"><h3>Prediction drift (PSI, KS)</h3><div id="pred"></div></div></div>`;
  const samples = [];
  async function tick() {
    const s = await api.system();
    samples.push(s);
    if (samples.length > 120) samples.shift();
    const m = s.metrics, prev = samples.length > 1 ? samples[samples.length - 2] : null;
    const rate = (get) => prev ? Math.max(0, (get(s) - get(prev)) / ((s.ts - prev.ts) / 1000)) : null;
    s.ingest = rate((x) => x.writer.readings);
    const d = (x) => x.metrics.prognos_stream_decision_seconds_count || 0, ds = (x) => x.metrics.prognos_stream_decision_seconds_sum || 0;
    s.decide = prev && d(s) > d(prev) ? (1000 * (ds(s) - ds(prev))) / (d(s) - d(prev)) : null;
    const c = (x) => x.metrics.prognos_inference_compute_seconds_count || 0, cs = (x) => x.metrics.prognos_inference_compute_seconds_sum || 0;
    s.infer = prev && c(s) > c(prev) ? (1000 * (cs(s) - cs(prev))) / (c(s) - c(prev)) : null;
    const pts = samples.filter((x) => x.ingest !== undefined);
    const ts = pts.map((x) => x.ts);
    const range = [s.ts - 240e3, s.ts + 2e3];  // the last four minutes
    timeChart(main.querySelector("#ingest"), [{ label: "readings/s", ts, values: pts.map((x) => x.ingest) }], { height: 140, range });
    timeChart(main.querySelector("#decide"), [{ label: "ms", ts, values: pts.map((x) => x.decide) }], { height: 140, range });
    timeChart(main.querySelector("#infer"), [{ label: "ms", ts, values: pts.map((x) => x.infer) }], { height: 140, range });
    timeChart(main.querySelector("#queues"), [{ label: "store", ts, values: pts.map((x) => x.writer.pending) },
      { label: "scorer", ts, values: pts.map((x) => x.metrics.prognos_stream_backlog ?? 0) }], { height: 140, range });
    main.querySelector("#numbers").innerHTML = [["readings stored", s.writer.readings], ["store write failures", s.writer.failures],
      ["windows scored", m.prognos_stream_predictions_total], ["late readings", m.prognos_stream_late_readings],
      ["alert transitions", m.prognos_alert_transitions_total], ["inference requests", m.prognos_inference_requests_total]]
      .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${fmt(v ?? 0, 6)}</dd>`).join("");
  }
  const models = (await api.models()).models.map((x) => x.name);
  const pick = main.querySelector("#model");
  pick.innerHTML = models.map((n) => `<option>${esc(n)}</option>`).join("");
  async function drift() {
    if (!pick.value) return;
    const doc = await api.drift(pick.value, {});
    const per = Object.entries(doc.series).filter(([k]) => k.startsWith("psi.") );
    const pred = Object.entries(doc.series).filter(([k]) => k === "pred.psi" || k === "pred.ks");
    const el = main.querySelector("#data"), ep = main.querySelector("#pred");
    if (per.length) timeChart(el, per.map(([k, v], i) => ({ label: k.slice(4), ...v, color: color(i) })), { height: 200 });
    else el.innerHTML = `<p class="muted">No drift measured yet (it needs 500 scored windows).</p>`;
    if (pred.length) timeChart(ep, pred.map(([k, v], i) => ({ label: k, ...v, color: color(i) })), { height: 200 });
    else ep.innerHTML = `<p class="muted">No prediction drift measured yet.</p>`;
  }
  pick.onchange = drift;
  await Promise.all([tick(), drift()]);
  const timer = setInterval(() => tick().catch(() => {}), 2000);
  return () => clearInterval(timer);
}
