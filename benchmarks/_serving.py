"""Shared by the serving benchmarks: the peer harness, its environment, and a pinned prognos server.

The harness (../shared/bench/serving, see its README) serves one ONNX model with the peers a user
would otherwise pick; prognos serves the same file, published to its registry, on the same one core.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT.parent / "shared" / "bench" / "serving"
VENV = ROOT / ".bench-venv"  # the peers' own environment (BentoML, Ray): never mixed with prognos's
OUT = Path(__file__).resolve().parent / "out"


def prepare_harness() -> Path:
    """wrk, and a virtual environment with the harness's pinned requirements; the Python to run it with."""
    if not HARNESS.is_dir():
        sys.exit(f"the serving harness is not at {HARNESS}")
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    python = VENV / "bin" / "python"
    if not python.exists():
        uv = [str(Path(sys.executable).parent / "uv")]
        print("creating the peers' environment (BentoML, Ray Serve, Flask) in", VENV, flush=True)
        subprocess.run([*uv, "venv", "-q", "-p", "3.11", str(VENV)], check=True)
        subprocess.run(
            [*uv, "pip", "install", "-q", "--python", str(python), "-r", str(HARNESS / "requirements.txt")], check=True
        )
    return python


def publish(workdir: Path, model: Path, versions: int = 1) -> dict[str, str]:
    """A DuckDB store and registry in ``workdir`` holding ``model`` as ``bench`` v1..n, v1 champion; its env."""
    from prognos.registry import Registry
    from prognos.store import open_store

    env = {"PROGNOS_STORE": f"duckdb:///{workdir}/bench.duckdb", "PROGNOS_REGISTRY": str(workdir / "models")}
    store = open_store(env["PROGNOS_STORE"])
    try:
        reg = Registry(store, env["PROGNOS_REGISTRY"])
        for _ in range(versions):
            reg.publish(model, "bench")
        reg.promote("bench", 1)
    finally:
        store.close()
    return env


def serve_command(port: int, log: Path) -> str:
    """A shell line starting ``prognos serve`` on CPU 0 (the harness pins every peer there), logging to ``log``."""
    prognos = Path(sys.executable).parent / "prognos"
    return f"taskset -c 0 {prognos} serve --port {port} > {log} 2>&1 &"


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/v2/models/bench/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"prognos at {url} not ready after {timeout} s")
        time.sleep(0.2)


def in_loopback_namespace() -> bool:
    """Ray probes non-loopback addresses at start-up: the whole run goes in a namespace with only loopback."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None
