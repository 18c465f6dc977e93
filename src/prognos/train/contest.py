"""Honest model selection: every candidate of a task trains on the same earlier data and is judged on the same later
data with the product's own decision — the alarm budget's cut — and the metric a maintenance desk feels: events
caught, false alarms, delay. The deep model is served only when it beats the baselines.

The event metrics live here because training needs them to choose, and evaluation (`prognos.evaluate.metrics`)
scores benchmarks with the very same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prognos.features.calibration import Normal, ratio
from prognos.train.labels import Labels
from prognos.train.telemetry import Windows


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


@dataclass
class Entry:
    """One candidate's showing on the validation period."""

    name: str
    deep: bool
    figures: dict[str, float] = field(default_factory=dict)
    served: bool = False

    def key(self, judged_on_events: bool) -> tuple[float, ...]:
        """Larger is better: event F1 where there are events to catch; then fewer false alarms, then less delay."""
        f = self.figures
        delay = f["mean_delay_s"] if np.isfinite(f["mean_delay_s"]) else float("inf")
        first = round(f["event_f1"], 3) if judged_on_events else 0.0
        return (first, -round(f["false_alarms_per_device_day"], 2), -delay)


def events_of(labels: Labels, device: str, wear_ms: int) -> list[tuple[int, int]]:
    """What a device's validation period should alarm on: its labelled intervals, and the last ``wear_ms`` before a
    failure (wear that ends in failure is an anomaly to catch)."""
    out = [(i.start, i.end) for i in labels.of(device)]
    if device in labels.failures:
        out.append((labels.failures[device] - wear_ms, labels.failures[device]))
    return out


@dataclass(frozen=True)
class Judging:
    """How a validation period is judged: its labels, the budget's risk per window, the grace after an event in which
    an alarm still catches it, how long before a failure wear counts as an event, and the grid step."""

    labels: Labels
    risk: float
    grace_ms: int
    wear_ms: int
    step_ms: int


def judge_detector(
    score: Callable[[np.ndarray], np.ndarray], normal: dict[str, Any], w: Windows, on: Judging
) -> dict[str, float]:
    """A detector's figures on windows ``w``: alarms where the budget's cut says so, as the stream decides."""
    alarm = ratio(Normal.from_dict(normal).p(score(w.x)), on.risk) >= 1.0
    per_device, days = [], 0.0
    for device in np.unique(w.device):
        m = w.device == device
        first, last = int(w.end[m].min()), int(w.end[m].max())
        inside = [(a, b) for a, b in events_of(on.labels, str(device), on.wear_ms) if a <= last and b > first]
        per_device.append(events(w.end[m], alarm[m], inside, on.grace_ms))
        days += (last - first + on.step_ms) / 86_400_000
    figures = event_f1(per_device)
    figures["false_alarms_per_device_day"] = float(figures["false_alarms"] / max(days, 1e-9))
    figures["events"] = float(sum(d["faults"] for d in per_device))
    figures["windows"] = float(len(w.end))
    figures["alarm_share"] = float(alarm.mean()) if len(alarm) else 0.0
    return figures


def choose(entries: Sequence[Entry]) -> tuple[Entry, str]:
    """The entry to serve, and why: a deep entry must beat every baseline; among baselines, the best."""
    judged_on_events = any(e.figures.get("events", 0) > 0 for e in entries)
    baselines = [e for e in entries if not e.deep]
    best_baseline = max(baselines, key=lambda e: e.key(judged_on_events)) if baselines else None
    best = max(entries, key=lambda e: e.key(judged_on_events))
    if best.deep and best_baseline is not None and best.key(judged_on_events) <= best_baseline.key(judged_on_events):
        best = best_baseline
    best.served = True
    on = "event F1, then false alarms per device-day" if judged_on_events else "false alarms per device-day (no events"
    on += "" if judged_on_events else " labelled in the validation period)"
    others = [e for e in entries if e is not best]
    if not others:
        return best, f"{best.name}: the only candidate"
    beaten = ", ".join(e.name for e in others)
    return best, f"{best.name} served: best on {on} against {beaten}"
