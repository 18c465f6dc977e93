"""Where a simulated fleet goes: a Parquet file (with its ground truth beside it), HTTP or MQTT.

Network targets send in real time by default (one second of data each second); ``realtime=False``
sends as fast as the target takes it, for benchmarks and history.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np
import orjson

from prognos.broker import Broker, Session, stop, unique_client_id
from prognos.errors import ConfigError, require
from prognos.sim.fleet import MODES, Chunk, Fleet
from prognos.types import Reading


class Target(Protocol):
    def register(self, fleet: Fleet) -> None: ...

    def send(self, readings: list[Reading]) -> None: ...

    def close(self) -> None: ...


def chunk_readings(chunk: Chunk, lo: int = 0, hi: int | None = None) -> list[Reading]:
    """Rows ``lo:hi`` of a chunk as readings; the mode is sent when it changes, location once a chunk."""
    dev, names = chunk.device, chunk.names
    out = []
    hi = len(chunk.ts) if hi is None else hi
    prev = chunk.modes[lo - 1] if lo > 0 else -2
    for i in range(lo, hi):
        mode = chunk.modes[i]
        if mode < 0:
            break  # failed: the machine stops reporting
        attrs = {"mode": MODES[mode]} if mode != prev else {}
        loc = dev.location if i == 0 else None
        out.append(
            Reading(
                dev.device_id,
                int(chunk.ts[i]),
                dict(zip(names, chunk.values[i].tolist(), strict=True)),
                attrs,
                loc,
            )
        )
        prev = mode
    return out


def seconds(fleet: Fleet, first_chunk: int = 0, last_chunk: int | None = None) -> Iterator[list[Reading]]:
    """The fleet's readings, one second of simulated time at a time, devices interleaved (chunks first…last-1)."""
    per_s = max(1, round(fleet.rate))
    for c in range(first_chunk, fleet.chunks if last_chunk is None else last_chunk):
        chunks = [fleet.chunk(d, c) for d in fleet.devices]
        for lo in range(0, len(chunks[0].ts), per_s):
            yield [r for ch in chunks for r in chunk_readings(ch, lo, lo + per_s)]


def run(
    fleet: Fleet,
    target: Target,
    realtime: bool = True,
    progress: Callable[[int], Any] | None = None,
    first_chunk: int = 0,
) -> int:
    """Send the fleet (from chunk ``first_chunk`` on) to ``target``; return the number of readings sent."""
    target.register(fleet)
    sent = 0
    t0 = time.monotonic()
    for i, batch in enumerate(seconds(fleet, first_chunk)):
        if realtime:
            time.sleep(max(0.0, t0 + i * max(1.0, 1.0 / fleet.rate) - time.monotonic()))
        if batch:
            target.send(batch)
            sent += len(batch)
        if progress is not None:
            progress(len(batch))
    target.close()
    return sent


