"""End to end over MQTT: a device publishes a reading that crosses a threshold; how long until the command it
triggers arrives back on its own command topic?

A probe pump publishes at 10 Hz over MQTT (QoS 1) to ``prognos serve --mqtt --stream`` (DuckDB), whose pump
model works on a 100 ms grid; every 2 s one reading of ``bearing_temp`` is far out of range, and the rule
``raw.bearing_temp above 150`` sends an MQTT command (QoS 1) to ``prognos/devices/probe-pump/commands``. The
probe times each command against two publishes: the reading that crossed (the latency a device sees, which
includes waiting for its grid cell to close — the next reading, 100 ms later) and the reading that closed
that cell (what the system adds). With ``--load N`` the rest of a fleet sends N readings/s over HTTP at the
same time. The baseline, in the same run: the broker's own round trip (publish → a subscriber on the same
machine receives it), the floor any MQTT decision loop pays twice.

    python benchmarks/stream_latency.py [--crossings 30] [--load 10000]
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import paho.mqtt.client as mqtt
from _common import Mosquitto
from _stream import body, fleet, models, publish, save, serve, slices
from paho.mqtt.enums import CallbackAPIVersion

from prognos.features.grid import phase

RULES = """rules:
  - name: hot-bearing
    signal: raw.bearing_temp
    above: 150
    exit: 100
    device_type: probe
    actions: [{mqtt: {command: {action: stop}}}]
