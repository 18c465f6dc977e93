"""Hot swap under load: promote back and forth while wrk keeps every connection busy.

prognos serves the harness's model.onnx (published twice: v1 and v2) on CPU 0; wrk loads it from
CPU 1. Each round has a steady window (no promotion) and a swap window (a promotion through the
HTTP API every ``--every`` seconds, alternating v2 and v1); both windows are the same wrk run, so
the steady p99 measured in the same run is the baseline. Reports failed requests (non-2xx, socket
errors, timeouts) and p99 during swaps ÷ steady p99 (goal: 0 failures, ≤ 1.5).

    python benchmarks/serving_swap.py [--concurrency 16,64] [--rounds 3] [--duration 10] [--every 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _serving import HARNESS, prepare_harness, publish, serve_command, wait_ready

PORT = 8701
URL = f"http://127.0.0.1:{PORT}"


def wrk(conns: int, seconds: int, body: Path) -> dict:
    cmd = [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(HARNESS / "wrk_post.lua"),
        f"{URL}/v2/models/bench/infer",
        "--",
        str(body),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    r = json.loads([line for line in out.splitlines() if line.startswith('{"wrk"')][-1])
    r["errors"] = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    r["rps"] = (r["requests"] - r["err_status"]) / (r["duration_us"] / 1e6)
    return r


def promote(version: int) -> dict:
    req = urllib.request.Request(
        f"{URL}/api/v1/models/bench/aliases/champion", method="PUT", data=json.dumps({"version": version}).encode()
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def swapping(seconds: float, every: float, log: list) -> threading.Thread:
    def run() -> None:
        end = time.monotonic() + seconds - every / 2
        version = 2
        time.sleep(every / 2)
        while time.monotonic() < end:
            started = time.perf_counter()
            answer = promote(version)
            log.append((answer["deployed"], answer["serving"]["champion"] == version, time.perf_counter() - started))
            version = 3 - version
            time.sleep(every)

    t = threading.Thread(target=run)
    t.start()
    return t


def level(c: int, args: argparse.Namespace, body: Path) -> tuple[float, int, int]:
    """Rounds of (steady window, swap window) at concurrency ``c``: median p99 ratio, failures, swaps."""
    wrk(c, 3, body)  # warm-up, discarded
    ratios, failed, swaps = [], 0, 0
    for i in range(args.rounds):
        steady = wrk(c, args.duration, body)
        log: list = []
        t = swapping(args.duration, args.every, log)
        swap = wrk(c, args.duration, body)
        t.join()
        ok = all(deployed and moved for deployed, moved, _ in log)
        ratios.append(swap["p99_us"] / steady["p99_us"])
        errors = steady["errors"] + swap["errors"]
        failed += errors
        swaps += len(log) if ok else 0
        print(
            f"| {c} | {i + 1} | {steady['rps']:.0f} | {steady['p99_us'] / 1000:.2f} | {swap['rps']:.0f} | "
            f"{swap['p99_us'] / 1000:.2f} | {len(log)}{'' if ok else ' (some not deployed)'} | {errors} | "
            f"{ratios[-1]:.2f} |",
            flush=True,
        )
    return statistics.median(ratios), failed, swaps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--concurrency", default="16,64")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--every", type=float, default=1.0)
    args = p.parse_args()
    prepare_harness()
    sample = json.loads((HARNESS / "sample.json").read_text())
    with tempfile.TemporaryDirectory(prefix="prognos-swap-") as tmp:
        work = Path(tmp)
        body = work / "body.json"
        tensor = {"name": sample["input_name"], "shape": sample["shape"], "datatype": "FP32", "data": sample["data"]}
        body.write_text(json.dumps({"inputs": [tensor]}, separators=(",", ":")))
        env = {**os.environ, **publish(work, HARNESS / "model.onnx", versions=2)}
        server = subprocess.Popen(["bash", "-c", serve_command(PORT, work / "prognos.log") + " wait"], env=env)
        try:
            wait_ready(URL)
            promote(1)
            print("| c | round | steady req/s | steady p99 ms | swap req/s | swap p99 ms | swaps | failed | p99 × |")
            print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            results = {c: level(c, args, body) for c in map(int, args.concurrency.split(","))}
            print()
            for c, (ratio, failed, swaps) in results.items():
                verdict = "met" if failed == 0 and ratio <= 1.5 else "MISSED"
                print(
                    f"concurrency {c}: {swaps} hot swaps, {failed} failed requests, median p99 during swaps "
                    f"÷ steady p99 = {ratio:.2f} (goal 0 failed, ≤ 1.5) {verdict}"
                )
        finally:
            subprocess.run(["pkill", "-f", f"prognos serve --port {PORT}"], check=False)
            server.wait(10)


if __name__ == "__main__":
    main()
