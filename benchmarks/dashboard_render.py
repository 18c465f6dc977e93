"""The dashboard in the browser: the fleet page for 1,000 devices, and one device's month at 1 Hz × 8 sensors.

``prognos serve`` (DuckDB) holds 1,000 devices with predictions and alerts, one of which has 30 days of 1 Hz
telemetry on 8 sensors (20.7M values). Headless Chromium (Debian's, through Playwright) opens the fleet page
and times it until all 1,000 rows are on screen, then opens the device and times a click on "30d" until every
chart has redrawn (the server downsamples each series to the chart's width). Each is the median of
``--repeat`` runs; the goal is under 1 s each. Baselines, in the same run and the same browser: the fleet
page with 10 devices (what does not depend on the fleet's size), and the same 8 charts drawn from 6 hours of
raw points (172,800 — what drawing without server-side downsampling costs, for a 120th of the span).

    python benchmarks/dashboard_render.py [--devices 1000] [--days 30] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from _common import free_port
from _stream import save

from prognos.act.alerts import Alerts
from prognos.act.rules import Condition, Engine, Rule
from prognos.store import open_store
from prognos.types import Reading

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SENSORS = [f"s{i}" for i in range(8)]


def fill(url: str, devices: int, days: float) -> int:
    """The fleet (latest values, predictions, some alerts) and one device's month; returns that month's end."""
    store = open_store(url)
    end = (int(time.time() * 1000) // 1000) * 1000
    rng = np.random.default_rng(0)
    try:
        for i in range(devices):
            kind = ("pump", "motor", "fan")[i % 3]
            store.update_device(f"{kind}-{i:04d}", {"type": kind}, create=True)
        store.write(
            [
                Reading(
                    f"{('pump', 'motor', 'fan')[i % 3]}-{i:04d}",
                    end - int(rng.integers(0, 600_000)),
                    {
                        **{s: float(rng.normal()) for s in SENSORS},
                        "pred.m.anomaly.score": float(rng.gamma(2)),
                        "pred.m.anomaly.ratio": float(rng.gamma(2) / 3),
                        "pred.m.version": 1.0,
                        "pred.r.rul.p10": 900.0,
                        "pred.r.rul.p50": 1800.0,
                        "pred.r.rul.p90": 3000.0,
                    },
                )
                for i in range(devices)
            ]
        )
        book = Alerts(store)
        engine = Engine([Rule("hot", Condition("raw.x", above=0), severity="critical")])
        for i in range(0, devices, 25):
            for t in engine.observe(f"{('pump', 'motor', 'fan')[i % 3]}-{i:04d}", end, {"raw.x": 1.0}):
                book.apply(t)
        n = int(days * 86_400)
        start = end - n * 1000
        store.update_device("month-0000", {"type": "pump"}, create=True)
        t = np.arange(n)
        print(f"writing {n * len(SENSORS) / 1e6:.1f}M values for month-0000 …", flush=True)
        for lo in range(0, n, 100_000):
            hi = min(n, lo + 100_000)
            block = np.sin(2 * np.pi * t[lo:hi, None] / 86_400 + np.arange(len(SENSORS))) + rng.normal(
                0, 0.1, (hi - lo, len(SENSORS))
            )
            store.write(
                [
                    Reading("month-0000", start + int(k) * 1000, dict(zip(SENSORS, row.tolist(), strict=True)))
                    for k, row in zip(t[lo:hi], block, strict=True)
                ]
            )
        return end
    finally:
        store.close()


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [str(Path(sys.executable).parent / "prognos"), "--log-level", "WARNING", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env={**__import__("os").environ, **env})
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health").status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)


def fleet_page(page, url: str, rows: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds from navigation until ``rows`` fleet rows are drawn (the browser's own clock)."""
    page.goto("about:blank")  # a fresh document each time: its clock starts at the navigation
    page.goto(f"{url}/#/fleet")
    page.wait_for_function(f"() => document.querySelector('#fleet')?.dataset.rows === '{rows}'", polling="raf")
    return page.evaluate("() => performance.now()") / 1000


