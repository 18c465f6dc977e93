"""Health, readiness and liveness say what is broken, with the reason: the store, the models, the stream."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import httpx
import pytest

from prognos.config import Settings
from prognos.registry import Registry
from prognos.server import create_app
from prognos.server.background import BackgroundServer
from prognos.store import open_store
from prognos.types import now_ms
from tests.inference.conftest import tamper
from tests.server.conftest import serving
from tests.server.test_oip import two_versions
from tests.services import free_port
from tests.test_registry import artifact


def eventually(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (got := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return got


def test_a_champion_that_fails_its_checksum_is_not_ready_and_health_says_why(tmp_path):
    def prepare(store):
        two_versions(tmp_path)(store)
        tamper(Registry(store, tmp_path / "models"), 1)  # the champion's file went bad after its promotion

    with serving(tmp_path, prepare, model_poll=0.2) as server:
        http = server.http
        ready = http.get("/v2/health/ready")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert "checksum" in ready.json()["reasons"][0] and ready.json()["reasons"][0].startswith("models: ")
        health = http.get("/api/v1/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert health.json()["checks"]["models"]["ok"] is False and health.json()["checks"]["store"]["ok"] is True
        assert http.get("/v2/health/live").json() == {"live": True}  # a restart would not mend a file
        Registry(server.store, tmp_path / "models").promote("pump-anomaly", 2)  # as another replica would
        eventually(lambda: http.get("/v2/health/ready").status_code == 200)
        assert http.get("/api/v1/health").json()["checks"]["models"] == {"ok": True}


def test_a_model_the_stream_is_assigned_but_nobody_serves_shows_in_health(tmp_path):
    def prepare(store):
        reg = Registry(store, tmp_path / "models")
        reg.publish(artifact(tmp_path / "a1", scale=2.0))
        reg.promote("pump-anomaly", 1)

    with serving(tmp_path, prepare, stream="pump=pump-anomaly;fan=fan-anomaly") as server:
        health = server.http.get("/api/v1/health")
        assert health.status_code == 503
        reason = health.json()["checks"]["stream"]["reason"]
        assert "'fan-anomaly' is not served" in reason and "pump-anomaly" not in reason
        assert server.http.get("/v2/health/ready").status_code == 503


class Cut:
    """A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and mended:
    the network between prognos and its database, as an outage takes it away."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = free_port()
        self.up = True
        self._loop = asyncio.new_event_loop()
        self._open: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._accept, "127.0.0.1", self.port))

    def cut(self) -> None:
        self.up = False
        self._call(self._drop())

    def mend(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self._server.close()
        self._call(self._server.wait_closed())
        self._call(self._settle())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    async def _drop(self) -> None:
        for w in list(self._open):
            w.transport.abort()
        self._open.clear()

    async def _settle(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.wait(tasks, timeout=2) if tasks else None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target)
        self._open |= {writer, up_w}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.transport.abort()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))


@pytest.mark.slow
def test_a_database_outage_is_degraded_health_and_503s_then_recovers_by_itself(fresh_pg):
    with contextlib.ExitStack() as stack:
        cut = Cut(5432)
        stack.callback(cut.close)
        url = fresh_pg.replace("127.0.0.1:5432", f"127.0.0.1:{cut.port}")
        assert url != fresh_pg
        store = open_store(url)
        stack.callback(store.close)
        server = stack.enter_context(BackgroundServer(create_app(store, Settings.of()), port=free_port()))
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        t = now_ms() - 60_000
        assert http.post("/api/v1/devices/d-1/telemetry", json={"ts": t, "values": {"x": 1}}).status_code == 200
        assert http.get("/api/v1/health").status_code == 200
        cut.cut()
        started = time.monotonic()
        health = eventually(lambda: (h := http.get("/api/v1/health")).status_code == 503 and h)
        assert time.monotonic() - started < 10
        assert health.json()["checks"]["store"]["ok"] is False and health.json()["checks"]["store"]["reason"]
        assert http.get("/v2/health/ready").status_code == 503
        sent = time.monotonic()
        r = http.post("/api/v1/devices/d-new/telemetry", json={"ts": t, "values": {"y": 2}})  # a new series too
        assert r.status_code == 503 and r.headers["retry-after"], r.text
        assert time.monotonic() - sent < 15
        cut.mend()
        eventually(lambda: http.get("/api/v1/health").status_code == 200, timeout=30)
        assert http.post("/api/v1/devices/d-new/telemetry", json={"ts": t, "values": {"y": 2}}).status_code == 200
        assert store.read("d-new", t - 1, t + 1).num_rows == 1
