"""Stream scoring at fleet scale: 1,000 devices × 10 Hz through ingest → windows → batched inference → rules.

``prognos serve --stream`` (DuckDB, ``?threads=1`` as the README advises for a small ingest-heavy box) takes the
simulated fleet over HTTP in real time — each of ``--senders`` gateways posting its devices' readings of every
100 ms in one body, open loop (a body leaves on schedule, answered or not), 10,000 readings/s — and scores every
device with its type's anomaly model (a window per grid cell; ``--grid-ms 1000``: the default recipe, ``100``: a
window per reading) through the alert rules. Measured after a warm-up: the rate it kept up with, the latency
from a reading's arrival to its rules' decision (p50/p99, from the server's histogram), whether anything piled
up (scorer backlog, store queue), and the detection quality on the simulator's truth (stream_quality.py prints
it on its own). Then the capacity: larger fleets (``--capacity``, devices) each on a fresh server, and the
highest rate kept up with — every reading taken at the offered rate, the scorer's backlog not growing. The
baseline, in the same run on the same CPUs: the seed's design — every reading POSTed to a Flask ``/predict`` on
its own, one ONNX Runtime call per reading — driven by wrk as hard as it goes. The ratio is capacity to
capacity.

    python benchmarks/stream_throughput.py [--devices 1000] [--rate 10] [--seconds 30] [--grid-ms 1000]
                                           [--capacity 1500,2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import free_port
from _stream import OUT, RULES, body, fleet, gauge, histogram, models, publish, quantile, save, serve, slices

from prognos.sim.fleet import CHUNK_S


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--rate", type=float, default=10.0, help="readings per second per device")
    p.add_argument("--seconds", type=float, default=30.0, help="measured seconds (after --warmup)")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds before measuring (windows load from the store)")
    p.add_argument("--grid-ms", type=int, default=1000, help="the models' grid: 1000 (1 Hz), or 100 (every reading)")
    p.add_argument("--cpus", default="0,1", help="the servers' CPUs (the load runs on the others, if any)")
    p.add_argument("--senders", type=int, default=10, help="gateways, each posting for a share of the devices")
    p.add_argument("--baseline-seconds", type=float, default=10.0)
    p.add_argument("--capacity", default="1500,2000", help="larger fleets (devices, comma-separated) for the capacity")
    args = p.parse_args()
    run = measure_prognos(args, args.devices)
    larger = [measure_prognos(args, int(n), quality=False) for n in filter(None, args.capacity.split(","))]
    base = measure_seed(args)
    capacity = max([r["readings_per_s"] for r in [run, *larger] if r["kept_up"]], default=float("nan"))
    ratio = capacity / base["readings_per_s"]
    print(f"\n{'':<34}{'prognos':>14}{'seed /predict':>16}")
    print(f"{'readings/s (kept up with)':<34}{run['readings_per_s']:>14,.0f}{base['readings_per_s']:>16,.0f}")
    print(
        f"{'decision latency p50 / p99 (ms)':<34}{run['p50_ms']:>7.1f} /{run['p99_ms']:>5.1f}"
        f"{base['p50_ms']:>9.1f} /{base['p99_ms']:>5.1f}"
    )
    print(f"{'backlog (batches) max / at end':<34}{run['backlog_max']:>8.0f} / {run['backlog_end']:.0f}")
    print(f"{'store queue (readings) max':<34}{run['pending_max']:>14,.0f}")
    print(f"{'windows scored / expected':<34}{run['windows']:>10,.0f} / {run['windows_expected']:,.0f}")
    print(f"\ncapacity (fresh server per fleet){'':<10}offered    taken  backlog max / trend   p99 ms")
    for r in [run, *larger]:
        print(
            f"  {r['devices']:>6,} devices{'':<20}{r['offered_per_s']:>8,.0f} {r['readings_per_s']:>8,.0f}"
            f"{r['backlog_max']:>10.0f} / {r['backlog_trend']:+6.1f}{r['p99_ms']:>11.1f}"
            f"   {'kept up' if r['kept_up'] else 'fell behind'}"
        )
    print(
        f"\nat {run['devices']:,} devices: p99 {run['p99_ms']:.1f} ms (goal ≤ 100 ms), "
        f"{'kept up' if run['kept_up'] else 'fell behind'} with {run['offered_per_s']:,.0f} readings/s; "
        f"capacity {capacity:,.0f} readings/s = {ratio:.1f}× the seed's design (goal ≥ 10×)"
    )
    print(
        "saved",
        save(
            f"stream_throughput-{args.grid_ms}ms",
            {"args": vars(args), "prognos": run, "larger": larger, "seed": base, "capacity": capacity, "ratio": ratio},
        ),
    )


def measure_prognos(args: argparse.Namespace, devices: int, quality: bool = True) -> dict[str, Any]:
    found = models(args.grid_ms)
    window_s = 60 * args.grid_ms / 1000
    warm_chunks = int(-(-(window_s + 5) // CHUNK_S))
    f = fleet(devices, args.rate, warm_chunks * CHUNK_S, args.warmup + args.seconds)
    per_s = max(1, round(args.rate))
    print(f"building {devices} devices × {per_s} Hz × {args.warmup + args.seconds:g} s of readings …", flush=True)
    live = slices(f, warm_chunks, per_s)
    parts = [[body(s[k :: args.senders]) for s in live] for k in range(args.senders)]
    with tempfile.TemporaryDirectory(prefix="prognos-stream-") as tmp:
        work = Path(tmp)
        env = publish(work, found, f, warm_chunks)
        (work / "rules.yaml").write_text(RULES.format(actions="[]"))
        proc, url = serve(work, env, args.cpus)
        _pin_away(args.cpus)
        try:
            run = _drive(url, parts, live, per_s, args) | {"devices": devices}
            if quality:
                run["quality"] = _quality(url, f, live[int(args.warmup * per_s)][0].ts, live[-1][-1].ts + 1)
            return run
        finally:
            proc.terminate()
            proc.wait(30)


@dataclass
class _Drive:
    """One measured run's schedule and what it saw: shared by the senders' threads and the watcher."""

    host: str
    port: int
    per_s: int
    warm: int  # bodies of the warm-up, not measured
    t0: float = field(default_factory=lambda: time.monotonic() + 0.5)
    samples: list[tuple[float, float]] = field(default_factory=list)  # (scorer backlog, store queue) each second
    latencies: list[float] = field(default_factory=list)
    ended: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def _drive(url: str, parts: list[list[bytes]], live: list[Any], per_s: int, args: argparse.Namespace) -> dict[str, Any]:
    """Each sender posts its share of the devices every 1/per_s s (devices are many clients, not one)."""
    host, port = url.removeprefix("http://").split(":")
    run = _Drive(host, int(port), per_s, int(args.warmup * per_s))

    async def fleet_of_senders() -> None:
        await asyncio.gather(*(_send(run, p) for p in parts))

    senders = [threading.Thread(target=asyncio.run, args=(fleet_of_senders(),), daemon=True)]
    threading.Thread(target=_watch, args=(url, run), daemon=True).start()
    for t in senders:
        t.start()
    before, windows0, t_measure = _progress(url, run, len(live))
    for t in senders:
        t.join()
    if run.errors:
        raise RuntimeError(f"{len(run.errors)} requests failed, first: {run.errors[0]}")
    elapsed = max(run.ended) - t_measure
    time.sleep(1.0)  # the last batches' decisions
    text = httpx.get(f"{url}/metrics").text
    run.stop.set()
    after = histogram(text, "prognos_stream_decision_seconds")
    readings = sum(len(s) for s in live[run.warm :])
    backlog = [s[0] for s in run.samples]
    third = max(1, len(backlog) // 3)
    trend = (sum(backlog[-third:]) - sum(backlog[:third])) / third if backlog else 0.0
    # Kept up: every reading taken at the offered rate (within 3 %), the scorer's backlog not growing.
    kept_up = readings / elapsed >= 0.97 * readings / args.seconds and trend <= 5
    return {
        "offered_per_s": readings / args.seconds,
        "readings_per_s": readings / elapsed,
        "kept_up": kept_up,
        "backlog_trend": trend,
        "p50_ms": quantile(before, after, 0.5) * 1000,
        "p99_ms": quantile(before, after, 0.99) * 1000,
        "http_p99_ms": sorted(run.latencies)[int(len(run.latencies) * 0.99) - 1] * 1000,
        "backlog_max": max(backlog, default=0.0),
        "backlog_end": backlog[-1] if backlog else 0,
        "pending_max": max((s[1] for s in run.samples), default=0.0),
        "windows": _windows(text) - windows0,
        "windows_expected": len({r.device_id for r in live[0]}) * elapsed * 1000 / args.grid_ms,
    }


def _progress(url: str, run: _Drive, n: int) -> tuple[dict[float, float], float, float]:
    """Progress every 10 s of the schedule; at the end of the warm-up, the scrape that starts the measurement."""
    per_s, warm, t0 = run.per_s, run.warm, run.t0
    before: dict[float, float] = {}
    windows0 = t_measure = 0.0
    for k in range(0, n, 10 * per_s):
        time.sleep(max(0.0, t0 + k / per_s - time.monotonic()))
        if k == warm - warm % (10 * per_s):
            time.sleep(max(0.0, t0 + warm / per_s - time.monotonic()))
            text = httpx.get(f"{url}/metrics").text
            before, windows0, t_measure = (
                histogram(text, "prognos_stream_decision_seconds"),
                _windows(text),
                time.monotonic(),
            )
            run.samples.clear()
        backlog = run.samples[-1] if run.samples else (0.0, 0.0)
        print(
            f"  t={k / per_s:5.1f} s  scorer backlog {backlog[0]:.0f} batches, store queue {backlog[1]:.0f} readings",
            flush=True,
        )
    return before, windows0, t_measure


def _watch(url: str, run: _Drive) -> None:
    """The backlog of the scorer and of the store, once a second."""
    while not run.stop.wait(1.0):
        try:
            text = httpx.get(f"{url}/metrics", timeout=5).text
            pending = httpx.get(f"{url}/api/v1/health", timeout=5).json()["writer"]["pending"]
            run.samples.append((gauge(text, "prognos_stream_backlog"), pending))
        except httpx.HTTPError:
            pass


async def _send(run: _Drive, bodies: list[bytes]) -> None:
    """Open loop, as a fleet is: each body leaves on its schedule whether or not earlier ones were answered
    (at most 32 in flight per sender, which a server that keeps up never reaches); latency counts from the
    schedule, so a server that falls behind is charged for it (no coordinated omission). Raw HTTP/1.1 on
    keep-alive connections: a client library would spend more CPU than the server it measures."""
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    gate = asyncio.Semaphore(32)
    tasks = []
    for i, b in enumerate(bodies):
        await asyncio.sleep(max(0.0, run.t0 + i / run.per_s - time.monotonic()))
        async with gate:  # a server that stalls stalls the schedule too: it shows as a lower rate
            pass
        tasks.append(asyncio.create_task(_post(run, idle, gate, i, b)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    run.ended.append(time.monotonic())


async def _post(run: _Drive, idle: list[Any], gate: asyncio.Semaphore, i: int, b: bytes) -> None:
    request = (
        b"POST /api/v1/telemetry HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(b), b)
    )
    async with gate:
        while True:
            reader, writer = idle.pop() if idle else await asyncio.open_connection(run.host, run.port)
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                break
            except (asyncio.IncompleteReadError, ConnectionError):  # the server closed an idle one: again
                writer.close()
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            run.errors.append(head.split(b"\r\n")[0].decode())
        idle.append((reader, writer))
    if i >= run.warm:
        run.latencies.append(time.monotonic() - (run.t0 + i / run.per_s))


def _quality(url: str, f: Any, start: int, end: int) -> dict[str, Any]:
    """The anomaly alerts against the simulator's truth, over the measured window (data time)."""
    from prognos.monitor.quality import alerts_against_truth

    alerts = httpx.get(f"{url}/api/v1/alerts", params={"limit": 100_000}, timeout=60).json()["alerts"]
    q = alerts_against_truth([(a["device_id"], a["opened_ts"]) for a in alerts], f.truth(), start, end, len(f.devices))
    return {k: v for k, v in q.items() if k != "per_fault"}


