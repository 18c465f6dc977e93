"""The fleet at a glance: each device's status and what its models say now, from the latest values.

Status, worst first: ``offline`` (nothing heard for ``offline_after``), ``alarm`` (an open critical alert),
``warning`` (any other open alert, or an anomaly ratio over 1: a score past the alarm budget's cut), else
``healthy``.
Predictions are read back from the stored ``pred.<model>.<signal>`` values (`prognos.types.prediction_key`).

>>> rows = [{"device_id": "p1", "key": "pred.pa.anomaly.ratio", "ts": 5, "value": 1.5},
...         {"device_id": "p1", "key": "pred.pa.anomaly.score", "ts": 5, "value": 3.0}]
>>> predictions(rows)["p1"]["pa"]
{'anomaly.ratio': 1.5, 'anomaly.score': 3.0}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prognos.types import parse_prediction_key

STATUSES = ("healthy", "warning", "alarm", "offline")


def predictions(latest: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """device → model → signal → latest value, from the routed versions' ``pred.<model>.<signal>`` rows (shadows and
    drift figures left out)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in latest:
        found = parse_prediction_key(r["key"])
        if found is None:
            continue
        model, shadow, signal = found
        if not shadow and not signal.startswith("drift."):
            out.setdefault(r["device_id"], {}).setdefault(model, {})[signal] = r["value"]
    return out


def summary(
    devices: Sequence[Any],
    latest: Iterable[Mapping[str, Any]],
    open_alerts: Sequence[Any],
    now: int,
    offline_after_ms: int = 300_000,
    classes: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """One row per device: type, status, last seen, anomaly score, state, remaining life, open alerts."""
    preds = predictions(latest)
    alerts: dict[str, list[Any]] = {}
    for a in open_alerts:
        alerts.setdefault(a.device_id, []).append(a)
    out = []
    for d in devices:
        p = preds.get(d.device_id, {})
        anomaly = _pick(p, "anomaly.score", ("anomaly.score", "anomaly.p", "anomaly.ratio"))
        state = _pick(p, "classify.index", ("classify.index", "classify.prob"))
        if state and classes and state["model"] in classes and "classify.index" in state:
            names = classes[state["model"]]
            k = int(state["classify.index"])
            state["class"] = str(names[k]) if 0 <= k < len(names) else str(k)
        rul = _pick(p, "rul.p50", ("rul.p10", "rul.p50", "rul.p90"))
        mine = alerts.get(d.device_id, [])
        severities = {a.severity for a in mine}
        if d.last_seen is None or now - d.last_seen > offline_after_ms:
            status = "offline"
        elif "critical" in severities:
            status = "alarm"
        elif mine or (anomaly and anomaly.get("anomaly.ratio", 0.0) > 1.0):
            status = "warning"
        else:
            status = "healthy"
        where = {"lat": d.location[0], "lon": d.location[1]} if d.location else None
        out.append(
            {
                "device_id": d.device_id,
                "type": d.type,
                "name": d.name,
                "location": where,
                "last_seen": d.last_seen,
                "status": status,
                "anomaly": anomaly,
                "state": state,
                "rul": rul,
                "alerts": {"open": len(mine), "severity": max(severities, key=_rank) if severities else None},
                "models": {m: int(v["version"]) for m, v in p.items() if "version" in v},
            }
        )
    return out


def _pick(p: Mapping[str, Mapping[str, float]], marker: str, keys: Sequence[str]) -> dict[str, Any] | None:
    for model, signals in sorted(p.items()):
        if marker in signals:
            return {"model": model, **{k: signals[k] for k in keys if k in signals}}
    return None


def _rank(severity: str) -> int:
    return ("info", "warning", "critical").index(severity) if severity in ("info", "warning", "critical") else -1
