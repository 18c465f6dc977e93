"""The whole loop in one server: HTTP ingest → windows → model → rule → alert (API) → webhook."""

from __future__ import annotations

import time

import numpy as np

from prognos.features import RegimeScaler
from prognos.registry import Registry
from prognos.stream import feedback
from tests.act.test_actions import Receiver
from tests.server.conftest import serving
from tests.stream.test_scorer import STEP, WINDOW, calibrated, toy_anomaly


def test_readings_posted_over_http_raise_an_alert_that_calls_a_webhook(tmp_path):
    receiver = Receiver()
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"""rules:
  - name: hot
    signal: anomaly.score
    above: 50
    exit: 10
    severity: critical
    actions: [{{webhook: {{url: "{receiver.url}", secret: s, backoff: 0.01}}}}]
""")

    def prepare(store):
        reg = Registry(store, tmp_path / "models")
        reg.publish(toy_anomaly(tmp_path / "toy", RegimeScaler().fit(np.zeros((10, 2)) + [[0, 0], [1, 1]] * 5)))
        reg.promote("toy", 1)

    t0 = (int(time.time() * 1000) - 60_000) // STEP * STEP
    calm = [{"ts": t0 + i * STEP, "values": {"a": 0.5, "b": 0.5}} for i in range(8)]
    spike = [{"ts": t0 + (8 + i) * STEP, "values": {"a": 40.0, "b": 0.5}} for i in range(6)]
    try:
        with serving(tmp_path, prepare, stream="*=toy", rules=str(rules)) as server:
            http = server.http
            assert http.post("/api/v1/devices/pump-1/telemetry", json=calm).status_code == 200
            assert http.post("/api/v1/devices/pump-1/telemetry", json=spike).status_code == 200
            deadline = time.monotonic() + 15
            while not (alerts := http.get("/api/v1/alerts").json()["alerts"]) or not alerts[0]["actions"]:
                assert time.monotonic() < deadline, alerts
                time.sleep(0.1)
            (alert,) = alerts
            assert alert["rule"] == "hot" and alert["severity"] == "critical" and alert["device_id"] == "pump-1"
            assert alert["explanation"]["top_sensors"][0][0] == "a"
            assert alert["actions"]["webhook0:open"]["ok"]
            assert receiver.got[0][1]["alert_id"] == alert["id"]
            query = {"keys": "pred.toy.anomaly.score", "start": t0, "end": t0 + 20 * STEP}
            series = http.get("/api/v1/devices/pump-1/telemetry", params=query).json()
            scores = series["series"]["pred.toy.anomaly.score"]["values"]
            assert len(scores) == len(calm) + len(spike) - 1 - (WINDOW - 1)  # the last cell is still open
            assert scores[0] == 0.0 and scores[-1] > 50  # calm readings sit on the scaler's mean
    finally:
        receiver.close()


def test_a_device_typed_over_patch_after_its_first_readings_is_scored_and_follows_a_retype(tmp_path):
    """`prognos serve --stream "pump=…"` then the simulator: readings first, the type PATCHed after them."""

    def prepare(store):
        reg = Registry(store, tmp_path / "models")
        reg.publish(toy_anomaly(tmp_path / "toy", RegimeScaler().fit(np.zeros((10, 2)) + [[0, 0], [1, 1]] * 5)))
        reg.promote("toy", 1)

    t0 = (int(time.time() * 1000) - 600_000) // STEP * STEP
    cells = iter(range(10_000))

    def post(http, n):
        body = [{"ts": t0 + next(cells) * STEP, "values": {"a": 0.5, "b": 0.5}} for _ in range(n)]
        assert http.post("/api/v1/devices/dev-1/telemetry", json=body).status_code == 200

    def scored(http):
        query = {"keys": "pred.toy.anomaly.score", "start": t0, "end": t0 + 10_000 * STEP}
        series = http.get("/api/v1/devices/dev-1/telemetry", params=query).json()["series"]
        return len(series.get("pred.toy.anomaly.score", {}).get("values", []))

    def settled(http, want):
        deadline = time.monotonic() + 15
        while (n := scored(http)) < want:
            assert time.monotonic() < deadline, n
            time.sleep(0.1)
        time.sleep(0.5)
        return scored(http)

    with serving(tmp_path, prepare, stream="pump=toy", retype_interval=3600.0) as server:
        http = server.http
        post(http, 20)
        time.sleep(1.0)
        assert scored(http) == 0  # no type, no model
        assert http.patch("/api/v1/devices/dev-1", json={"type": "pump"}).status_code == 200
        post(http, 20)
        before = settled(http, 10)
        assert http.patch("/api/v1/devices/dev-1", json={"type": "fan"}).status_code == 200
        post(http, 20)
        time.sleep(1.0)
        assert scored(http) == before  # a fan: no model assigned any more


def test_an_alarm_resolved_as_false_over_the_api_is_learned_by_the_streams_normal(tmp_path):
    """An operator's "false alarm" reaches the scorer of the same server: the same device scoring as high again
    reads about halfway to the cut, and raises nothing more."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {name: odd, signal: anomaly.ratio, above: 1.0, exit: 0.7}\n")
    t0 = (int(time.time() * 1000) - 600_000) // STEP * STEP
    rng = np.random.default_rng(3)

    def body(first, n, shift):
        return [
            {"ts": t0 + (first + i) * STEP, "values": {"a": float(rng.normal() + shift), "b": float(rng.normal())}}
            for i in range(n)
        ]

    with serving(tmp_path, lambda store: calibrated(tmp_path, store), stream="*=calibrated", rules=str(rules)) as s:
        http = s.http
        assert http.post("/api/v1/devices/pump-1/telemetry", json=body(0, 30, 0.0)).status_code == 200
        assert http.post("/api/v1/devices/pump-1/telemetry", json=body(30, 30, 6.0)).status_code == 200
        deadline = time.monotonic() + 15
        while not (alerts := http.get("/api/v1/alerts?state=open").json()["alerts"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        (alert,) = alerts
        assert alert["explanation"]["model"] == "calibrated"
        done = http.post(f"/api/v1/alerts/{alert['id']}/resolve", json={"by": "ana", "false_alarm": True})
        assert done.status_code == 200 and done.json()["history"][-1]["false_alarm"] is True
        ((_, heard),) = s.store.records(feedback.KIND)  # kept for workers to hear too
        assert heard["device_id"] == "pump-1" and heard["model"] == "calibrated" and heard["score"] > 0
        assert http.post("/api/v1/devices/pump-1/telemetry", json=body(60, 60, 6.0)).status_code == 200
        query = {"keys": "pred.calibrated.anomaly.ratio", "start": t0 + 70 * STEP, "end": t0 + 120 * STEP}
        deadline = time.monotonic() + 15
        while len(ratios := _values(http, query)) < 40:
            assert time.monotonic() < deadline, ratios
            time.sleep(0.1)
        assert max(ratios) < 1.0  # the same shift, after the false alarm: no longer over the cut
        assert http.get("/api/v1/alerts?state=open").json()["alerts"] == []


def _values(http, query):
    series = http.get("/api/v1/devices/pump-1/telemetry", params=query).json()["series"]
    return series.get("pred.calibrated.anomaly.ratio", {}).get("values", [])
