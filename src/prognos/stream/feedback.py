"""What people said of alarms, for the stream to learn: an alarm resolved as false, kept as a record every scorer
hears — the server's at once, `prognos stream` workers within seconds, each for the devices it owns.

A record (kind `KIND`, keyed by time then alert id, so keys sort in the order they were said) holds the device, the
anomaly model and version that alarmed, and the highest raw score it gave from the alert's opening on; hearing it
raises that device's typical score for the version (`prognos.stream.view.View.false_alarm`). Hearing one twice
changes nothing, so a worker restarted from an older checkpoint may hear again what it heard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prognos.stream.plan import Planner

KIND = "false-alarm"


def record(
    alert_id: str, device_id: str, model: str, version: int, score: float, ts: int
) -> tuple[str, dict[str, Any]]:
    """The (key, document) a false alarm is kept as."""
    doc = {"alert": alert_id, "device_id": device_id, "model": model, "version": version, "score": score, "ts": ts}
    return f"{ts:013d}-{alert_id}", doc


def hear(
    plan: Planner, found: list[tuple[str, dict[str, Any]]], after: str, owns: Callable[[str], bool]
) -> tuple[str, int]:
    """Apply the records keyed after ``after`` to the devices ``owns`` accepts; the last key heard, and how many
    changed a device's normal here."""
    learned = 0
    for key, doc in found:
        if key <= after:
            continue
        after = key
        if owns(doc["device_id"]):
            learned += plan.false_alarm(doc["device_id"], doc["model"], int(doc["version"]), float(doc["score"]))
    return after, learned
