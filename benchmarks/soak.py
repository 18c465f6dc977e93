"""Soak: the README's own flow for minutes — `prognos serve --stream` on the embedded store, fed by
`prognos simulate --target http://…` (which registers each machine and PATCHes its type after its first
readings) — and what a long run must show: every device scored, memory flat once warm, no error in the log.

    python benchmarks/soak.py [--devices 200] [--rate 1] [--seconds 300] [--warmup 60]

Figures: devices scored of devices fed; the server's RSS at the end as a ratio of its RSS after the warm-up,
measured in the same run (goal < 1.10); ERROR and Traceback lines in the server's log (goal 0).
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
from _stream import KINDS, RULES, models, save, serve
from tqdm import tqdm

from prognos.registry import Registry
from prognos.store import open_store


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=200)
    p.add_argument("--rate", type=float, default=1.0)
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--warmup", type=float, default=60.0)
    p.add_argument("--cpus", default="0,1")
    args = p.parse_args()
    found = models(1000)
    with tempfile.TemporaryDirectory(prefix="prognos-soak-") as tmp:
        work = Path(tmp)
        env = {"PROGNOS_STORE": f"duckdb:///{work}/soak.duckdb", "PROGNOS_REGISTRY": str(work / "models")}
        _publish(env, found)
        (work / "rules.yaml").write_text(RULES.format(actions="[]"))
        proc, url = serve(work, env, args.cpus)
        try:
            rss = _feed(url, proc.pid, args)
            time.sleep(3.0)  # the last windows' predictions
            scored, fed = _scored(url)
        finally:
            proc.terminate()
            proc.wait(30)
        log = (work / "server.log").read_text(errors="replace").splitlines()
    errors = [line for line in log if " ERROR " in line or line.startswith("Traceback")]
    # The RSS saw-tooths (the collector, DuckDB's buffers) by ±5 %: compare the median of the minute after the
    # warm-up with the median of the last minute, not two single samples.
    first = [kb for t, kb in rss if args.warmup <= t < args.warmup + 60]
    last = [kb for t, kb in rss if t >= rss[-1][0] - 60]
    warm = [statistics.median(first), statistics.median(last)] if first and last else [float("nan")] * 2
    growth = warm[1] / warm[0]
    print(
        f"\n{args.devices} machines × {args.rate:g} Hz for {args.seconds:g} s through prognos simulate → serve --stream"
    )
    print(f"  devices scored       {scored} of {fed} fed (goal: all)")
    print(
        f"  RSS (minute medians) {warm[0] / 1024:.0f} MiB after {args.warmup:g} s → {warm[1] / 1024:.0f} MiB "
        f"in the last minute: ×{growth:.3f} (goal < 1.10)"
    )
    print(f"  errors in the log    {len(errors)} (goal 0)" + (f", first: {errors[0]}" if errors else ""))
    doc = {"args": vars(args), "scored": scored, "fed": fed, "rss_kb": rss, "growth": growth, "errors": errors[:20]}
    print("saved", save("soak", doc))


def _publish(env: dict[str, str], found: dict[str, Path]) -> None:
    """The models as champions, and nothing else: the simulator brings the devices, as a user's fleet would."""
    store = open_store(env["PROGNOS_STORE"])
    try:
        reg = Registry(store, env["PROGNOS_REGISTRY"])
        for kind, folder in found.items():
            reg.promote(kind + "-anomaly", reg.publish(folder, kind + "-anomaly").version)
    finally:
        store.close()


def _feed(url: str, pid: int, args: argparse.Namespace) -> list[tuple[float, int]]:
    """`prognos simulate` in real time against the server; the server's RSS (KiB) every 5 s meanwhile."""
    cmd = [
        str(Path(sys.executable).parent / "prognos"),
        "--log-level",
        "WARNING",
        "simulate",
        "--devices",
        str(args.devices),
        "--rate",
        str(args.rate),
        "--duration",
        str(args.seconds),
        "--target",
        url,
    ]
    sim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0, rss = time.monotonic(), []
    with tqdm(total=int(args.seconds), unit="s", desc="soak") as bar:
        while sim.poll() is None:
            time.sleep(5.0)
            rss.append((time.monotonic() - t0, _rss_kb(pid)))
            bar.n = min(int(time.monotonic() - t0), int(args.seconds))
            bar.refresh()
    if sim.returncode != 0:
        raise RuntimeError(f"prognos simulate failed: {sim.stderr.read() if sim.stderr else ''}")
    return rss


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _scored(url: str) -> tuple[int, int]:
    """Devices with a prediction of their type's model, of the devices the simulator registered."""
    devices = httpx.get(f"{url}/api/v1/devices", timeout=30).json()["devices"]
    latest = httpx.get(f"{url}/api/v1/latest", timeout=30).json()
    fed = [d for d in devices if d.get("type") in KINDS]
    scored = [d for d in fed if f"pred.{d['type']}-anomaly.anomaly.score" in _keys(latest, d["device_id"])]
    return len(scored), len(fed)


def _keys(latest: dict, device_id: str) -> set[str]:
    return set(latest["latest"].get(device_id, {}))


if __name__ == "__main__":
    main()
