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
from tests.test_registry import artifact, onnx_model


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


def test_a_model_the_stream_cannot_feed_shows_in_health_and_costs_no_other_model_its_predictions(tmp_path):
    def prepare(store):
        reg = Registry(store, tmp_path / "models")
        reg.publish(artifact(tmp_path / "a1", scale=2.0))
        reg.promote("pump-anomaly", 1)
        reg.publish(onnx_model(tmp_path / "fan.onnx"), "fan-anomaly")  # bring-your-own, its sensors not named
        reg.promote("fan-anomaly", 1)

    with serving(tmp_path, prepare, stream="*=pump-anomaly,fan-anomaly") as server:
        start = now_ms() - 20_000
        for i in range(12):
            reading = {"ts": start + i * 1000, "values": {"a": 1.0, "b": 2.0, "c": float(i)}}
            assert server.http.post("/api/v1/devices/p1/telemetry", json=reading).status_code == 200
        scored = eventually(
            lambda: [r for r in server.store.read("p1", start, now_ms()).to_pylist() if "pred" in r["key"]]
        )
        assert {r["key"].split(".")[1] for r in scored} == {"pump-anomaly"}  # scored, the other model beside it
        health = server.http.get("/api/v1/health")
        assert health.status_code == 503
        reason = health.json()["checks"]["stream"]["reason"]
        assert reason.startswith("stream model fan-anomaly v1 cannot score the stream: its card names no sensors")
        assert "pump-anomaly" not in reason


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
@pytest.mark.parametrize("outage_s", [10, 45])
def test_a_database_outage_under_steady_ingest_is_503s_and_degraded_health_then_recovers_losing_nothing(
    fresh_pg, outage_s
):
    with contextlib.ExitStack() as stack:
        cut = Cut(5432)
        stack.callback(cut.close)
        url = fresh_pg.replace("127.0.0.1:5432", f"127.0.0.1:{cut.port}")
        assert url != fresh_pg
        store = open_store(url)
        stack.callback(store.close)
        server = stack.enter_context(BackgroundServer(create_app(store, Settings.of()), port=free_port()))
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        sender = Sender(server.url)
        stack.callback(sender.stop)
        eventually(lambda: sender.statuses.count(200) >= 20)
        cut.cut()
        started = time.monotonic()
        health = eventually(lambda: (h := http.get("/api/v1/health")).status_code == 503 and h)
        assert time.monotonic() - started < 10
        assert health.json()["checks"]["store"]["ok"] is False and health.json()["checks"]["store"]["reason"]
        assert http.get("/v2/health/ready").status_code == 503
        time.sleep(max(0.0, outage_s - (time.monotonic() - started)))
        cut.mend()
        eventually(lambda: http.get("/api/v1/health").status_code == 200, timeout=30)
        before = len(sender.statuses)
        eventually(lambda: sender.statuses[before:].count(200) >= 20, timeout=30)  # taking readings again
        sender.stop()
        assert set(sender.statuses) == {200, 503}, sorted(set(sender.statuses))  # never a 500, never dropped
        assert sender.slowest < 15, sender.slowest  # a 503 comes within the pool's wait, not after a minute
        refused = sorted(sender.refused)
        assert refused[len(refused) // 2] < 0.5, refused  # most at once: the store is known to be away
        got = [row["ts"] - T0 for row in store.read("d-1", T0, T0 + 10**7).to_pylist()]
        assert sorted(got) == sorted(set(got)) and set(sender.acked) <= set(got)  # every 200 stored, once


T0 = now_ms() - 3_600_000


class Sender:
    """A device gateway posting a reading every 20 ms over one keep-alive connection; what each answer was."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: list[int | str] = []
        self.acked: list[int] = []
        self.refused: list[float] = []  # seconds each 503 took
        self.slowest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            i = 0
            while not self._stop.is_set():
                body = [{"ts": T0 + i, "values": {"x": float(i)}}]
                sent = time.monotonic()
                try:
                    r = http.post("/api/v1/devices/d-1/telemetry", json=body)
                except httpx.HTTPError as exc:  # a dropped connection: what this test must never see
                    self.statuses.append(f"{type(exc).__name__}: {exc}")
                else:
                    retry = r.status_code != 503 or r.headers.get("retry-after")
                    self.statuses.append(r.status_code if retry else "503 without Retry-After")
                    if r.status_code == 200:
                        self.acked.append(i)
                    elif r.status_code == 503:
                        self.refused.append(time.monotonic() - sent)
                self.slowest = max(self.slowest, time.monotonic() - sent)
                i += 1
                time.sleep(0.02)
