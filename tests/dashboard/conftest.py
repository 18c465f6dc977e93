"""A real prognos server on loopback, fed by the simulator, and Debian's Chromium driven by Playwright.

The server has a history (the demo's scenario: faults, wear, failures), models trained on it, rules that
raise alerts, and a live feed running through the session, so pages have data, alerts and live updates.
Screenshots of every page land in ``test-artifacts/screenshots`` (``docs/screenshots`` holds a recent set).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from prognos.config import Settings
from prognos.demo.scenario import plan
from prognos.registry import Registry
from prognos.server import create_app
from prognos.server.background import BackgroundServer
from prognos.sim import send
from prognos.store import open_store
from prognos.types import now_ms
from tests.services import free_port

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
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
RULES = """rules:
  - name: anomaly
    signal: anomaly.ratio
    above: 0.6
    exit: 0.4
    n_of_m: [2, 3]
    severity: warning
  - name: short-life
    signal: rul.p50
    below: 1200
    severity: critical
"""


@dataclass
class Site:
    url: str
    http: httpx.Client
    devices: list[str]


def _train(store: Any, registry: Registry, scenario: Any, work: Path) -> list[tuple[str, str]]:
    from prognos.train.tasks import Config, Selection, train_store

    labels = work / "truth.json"
    labels.write_text(json.dumps(scenario.history_truth()))
    names = []
    for kind, task in (
        ("pump", "anomaly"),
        ("pump", "rul"),
        ("pump", "classify"),
        ("motor", "anomaly"),
        ("fan", "anomaly"),
    ):
        selection = Selection(scenario.fleet.start, scenario.live_start, device_type=kind)
        deep = Config(epochs=2, detectors=("conv-ae",))  # the pages' alerts come from the network, as they always have
        card = train_store(task, store, selection, work / f"{kind}-{task}", labels, deep)
        v = registry.publish(card.parent)
        registry.promote(v.name, v.version)
        names.append((kind, v.name))
    selection = Selection(scenario.fleet.start, scenario.live_start, device_type="fan")
    card = train_store("anomaly", store, selection, work / "fan-contest", labels, Config(epochs=2), "fan-contest")
    v = registry.publish(card.parent)  # chosen by contest: the model page shows how
    registry.promote(v.name, v.version)
    v2 = registry.publish(work / "pump-anomaly")  # a second version to promote from the UI
    registry.promote(v2.name, v2.version, "challenger")
    return names


# Module-scoped, both: Playwright's sync API keeps an event loop running in this thread while it is open
# (every later asyncio.run() in the session would fail), and the live feed should not outlive these tests.
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("dashboard")
    scenario = plan(6, 3600, 1800, seed=5, now=now_ms())
    store = open_store(f"duckdb:///{work}/ui.duckdb")
    fleet = scenario.fleet
    for d in fleet.devices:
        store.update_device(d.device_id, {"type": d.type, "location": d.location}, create=True)
    for second in send.seconds(fleet, 0, scenario.history_chunks):
        store.write(second)
    registry = Registry(store, work / "models")
    names = _train(store, registry, scenario, work)
    (work / "rules.yaml").write_text(RULES)
    kinds: dict[str, list[str]] = {}
    for kind, name in names:
        kinds.setdefault(kind, []).append(name)
    stream = ";".join(f"{k}={','.join(v)}" for k, v in kinds.items())
    settings = Settings.of(registry=str(work / "models"), stream=stream, rules=str(work / "rules.yaml"), model_poll=0.5)
    app = create_app(store, settings)
    stop = threading.Event()
    with BackgroundServer(app, port=free_port()) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        target = send.HttpTarget(server.url)
        target.registered = True

        def feed() -> None:  # the live window, five simulated seconds every second of wall time
            for i, batch in enumerate(send.seconds(fleet, scenario.history_chunks)):
                if stop.is_set():
                    return
                if batch:
                    target.send(batch)
                if i % 5 == 4:
                    time.sleep(1.0)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        deadline = time.monotonic() + 60
        while not any(a["state"] == "open" for a in http.get("/api/v1/alerts").json()["alerts"]):
            assert time.monotonic() < deadline, "no alert opened from the live feed"
            time.sleep(0.5)
        yield Site(server.url, http, [d.device_id for d in fleet.devices])
        stop.set()
        feeder.join(10)
        target.close()
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@dataclass
class Tab:
    page: Any
    errors: list[str]

    def goto(self, site: Site, route: str) -> Any:
        self.page.goto(f"{site.url}/#{route}")
        self.page.wait_for_selector('main[data-ready="true"]', timeout=20_000)
        return self.page

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    yield Tab(page, errors)
    context.close()
