"""MQTT ingestion against a real Mosquitto broker (a private one per test session)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from prognos.broker import stop
from prognos.ingest.mqtt import MqttSource, wait_subscribed
from prognos.sim import Fleet
from prognos.sim.send import MqttTarget, run
from prognos.store import MemoryStore, open_store
from prognos.store.writer import BatchWriter
from prognos.types import now_ms
from tests.services import Mosquitto, ServerProcess, free_port, listener

T = now_ms() - 60_000


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def publisher(broker: Mosquitto, client_id: str = "test-pub") -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    return c


def publish(c: mqtt.Client, topic: str, body) -> None:
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    c.publish(topic, payload, qos=1).wait_for_publish(10)


def source(broker: Mosquitto, store, client_id: str, **kw) -> tuple[MqttSource, BatchWriter]:
    writer = BatchWriter(store)
    src = MqttSource(broker.url, writer.submit_then, client_id=client_id, on_device=_register(store), **kw)
    src.start()
    assert wait_subscribed(src)  # the broker acknowledged the subscriptions: nothing published now is missed
    return src, writer


def _register(store):
    return lambda device_id, kind: store.update_device(device_id, {"type": kind} if kind else {}, create=True)


def count(store, device: str) -> int:
    return store.read(device, T - 10**9, now_ms() + 10**8).num_rows


def test_device_gateway_and_connect_topics_land_in_the_store(broker):
    store = MemoryStore()
    src, writer = source(broker, store, "t-basic")
    pub = publisher(broker)
    publish(pub, "v1/gateway/connect", {"device": "pump-9", "type": "pump"})
    publish(pub, "prognos/devices/pump-9/telemetry", {"ts": T, "values": {"flow": 1.5}, "attributes": {"mode": "on"}})
    publish(pub, "prognos/devices/pump-9/telemetry", [{"ts": T + 1, "values": {"flow": 2}}])
    publish(pub, "v1/gateway/telemetry", {"fan-1": [{"ts": T, "values": {"rpm": 900}}]})
    eventually(lambda: count(store, "pump-9") == 2 and count(store, "fan-1") == 1)
    assert store.device("pump-9").type == "pump"
    assert store.states("pump-9", T, T + 10).to_pylist() == [{"ts": T, "key": "mode", "value": "on"}]
    assert src.status()["connected"] and src.status()["session_present"] is False
    src.stop()
    writer.close()
    pub.disconnect()
    pub.loop_stop()


def test_bad_messages_are_reported_to_the_device_and_good_values_kept(broker):
    store = MemoryStore()
    src, writer = source(broker, store, "t-bad")
    errors: list[dict] = []
    pub = publisher(broker, "t-bad-pub")
    heard = listener(broker.url, ["prognos/devices/+/errors"], "t-bad-errors", lambda c, u, m: errors.append(m))
    for body in [
        b"{not json",
        b"",
        b"[]",
        b"42",
        {"ts": T, "values": {"x": "str", "ok": 1}},
        b'{"ts": %d, "values": {"x": NaN}}' % T,
        {"ts": 5, "values": {"x": 1}},
    ]:
        publish(pub, "prognos/devices/dev-1/telemetry", body)
    publish(pub, "prognos/devices/bad id!/telemetry", {"ts": T, "values": {"x": 1}})  # invalid id in the topic
    publish(pub, "v1/gateway/telemetry", b'["not", "a", "gateway"]')
    publish(pub, "v1/gateway/connect", {"nodevice": 1})
    for topic in ("prognos/devices/a/b/telemetry", "prognos/devices/dev-1/telemetry/x", "prognos/devices//telemetry"):
        publish(pub, topic, {"ts": T, "values": {"zz": 1}})  # unknown shapes: never stored
    publish(pub, "prognos/devices/dev-1/telemetry", {"ts": T + 1, "values": {"y": 3}})
    eventually(lambda: count(store, "dev-1") == 2)
    assert store.read("dev-1", T, T + 10).to_pylist() == [
        {"ts": T, "key": "ok", "value": 1.0},
        {"ts": T + 1, "key": "y", "value": 3.0},
    ]
    eventually(lambda: len(errors) >= 7)
    text = orjson.dumps([orjson.loads(m.payload) for m in errors]).decode()
    assert "malformed JSON" in text and "values.x" in text and "seconds sent by mistake" in text
    assert src.stats.rejected >= 10 and src.status()["connected"]
    src.stop()
    writer.close()
    stop(heard)
    stop(pub)


def test_messages_published_while_prognos_is_down_arrive_when_it_returns(broker):
    store = MemoryStore()
    src, writer = source(broker, store, "t-persist")
    src.stop()  # the session stays in the broker
    pub = publisher(broker, "t-persist-pub")
    for i in range(50):
        publish(pub, "prognos/devices/p-1/telemetry", {"ts": T + i, "values": {"x": i}})
    src2, writer2 = source(broker, store, "t-persist")
    assert src2.stats.session_present is True
    eventually(lambda: count(store, "p-1") == 50)
    src2.stop()
    writer.close()
    writer2.close()
    pub.disconnect()
    pub.loop_stop()


def test_broker_loss_shows_in_health_and_prognos_reconnects(tmp_path):
    from prognos.config import Settings
    from prognos.server import create_app
    from prognos.server.background import BackgroundServer

    b = Mosquitto().start()
    store = open_store(f"duckdb:///{tmp_path}/r.duckdb")
    app = create_app(store, Settings.of(mqtt=b.url, mqtt_client_id="t-reconnect"))
    with BackgroundServer(app, port=free_port()) as server, httpx.Client(base_url=server.url) as http:
        eventually(lambda: http.get("/api/v1/health").json()["mqtt"]["connected"])
        b.stop()
        eventually(lambda: http.get("/api/v1/health").status_code == 503)
        assert http.get("/api/v1/health").json()["mqtt"]["connected"] is False
        b.start()  # same port, same persistence directory
        eventually(lambda: http.get("/api/v1/health").status_code == 200, timeout=45)
        pub = publisher(b, "t-reconnect-pub")
        publish(pub, "prognos/devices/r-1/telemetry", {"ts": T, "values": {"x": 1}})
        eventually(lambda: count(store, "r-1") == 1)
        assert http.get("/api/v1/health").json()["mqtt"]["connects"] >= 2
        pub.disconnect()
        pub.loop_stop()
    store.close()
    b.stop()


def test_two_servers_on_one_host_without_client_ids_do_not_take_each_others_session(broker, tmp_path):
    from prognos.config import Settings
    from prognos.server import create_app
    from prognos.server.background import BackgroundServer

    with contextlib.ExitStack() as stack:
        stores = [open_store(f"duckdb:///{tmp_path}/s{i}.duckdb") for i in range(2)]
        for s in stores:
            stack.callback(s.close)
        health = []
        for s in stores:
            server = stack.enter_context(
                BackgroundServer(create_app(s, Settings.of(mqtt=broker.url)), port=free_port())
            )
            health.append(stack.enter_context(httpx.Client(base_url=server.url)))
        eventually(lambda: all(h.get("/api/v1/health").json()["mqtt"]["subscribed"] for h in health))
        ids = [h.get("/api/v1/health").json()["mqtt"]["client_id"] for h in health]
        assert ids[0] != ids[1] and all(i.startswith("prognos-ingest-") for i in ids)
        pub = publisher(broker, "t-two-pub")
        stack.callback(pub.loop_stop)
        stack.callback(pub.disconnect)
        for i in range(20):
            publish(pub, "prognos/devices/two-1/telemetry", {"ts": T + i, "values": {"x": i}})
        eventually(lambda: all(count(s, "two-1") == 20 for s in stores))
        time.sleep(1.0)  # a takeover would have thrown one off by now (it did 21 times in 20 s)
        mqtt_health = [h.get("/api/v1/health").json()["mqtt"] for h in health]
        assert [m["connects"] for m in mqtt_health] == [1, 1] and [m["disconnects"] for m in mqtt_health] == [0, 0]


def serve(store_url: str, broker: Mosquitto, client_id: str, group: str | None = None) -> ServerProcess:
    extra = ["--mqtt", broker.url, "--mqtt-client-id", client_id, *(["--mqtt-group", group] if group else [])]
    return ServerProcess(store_url, *extra).__enter__()


def test_shared_subscription_splits_the_load_between_two_processes(broker, fresh_pg):
    a = serve(fresh_pg, broker, "t-share-a", group="g1")
    b = serve(fresh_pg, broker, "t-share-b", group="g1")
    try:
        pub = publisher(broker, "t-share-pub")
        for i in range(400):
            pub.publish(f"prognos/devices/s-{i % 8}/telemetry", orjson.dumps({"ts": T + i, "values": {"x": i}}), qos=1)
        store = open_store(fresh_pg)
        eventually(lambda: sum(count(store, f"s-{d}") for d in range(8)) == 400)
        got = [s.health()["mqtt"]["readings"] for s in (a, b)]
        assert sum(got) == 400 and min(got) > 0, got  # each message once, both processes took a share
        store.close()
        pub.disconnect()
        pub.loop_stop()
    finally:
        for s in (a, b):
            s.__exit__()


def settle(url: str, quiet: float = 1.5, timeout: float = 90) -> None:
    """Wait until the server has written everything it received and nothing new arrives."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = httpx.get(f"{url}/api/v1/health").json()
        now = (h["mqtt"]["messages"], h["writer"]["readings"], h["writer"]["pending"])
        if now != last:
            last, since = now, time.monotonic()
        elif now[2] == 0 and time.monotonic() - since > quiet:
            return
        time.sleep(0.1)
    raise AssertionError("server did not settle")


