"""Honest model selection: the deep detector is served only when it beats its baselines on later data, judged as the
stream decides."""

from __future__ import annotations

import numpy as np

from prognos.train.contest import Entry, Judging, choose, judge_detector
from prognos.train.estimators.thresholds import normal as fit_normal
from prognos.train.labels import Interval, Labels
from prognos.train.telemetry import Windows


def entry(name: str, deep: bool, f1: float, false: float = 0.0, events: float = 3.0) -> Entry:
    figures = {"event_f1": f1, "false_alarms_per_device_day": false, "mean_delay_s": 10.0, "events": events}
    return Entry(name, deep, figures)


def test_the_deep_model_must_beat_the_baseline_to_be_served():
    best, why = choose([entry("conv-ae", True, 0.9), entry("pca", False, 0.7)])
    assert best.name == "conv-ae" and best.served and "against pca" in why
    tie = [entry("conv-ae", True, 0.8), entry("pca", False, 0.8)]
    assert choose(tie)[0].name == "pca"  # no better is not better: the simpler model serves
    worse = [entry("conv-ae", True, 0.8, false=3.0), entry("pca", False, 0.8, false=1.0)]
    assert choose(worse)[0].name == "pca"


def test_without_events_to_catch_false_alarms_decide():
    quiet = [entry("conv-ae", True, 1.0, false=0.5, events=0), entry("pca", False, 1.0, false=4.0, events=0)]
    best, why = choose(quiet)
    assert best.name == "conv-ae" and "no events labelled" in why


def test_a_detector_is_judged_on_the_events_inside_the_period_at_the_budgets_cut():
    rng = np.random.default_rng(0)
    normal = fit_normal(rng.exponential(1.0, 5000)).to_dict()
    end = 1_700_000_000_000 + np.arange(2000) * 1000
    score = rng.exponential(1.0, 2000)
    score[500:520] = 200.0  # inside the labelled fault
    score[1500:1503] = 200.0  # a false alarm
    labels = Labels([Interval("d", int(end[490]), int(end[560]), "leak"), Interval("d", 0, 1000, "long ago")])
    w = Windows(np.zeros((2000, 1, 1)), end, np.full(2000, "d"))
    on = Judging(labels, risk=1e-6, grace_ms=0, wear_ms=0, step_ms=1000)
    figures = judge_detector(lambda x: score, normal, w, on)
    assert figures["events"] == 1 and figures["event_recall"] == 1.0  # the fault before the period is not counted
    assert figures["false_alarms"] == 1 and figures["event_precision"] == 0.5
    assert abs(figures["mean_delay_s"] - 10.0) < 1e-9 and abs(figures["alarm_share"] - 23 / 2000) < 1e-9
    assert abs(figures["false_alarms_per_device_day"] - 86_400 / 2000) < 1e-6
