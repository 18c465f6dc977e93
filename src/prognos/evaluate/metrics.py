"""Evaluation metrics, exactly as the published protocols define them (pure numpy)."""

from __future__ import annotations

import math

import numpy as np

from prognos.train.contest import event_f1 as event_f1  # the product's own event metrics, shared with training
from prognos.train.contest import events as events


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root mean squared error.

    >>> rmse(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    1.0
    """
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(true)) ** 2)))


def nasa_score(pred: np.ndarray, true: np.ndarray) -> float:
    """PHM08 score: Σ exp(-d/13) - 1 for early (d < 0), exp(d/10) - 1 for late predictions; d = pred - true.

    >>> round(nasa_score(np.array([0.0, 20.0]), np.array([13.0, 10.0])), 4)  # early by 13, late by 10: 2(e - 1)
    3.4366
    """
    d = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def coverage(lo: np.ndarray, hi: np.ndarray, true: np.ndarray) -> float:
    """Share of true values inside their predicted interval."""
    return float(np.mean((true >= lo) & (true <= hi)))


def outlier_scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """SKAB's point-wise outlier metrics: F1 = TP / (TP + (FP + FN) / 2), FAR and MAR in percent.

    >>> outlier_scores(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    {'f1': 0.5, 'far': 50.0, 'mar': 50.0}
    """
    p, t = np.asarray(pred, dtype=bool), np.asarray(true, dtype=bool)
    tp, fp, fn, tn = (int(np.sum(a & b)) for a, b in ((p, t), (p, ~t), (~p, t), (~p, ~t)))
    return {
        "f1": tp / (tp + (fp + fn) / 2) if tp + fp + fn else 1.0,
        "far": 100.0 * fp / (fp + tn) if fp + tn else 0.0,
        "mar": 100.0 * fn / (fn + tp) if fn + tp else 0.0,
    }


FALSE_ALARM = 0.11  # the Numenta Anomaly Benchmark's standard cost of a false alarm, against 1 for a miss
REARM_MS = 3_600_000  # an alarm that stays on outside every labelled window is a false alarm again each hour


def detections(ts: np.ndarray, alarm: np.ndarray, rearm_ms: int = REARM_MS) -> tuple[np.ndarray, np.ndarray]:
    """When a desk hears of an alarm: each run's onset, and again every ``rearm_ms`` while it stays on; and which of
    those are onsets (a new alarm) rather than one still on.

    >>> at, new = detections(np.arange(8) * 1000, np.array([0, 1, 1, 1, 1, 0, 1, 0], bool), rearm_ms=2000)
    >>> at.tolist(), new.tolist()
    ([1000, 3000, 6000], [True, False, True])
    """
    alarm = np.asarray(alarm, dtype=bool)
    onsets = np.flatnonzero(alarm & ~np.concatenate([[False], alarm[:-1]]))
    ends = np.flatnonzero(alarm & ~np.concatenate([alarm[1:], [False]]))
    times: list[int] = []
    new: list[bool] = []
    for a, b in zip(onsets, ends, strict=True):
        at = int(ts[a])
        while at <= ts[b]:
            times.append(at)
            new.append(at == int(ts[a]))
            at += rearm_ms
    return np.array(times, dtype=np.int64), np.array(new, dtype=bool)


def early_detection(
    ts: np.ndarray, alarm: np.ndarray, windows: list[tuple[int, int]], rearm_ms: int = REARM_MS
) -> dict[str, float]:
    """The Numenta Anomaly Benchmark's scoring, with alarms as a desk hears them (`detections`): the first alarm raised
    in a labelled window [start, end] earns 2 / (1 + e^(5y)) − 1, y = (t − end) / (end − start) — 0.99 at its start,
    0 at its end —; a window with none costs 1; an alarm raised, or still on an hour later, outside every window
    costs `FALSE_ALARM` (an alarm that was on before a window began earns nothing in it). Also the raw score of
    raising nothing (``null``) and of raising every window's alarm at its start (``perfect``), to normalise by.

    >>> ts = np.arange(100) * 1000
    >>> early = early_detection(ts, (ts >= 10_000) & (ts < 12_000), [(10_000, 30_000)])
    >>> late = early_detection(ts, (ts >= 25_000) & (ts < 27_000), [(10_000, 30_000)])
    >>> round(early["score"], 3), round(late["score"], 3), late["false_alarms"]
    (0.987, 0.555, 0)
    >>> early_detection(ts, ts == 50_000, [(10_000, 30_000)])["score"]
    -1.11
    """
    found, new = detections(ts, alarm, rearm_ms)
    score, caught, delays = 0.0, 0, []
    inside = np.zeros(len(found), dtype=bool)
    for start, end in windows:
        hit = (found >= start) & (found <= end)
        inside |= hit
        raised = found[hit & new]
        if len(raised):
            y = (int(raised[0]) - end) / max(end - start, 1)
            score += 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0
            caught += 1
            delays.append((int(raised[0]) - start) / 1000.0)
        else:
            score -= 1.0
    false = int((~inside).sum())
    perfect = len(windows) * (2.0 / (1.0 + math.exp(-5.0)) - 1.0)
    return {
        "score": score - FALSE_ALARM * false,
        "null": -float(len(windows)),
        "perfect": perfect,
        "windows": len(windows),
        "caught": caught,
        "false_alarms": false,
        "delay_s": float(np.mean(delays)) if delays else float("nan"),
    }


def normalised(per_series: list[dict[str, float]]) -> float:
    """Pooled `early_detection` on the benchmark's scale: 0 for detecting nothing, 100 for every window at its start.

    >>> normalised([{"score": 0.5, "null": -1.0, "perfect": 1.0}])
    75.0
    """
    s, null, perfect = (sum(d[k] for d in per_series) for k in ("score", "null", "perfect"))
    return 100.0 * (s - null) / (perfect - null) if perfect > null else 0.0