@pytest.mark.slow
def test_kill_9_while_publishing_loses_nothing_acknowledged_and_duplicates_nothing(broker, tmp_path):
    store_url = f"duckdb:///{tmp_path}/kill.duckdb"
    server = serve(store_url, broker, "t-kill")
    fleet = Fleet(devices=20, rate=5, duration=30, seed=3, start=T - 3_600_000)
    target = MqttTarget(broker.url, client_id="t-kill-sim", inflight=200, record=True)
    sender = threading.Thread(target=run, args=(fleet, target), kwargs={"realtime": False})
    sender.start()
    while target.acknowledged < 1000:  # kill while the fleet is still publishing
        time.sleep(0.01)
    server.kill()
    killed_at = target.acknowledged
    server = serve(store_url, broker, "t-kill")  # same client id: the broker kept the session
    sender.join(120)
    assert not sender.is_alive() and target.acknowledged > killed_at
    acked = set(target.acked)
    assert len(acked) == target.acknowledged == fleet.samples * 20 - _never_sent(fleet)
    settle(server.url)
    server.__exit__()
    stored, dupes, sizes = _stored(store_url)
    assert acked - stored == set(), f"{len(acked - stored)} acknowledged readings missing"
    assert stored == acked  # and nothing that was not sent
    assert dupes == 0
    assert sizes <= {8, 10, 12}  # every reading whole: all of its machine's sensors


