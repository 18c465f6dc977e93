"""MQTT ingest: simulator → Mosquitto → prognos → store, against a bare paho subscriber that only counts.

Both runs take the same messages from the same publisher process (the simulator, QoS 1, one reading
of 8-12 sensor values per message) through the same broker. The baseline subscriber does nothing but
count; prognos decodes, validates, commits to DuckDB and only then acknowledges. The figure is
readings/s from the first publish to the last reading received (baseline) or durably stored (prognos),
and the ratio prognos / baseline (goal ≥ 0.8). Loss is checked by count: every reading the
publisher had acknowledged by the broker must be in the store.

    python benchmarks/ingest_mqtt.py [--devices 100] [--seconds 60] [--rate 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from _common import Mosquitto, Server

from prognos.sim import Fleet
from prognos.store import open_store

COUNTER = r"""
import sys, time, paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
n, port = int(sys.argv[1]), int(sys.argv[2])
seen = [0, None, None]
def on_message(c, u, m):
    seen[0] += 1
    if seen[1] is None: seen[1] = time.time()
    if seen[0] >= n: seen[2] = time.time()
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-counter", protocol=mqtt.MQTTv5)
c.on_message = on_message
c.on_connect = lambda c, u, f, r, p: c.subscribe("prognos/devices/+/telemetry", qos=1)
c.connect("127.0.0.1", port); c.loop_start()
print("ready", flush=True)
while seen[2] is None: time.sleep(0.005)
print(seen[2], flush=True)
"""


def publish(broker: Mosquitto, devices: int, rate: float, seconds: float) -> tuple[float, subprocess.Popen]:
    cmd = [
        sys.executable,
        "-m",
        "prognos.cli",
        "simulate",
        "--devices",
        str(devices),
        "--rate",
        str(rate),
        "--duration",
        str(seconds),
        "--seed",
        "1",
        "--start",
        "2026-01-01T00:00:00Z",
        "--fast",
        "--target",
        broker.url,
    ]
    t0 = time.time()
    return t0, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def expected(devices: int, rate: float, seconds: float) -> int:
    from prognos.sim.send import seconds as per_second

    fleet = Fleet(devices, rate, seconds, seed=1, start=1_767_225_600_000)
    return sum(len(b) for b in per_second(fleet))


def baseline(n: int, args: argparse.Namespace) -> float:
    broker = Mosquitto().start()
    counter = subprocess.Popen(
        [sys.executable, "-c", COUNTER, str(n), str(broker.port)], stdout=subprocess.PIPE, text=True
    )
    assert counter.stdout is not None and counter.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    t0, pub = publish(broker, args.devices, args.rate, args.seconds)
    t_last = float(counter.stdout.readline())
    pub.wait()
    counter.wait()
    broker.stop()
    return n / (t_last - t0)


def prognos(n: int, args: argparse.Namespace) -> tuple[float, int]:
    broker = Mosquitto().start()
    path = tempfile.mkdtemp(prefix="prognos-bench-mqtt-")
    store_url = f"duckdb:///{path}/bench.duckdb{args.store_options}"
    with Server(store_url, "--mqtt", broker.url, "--mqtt-client-id", "bench-prognos") as server:
        time.sleep(0.3)
        t0, pub = publish(broker, args.devices, args.rate, args.seconds)
        while server.health()["mqtt"]["readings"] < n:
            time.sleep(0.1)
        t_last = time.time()
        pub.wait()
    broker.stop()
    store = open_store(store_url)
    stored = (
        store._cursor()
        .execute("SELECT count(DISTINCT (device_id, ts)) FROM telemetry JOIN series USING (series_id)")
        .fetchone()[0]
    )  # type: ignore[attr-defined]
    store.close()
    return n / (t_last - t0), stored


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--seconds", type=float, default=60.0, help="simulated seconds (messages = devices × rate × s)")
    p.add_argument("--store-options", default="", help="appended to the DuckDB URL, e.g. ?threads=1")
    p.add_argument("--rounds", type=int, default=3, help="baseline/prognos pairs; the median ratio is reported")
    args = p.parse_args()
    n = expected(args.devices, args.rate, args.seconds)
    print(f"MQTT ingest: {n} messages (1 reading of 8-12 values each) from {args.devices} simulated devices, QoS 1")
    ratios, lost = [], 0
    for r in range(args.rounds):
        base = baseline(n, args)
        rate, stored = prognos(n, args)
        lost += n - stored
        ratios.append(rate / base)
        print(
            f"  round {r + 1}: baseline (bare paho, counting only) {base:>8,.0f} readings/s | "
            f"prognos (decode, validate, DuckDB commit, then ack) {rate:>8,.0f} readings/s | "
            f"ratio {rate / base:.2f} | stored {stored}/{n}"
        )
    print(f"  loss check over {args.rounds} rounds: {'0 loss' if lost == 0 else f'LOST {lost} readings'}")
    print(f"  median ratio prognos / baseline = {statistics.median(ratios):.2f}  (goal >= 0.8)")


if __name__ == "__main__":
    main()
