// Models: the registry, each model's versions with the figures on their cards, champion against challenger
// (card metrics, shadow results, retraining runs), promote and roll back with a confirmation.
import { api } from "./api.js";
import { onLive } from "./app.js";
import { badge, confirmBox, esc, fmt, when } from "./util.js";

export async function modelsPage(main) {
  const doc = await api.models();
  main.innerHTML = `<h1>Models</h1><table id="models"><thead><tr><th scope="col">Model</th><th scope="col">Task</th>
    <th scope="col">Versions</th><th scope="col">Aliases</th></tr></thead><tbody>
    ${doc.models.map((m) => `<tr data-model="${esc(m.name)}"><td><a href="#/model/${encodeURIComponent(m.name)}">${esc(m.name)}</a></td>
      <td>${esc(m.task || "")}</td><td class="num">${m.versions.length}</td>
      <td>${Object.entries(m.aliases).map(([a, v]) => `${esc(a)} → v${v}`).join(", ") || "–"}</td></tr>`).join("")}
    </tbody></table>`;
  main.querySelector("#models").dataset.rows = String(doc.models.length);
}

function metrics(card) {
  const m = { ...(card.metrics || {}) };
  delete m.search; delete m.protocol;
  const flat = Object.entries(m).filter(([, v]) => typeof v === "number");
  if (card.output?.threshold !== undefined) flat.push(["threshold", card.output.threshold]);
  if (card.data?.train_windows !== undefined) flat.push(["training windows", card.data.train_windows]);
  if (card.onnx_parity_max_abs_diff !== undefined) flat.push(["ONNX parity", card.onnx_parity_max_abs_diff]);
  return flat;
}

// How training chose the champion's detector: every candidate's showing on the later data, and why one serves.
function contestTable(contest) {
  if (!contest) return "";
  const rows = (contest.entries || []).map((e) => `<tr data-candidate="${esc(e.name)}"${e.served ? " data-served" : ""}>
    <td>${esc(e.name)}${e.deep ? " (deep)" : ""}</td><td class="num">${fmt(e.event_f1)}</td><td class="num">${fmt(e.events)}</td>
    <td class="num">${fmt(e.false_alarms_per_device_day)}</td><td class="num">${fmt(e.mean_delay_s)}</td>
    <td class="num">${fmt(100 * e.alarm_share)} %</td><td>${e.served ? "served" : ""}</td></tr>`).join("");
  return `<h2>How it was chosen</h2><p id="why">${esc(contest.why)}</p>${rows ? `<table id="contest"><thead><tr>
    <th scope="col">Candidate</th><th scope="col">Event F1</th><th scope="col">Events</th><th scope="col">False alarms / device-day</th>
    <th scope="col">Mean delay s</th><th scope="col">In alarm</th><th scope="col"></th></tr></thead><tbody>${rows}</tbody></table>
    <p class="muted">${esc(contest.validation || "")}; ${esc(contest.metric || "")}, at an alarm budget of ${esc(contest.budget || "")}.</p>` : ""}`;
}

