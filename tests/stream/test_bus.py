"""The stream bus on a real broker: each device on its partition's topic, predictions left out, a dead broker said."""

from __future__ import annotations

import time

import pytest

from prognos.broker import stop
from prognos.errors import BrokerUnavailable, InvalidInput
from prognos.stream.bus import Bus, decode, encode, partition
from prognos.types import Reading
from tests.services import Mosquitto, listener

T = 1_700_000_000_000


def test_committed_readings_travel_on_their_devices_partition():
    broker = Mosquitto().start()
    got: list[tuple[str, list[Reading]]] = []
    sub = listener(broker.url, ["prognos/stream/#"], "probe", lambda c, u, m: got.append((m.topic, decode(m.payload))))
    bus = Bus(broker.url, 4)
    try:
        deadline = time.monotonic() + 10
        while not bus.status()["connected"]:  # it connects in the background
            assert time.monotonic() < deadline
            time.sleep(0.01)
        readings = [Reading(f"dev-{i}", T + j, {"x": float(j)}) for j in range(3) for i in range(6)]
        bus.forward([*readings, Reading("dev-0", T, {"pred.m.anomaly.score": 1.0})])  # the prediction stays home
        deadline = time.monotonic() + 10
        while sum(len(rs) for _, rs in got) < len(readings) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted((r.device_id, r.ts) for _, rs in got for r in rs) == sorted((r.device_id, r.ts) for r in readings)
        for topic, rs in got:
            assert {f"prognos/stream/{partition(r.device_id, 4)}" for r in rs} == {topic}
            assert [r.ts for r in rs] == sorted(r.ts for r in rs)  # a device's readings keep their order
        broker.stop()
        bus.timeout = 0.5
        with pytest.raises(BrokerUnavailable, match="stream bus"):
            bus.forward(readings)
    finally:
        bus.close()
        stop(sub)
        broker.stop()


def test_a_malformed_bus_message_is_named():
    assert decode(encode([Reading("d", T, {"a": 1.0})])) == [Reading("d", T, {"a": 1.0})]
    with pytest.raises(InvalidInput, match=r"\[\[device, ts, values\]"):
        decode(b'{"not": "a list"}')