"""
PROBE = "probe-pump"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--crossings", type=int, default=30)
    p.add_argument("--load", type=float, default=10_000, help="readings/s of the rest of the fleet, HTTP (0: none)")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds of fleet load before the probe starts")
    args = p.parse_args()
    broker = Mosquitto().start()
    try:
        floor = broker_round_trip(broker.url)
        got = measure(args, broker)
    finally:
        broker.stop()
    print(f"\nMQTT reading → MQTT command, {len(got['crossing'])} crossings, fleet load {args.load:,.0f} readings/s:")
    for name in ("crossing", "closing"):
        xs = sorted(got[name])
        print(f"  from the {name:<8} reading: p50 {_q(xs, 0.5):6.1f} ms   p99 {_q(xs, 0.99):6.1f} ms")
    print(f"  broker round trip alone:   p50 {_q(floor, 0.5):6.1f} ms   p99 {_q(floor, 0.99):6.1f} ms")
    print(f"  ratio (closing p50 / broker round trip p50): {_q(got['closing'], 0.5) / _q(floor, 0.5):.1f}")
    print("saved", save("stream_latency", {"args": vars(args), **got, "broker_round_trip_ms": floor}))


def measure(args: argparse.Namespace, broker: Mosquitto) -> dict[str, Any]:
    import tempfile

    found, probe = models(1000), models(100)["pump"]  # the fleet on the default 1 s grid; the probe: 100 ms
    f = fleet(max(3, int(args.load / 10)), 10.0, 60, args.warmup + 2 * args.crossings + 30, faulty=0.0)
    live = [body(s) for s in slices(f, 1, 10)] if args.load else []
    sensors = orjson.loads((probe / "card.json").read_bytes())["input"]["sensors"]
    with tempfile.TemporaryDirectory(prefix="prognos-latency-") as tmp:
        work = Path(tmp)
        env = publish(work, found, f, 1)
        from prognos.registry import Registry
        from prognos.store import open_store

        store = open_store(env["PROGNOS_STORE"])
        store.update_device(PROBE, {"type": "probe"}, create=True)
        reg = Registry(store, env["PROGNOS_REGISTRY"])
        reg.promote("probe-anomaly", reg.publish(probe, "probe-anomaly").version)
        store.close()
        (work / "rules.yaml").write_text(RULES)
        stream = "probe=probe-anomaly;" + ";".join(f"{k}={k}-anomaly" for k in ("pump", "motor", "fan"))
        proc, url = serve(work, env, "0,1", "--mqtt", broker.url, "--mqtt-client-id", "prognos-bench", stream=stream)
        stop = threading.Event()
        loader = threading.Thread(target=_load, args=(url, live, stop), daemon=True)
        loader.start()
        time.sleep(args.warmup if args.load else 0)  # the fleet's windows load and the load settles first
        try:
            return _probe(broker.url, sensors, args.crossings)
        finally:
            stop.set()
            loader.join()
            proc.terminate()
            proc.wait(30)


def _probe(url: str, sensors: list[str], crossings: int) -> dict[str, Any]:
    """Publish at 10 Hz; every 2 s a crossing; time each command against the crossing and the closing publish."""
    sent: dict[int, float] = {}  # reading ts → when it was published
    arrived: dict[int, float] = {}  # opened_ts (the crossing's cell end) → when its command arrived
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="probe", protocol=mqtt.MQTTv5)
    ready = threading.Event()
    client.on_connect = lambda c, *a: (c.subscribe(f"prognos/devices/{PROBE}/commands", qos=1), ready.set())
    client.on_message = lambda c, u, m: arrived.setdefault(orjson.loads(m.payload)["opened_ts"], time.perf_counter())
    client.connect("127.0.0.1", int(url.rsplit(":", 1)[1]))
    client.loop_start()
    assert ready.wait(10)
    rng = np.random.default_rng(3)
    normal = {s: 20.0 + rng.normal() for s in sensors}
    shift = phase(PROBE, 100)  # the probe's grid cells start there within each 100 ms
    t0 = (int(time.time() * 1000) // 100 + 1) * 100 + shift
    cross_at = {t0 + 20 * 100 * (k + 4) + 50 for k in range(crossings)}  # every 2 s, once its window has filled
    start = time.perf_counter()
    for i in range(20 * (crossings + 5)):
        ts = t0 + i * 100 + 50  # mid-cell: the next reading (100 ms later) closes the cell
        values = {s: v + rng.normal() * 0.1 for s, v in normal.items()}
        if ts in cross_at:
            values["bearing_temp"] = 500.0
        time.sleep(max(0.0, start + i * 0.1 - time.perf_counter()))
        sent[ts] = time.perf_counter()
        client.publish(f"prognos/devices/{PROBE}/telemetry", orjson.dumps({"ts": ts, "values": values}), qos=1)
    time.sleep(2.0)
    client.loop_stop()
    client.disconnect()
    crossing, closing = [], []
    for ts in sorted(cross_at):
        cell_end = (ts - shift) // 100 * 100 + shift  # the window's end: the crossing's cell
        if cell_end in arrived and ts + 100 in sent:
            crossing.append((arrived[cell_end] - sent[ts]) * 1000)
            closing.append((arrived[cell_end] - sent[ts + 100]) * 1000)
    return {"crossing": crossing, "closing": closing, "missed": len(cross_at) - len(crossing)}


def _load(url: str, bodies: list[bytes], stop: threading.Event) -> None:
    if not bodies:
        return
    client = httpx.Client(base_url=url, timeout=60)
    t0 = time.monotonic()
    for i, b in enumerate(bodies):
        if stop.is_set():
            return
        time.sleep(max(0.0, t0 + i / 10 - time.monotonic()))
        client.post("/api/v1/telemetry", content=b, headers={"content-type": "application/json"})


def broker_round_trip(url: str, n: int = 200) -> list[float]:
    """Publish → receive on the same broker, QoS 1: the transport's share of any decision loop."""
    got: dict[int, float] = {}
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rt-sub", protocol=mqtt.MQTTv5)
    ready = threading.Event()
    sub.on_connect = lambda c, *a: (c.subscribe("rt/x", qos=1), ready.set())
    sub.on_message = lambda c, u, m: got.setdefault(int(m.payload), time.perf_counter())
    port = int(url.rsplit(":", 1)[1])
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rt-pub", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    assert ready.wait(10)
    sent = {}
    for i in range(n):
        sent[i] = time.perf_counter()
        pub.publish("rt/x", str(i), qos=1)
        time.sleep(0.01)
    time.sleep(1.0)
    for c in (sub, pub):
        c.loop_stop()
        c.disconnect()
    return sorted((got[i] - sent[i]) * 1000 for i in got)


def _q(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


if __name__ == "__main__":
    main()
