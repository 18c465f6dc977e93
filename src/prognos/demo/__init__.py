"""``prognos demo``: the whole loop on the embedded default, in one command.

A simulated fleet (`prognos.demo.scenario`) gets a past and a present. The past goes into the store;
the three model kinds are trained on it for every machine type, published and promoted; the server
starts with stream scoring and alert rules whose webhooks reach a stand-in maintenance desk
(`prognos.demo.desk`); the present streams in over HTTP in real time, is scored as it arrives, and raises
and acts on alerts. At the end (``--duration``, or Ctrl-C) the alerts are scored against the simulator's
ground truth (`prognos.demo.summary`).
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from prognos.config import Settings
from prognos.demo.desk import MaintenanceDesk
from prognos.demo.scenario import Scenario, plan, rules
from prognos.demo.summary import summary
from prognos.errors import InvalidInput, PrognosError
from prognos.recipes import Order
from prognos.recipes import train as build
from prognos.registry import Registry
from prognos.server.app import create_app
from prognos.server.background import BackgroundServer
from prognos.sim import send
from prognos.sim.fleet import CHUNK_S
from prognos.store import Store, open_store
from prognos.train.tasks import Selection
from prognos.types import now_ms

FOLDER = Path("prognos-data/demo")
TASKS = ("anomaly", "classify", "rul")
SECRET = "prognos-demo"


@dataclass(frozen=True)
class Demo:
    """The demo's size: machines, seconds live, hours of history to learn from, training epochs, the seed."""

    devices: int = 12
    duration: float = 120.0
    history: float = 2.0
    epochs: int = 40
    seed: int = 42
    keep_serving: bool = False  # after the live window, serve until Ctrl-C

    def __post_init__(self) -> None:
        if self.devices < 3 or self.duration <= 0 or self.history <= 0 or self.epochs < 1:
            raise InvalidInput(
                "--devices must be at least 3; --duration, --history and --epochs positive", field="devices"
            )


def run_demo(settings: Settings = Settings(), store_url: str | None = None, demo: Demo = Demo()) -> None:
    """Run the demo on ``store_url``, or (None) on a fresh embedded store under prognos-data/demo."""
    if store_url is None:
        shutil.rmtree(FOLDER, ignore_errors=True)
        FOLDER.mkdir(parents=True)
        base = settings.updated(store=f"duckdb:///{FOLDER}/prognos.duckdb", registry=str(FOLDER / "models"))
    else:
        base = settings.updated(store=store_url)
    _check_port(base.server.host, base.server.port)  # before minutes of training, not after
    logging.getLogger("prognos.inference").setLevel(logging.WARNING)  # a load line per model drowns the story
    work = Path(base.registry).parent
    scenario = plan(demo.devices, demo.history * 3600, demo.duration, demo.seed, now_ms())
    store = open_store(base.store)
    desk = MaintenanceDesk(SECRET)
    click.echo(
        f"prognos demo: {demo.devices} simulated machines, {demo.history:g} h of history, {demo.duration:g} s live"
        f" → {store.url}"
    )
    try:
        history(store, scenario)
        names = train_and_publish(store, scenario, Registry(store, base.registry), work, demo)
        (work / "truth.json").write_text(json.dumps(scenario.fleet.truth()))  # to judge challengers by
        (work / "rules.yaml").write_text(rules(desk.url, SECRET, str((work / "truth.json").resolve()), demo.duration))
        settings = base.updated(
            stream=_assignments(names),
            rules=str(work / "rules.yaml"),
            retrain_epochs=demo.epochs,
            retrain_interval=1.0,
        )
        sent_until = live(store, scenario, settings, desk, demo.keep_serving)
        click.echo(summary(store, scenario, sent_until, desk))
    finally:
        desk.close()
        store.close()


