// Small helpers: safe HTML, formats, a confirmation dialog.
export function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
export function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return esc(v);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(digits)).toString();
}
export function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 90) return `${s.toFixed(0)} s ago`;
  if (s < 5400) return `${(s / 60).toFixed(0)} min ago`;
  if (s < 129600) return `${(s / 3600).toFixed(1)} h ago`;
  return `${(s / 86400).toFixed(1)} d ago`;
}
export function when(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "–"; }
export function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 120) return `${s.toFixed(0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
export function badge(text) { return `<span class="badge ${esc(text)}">${esc(text)}</span>`; }
export function error(main, e) { main.insertAdjacentHTML("afterbegin", `<p class="error" role="alert">${esc(e.message || e)}</p>`); }

// A modal confirmation (keyboard: Tab between buttons, Esc cancels); resolves true or false.
export function confirmBox(text) {
  return new Promise((resolve) => {
    const d = document.createElement("dialog");
    d.setAttribute("aria-label", "Confirm");
    d.innerHTML = `<p>${esc(text)}</p><div class="bar"><button class="primary" data-ok>Yes, do it</button><button data-no>Cancel</button></div>`;
    document.body.append(d);
    const done = (v) => { d.close(); d.remove(); resolve(v); };
    d.querySelector("[data-ok]").onclick = () => done(true);
    d.querySelector("[data-no]").onclick = () => done(false);
    d.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
    d.showModal();
    d.querySelector("[data-no]").focus();
  });
}

// Sortable, keyboard-operable table headers: click or Enter/Space on a header sorts by it.
export function sortable(table, state, render) {
  for (const th of table.querySelectorAll("th[data-key]")) {
    th.tabIndex = 0;
    th.setAttribute("aria-sort", state.key === th.dataset.key ? (state.dir > 0 ? "ascending" : "descending") : "none");
    const go = () => { state.dir = state.key === th.dataset.key ? -state.dir : 1; state.key = th.dataset.key; render(); };
    th.onclick = go;
    th.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } };
  }
}
export function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  return a < b ? -1 : 1;
}
