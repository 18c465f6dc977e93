"""The stream bus: committed readings on MQTT, partitioned by device, for `prognos stream` workers.

Ingest (``prognos serve --mqtt … --partitions N``, or a worker with ``--ingest-group``) publishes every
committed batch on ``prognos/stream/{p}``, one QoS 1 message per partition, where ``p`` is a fixed hash
of the device id: a device's readings always travel on one topic, so one worker holds its windows and
rule state. The publish is acknowledged by the broker before the device's own message is: what a
device got an acknowledgement for is both stored and on its way to scoring.

    payload: [[device_id, ts, {sensor: value, …}], …]  (JSON; predictions are never forwarded)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import orjson

from prognos.broker import Broker, Session, delivered, stop
from prognos.errors import ConfigError, InvalidInput
from prognos.types import Reading, device_number, is_prediction

TOPIC = "prognos/stream/{partition}"


def partition(device_id: str, partitions: int) -> int:
    """The partition a device travels on: crc32 of its id, the same in every process and after restarts.

    >>> partition("pump-000", 8), partition("pump-000", 8) == partition("pump-000", 8)
    (2, True)
    """
    return device_number(device_id) % partitions


def encode(readings: Sequence[Reading]) -> bytes:
    return orjson.dumps([[r.device_id, r.ts, dict(r.values)] for r in readings])


def decode(payload: bytes) -> list[Reading]:
    try:
        return [Reading(str(d), int(ts), values) for d, ts, values in orjson.loads(payload)]
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise InvalidInput(f"stream bus message: expected [[device, ts, values], …] ({exc})", field="payload") from None


class Bus:
    """Publishes committed readings per partition; `forward` returns once the broker has every message."""

    def __init__(self, url: str, partitions: int, client_id: str | None = None, timeout: float = 10.0) -> None:
        if partitions < 1:
            raise ConfigError(f"--partitions: expected at least 1, got {partitions}")
        self.broker = Broker.parse(url)
        self.partitions, self.timeout = partitions, timeout
        session = Session(inflight=1000)
        self.client = self.broker.client(client_id or f"prognos-bus-{time.time_ns()}", session)
        self.broker.start(self.client, session)
        self._lock = threading.Lock()  # one forward at a time keeps each partition's messages in commit order
        self.messages = 0

    def forward(self, readings: Sequence[Reading]) -> None:
        parts: dict[int, list[Reading]] = {}
        for r in readings:
            if r.values and not is_prediction(r):
                parts.setdefault(partition(r.device_id, self.partitions), []).append(r)
        if not parts:
            return
        with self._lock:
            topic = TOPIC.format
            sent = [self.client.publish(topic(partition=p), encode(rs), qos=1) for p, rs in sorted(parts.items())]
            deadline = time.monotonic() + self.timeout
            for info in sent:
                delivered(info, deadline - time.monotonic(), f"stream bus {self.broker.url}")
            self.messages += len(sent)

    def close(self) -> None:
        stop(self.client)

    def status(self) -> dict[str, Any]:
        return {
            "broker": self.broker.url,
            "partitions": self.partitions,
            "messages": self.messages,
            "connected": self.client.is_connected(),
        }
