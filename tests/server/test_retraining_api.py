"""The retraining API over real HTTP: runs listed, one started by hand, failures told with their reason."""

from __future__ import annotations

import numpy as np

from prognos.features import RegimeScaler
from prognos.registry import Registry
from tests.server.conftest import serving
from tests.stream.test_scorer import toy_anomaly


def test_a_run_started_by_hand_is_listed_with_its_outcome(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\nretrain:\n  - {model: toy, on: schedule, every: 24h}\n")

    def prepare(store):
        reg = Registry(store, tmp_path / "models")
        reg.publish(toy_anomaly(tmp_path / "toy", RegimeScaler().fit(np.zeros((4, 2)) + [[0, 0], [1, 1]] * 2)))
        reg.promote("toy", 1)

    with serving(tmp_path, prepare, stream="*=toy", rules=str(rules)) as server:
        http = server.http
        assert http.get("/api/v1/retraining").json() == {"runs": [], "policies": ["toy"]}
        r = http.post("/api/v1/models/toy/retrain")
        run = r.json()
        # the toy's card names no devices to learn from: the run fails, and says why
        assert r.status_code == 200 and run["state"] == "failed" and "no devices to retrain it on" in run["reason"]
        assert run["trigger"] == "manual" and run["champion"] == 1
        assert [x["id"] for x in http.get("/api/v1/retraining?model=toy").json()["runs"]] == [run["id"]]
        assert http.post("/api/v1/models/nope/retrain").status_code == 404
        assert 'prognos_retrain_runs_total{model="toy",outcome="failed"} 1.0' in http.get("/metrics").text


def test_without_policies_retraining_is_off_and_says_how_to_turn_it_on(live):
    r = live.http.post("/api/v1/models/toy/retrain")
    assert r.status_code == 404 and "retrain policies" in r.json()["error"]["message"]