def _stored(store_url: str) -> tuple[set[tuple[str, int]], int, set[int]]:
    """What a DuckDB store holds: its (device, ts) readings, how many (device, key, ts) are stored twice, and the
    sizes of its readings (values per device and ts)."""
    store = open_store(store_url)
    try:
        con = store._cursor()  # type: ignore[attr-defined]
        rows = "telemetry JOIN series USING (series_id)"
        stored = set(con.execute(f"SELECT DISTINCT device_id, ts FROM {rows}").fetchall())
        dupes = con.execute(
            f"SELECT count(*) FROM (SELECT device_id, key, ts FROM {rows} GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
        sizes = {n for (n,) in con.execute(f"SELECT count(*) FROM {rows} GROUP BY device_id, ts").fetchall()}
    finally:
        store.close()
    return stored, dupes, sizes


def _never_sent(fleet: Fleet) -> int:
    """Readings a machine never sends because it failed before the end of the run."""
    return sum(int((fleet.chunk(d, c).modes < 0).sum()) for d in fleet.devices for c in range(fleet.chunks))


@pytest.mark.slow
def test_a_broker_stopped_for_10_s_under_load_loses_nothing_acknowledged_and_health_says_so(tmp_path):
    b = Mosquitto().start()
    store_url = f"duckdb:///{tmp_path}/outage.duckdb"
    server = serve(store_url, b, "t-outage")
    try:
        fleet = Fleet(devices=10, rate=5, duration=30, seed=5, start=T - 3_600_000)
        target = MqttTarget(b.url, client_id="t-outage-sim", inflight=500, record=True)
        sender = threading.Thread(target=run, args=(fleet, target), kwargs={"realtime": True}, daemon=True)
        sender.start()
        eventually(lambda: target.acknowledged >= 200)
        b.stop()
        stopped = time.monotonic()
        eventually(lambda: httpx.get(f"{server.url}/api/v1/health").status_code == 503, timeout=10)
        checks = httpx.get(f"{server.url}/api/v1/health").json()["checks"]
        assert checks["mqtt"]["ok"] is False and checks["mqtt"]["reason"] and checks["store"]["ok"] is True
        time.sleep(max(0.0, 10 - (time.monotonic() - stopped)))
        b.start()  # same port, same persistence: what it acknowledged before stopping, it still holds
        eventually(lambda: httpx.get(f"{server.url}/api/v1/health").status_code == 200, timeout=45)
        assert httpx.get(f"{server.url}/api/v1/health").json()["mqtt"]["session_present"] is True
        sender.join(90)
        assert not sender.is_alive()
        target.close()
        settle(server.url)
    finally:
        server.__exit__()
        b.stop()
    stored, dupes, _ = _stored(store_url)
    acked = set(target.acked)
    assert len(acked) > 1000 and acked - stored == set(), f"{len(acked - stored)} acknowledged readings lost"
    assert dupes == 0
