"""``prognos demo``: the whole loop on the embedded default, in one command.

A simulated fleet (`prognos.demo.scenario`) gets a past and a present. The past goes into the store;
the three model kinds are trained on it for every machine type, published and promoted; the server
starts with stream scoring and alert rules whose webhooks reach a stand-in maintenance desk; the
present streams in over HTTP in real time, is scored as it arrives, and raises and acts on alerts.
At the end (``--duration``, or Ctrl-C) the alerts are scored against the simulator's ground truth.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import shutil
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from prognos.config import Settings
from prognos.demo.scenario import LIFE, WATCHED, Scenario, plan, rules
from prognos.errors import InvalidInput, PrognosError
from prognos.sim import send
from prognos.sim.fleet import CHUNK_S
from prognos.store import Store, open_store
from prognos.types import now_ms

FOLDER = Path("prognos-data/demo")
TASKS = ("anomaly", "classify", "rul")
SECRET = "prognos-demo"


def run_demo(
    settings: Settings = Settings(),
    store_url: str | None = None,
    devices: int = 12,
    duration: float = 120.0,
    history_hours: float = 2.0,
    epochs: int = 40,
    seed: int = 42,
    keep_serving: bool = False,
) -> None:
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
    scenario = plan(devices, history_hours * 3600, duration, seed, now_ms())
    store = open_store(base.store)
    desk = MaintenanceDesk(SECRET)
    click.echo(
        f"prognos demo: {devices} simulated machines, {history_hours:g} h of history, {duration:g} s live → {store.url}"
    )
    try:
        history(store, scenario)
        names = train_and_publish(store, scenario, base.registry, work, epochs, seed)
        (work / "truth.json").write_text(json.dumps(scenario.fleet.truth()))  # to judge challengers by
        (work / "rules.yaml").write_text(rules(desk.url, SECRET, str((work / "truth.json").resolve()), duration))
        settings = base.updated(
            stream=_assignments(names),
            rules=str(work / "rules.yaml"),
            retrain_epochs=epochs,
            retrain_interval=1.0,
        )
        sent_until = live(store, scenario, settings, desk, keep_serving)
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
    store: Store, scenario: Scenario, registry_dir: str, work: Path, epochs: int, seed: int
) -> list[tuple[str, str]]:
    """Every task for every machine type, on the history only; each model published and made champion."""
    from prognos.registry import Registry
    from prognos.train.run import train_store

    labels = work / "history.truth.json"
    labels.write_text(json.dumps(scenario.history_truth()))
    registry = Registry(store, registry_dir)
    kinds = sorted({d.type for d in scenario.fleet.devices})
    names = []
    click.echo(f"training {len(TASKS)} model kinds for {', '.join(kinds)} on the history:")
    for kind in kinds:
        for task in TASKS:
            try:
                card_path = train_store(
                    task,
                    store,
                    work / "artifacts" / f"{kind}-{task}",
                    start=scenario.fleet.start,
                    end=scenario.live_start,
                    device_type=kind,
                    labels=labels,
                    seed=seed,
                    epochs=epochs,
                    progress=True,
                )
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
            names.append((kind, v.name))
    return names


def live(store: Store, scenario: Scenario, settings: Settings, desk: MaintenanceDesk, keep_serving: bool) -> int:
    """Serve, stream the present in real time, score it; return the timestamp the stream got to."""
    from prognos.server.app import create_app
    from prognos.server.background import BackgroundServer

    app = create_app(store, settings)
    target: send.HttpTarget | None = None
    reached = scenario.live_start
    with BackgroundServer(app, settings.server.host, settings.server.port) as server:
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
    scorer = app.inner.state.scorer
    deadline = time.monotonic() + timeout
    while scorer is not None and scorer.backlog and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the batch in hand, its alerts and webhooks


def summary(store: Store, scenario: Scenario, until: int, desk: MaintenanceDesk) -> str:
    from prognos.act.alerts import Alerts
    from prognos.monitor.quality import alerts_against_truth, rul_error

    truth, start = scenario.fleet.truth(), scenario.live_start
    alerts = [a for a in Alerts(store).list(limit=100_000) if a.opened_ts >= start]
    devices = [d for d in scenario.fleet.devices if d.failure is None or d.failure > start]
    q = alerts_against_truth(
        [(a.device_id, a.opened_ts) for a in alerts if a.rule in WATCHED], truth, start, until, len(devices)
    )
    life = alerts_against_truth(
        [(a.device_id, a.opened_ts) for a in alerts if a.rule == LIFE],
        truth,
        start,
        until,
        len(devices),
        wear_only=True,
    )
    rul = rul_error(
        {
            d.device_id: _series(store, d.device_id, f"pred.{d.type}-rul.rul.p50", start, until)
            for d in devices
            if d.failure
        },
        truth,
    )
    by_rule: dict[str, int] = {}
    for a in alerts:
        by_rule[a.rule] = by_rule.get(a.rule, 0) + 1
    caught = f"{q['caught']} of {q['faults']}" + (f" ({q['caught'] / q['faults']:.0%})" if q["faults"] else "")
    lines = [
        f"\nsummary of {(until - start) / 1000:.0f} s live, scored against the simulator's ground truth:",
        f"  alerts raised       {len(alerts)} ({', '.join(f'{r} {n}' for r, n in sorted(by_rule.items())) or 'none'})",
        f"  faults caught       {caught}; mean detection delay {q['mean_delay_s']:.0f} s",
        f"  false alarms        {q['false_alarms']} ({q['false_alarms_per_device_day']:.1f} per device-day); "
        f"short-life alerts {life['alerts']}, {life['false_alarms']} on machines not wearing out",
        f"  remaining life      RMSE {rul['rul_rmse_s']:.0f} s over {rul['rul_points']} predictions (wearing machines)",
        f"  actions             {desk.received} webhooks received by the maintenance desk, {desk.bad} badly signed",
        *_retraining(store),
    ]
    for f in q["per_fault"]:
        delay = f"after {f['delay_s']:.0f} s" if f["caught"] else "missed"
        lines.append(f"    {f['device_id']:<11} {f['fault']:<10} {delay}")
    return "\n".join(lines)


def _retraining(store: Store) -> list[str]:
    runs = [doc for _, doc in store.records("retrain-run")]
    if not runs:
        return ["  retraining          none started"]
    out = []
    for r in runs:
        what = f"challenger v{r['challenger']}" if r.get("challenger") else "a challenger"
        said = {"shadow": "still in shadow at the end (no decision yet)", "training": "still training at the end"}
        out.append(
            f"  retraining          {r['model']}: {what} {r['state']} — {said.get(r['state']) or r.get('reason')}"
        )
    return out


def _series(store: Store, device_id: str, key: str, start: int, end: int) -> list[tuple[int, float]]:
    t = store.read(device_id, start, max(end, start + 1), [key])
    return list(zip(t["ts"].to_pylist(), t["value"].to_pylist(), strict=True))


def _assignments(names: list[tuple[str, str]]) -> str:
    kinds: dict[str, list[str]] = {}
    for kind, name in names:
        kinds.setdefault(kind, []).append(name)
    return ";".join(f"{k}={','.join(v)}" for k, v in kinds.items())


class MaintenanceDesk:
    """A stand-in for the maintenance system: takes prognos's signed webhooks and says what it got."""

    def __init__(self, secret: str) -> None:
        self.received, self.bad = 0, 0
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(self.headers.get("x-prognos-signature", ""), want)
                desk.received += ok
                desk.bad += not ok
                if ok:
                    a = json.loads(body)
                    top = ", ".join(s for s, _ in (a.get("explanation") or {}).get("top_sensors", [])[:2])
                    tqdm.write(
                        f"  ⚑ {a['event']:<8} {a['severity']:<8} {a['rule']:<10} {a['device_id']:<11} "
                        f"value {_short(a['value'])}" + (f"  (top sensors: {top})" if top else ""),
                        file=sys.stderr,
                    )
                self.send_response(200 if ok else 401)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/maintenance"
        threading.Thread(target=self.server.serve_forever, name="demo-desk", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else str(value)
