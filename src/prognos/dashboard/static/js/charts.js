// uPlot wrappers. Each chart's element carries data-points (the points drawn) so tests and people can
// check that real data reached the canvas.
const COLORS = ["#1d4ed8", "#b91c1c", "#047857", "#7c3aed", "#b45309", "#0e7490", "#be185d", "#4d7c0f"];

export function color(i) { return COLORS[i % COLORS.length]; }

function size(el, height) { return { width: Math.max(280, el.clientWidth - 4), height }; }

// series: [{label, ts: [ms], values: []}] on one time axis; bands: [[start, end, css color]] drawn behind.
export function timeChart(el, series, { height = 180, bands = [], fill = null, onZoom = null, sync = null, range = null } = {}) {
  el.innerHTML = "";
  const xs = [...new Set(series.flatMap((s) => s.ts))].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const data = [xs.map((t) => t / 1000)];
  for (const s of series) {
    const col = new Array(xs.length).fill(null);
    s.ts.forEach((t, i) => { col[index.get(t)] = s.values[i]; });
    data.push(col);
  }
  const opts = {
    ...size(el, height),
    cursor: sync ? { sync: { key: sync } } : {},
    scales: { x: range ? { time: true, range: () => [range[0] / 1000, range[1] / 1000] } : { time: true } },
    series: [{}, ...series.map((s, i) => ({
      label: s.label, stroke: s.color || color(i), width: 1.5, spanGaps: false,
      fill: fill && fill === i ? "rgba(29,78,216,0.12)" : undefined,
      dash: s.dash,
    }))],
    hooks: {
      drawClear: [(u) => {
        for (const [a, b, c] of bands) {
          const x0 = u.valToPos(a / 1000, "x", true), x1 = u.valToPos(b / 1000, "x", true);
          u.ctx.save(); u.ctx.fillStyle = c;
          u.ctx.fillRect(Math.max(x0, u.bbox.left), u.bbox.top, Math.max(2, Math.min(x1, u.bbox.left + u.bbox.width) - Math.max(x0, u.bbox.left)), u.bbox.height);
          u.ctx.restore();
        }
      }],
      setSelect: onZoom ? [(u) => {
        if (u.select.width > 5) {
          onZoom(Math.round(u.posToVal(u.select.left, "x") * 1000), Math.round(u.posToVal(u.select.left + u.select.width, "x") * 1000));
        }
      }] : [],
    },
  };
  const u = new uPlot(opts, data, el);
  el._uplot = u;
  el.dataset.points = String(data.slice(1).reduce((n, col) => n + col.filter((v) => v !== null).length, 0));
  return u;
}

// A chart drawn on a canvas: how many pixels differ from the background (a test's check that it drew).
export function inkedPixels(el) {
  const c = el.querySelector("canvas");
  if (!c) return 0;
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240)) n++;
  return n;
}
window.prognosInkedPixels = (sel) => inkedPixels(document.querySelector(sel));
