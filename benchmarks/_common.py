"""Shared by the benchmarks: start prognos as a separate process, wait for it, read its health."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import Mosquitto, ensure_postgres, free_port, pg_schema  # noqa: E402

__all__ = ["Mosquitto", "Server", "ensure_postgres", "free_port", "pg_schema"]


class Server:
    """``prognos serve`` in its own process, as in production."""

    def __init__(self, store: str, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="prognos-bench-", suffix=".log", delete=False)  # noqa: SIM115
        cmd = [sys.executable, "-m", "prognos.cli", "--log-level", "WARNING", "serve", "--store", store,
               "--port", str(self.port), *extra]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log)

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while True:
            try:
                h = httpx.get(f"{self.url}/api/v1/health").json()
                if h["mqtt"] is None or h["mqtt"]["connected"]:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {Path(self.log.name).read_text()}")
            time.sleep(0.1)

    def health(self) -> dict:
        return httpx.get(f"{self.url}/api/v1/health", timeout=10).json()

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()
