"""Real services for tests: start them when they are down, never skip.

PostgreSQL is the machine's own (started here if it is not running). Mosquitto runs as a private
broker per test session on a free port, so tests may stop and restart it without disturbing others.
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("PROGNOS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def wait_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.1)


def ensure_postgres() -> str:
    """Return the test database URL, starting the machine's PostgreSQL if it is down."""
    try:
        wait_port("127.0.0.1", 5432, timeout=1)
    except TimeoutError:
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True)
        wait_port("127.0.0.1", 5432)
    return PG_URL


@contextlib.contextmanager
def pg_schema(base_url: str) -> Iterator[str]:
    """A fresh schema; yields a URL whose search_path points at it."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{base_url}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {name} CASCADE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """A private Mosquitto broker with the configuration prognos recommends (see README)."""

    def __init__(self, port: int | None = None, listener: str = "allow_anonymous true") -> None:
        """``listener``: the listener's own settings (authentication, TLS) in mosquitto.conf's words."""
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="prognos-mosquitto-"))
        self.dir.chmod(0o777)  # started as root, mosquitto drops to its own user: it must write its db here
        (self.dir / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\n{listener}\n"
            f"persistence true\npersistence_location {self.dir}/\n"
            "max_queued_messages 0\nmax_inflight_messages 0\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.dir / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def listener(url: str, topics: list[str], client_id: str, on_message: Any = None) -> Any:
    """An MQTT client subscribed to ``topics`` at QoS 1, returned once the broker acknowledged the subscription."""
    from prognos.broker import Broker, subscribe

    broker = Broker.parse(url)
    client = broker.client(client_id)
    acknowledged = threading.Event()
    client.on_connect = lambda c, *_: subscribe(c, topics)
    client.on_subscribe = lambda *_: acknowledged.set()
    client.on_message = on_message
    broker.start(client)
    if not acknowledged.wait(10):
        raise TimeoutError(f"no subscription acknowledgement from {url} for {topics}")
    return client


def mosquitto_binary() -> str:
    found = glob.glob("/usr/sbin/mosquitto") or glob.glob("/usr/bin/mosquitto")
    if not found:
        raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
    return found[0]


class ServerProcess:
    """``prognos serve`` (or ``prognos stream``) in its own process, as in production; ready once health says so."""

    def __init__(self, store: str, *extra: str, command: str = "serve", until: str = "/api/v1/health") -> None:
        import sys

        self.until = until  # what must answer 200 before the server counts as started

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"prognos-{command}-", suffix=".log", delete=False)  # noqa: SIM115
        cmd = [
            sys.executable,
            "-m",
            "prognos.cli",
            "--log-level",
            "WARNING",
            command,
            "--store",
            store,
            "--port",
            str(self.port),
            *extra,
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log)

    def __enter__(self) -> ServerProcess:
        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}{self.until}").status_code == 200:  # health: 503 until subscribed to MQTT
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {Path(self.log.name).read_text()}")
            time.sleep(0.1)

    def health(self) -> dict:
        import httpx

        return httpx.get(f"{self.url}/api/v1/health", timeout=10).json()

    def kill(self) -> None:
        """kill -9: no shutdown hook runs."""
        self.proc.kill()
        self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()
