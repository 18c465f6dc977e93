"""``prognos demo``: the whole loop on the embedded default, in one command.

For now the loop is ingest → store → query: a simulated fleet streams into a real server over
HTTP, and the demo prints what landed. Training, serving and alerting join as they arrive.
"""

from __future__ import annotations

import sys
import time

import click
from tqdm import tqdm

from prognos.config import Settings
from prognos.server.app import create_app
from prognos.server.background import BackgroundServer
from prognos.sim import Fleet, send
from prognos.store import Store, open_store
from prognos.types import now_ms, to_iso


def run_demo(settings: Settings, devices: int = 12, rate: float = 2.0, duration: float = 20.0) -> None:
    store = open_store(settings.store)
    app = create_app(store, settings)
    fleet = Fleet(devices, rate, duration, seed=42, start=now_ms())
    click.echo(f"prognos demo: {devices} simulated machines at {rate:g} Hz for {duration:g} s → {store.url}")
    try:
        with BackgroundServer(app, settings.host, settings.port) as server:
            click.echo(f"server: {server.url}  (API: {server.url}/api/v1/devices, health: {server.url}/api/v1/health)")
            target = send.HttpTarget(server.url)
            with tqdm(total=fleet.samples * devices, unit="readings", desc="stream", file=sys.stderr) as bar:
                t0 = time.monotonic()
                sent = send.run(fleet, target, realtime=True, progress=bar.update)
            elapsed = time.monotonic() - t0
            _summary(store, fleet, sent, elapsed)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopping cleanly")
    finally:
        store.close()


def _summary(store: Store, fleet: Fleet, sent: int, elapsed: float) -> None:
    latest = store.latest()
    click.echo(f"\nsent {sent} readings in {elapsed:.1f} s; the store now holds {latest.num_rows} series")
    click.echo(f"{'DEVICE':<12} {'TYPE':<6} {'LAST SEEN':<25} SAMPLE OF LATEST VALUES")
    for d in store.devices():
        values = {r["key"]: r["value"] for r in latest.to_pylist() if r["device_id"] == d.device_id}
        sample = ", ".join(f"{k}={v:g}" for k, v in list(values.items())[:3])
        click.echo(f"{d.device_id:<12} {d.type or '-':<6} {to_iso(d.last_seen or 0):<25} {sample}")
    truth = fleet.truth()
    click.echo(
        f"ground truth: {len(truth['faults'])} injected faults, "
        f"{sum(1 for d in truth['devices'] if d['failure'])} machines wearing towards failure"
    )
