// Hash routes → pages. Each page renders into <main> and may return a cleanup; live events reach the page shown.
import { events } from "./api.js";
import { fleetPage } from "./fleet.js";
import { devicePage } from "./device.js";
import { alertsPage, alertPage } from "./alerts.js";
import { modelsPage, modelPage } from "./models.js";
import { healthPage } from "./health.js";
import { error } from "./util.js";

const routes = [
  [/^#\/(fleet)?$/, fleetPage, "fleet"],
  [/^#\/device\/(.+)$/, devicePage, "fleet"],
  [/^#\/alerts$/, alertsPage, "alerts"],
  [/^#\/alert\/(.+)$/, alertPage, "alerts"],
  [/^#\/models$/, modelsPage, "models"],
  [/^#\/model\/(.+)$/, modelPage, "models"],
  [/^#\/health$/, healthPage, "health"],
];

const listeners = new Set();
export function onLive(fn) { listeners.add(fn); return () => listeners.delete(fn); }

let cleanup = null;
async function show() {
  const hash = location.hash || "#/fleet";
  const main = document.getElementById("main");
  if (cleanup) { cleanup(); cleanup = null; }
  listeners.clear();
  for (const [re, page, nav] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("on", a.dataset.nav === nav);
    main.innerHTML = "";
    main.dataset.page = nav;
    main.dataset.ready = "false";
    try {
      cleanup = (await page(main, decodeURIComponent(m[1] || ""))) || null;
    } catch (e) {
      error(main, e);
    }
    main.dataset.ready = "true";
    return;
  }
  main.innerHTML = `<p class="error" role="alert">No such page: ${hash.replace(/[<>&]/g, "")}</p>`;
}

const live = document.getElementById("live");
events({
  scored: (d) => listeners.forEach((fn) => fn("scored", d)),
  alert: (d) => listeners.forEach((fn) => fn("alert", d)),
  ping: () => {},
  hello: () => {},
}, (state) => { live.textContent = state === "live" ? "● live" : state; live.dataset.state = state; });

window.addEventListener("hashchange", show);
show();
