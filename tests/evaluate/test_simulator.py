"""The simulator evaluation runs all three kinds end to end and scores them against ground truth."""

from __future__ import annotations

import math

from prognos.evaluate.simulator import simulator
from prognos.train.tasks import Config


def test_simulator_evaluation_scores_all_three_kinds():
    r = simulator(devices=9, hours=1.5, seed=1, cfg=Config(epochs=3, rul_cap_s=900))
    a = r.anomaly
    assert 0.0 <= a["event_f1"] <= 1.0 and a["event_recall"] > 0  # some fault is caught
    assert a["mean_delay_s"] >= 0 and not math.isnan(r.fault_macro_f1)
    assert r.train_seconds > 0