export async function modelPage(main, name) {
  async function render() {
    const [doc, runs, shadow] = await Promise.all([api.model(name), api.retraining({ model: name }).catch(() => ({ runs: [] })),
      api.shadow(name).catch(() => null)]);
    const versions = await Promise.all(doc.versions.map((v) => api.version(name, v.version)));  // with their cards
    const aliases = doc.aliases;
    const byVersion = Object.fromEntries(versions.map((v) => [v.version, v]));
    const champ = byVersion[aliases.champion], chall = byVersion[aliases.challenger];
    const keys = [...new Set([...(champ ? metrics(champ.card) : []), ...(chall ? metrics(chall.card) : [])].map(([k]) => k))];
    const get = (v, k) => v && Object.fromEntries(metrics(v.card))[k];
    main.innerHTML = `
      <h1>${esc(name)} <span class="muted">${esc(champ?.card?.task || "")}</span></h1>
      <h2>Champion and challenger</h2>
      ${champ ? `<table id="compare"><thead><tr><th>Figure</th><th>champion v${champ.version}</th><th>${chall ? `challenger v${chall.version}` : "no challenger"}</th></tr></thead><tbody>
        ${keys.map((k) => `<tr><td>${esc(k)}</td><td class="num">${fmt(get(champ, k))}</td><td class="num">${fmt(get(chall, k))}</td></tr>`).join("")}
        <tr><td>trained</td><td>${esc(champ.card.created || "")}</td><td>${esc(chall?.card?.created || "–")}</td></tr></tbody></table>` : `<p class="muted">No champion yet.</p>`}
      ${contestTable(champ?.card?.metrics?.contest)}
      ${shadow && shadow.compared ? `<p id="shadow">Shadow: ${shadow.compared} requests answered by both; ${Object.entries(shadow.outputs)
        .map(([k, o]) => `${esc(k)}: mean absolute difference ${fmt(o.mean_abs_diff)}, largest ${fmt(o.max_abs_diff)}`).join("; ")}.</p>` : ""}
      <h2>Retraining</h2>
      ${runs.runs.length ? `<table><thead><tr><th>Started</th><th>Trigger</th><th>State</th><th>Champion</th><th>Challenger</th><th>Why</th></tr></thead><tbody>
        ${runs.runs.map((r) => `<tr><td>${when(r.started)}</td><td>${esc(r.trigger)}</td><td>${badge(r.state === "promoted" ? "resolved" : r.state === "failed" ? "open" : "info").replace(/>[a-z]+</, `>${esc(r.state)}<`)}</td>
          <td>v${esc(r.champion)}</td><td>${r.challenger ? `v${esc(r.challenger)}` : "–"}</td><td>${esc(r.reason || "")}</td></tr>`).join("")}</tbody></table>` : `<p class="muted">No retraining runs.</p>`}
      <h2>Versions</h2>
      <table id="versions"><thead><tr><th scope="col">Version</th><th scope="col">Aliases</th><th scope="col">Created</th><th scope="col">Figures</th><th scope="col">Promote</th></tr></thead><tbody>
      ${versions.slice().reverse().map((v) => `<tr data-version="${v.version}"><td>v${v.version}${v.archived ? " (archived)" : ""}</td>
        <td>${v.aliases.map((a) => badge(a === "champion" ? "resolved" : "info").replace(/>[a-z]+</, `>${esc(a)}<`)).join(" ")}</td>
        <td>${when(v.created_ms)}</td><td>${metrics(v.card).slice(0, 4).map(([k, x]) => `${esc(k)} ${fmt(x)}`).join("; ")}</td>
        <td>${v.aliases.includes("champion") || v.archived ? "" : `<button data-promote="${v.version}">Make champion</button>`}</td></tr>`).join("")}
      </tbody></table>
      <div class="bar" style="margin-top:12px"><button id="rollback" ${champ ? "" : "disabled"}>Roll the champion back</button><span id="msg" role="status" aria-live="polite"></span></div>`;
    for (const b of main.querySelectorAll("[data-promote]")) {
      b.onclick = async () => {
        if (!(await confirmBox(`Make v${b.dataset.promote} the champion of ${name}? It serves every request and stream from now on.`))) return;
        try { await api.promote(name, "champion", Number(b.dataset.promote)); await render(); main.querySelector("#msg").textContent = `v${b.dataset.promote} is champion.`; }
        catch (e) { main.querySelector("#msg").textContent = e.message; }
      };
    }
    main.querySelector("#rollback").onclick = async () => {
      if (!(await confirmBox(`Move the champion of ${name} back to the version it pointed at before?`))) return;
      try { await api.rollback(name, "champion"); await render(); main.querySelector("#msg").textContent = "Rolled back."; }
      catch (e) { main.querySelector("#msg").textContent = e.message; }
    };
  }
  await render();
}