def write_parquet(fleet: Fleet, path: str | Path, progress: Callable[[int], Any] | None = None) -> Path:
    """The fleet as one wide Parquet file (a row per reading) and ``<name>.truth.json`` beside it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = sorted({s.name for d in fleet.devices for s in d.sensors})
    schema = pa.schema(
        [
            ("device_id", pa.string()),
            ("ts", pa.timestamp("ms", tz="UTC")),
            ("mode", pa.string()),
            ("lat", pa.float64()),
            ("lon", pa.float64()),
        ]
        + [(n, pa.float64()) for n in names]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for c in range(fleet.chunks):
            for dev in fleet.devices:
                ch = fleet.chunk(dev, c)
                keep = ch.modes >= 0
                n = int(keep.sum())
                if not n:
                    continue
                cols: dict[str, Any] = {
                    "device_id": [dev.device_id] * n,
                    "ts": ch.ts[keep],
                    "mode": [MODES[m] for m in ch.modes[keep]],
                    "lat": np.full(n, dev.location[0]),
                    "lon": np.full(n, dev.location[1]),
                }
                for name in names:
                    j = ch.names.index(name) if name in ch.names else None
                    cols[name] = ch.values[keep, j] if j is not None else pa.nulls(n, pa.float64())
                writer.write_table(pa.table(cols, schema=schema))
                if progress is not None:
                    progress(n)
    truth_path(path).write_text(json.dumps(fleet.truth(), indent=1))
    return path


def truth_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.stem + ".truth.json")


class HttpTarget:
    """POSTs each second of data in the gateway form; registers device types and locations first."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        httpx = require("httpx", "serve")
        self.url = url.rstrip("/")
        self.client = httpx.Client(timeout=timeout)
        self.fleet: Fleet | None = None
        self.registered = False

    def register(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def send(self, readings: list[Reading]) -> None:
        body: dict[str, list[dict[str, Any]]] = {}
        for r in readings:
            body.setdefault(r.device_id, []).append(_item(r))
        resp = self.client.post(
            f"{self.url}/api/v1/telemetry",
            content=orjson.dumps(body),
            headers={"content-type": "application/json"},
        )
        resp.raise_for_status()
        if not self.registered and self.fleet is not None:
            for d in self.fleet.devices:  # devices exist now: give them their type and place
                self.client.patch(
                    f"{self.url}/api/v1/devices/{d.device_id}",
                    json={"type": d.type, "location": {"lat": d.location[0], "lon": d.location[1]}},
                ).raise_for_status()
            self.registered = True

    def close(self) -> None:
        self.client.close()


class MqttTarget:
    """One QoS 1 message per reading on the device's topic; at most ``inflight`` unacknowledged.

    ``acked`` collects ``(device_id, ts)`` of every message the broker acknowledged: what the
    broker has taken responsibility for, and so what prognos must end up storing.
    """

    def __init__(self, url: str, client_id: str | None = None, inflight: int = 1000, record: bool = False) -> None:
        broker = Broker.parse(url)
        session = Session(inflight=inflight, keepalive=30)
        self.client = broker.client(client_id or unique_client_id("sim"), session)
        self.client.max_queued_messages_set(0)
        self._slots = threading.BoundedSemaphore(inflight)
        self._pending: dict[int, tuple[str, int] | None] = {}
        self._early: set[int] = set()
        self._lock = threading.Lock()
        self.record = record
        self.acked: list[tuple[str, int]] = []
        self.published = 0
        self.acknowledged = 0
        self.client.on_publish = self._on_publish
        broker.start(self.client, session, wait=True)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._lock:
            if mid not in self._pending:  # PUBACK before publish() returned: settle it there
                self._early.add(mid)
                return
            self._settle(mid)

    def _settle(self, mid: int) -> None:
        key = self._pending.pop(mid)
        self.acknowledged += key is not None
        if self.record and key is not None:
            self.acked.append(key)
        self._slots.release()

    def _publish(self, topic: str, body: Any, key: tuple[str, int] | None) -> None:
        self._slots.acquire()
        # Not under self._lock: paho calls on_publish holding its own lock (lock-order deadlock).
        info = self.client.publish(topic, orjson.dumps(body), qos=1)
        with self._lock:
            self._pending[info.mid] = key
            self.published += key is not None
            if info.mid in self._early:
                self._early.discard(info.mid)
                self._settle(info.mid)

    def register(self, fleet: Fleet) -> None:
        for d in fleet.devices:
            self._publish("v1/gateway/connect", {"device": d.device_id, "type": d.type}, None)

    def send(self, readings: list[Reading]) -> None:
        for r in readings:
            self._publish(f"prognos/devices/{r.device_id}/telemetry", _item(r), (r.device_id, r.ts))

    def close(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.01)
        stop(self.client)


def _item(r: Reading) -> dict[str, Any]:
    item: dict[str, Any] = {"ts": r.ts, "values": r.values}
    if r.attributes:
        item["attributes"] = r.attributes
    if r.location is not None:
        item["location"] = {"lat": r.location[0], "lon": r.location[1]}
    return item


def open_target(target: str) -> Target | Path:
    """A target from its spelling: ``http://…``, ``mqtt://…`` or a ``.parquet`` path."""
    scheme = urlsplit(target).scheme
    if scheme in ("http", "https"):
        return HttpTarget(target)
    if scheme == "mqtt":
        return MqttTarget(target)
    if target.endswith((".parquet", ".pq")):
        return Path(target)
    raise ConfigError(f"unknown target {target!r}: expected http://HOST:PORT, mqtt://HOST:PORT or FILE.parquet")
