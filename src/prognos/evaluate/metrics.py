"""Evaluation metrics, exactly as the published protocols define them (pure numpy)."""

from __future__ import annotations

import numpy as np


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


def events(ts: np.ndarray, alarm: np.ndarray, faults: list[tuple[int, int]], grace_ms: int = 0) -> dict[str, float]:
    """Event-level scores for one device: a fault counts as caught when an alarm falls in
    [start, end + grace); an alarm run (consecutive alarmed samples) is false when it touches no fault.

    >>> ts = np.arange(10) * 1000
    >>> events(ts, np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0], bool), [(1000, 4000)])
    {'faults': 1, 'caught': 1, 'alarms': 2, 'false_alarms': 1, 'delay_s': 1.0}
    """
    alarm = np.asarray(alarm, dtype=bool)
    caught, delays = 0, []
    for start, end in faults:
        hit = np.flatnonzero(alarm & (ts >= start) & (ts < end + grace_ms))
        if len(hit):
            caught += 1
            delays.append((ts[hit[0]] - start) / 1000.0)
    starts = np.flatnonzero(alarm & ~np.concatenate([[False], alarm[:-1]]))
    stops = np.flatnonzero(alarm & ~np.concatenate([alarm[1:], [False]]))
    false = sum(
        1
        for a, b in zip(starts, stops, strict=True)
        if not any(ts[a] < end + grace_ms and ts[b] >= start for start, end in faults)
    )
    return {
        "faults": len(faults),
        "caught": caught,
        "alarms": len(starts),
        "false_alarms": false,
        "delay_s": float(np.mean(delays)) if delays else float("nan"),
    }


def event_f1(per_device: list[dict[str, float]]) -> dict[str, float]:
    """Pool `events` over devices: recall = caught / faults, precision = true alarm runs / alarm runs."""
    faults = sum(d["faults"] for d in per_device)
    alarms = sum(d["alarms"] for d in per_device)
    recall = sum(d["caught"] for d in per_device) / faults if faults else 1.0
    precision = (alarms - sum(d["false_alarms"] for d in per_device)) / alarms if alarms else 1.0
    delays = [d["delay_s"] for d in per_device if d["caught"]]
    return {
        "event_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "event_precision": precision,
        "event_recall": recall,
        "false_alarms": float(sum(d["false_alarms"] for d in per_device)),
        "mean_delay_s": float(np.mean(delays)) if delays else float("nan"),
    }