def month_chart(page, url: str, device: str) -> float:  # type: ignore[no-untyped-def]
    """Seconds from a click on 30d until every chart of the device has redrawn."""
    page.goto(f"{url}/#/device/{device}")
    page.wait_for_selector("main[data-drawn]")
    before = page.locator("main").get_attribute("data-drawn")
    t0 = page.evaluate("() => performance.now()")
    page.click('[data-range="30d"]')
    page.wait_for_function(f"() => document.querySelector('main').dataset.drawn !== '{before}'", polling="raf")
    return (page.evaluate("() => performance.now()") - t0) / 1000


def raw_charts(page, url: str, device: str, end: int) -> float:  # type: ignore[no-untyped-def]
    """The baseline: the same 8 charts from 6 h of raw points, drawn with the page's own chart code."""
    page.goto(f"{url}/#/device/{device}")
    page.wait_for_selector("main[data-drawn]")
    return page.evaluate(f"""async () => {{
        const {{ api }} = await import('/js/api.js');
        const {{ timeChart }} = await import('/js/charts.js');
        const box = document.querySelector('#sensors');
        const t0 = performance.now();
        const doc = await api.telemetry('{device}', {{ start: {end - 6 * 3_600_000}, end: {end},
                                                     keys: '{",".join(SENSORS)}' }});
        for (const [k, s] of Object.entries(doc.series)) {{
            const el = box.querySelector(`[data-sensor="${{k}}"]`);
            timeChart(el, [{{ label: k, ...s }}], {{ height: 140 }});
        }}
        await new Promise(requestAnimationFrame);
        return (performance.now() - t0) / 1000;
    }}""")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--days", type=float, default=30.0)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="prognos-ui-") as tmp:
        big = {"PROGNOS_STORE": f"duckdb:///{tmp}/big.duckdb", "PROGNOS_REGISTRY": f"{tmp}/models"}
        small = {"PROGNOS_STORE": f"duckdb:///{tmp}/small.duckdb", "PROGNOS_REGISTRY": f"{tmp}/models-small"}
        end = fill(big["PROGNOS_STORE"], args.devices, args.days)
        fill(small["PROGNOS_STORE"], 10, 0.01)
        (proc, url), (proc_small, url_small) = serve(big), serve(small)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                fleet_page(page, url, args.devices + 1)  # warm: caches, DuckDB pages
                month_chart(page, url, "month-0000")
                fleet = [fleet_page(page, url, args.devices + 1) for _ in range(args.repeat)]
                fleet10 = [fleet_page(page, url_small, 11) for _ in range(args.repeat)]
                month = [month_chart(page, url, "month-0000") for _ in range(args.repeat)]
                raw = [raw_charts(page, url, "month-0000", end) for _ in range(args.repeat)]
                browser.close()
        finally:
            for x in (proc, proc_small):
                x.terminate()
                x.wait(30)
    f, f10, m, r = (statistics.median(x) for x in (fleet, fleet10, month, raw))
    print(
        f"\nfleet page, {args.devices} devices: {f * 1000:.0f} ms (goal < 1000); 10 devices: {f10 * 1000:.0f} ms; "
        f"ratio {f / f10:.2f}"
    )
    print(
        f"device, {args.days:g} days × 1 Hz × 8 sensors, downsampled by the server: {m * 1000:.0f} ms (goal < 1000); "
        f"6 h of raw points, drawn the same way: {r * 1000:.0f} ms; ratio {m / r:.2f}"
    )
    found = {"args": vars(args), "fleet_s": fleet, "fleet10_s": fleet10, "month_s": month, "raw6h_s": raw}
    print("saved", save("dashboard_render", found))


if __name__ == "__main__":
    main()
