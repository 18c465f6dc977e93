"""Shared by the stream benchmarks: models trained on the simulator, a scored server, a paced fleet, its figures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from _common import free_port

from prognos.sim.fleet import FAULTS, Fleet
from prognos.sim.send import seconds
from prognos.types import Reading

OUT = Path(__file__).resolve().parent / "out"
KINDS = ("pump", "motor", "fan")
RULES = """rules:
  - name: anomaly
    signal: anomaly.ratio
    above: 1.0
    exit: 0.7
    n_of_m: [3, 5]
    cooldown: 5m
    actions: {actions}
"""


def models(grid_ms: int, window: int = 60) -> dict[str, Path]:
    """An anomaly model per machine type on a ``grid_ms`` grid, trained on a small simulated fleet at 10 Hz over
    the last 20 minutes (the simulated ambient temperature follows the time of day, so a model trained at
    another hour would see every machine as anomalous); written to benchmarks/out."""
    from prognos.store import open_store
    from prognos.train.tasks import Config, Selection, train_store

    folder = OUT / f"stream-models-{grid_ms}ms"
    found = {k: folder / k for k in KINDS}
    if (
        all((p / "card.json").is_file() for p in found.values())
        and time.time() - (folder / "pump" / "card.json").stat().st_mtime < 600
    ):
        return found  # trained minutes ago: still the hour it learned
    t0 = int(time.time() * 1000) - 1_200_000
    fleet = Fleet(9, 10.0, 1200, seed=7, start=t0, failing=0.0, faults_per_device=0.0)
    store = open_store("memory://")
    for d in fleet.devices:
        store.update_device(d.device_id, {"type": d.type}, create=True)
    for batch in seconds(fleet):
        store.write(batch)
    for kind in KINDS:
        print(f"training the {kind} anomaly model ({grid_ms} ms grid) …", flush=True)
        shutil.rmtree(found[kind], ignore_errors=True)
        selection = Selection(t0, t0 + 1_200_000, device_type=kind)
        train_store("anomaly", store, selection, found[kind], cfg=Config(window=window, step_ms=grid_ms, epochs=15))
    return found


def fleet(devices: int, rate: float, warm_s: float, run_s: float, seed: int = 11, faulty: float = 0.1) -> Fleet:
    """The benchmark's fleet: ``warm_s`` of history then ``run_s`` live; a share of machines gets a fault live."""
    start = int(time.time() * 1000) - int(warm_s * 1000)
    f = Fleet(devices, rate, warm_s + run_s, seed=seed, start=start, failing=0.0, faults_per_device=0.0)
    rng = np.random.default_rng(seed)
    live = start + int(warm_s * 1000)
    for i, dev in enumerate(f.devices):
        if rng.random() < faulty:
            at = live + int(run_s * 1000 * rng.uniform(0.1, 0.5))
            f.inject(dev, FAULTS[i % len(FAULTS)], at, int(run_s * 1000 * rng.uniform(0.2, 0.4)))
    return f


def slices(f: Fleet, first_chunk: int, per_s: int) -> list[list[Reading]]:
    """The live readings in ``per_s`` slices a second (devices interleaved), in time order."""
    out = []
    for second in seconds(f, first_chunk):
        by_t: dict[int, list[Reading]] = {}
        for r in second:
            by_t.setdefault((r.ts - f.start) * per_s // 1000, []).append(r)
        out += [by_t[k] for k in sorted(by_t)]
    return out


def body(readings: list[Reading]) -> bytes:
    doc: dict[str, list[dict[str, Any]]] = {}
    for r in readings:
        doc.setdefault(r.device_id, []).append({"ts": r.ts, "values": r.values})
    return orjson.dumps(doc)


def publish(work: Path, found: dict[str, Path], f: Fleet, warm_chunks: int) -> dict[str, str]:
    """A DuckDB store holding the fleet's devices and history, and the models as champions; the server's env."""
    from prognos.registry import Registry
    from prognos.store import open_store

    env = {"PROGNOS_STORE": f"duckdb:///{work}/bench.duckdb?threads=1", "PROGNOS_REGISTRY": str(work / "models")}
    store = open_store(env["PROGNOS_STORE"])
    try:
        reg = Registry(store, env["PROGNOS_REGISTRY"])
        for kind, folder in found.items():
            reg.promote(kind + "-anomaly", reg.publish(folder, kind + "-anomaly").version)
        for d in f.devices:
            store.update_device(d.device_id, {"type": d.type}, create=True)
        batch: list[Reading] = []
        for second in seconds(f, 0, warm_chunks):
            batch += second
            if len(batch) > 50_000:
                store.write(batch)
                batch = []
        store.write(batch)
    finally:
        store.close()
    return env


def serve(
    work: Path, env: dict[str, str], cpus: str, *extra: str, stream: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    stream = stream or ";".join(f"{k}={k}-anomaly" for k in KINDS)
    cmd = [
        "taskset",
        "-c",
        cpus,
        str(Path(sys.executable).parent / "prognos"),
        "--log-level",
        "WARNING",
        "serve",
        "--port",
        str(port),
        "--stream",
        stream,
        "--rules",
        str(work / "rules.yaml"),
        *extra,
    ]
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(
        cmd,
        env={**__import__("os").environ, **env, "PROGNOS_ACCESS_LOG": "false"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start: {(work / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)


def histogram(text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of one Prometheus histogram, by upper bound."""
    from prometheus_client.parser import text_string_to_metric_families

    for fam in text_string_to_metric_families(text):
        if fam.name == name:
            return {float(s.labels["le"]): s.value for s in fam.samples if s.name.endswith("_bucket")}
    return {}


def gauge(text: str, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for fam in text_string_to_metric_families(text):
        if fam.name == name:
            return sum(s.value for s in fam.samples)
    return float("nan")


def quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The q-quantile of what a histogram counted between two scrapes, interpolated within its bucket."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return float("nan")
    want, lo, prev = q * total, 0.0, 0.0
    for b, c in zip(bounds, counts, strict=True):
        if c >= want:
            if b == float("inf"):
                return lo
            return lo + (b - lo) * (want - prev) / max(c - prev, 1e-12)
        lo, prev = b, c
    return bounds[-2]


def save(name: str, rows: dict[str, Any]) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(rows, indent=1, default=str))
    return path
