"""How well the alerts a stream raised match what really happened (the simulator's ground truth).

A fault counts as caught when an alert for its device opened in ``[start, end + grace)``; the delay is
from the fault's start to the first such alert. Wear that ends in failure is something to catch too:
an alert during ``[degradation_start, failure)`` is a true one. Every other alert is a false alarm,
counted per device-day of the time watched. For remaining life, the stored ``rul.p50`` predictions of
failing devices are compared with the true time to failure (capped, as the model was trained).

>>> truth = {"devices": [{"device_id": "a", "degradation_start": None, "failure": None}],
...          "faults": [{"device_id": "a", "fault": "spike", "start": 10_000, "end": 20_000}]}
>>> q = alerts_against_truth([("a", 12_000), ("a", 150_000)], truth, 0, 86_400_000, devices=1)
>>> q["faults"], q["caught"], q["false_alarms"], q["mean_delay_s"], q["false_alarms_per_device_day"]
(1, 1, 1, 2.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

DAY_MS = 86_400_000


def alerts_against_truth(
    opened: Iterable[tuple[str, int]],
    truth: Mapping[str, Any],
    start: int,
    end: int,
    devices: int,
    grace_ms: int = 60_000,
    wear_only: bool = False,
) -> dict[str, Any]:
    """Score alert openings ``(device_id, opened_ts)`` in ``[start, end)`` against ``truth``; ``wear_only``: alerts
    about remaining life, true only while a machine wears towards failure."""
    opened = sorted((d, ts) for d, ts in opened if start <= ts < end)
    faults = [] if wear_only else [f for f in truth["faults"] if f["start"] < end and f["end"] + grace_ms > start]
    wear = {d["device_id"]: (d["degradation_start"], d["failure"]) for d in truth["devices"] if d.get("failure")}
    delays, per_fault = [], []
    for f in faults:
        hits = [ts for d, ts in opened if d == f["device_id"] and f["start"] <= ts < f["end"] + grace_ms]
        delay = (hits[0] - f["start"]) / 1000 if hits else None
        per_fault.append(
            {
                "device_id": f["device_id"],
                "fault": f["fault"],
                "start": f["start"],
                "caught": bool(hits),
                "delay_s": delay,
            }
        )
        if delay is not None:
            delays.append(delay)

    def true(device: str, ts: int) -> bool:
        in_fault = any(f["device_id"] == device and f["start"] <= ts < f["end"] + grace_ms for f in faults)
        onset, failure = wear.get(device, (None, None))
        return in_fault or (onset is not None and onset <= ts < failure + grace_ms)

    false = sum(1 for d, ts in opened if not true(d, ts))
    days = devices * (end - start) / DAY_MS
    return {
        "faults": len(faults),
        "caught": sum(p["caught"] for p in per_fault),
        "alerts": len(opened),
        "false_alarms": false,
        "false_alarms_per_device_day": false / days if days else float("nan"),
        "mean_delay_s": float(np.mean(delays)) if delays else float("nan"),
        "per_fault": per_fault,
    }


def rul_error(
    predictions: Mapping[str, Sequence[tuple[int, float]]], truth: Mapping[str, Any], cap_s: float = 3600.0
) -> dict[str, float]:
    """RMSE (seconds) of ``{device: [(ts, rul.p50 seconds)]}`` against the true time to failure, capped."""
    failure = {d["device_id"]: d["failure"] for d in truth["devices"] if d.get("failure")}
    err = [
        p - min((failure[d] - ts) / 1000, cap_s)
        for d, rows in predictions.items()
        if d in failure
        for ts, p in rows
        if ts < failure[d]
    ]
    return {"rul_rmse_s": float(np.sqrt(np.mean(np.square(err)))) if err else float("nan"), "rul_points": len(err)}