def _windows(text: str) -> float:
    return gauge(text, "prognos_stream_predictions")


def measure_seed(args: argparse.Namespace) -> dict[str, Any]:
    """The seed's Flask /predict on the same CPUs, wrk on the others, 16 connections, every reading on its own."""
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    site = OUT / "flask-site"
    if not (site / "flask").is_dir():
        uv = str(Path(sys.executable).parent / "uv")
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", sys.executable, "--target", str(site), "flask"], check=True
        )
    artifact = OUT / f"stream-models-{args.grid_ms}ms" / "pump"
    sensors = __import__("json").loads((artifact / "card.json").read_text())["input"]["sensors"]
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(site)}
    cmd = [
        "taskset",
        "-c",
        args.cpus,
        sys.executable,
        str(Path(__file__).parent / "_seed_stream.py"),
        "--artifact",
        str(artifact),
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{url}/predict", json={"device_id": "x", "values": dict.fromkeys(sensors, 0.0)})
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        values = ",".join(f'\\"{s}\\":%.3f' for s in sensors)
        lua = Path(tempfile.mkstemp(suffix=".lua")[1])
        lua.write_text(f"""
local n = 0
request = function()
  n = n + 1
  local v = {{}}
  for i = 1, {len(sensors)} do v[i] = math.random() end
  local body = string.format("{{\\"device_id\\":\\"pump-%04d\\",\\"values\\":{{{values}}}}}",
                             n % {args.devices}, unpack(v))
  return wrk.format("POST", "/predict", {{["Content-Type"] = "application/json"}}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %f %f %f\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
""")
        others = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
        warm = ["taskset", "-c", others, "wrk", "-t1", "-c16", "-d3s", "-s", str(lua), url]
        subprocess.run(warm, capture_output=True, check=True)  # every device's window fills first
        out = subprocess.run(
            ["taskset", "-c", others, "wrk", "-t1", "-c16", f"-d{int(args.baseline_seconds)}s", "-s", str(lua), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        requests, seconds, p50, p99 = next(line.split()[1:] for line in out.splitlines() if line.startswith("RESULT"))
        return {"readings_per_s": int(requests) / float(seconds), "p50_ms": float(p50), "p99_ms": float(p99)}
    finally:
        proc.terminate()
        proc.wait(10)


def _pin_away(server_cpus: str) -> None:
    """The load generator on the CPUs the server does not have (on a 2-core machine: the other one)."""
    taken = {int(c) for c in server_cpus.split(",")}
    rest = set(os.sched_getaffinity(0)) - taken
    if rest:
        os.sched_setaffinity(0, rest)


if __name__ == "__main__":
    main()
