"""The API the dashboard reads (and any script may): fleet status, state and location history, drift over
time, system numbers, and the live event stream — over real HTTP."""

from __future__ import annotations

import threading
import time

import numpy as np

from prognos.act.alerts import Alerts
from prognos.act.rules import Condition, Engine, Rule
from prognos.features import RegimeScaler
from prognos.registry import Registry
from prognos.types import Reading, now_ms
from tests.server.conftest import serving
from tests.stream.test_scorer import toy_anomaly


def test_fleet_status_follows_alerts_scores_and_silence(tmp_path):
    now = now_ms()

    def prepare(store):
        store.write(
            [
                Reading("quiet", now - 3_600_000, {"a": 1.0}),
                Reading(
                    "hot",
                    now - 1000,
                    {"a": 1.0, "pred.m.anomaly.score": 9.0, "pred.m.anomaly.ratio": 1.8, "pred.m.version": 2.0},
                ),
                Reading(
                    "fine",
                    now - 1000,
                    {
                        "a": 1.0,
                        "pred.m.anomaly.score": 1.0,
                        "pred.m.anomaly.ratio": 0.2,
                        "pred.r.rul.p10": 100.0,
                        "pred.r.rul.p50": 200.0,
                        "pred.r.rul.p90": 300.0,
                    },
                ),
                Reading("burning", now - 1000, {"a": 1.0}),
            ]
        )
        (t,) = Engine([Rule("fire", Condition("raw.a", above=0), severity="critical")]).observe(
            "burning", now, {"raw.a": 1}
        )
        Alerts(store).apply(t)

    with serving(tmp_path, prepare) as server:
        doc = server.http.get("/api/v1/fleet").json()
        rows = {r["device_id"]: r for r in doc["devices"]}
        assert {d: r["status"] for d, r in rows.items()} == {
            "quiet": "offline",
            "hot": "warning",
            "fine": "healthy",
            "burning": "alarm",
        }
        assert doc["counts"] == {"healthy": 1, "warning": 1, "alarm": 1, "offline": 1}
        assert rows["hot"]["anomaly"] == {"model": "m", "anomaly.score": 9.0, "anomaly.ratio": 1.8}
        assert rows["hot"]["models"] == {"m": 2}
        assert rows["fine"]["rul"] == {"model": "r", "rul.p10": 100.0, "rul.p50": 200.0, "rul.p90": 300.0}
        assert rows["burning"]["alerts"] == {"open": 1, "severity": "critical"}
        assert server.http.get("/api/v1/fleet", params={"offline_after": "2h"}).json()["counts"]["offline"] == 0
        bad = server.http.get("/api/v1/fleet", params={"offline_after": "soon"})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "offline_after"


def test_states_and_locations_over_a_range(live):
    t0 = now_ms() - 10_000
    live.store.write(
        [
            Reading("p", t0, {"a": 1.0}, {"mode": "idle"}, (52.5, 13.4)),
            Reading("p", t0 + 5000, {"a": 1.0}, {"mode": "running"}, (52.6, 13.5)),
        ]
    )
    states = live.http.get("/api/v1/devices/p/states", params={"start": t0 + 1000, "end": t0 + 9000}).json()["states"]
    assert [s["value"] for s in states] == ["idle", "running"]  # the one in force at the start, then the change
    locs = live.http.get("/api/v1/devices/p/locations", params={"start": t0, "end": t0 + 9000}).json()["locations"]
    assert [(x["lat"], x["lon"]) for x in locs] == [(52.5, 13.4), (52.6, 13.5)]
    assert live.http.get("/api/v1/devices/nobody/states").status_code == 404


def test_drift_over_time_gathers_each_measurement_wherever_it_was_kept(tmp_path):
    t0 = now_ms() - 60_000

    def prepare(store):
        scaler = RegimeScaler().fit(np.zeros((4, 2)) + [[0, 0], [1, 1]] * 2)
        Registry(store, tmp_path / "models").publish(toy_anomaly(tmp_path / "toy", scaler))
        store.write(
            [
                Reading("d1", t0, {"pred.toy.drift.psi.a": 0.1, "pred.toy.drift.psi": 0.1}),
                Reading("d2", t0 + 1000, {"pred.toy.drift.psi.a": 0.4, "pred.toy.drift.psi": 0.4}),
            ]
        )

    with serving(tmp_path, prepare) as server:
        doc = server.http.get("/api/v1/models/toy/drift", params={"start": t0 - 1, "end": t0 + 5000}).json()
        assert doc["series"]["psi.a"] == {"ts": [t0, t0 + 1000], "values": [0.1, 0.4]}
        assert server.http.get("/api/v1/models/nope/drift").status_code == 404


def test_system_numbers_are_the_metrics_as_json(live):
    live.http.post("/api/v1/devices/p/telemetry", json={"ts": now_ms(), "values": {"a": 1.0}})
    doc = live.http.get("/api/v1/system").json()
    assert doc["writer"]["readings"] == 1 and isinstance(doc["metrics"], dict) and doc["ts"] > 0


def test_the_event_stream_tells_of_an_acknowledgement(live):
    (t,) = Engine([Rule("r", Condition("raw.a", above=0))]).observe("p", now_ms(), {"raw.a": 1})
    alert = Alerts(live.store).apply(t)
    got: list[str] = []

    def listen() -> None:
        import httpx

        with httpx.stream("GET", f"{live.url}/api/v1/events", timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                got.append(line)
                if line.startswith("data:") and alert.id in line:
                    return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    deadline = time.monotonic() + 5
    while not any("hello" in x for x in got):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    live.http.post(f"/api/v1/alerts/{alert.id}/acknowledge", json={"by": "ana"})
    reader.join(5)
    assert "event: alert" in got and any(alert.id in x and '"kind":"acknowledge"' in x for x in got)


def test_an_open_event_stream_does_not_hold_a_shutdown_up(tmp_path):
    import httpx

    from tests.services import ServerProcess

    server = ServerProcess(f"duckdb:///{tmp_path}/s.duckdb", "--registry", str(tmp_path / "models")).__enter__()
    opened = threading.Event()

    def listen() -> None:
        try:
            with httpx.stream("GET", f"{server.url}/api/v1/events", timeout=30) as r:
                for _ in r.iter_lines():
                    opened.set()
        except httpx.HTTPError:
            pass

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(10)
    t0 = time.monotonic()
    server.proc.terminate()
    server.proc.wait(20)
    assert time.monotonic() - t0 < 8 and server.proc.returncode is not None
    server.log.close()
