"""Champion against challenger, on the windows both scored while the challenger ran in shadow.

With labels anomaly models are compared by event F1, classifiers by accuracy, remaining-life models by RMSE;
without labels an anomaly model by its alarm rate (the window is presumed mostly normal: a drifted champion
alarms on the new normal) and the others cannot be compared.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prognos.act.rulesfile import Policy
from prognos.evaluate.metrics import event_f1, events, rmse
from prognos.store import Store
from prognos.train.labels import Labels
from prognos.types import prediction_key

MIN_WINDOWS = 20  # fewer windows scored by both: no decision yet
SIGNALS = {"anomaly": "anomaly.ratio", "classify": "classify.index", "rul": "rul.p50"}  # what is compared, by task
Pairs = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # device → (ts, champion's value, challenger's)


def verdict(
    store: Store, policy: Policy, versions: tuple[int, int], since: int, cards: tuple[dict[str, Any], dict[str, Any]]
) -> tuple[dict[str, Any], bool, str] | None:
    """(figures, whether the challenger is better by ``policy.min_gain``, why) over the windows the two versions
    (champion, challenger) both scored since ``since``; None while they are fewer than `MIN_WINDOWS`."""
    champ = cards[0]
    task = str(champ.get("task"))
    signal = SIGNALS.get(task)
    if signal is None:
        return {}, False, f"a {task} model cannot be compared: kept the champion"
    kind = (champ.get("data") or {}).get("device_type")
    pairs = paired(store, policy.model, signal, versions, since, kind)
    n = sum(len(p[0]) for p in pairs.values())
    if n < MIN_WINDOWS:
        return None
    labels = Labels.load(policy.labels) if policy.labels else None
    a, b, name, lower = compare(task, pairs, labels, cards)
    metrics = {"metric": name, "champion": a, "challenger": b, "windows": n, "lower_is_better": lower}
    if a is None or b is None:
        return metrics, False, f"{name}: cannot compare without labels for this task: kept the champion"
    gain = (a - b) if lower else (b - a)
    said = "better" if gain > policy.min_gain else "not better"
    reason = f"{name}: challenger v{versions[1]} {b:.4g} vs champion v{versions[0]} {a:.4g} over {n} windows"
    return metrics, gain > policy.min_gain, f"{reason} — {said} (min gain {policy.min_gain:g})"


def paired(store: Store, model: str, signal: str, versions: tuple[int, int], since: int, kind: str | None) -> Pairs:
    """Per device of ``kind``: (ts, champion's value, challenger's value) of the windows both versions scored."""
    keys = [prediction_key(model, s, shadow) for shadow in (False, True) for s in (signal, "version")]
    out = {}
    for device in (d.device_id for d in store.devices() if kind is None or d.type == kind):
        t = store.read(device, since, 2**62, keys)
        cols: dict[str, dict[int, float]] = {k: {} for k in keys}
        for ts, key, value in zip(*(t.column(c).to_pylist() for c in ("ts", "key", "value")), strict=True):
            cols[key][ts] = value
        champion, champion_version, challenger, challenger_version = (cols[k] for k in keys)
        both = sorted(
            ts
            for ts, v in challenger_version.items()
            if v == versions[1] and champion_version.get(ts) == versions[0] and ts in champion and ts in challenger
        )
        if both:
            out[device] = (
                np.array(both),
                np.array([champion[t] for t in both]),
                np.array([challenger[t] for t in both]),
            )
    return out


def compare(
    task: str, pairs: Pairs, labels: Labels | None, cards: tuple[dict[str, Any], dict[str, Any]]
) -> tuple[float | None, float | None, str, bool]:
    """(champion's figure, challenger's, the figure's name, whether lower is better) over the paired windows."""
    if task == "anomaly":
        if labels is None:
            rate = [float(np.mean(np.concatenate([p[i] for p in pairs.values()]) > 1.0)) for i in (1, 2)]
            return rate[0], rate[1], "alarm rate (no labels)", True
        f1 = [event_f1([_events(p, i, labels, d) for d, p in pairs.items()])["event_f1"] for i in (1, 2)]
        return f1[0], f1[1], "event F1", False
    if labels is None:
        return None, None, "accuracy" if task == "classify" else "RUL RMSE", task == "rul"
    if task == "classify":
        acc = [_accuracy(pairs, i, labels, card) for i, card in zip((1, 2), cards, strict=True)]
        return acc[0], acc[1], "accuracy", False
    cap = float((cards[0].get("output") or {}).get("scale") or 3600.0)
    truth = {d: np.minimum((labels.failures[d] - p[0]) / 1000.0, cap) for d, p in pairs.items() if d in labels.failures}
    if not truth:
        return None, None, "RUL RMSE (no failure among the evaluated devices)", True
    errs = [rmse(np.concatenate([pairs[d][i] for d in truth]), np.concatenate(list(truth.values()))) for i in (1, 2)]
    return errs[0], errs[1], "RUL RMSE", True


def _events(p: tuple[np.ndarray, np.ndarray, np.ndarray], i: int, labels: Labels, device: str) -> dict[str, float]:
    return events(p[0], p[i] > 1.0, [(x.start, x.end) for x in labels.of(device)])


def _accuracy(pairs: Pairs, i: int, labels: Labels, card: dict[str, Any]) -> float:
    classes = (card.get("output") or {}).get("classes") or []
    hits = [
        str(classes[int(v)]) == _label(labels, d, int(t))
        for d, p in pairs.items()
        for t, v in zip(p[0], p[i], strict=True)
        if int(v) < len(classes)
    ]
    return float(np.mean(hits)) if hits else 0.0


def _label(labels: Labels, device: str, ts: int) -> str:
    for i in labels.of(device):
        if i.start <= ts < i.end:
            return str(i.label)
    return "normal"