def _check_port(host: str, port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise PrognosError(
                f"port {port} on {host} is in use ({exc.strerror}): choose another with --port"
            ) from None


def history(store: Store, scenario: Scenario) -> None:
    """The fleet's past, straight into the store (as `prognos import` would), devices registered with type and place."""
    fleet = scenario.fleet
    for d in fleet.devices:
        store.update_device(d.device_id, {"type": d.type, "location": d.location}, create=True)
    total = scenario.history_chunks * CHUNK_S * len(fleet.devices)
    with tqdm(total=total, unit="readings", unit_scale=True, desc="history", file=sys.stderr) as bar:
        batch: list[Any] = []
        for second in send.seconds(fleet, 0, scenario.history_chunks):
            batch += second
            if len(batch) >= 20_000:
                store.write(batch)
                bar.update(len(batch))
                batch = []
        store.write(batch)
        bar.update(len(batch))


def train_and_publish(
    store: Store, scenario: Scenario, registry: Registry, work: Path, demo: Demo
) -> list[tuple[str, str]]:
    """Every task for every machine type, on the history only; each model published and made champion."""
    labels = work / "history.truth.json"
    labels.write_text(json.dumps(scenario.history_truth()))
    kinds = sorted({d.type for d in scenario.fleet.devices})
    names = []
    click.echo(f"training {len(TASKS)} model kinds for {', '.join(kinds)} on the history:")
    for kind in kinds:
        selection = Selection(scenario.fleet.start, scenario.live_start, device_type=kind)
        for task in TASKS:
            out = work / "artifacts" / f"{kind}-{task}"
            order = Order(task, "store", out, seed=demo.seed, epochs=demo.epochs, store=store, selection=selection)
            try:
                card_path = build(replace(order, labels=str(labels)))
            except InvalidInput as exc:  # e.g. no failure of this type to learn remaining life from
                click.echo(f"  {kind}-{task}: skipped ({exc})")
                continue
            v = registry.publish(card_path.parent)
            registry.promote(v.name, v.version)
            card = v.card
            click.echo(
                f"  {v.name} v{v.version}: {card['data']['train_windows']} windows, "
                f"{card['training_seconds']:.1f} s, ONNX parity {card['onnx_parity_max_abs_diff']:.1e}"
            )
            contest = (card.get("metrics") or {}).get("contest")
            if contest:
                click.echo(f"    {contest['why']}")
            names.append((kind, v.name))
    return names


def live(store: Store, scenario: Scenario, settings: Settings, desk: MaintenanceDesk, keep_serving: bool) -> int:
    """Serve, stream the present in real time, score it; return the timestamp the stream got to."""
    app = create_app(store, settings)
    target: send.HttpTarget | None = None
    reached = scenario.live_start
    with BackgroundServer(app, settings.server.host, settings.server.port, settings.server.request_idle) as server:
        u = server.url
        click.echo(
            f"\nserving on {u}\n  dashboard {u}/\n  devices   {u}/api/v1/fleet\n  alerts    {u}/api/v1/alerts\n"
            f"  models    {u}/api/v1/models\n  metrics   {u}/metrics\n  inference {u}/v2/models\n"
        )
        fleet = scenario.fleet
        seconds = fleet.samples - scenario.history_chunks * CHUNK_S
        try:
            target = send.HttpTarget(u)
            target.registered = True  # the history registered every device already
            with tqdm(total=seconds, unit="s", desc="live", file=sys.stderr) as bar:
                t0 = time.monotonic()
                for i, batch in enumerate(send.seconds(fleet, scenario.history_chunks)):
                    time.sleep(max(0.0, t0 + i - time.monotonic()))
                    if batch:
                        target.send(batch)
                        reached = max(r.ts for r in batch) + 1
                    bar.update(1)
            _drain(app)
            if keep_serving:
                click.echo(f"the live window is over; still serving on {u} — Ctrl-C to stop")
                while True:
                    time.sleep(1)
        except KeyboardInterrupt:
            click.echo("\ninterrupted: stopping cleanly")
            _drain(app)
        finally:
            if target is not None:
                target.close()
    return reached


def _drain(app: Any, timeout: float = 10.0) -> None:
    """Let the scorer finish what was committed before the summary reads the store."""
    scorer = app.state.context.scorer
    deadline = time.monotonic() + timeout
    while scorer is not None and scorer.backlog and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the batch in hand, its alerts and webhooks


def _assignments(names: list[tuple[str, str]]) -> str:
    kinds: dict[str, list[str]] = {}
    for kind, name in names:
        kinds.setdefault(kind, []).append(name)
    return ";".join(f"{k}={','.join(v)}" for k, v in kinds.items())
