"""Fit on a series, score a series, from Python: no store, no server, the artifact and the decisions the stream's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prognos.errors import InvalidInput
from prognos.sim.fleet import Fleet
from prognos.sim.send import seconds
from prognos.stream.offline import score_folders
from prognos.train.tasks import Config, fit
from prognos.types import Reading


def test_a_recording_in_hand_is_fitted_and_scored_as_the_stream_would(tmp_path):
    fleet = Fleet(2, 1.0, 1500, seed=3, start=1_700_000_000_000, failing=0.0, faults_per_device=0.0)
    calm = [r for batch in seconds(fleet) for r in batch if r.device_id == "pump-000"]
    folder = fit(calm, tmp_path / "pump", cfg=Config(window=30, epochs=2, stride=2))
    card = json.loads(folder.read_text())
    assert card["name"] == "series-anomaly" and card["output"]["normal"]["windows"] > 0
    assert card["input"]["sensors"] == sorted(calm[0].values)
    contest = card["metrics"]["contest"]  # both candidates judged on the latest fifth, one served
    entries = {e["name"]: e for e in contest["entries"]}
    assert contest["held"] and set(entries) == {"conv-ae", "pca"} and entries["pca"]["windows"] > 50
    served = [name for name, e in entries.items() if e["served"]]
    assert served == [card["output"]["detector"]] and ("channels" in card["params"]) == (served == ["conv-ae"])

    rows = score_folders(calm[-600:], [folder.parent]).to_pylist()
    assert len(rows) > 500 and {r["model"] for r in rows} == {"series-anomaly"}
    assert all(0.0 < r["anomaly.p"] <= 1.0 for r in rows) and all("alarm" in r for r in rows)
    stuck = [type(r)(r.device_id, r.ts, {**r.values, "flow": 400.0}) for r in calm[-300:]]  # far off its range
    odd = score_folders(stuck, [folder.parent], adapt="off").to_pylist()
    assert np.mean([r["alarm"] for r in odd]) > 0.9 > np.mean([r["alarm"] for r in rows])
    assert min(r["anomaly.score"] for r in odd) > max(r["anomaly.score"] for r in rows)


def test_nothing_to_learn_from_is_named():
    with pytest.raises(InvalidInput) as err:
        fit([], "unused")
    assert err.value.field == "readings"


def _three_speeds(minutes: int, seed: int = 0, mismatch: bool = False) -> list[Reading]:
    """A fan run at three set speeds in turn; temperature and current follow the speed it is set to."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(minutes * 60):
        speed = (1000.0, 2000.0, 3000.0)[(i // 300) % 3]
        running = 3000.0 if mismatch else speed  # mismatch: runs flat out whatever it is told
        values = {
            "speed_set": speed,
            "temp": 30.0 + running / 100 + rng.normal(0, 0.3),
            "current": 2.0 + running / 500 + rng.normal(0, 0.05),
        }
        out.append(Reading("fan-1", 1_700_000_000_000 + i * 1000, values))
    return out


def test_settings_scale_each_sensor_within_its_operating_regime(tmp_path):
    cfg = Config(window=20, epochs=2, stride=2, settings=("speed_set",))
    folder = fit(_three_speeds(90), tmp_path / "fan", cfg=cfg)
    scaler = json.loads(folder.read_text())["scaler"]
    assert scaler["regimes"] == 3 and scaler["columns"] == [1]  # inputs sorted: current, speed_set, temp
    assert sorted(round(m[2]) for m in scaler["mean"]) == [40, 50, 60]  # temp's mean in each regime

    normal = score_folders(_three_speeds(20, seed=1), [folder.parent], adapt="off").to_pylist()
    told_slow = score_folders(_three_speeds(20, seed=1, mismatch=True), [folder.parent], adapt="off").to_pylist()
    slow = [r for r in told_slow if r["ts"] % 900_000 < 300_000 - 20_000]  # inside the first speed's spells
    assert np.mean([r["alarm"] for r in slow]) > 0.9 > np.mean([r["alarm"] for r in normal])


def test_a_setting_that_is_not_an_input_is_named(tmp_path):
    with pytest.raises(InvalidInput) as err:
        fit(_three_speeds(10), tmp_path / "fan", cfg=Config(window=20, epochs=1, settings=("speed",)))
    assert err.value.field == "settings" and "speed_set" in str(err.value)
