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


def test_a_recording_in_hand_is_fitted_and_scored_as_the_stream_would(tmp_path):
    fleet = Fleet(2, 1.0, 1500, seed=3, start=1_700_000_000_000, failing=0.0, faults_per_device=0.0)
    calm = [r for batch in seconds(fleet) for r in batch if r.device_id == "pump-000"]
    folder = fit(calm, tmp_path / "pump", cfg=Config(window=30, epochs=2, stride=2))
    card = json.loads(folder.read_text())
    assert card["name"] == "series-anomaly" and card["output"]["normal"]["windows"] > 0
    assert card["input"]["sensors"] == sorted(calm[0].values)

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
