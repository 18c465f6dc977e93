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

from prognos.errors import BrokerUnavailable, ConfigError, InvalidInput, require
from prognos.types import Reading, device_number

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
        from prognos.ingest.mqtt import parse_url

        if partitions < 1:
            raise ConfigError(f"--partitions: expected at least 1, got {partitions}")
        mqtt = require("paho.mqtt.client", "mqtt")
        from paho.mqtt.enums import CallbackAPIVersion

        self.host, self.port = parse_url(url)
        self.partitions, self.timeout = partitions, timeout
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"prognos-bus-{time.time_ns()}", protocol=mqtt.MQTTv5
        )
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.connect_async(self.host, self.port, keepalive=15)
        self.client.loop_start()
        self._lock = threading.Lock()  # one forward at a time keeps each partition's messages in commit order
        self.messages = 0

    def forward(self, readings: Sequence[Reading]) -> None:
        from prognos.stream.scorer import is_prediction

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
                try:
                    info.wait_for_publish(max(0.0, deadline - time.monotonic()))
                except (RuntimeError, ValueError) as exc:  # not connected, or the queue refused it
                    raise BrokerUnavailable(f"stream bus mqtt://{self.host}:{self.port}: {exc}") from None
                if not info.is_published():
                    raise BrokerUnavailable(
                        f"stream bus mqtt://{self.host}:{self.port}: no acknowledgement in {self.timeout:g} s"
                    )
            self.messages += len(sent)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def status(self) -> dict[str, Any]:
        return {
            "broker": f"mqtt://{self.host}:{self.port}",
            "partitions": self.partitions,
            "messages": self.messages,
            "connected": self.client.is_connected(),
        }
