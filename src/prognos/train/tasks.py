"""The three model kinds learned from device telemetry: anomaly, classify, rul.

One function per task takes aligned series of one device type plus labels and returns the fitted model
with its feature spec (`FIT`); `train_store` reads them from the store, fits, and writes the artifact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prognos.errors import InvalidInput
from prognos.features import RegimeScaler
from prognos.features.calibration import DEFAULT_BUDGET, Budget
from prognos.store import open_store
from prognos.train import telemetry
from prognos.train.artifact import Fitted, Spec, data_hash, package, parent
from prognos.train.contest import Entry, Judging, choose, judge_detector
from prognos.train.estimators import AutoencoderDetector, DeepClassifier, Detector, PCADetector, RULRegressor
from prognos.train.labels import Labels
from prognos.train.telemetry import Series, Windows
from prognos.types import Reading

TASKS = ("anomaly", "classify", "rul")


@dataclass(frozen=True)
class Config:
    window: int = 60  # grid steps
    step_ms: int = 1000
    stride: int = 5
    rul_cap_s: float = 3600.0
    epochs: int = 40
    seed: int = 0
    progress: bool = False
    init_from: str | None = None  # an artifact folder to fine-tune from
    settings: tuple[str, ...] = ()  # inputs that set the operating point: each sensor is scaled within its regime
    detectors: tuple[str, ...] = ()  # anomaly: the candidates that enter the contest (none named: all of them)


@dataclass(frozen=True)
class Selection:
    """Which stored telemetry a model learns from: ``devices`` (or every device of ``device_type``) in [start, end)."""

    start: int
    end: int
    devices: Sequence[str] | None = None
    device_type: str | None = None


ARCHITECTURE = ("channels", "kernel", "layers", "hidden", "dropout", "scales", "noise")


def _parent(cfg: Config, task: str, series: list[Series]) -> dict[str, Any]:
    """Estimator arguments for fine-tuning: the parent's architecture and weights, after checking
    that it reads the same sensors over the same window."""
    if cfg.init_from is None:
        return {}
    card = parent(cfg.init_from, task)
    if card["input"]["sensors"] != series[0].sensors or card["window"] != cfg.window:
        raise InvalidInput(
            f"--init-from {cfg.init_from}: it reads {card['input']['sensors']} over {card['window']} "
            f"steps, this data has {series[0].sensors} over {cfg.window}",
            field="init_from",
            value=cfg.init_from,
        )
    return {k: v for k, v in card["params"].items() if k in ARCHITECTURE} | {"init_from": cfg.init_from}


def _scaler(series: list[Series], cfg: Config) -> RegimeScaler:
    """Standard scaling on the training rows; per operating regime when ``cfg.settings`` names the inputs that set
    it (how many regimes there are is found from them: `RegimeScaler`)."""
    rows = np.concatenate([s.x for s in series])
    rows = rows[~np.isnan(rows).any(axis=1)]
    sensors = series[0].sensors
    _known("settings", cfg.settings, sensors, "is not an input")
    if not cfg.settings:
        return RegimeScaler().fit(rows)
    return RegimeScaler("auto", cfg.seed, columns=[sensors.index(n) for n in cfg.settings]).fit(rows)


def _split_time(w: Windows, share: float = 0.2) -> np.ndarray:
    """True for each device's most recent ``share`` of windows: validation never precedes training."""
    val = np.zeros(len(w.end), dtype=bool)
    for dev in np.unique(w.device):
        idx = np.flatnonzero(w.device == dev)
        val[idx[int(len(idx) * (1 - share)) :]] = True
    return val


MIN_CONTEST = 10  # normal windows before, and windows in, the later period: fewer and the contest is not held


def _detectors(cfg: Config, series: list[Series]) -> dict[str, tuple[bool, Callable[[], Detector]]]:
    """The anomaly task's candidates: name → (deep?, a fresh estimator), those of ``cfg.detectors`` if it names any.
    Fine-tuning a deep parent (``--init-from``) is what was asked for: the deep detector alone, from its weights."""
    ae: dict[str, Any] = {"epochs": cfg.epochs, "batch": 128, "seed": cfg.seed, "progress": cfg.progress}
    if cfg.init_from is not None and parent(cfg.init_from, "anomaly").get("params", {}).get("channels"):
        tuned = _parent(cfg, "anomaly", series)
        return {"conv-ae": (True, lambda: AutoencoderDetector(threshold="pot", risk=1e-4, **ae, **tuned))}
    every: dict[str, tuple[bool, Callable[[], Detector]]] = {
        "conv-ae": (True, lambda: AutoencoderDetector(threshold="pot", risk=1e-4, **ae)),
        "pca": (False, lambda: PCADetector(threshold="pot", risk=1e-4)),
    }
    _known("detectors", cfg.detectors, list(every), "is not a detector")
    return {name: made for name, made in every.items() if not cfg.detectors or name in cfg.detectors}


def _known(option: str, named: Sequence[str], choices: Sequence[str], what: str) -> None:
    """Every name an option gives is one of ``choices``; else the first that is not, named, with the choices."""
    unknown = [name for name in named if name not in choices]
    if unknown:
        raise InvalidInput(
            f"{option}: {unknown[0]!r} {what}; expected some of {', '.join(choices)}", field=option, value=unknown[0]
        )


def fit_anomaly(series: list[Series], labels: Labels, cfg: Config) -> Fitted:
    """The deep detector and its baselines, each fitted on the normal windows before the latest fifth of every
    device's data and judged on that fifth at the default alarm budget (`prognos.train.contest`); the winner is
    fitted again on every normal window, and the card keeps the contest (``metrics.contest``)."""
    scaler = _scaler(series, cfg)
    w = telemetry.windows(series, cfg.window, cfg.stride, scaler.transform)
    normal = ~telemetry.touches_label(w, labels, cfg.window * cfg.step_ms) & _healthy(w, labels, cfg)
    x = w.x[normal]
    if len(x) < 10:
        raise InvalidInput(
            f"anomaly: {len(x)} normal windows: nearly every window overlaps a labelled fault or lies "
            f"within {cfg.rul_cap_s:.0f} s of a failure",
            field="devices",
            value=len(x),
        )
    t = time.perf_counter()
    candidates = _detectors(cfg, series)
    name, contest = _contest(candidates, w, normal, labels, cfg)
    model = candidates[name][1]().fit(x)
    spec = Spec(
        "anomaly",
        series[0].sensors,
        cfg.window,
        scaler.to_dict(),
        {
            "kind": "per-sensor contributions; score = sum",
            "detector": name,
            "threshold": model.threshold_,
            "calibration": model.calibration_,
            "normal": model.normal_,
            "step_ms": cfg.step_ms,
        },
    )
    fitted = Fitted(model, spec, x, x[-max(2, len(x) // 5) :], time.perf_counter() - t)
    fitted.metrics = {"contest": contest}
    return fitted


def _contest(
    candidates: dict[str, tuple[bool, Callable[[], Detector]]],
    w: Windows,
    normal: np.ndarray,
    labels: Labels,
    cfg: Config,
) -> tuple[str, dict[str, Any]]:
    """Which candidate to serve, and the contest as the card keeps it."""
    later = _split_time(w)
    early = normal & ~later
    first = next(iter(candidates))
    about = {
        "metric": "event F1 at the alarm budget, then false alarms per device-day, then delay",
        "budget": DEFAULT_BUDGET,
    }
    about["validation"] = "the latest fifth of every device's windows; candidates fitted on the normal windows before"
    if len(candidates) == 1:
        return first, {**about, "held": False, "why": f"{first}: the only candidate"}
    if early.sum() < MIN_CONTEST or later.sum() < MIN_CONTEST:
        return first, {**about, "held": False, "why": f"too few windows to hold a later period out: {first}, unjudged"}
    on = Judging(
        labels,
        Budget.parse(DEFAULT_BUDGET).risk(cfg.step_ms),
        grace_ms=cfg.window * cfg.step_ms,
        wear_ms=int(cfg.rul_cap_s * 1000),
        step_ms=cfg.step_ms,
    )
    held_out = Windows(w.x[later], w.end[later], w.device[later])
    entries = []
    for name, (is_deep, make) in candidates.items():
        model = make().fit(w.x[early])
        entries.append(Entry(name, is_deep, judge_detector(model.score, model.normal_, held_out, on)))
    best, why = choose(entries)
    table = [{"name": e.name, "deep": e.deep, "served": e.served, **e.figures} for e in entries]
    return best.name, {**about, "held": True, "entries": table, "why": why}


def _healthy(w: Windows, labels: Labels, cfg: Config) -> np.ndarray:
    """Windows more than the RUL cap before a failure (or of devices that never fail): the flat part of
    the piece-wise linear RUL, where wear is not yet what the data shows."""
    rul = telemetry.remaining(w, labels, int(cfg.rul_cap_s * 1000))
    return np.isnan(rul) | (rul >= cfg.rul_cap_s)


def fit_classify(series: list[Series], labels: Labels, cfg: Config) -> Fitted:
    scaler = _scaler(series, cfg)
    w = telemetry.windows(series, cfg.window, cfg.stride, scaler.transform)
    y = telemetry.label_windows(w, labels).astype(str)
    val = _split_time(w)
    val &= np.isin(y, np.unique(y[~val]))  # a class seen only late cannot be validated
    t = time.perf_counter()
    model = DeepClassifier(
        epochs=cfg.epochs, seed=cfg.seed, progress=cfg.progress, balance=0.5, **_parent(cfg, "classify", series)
    ).fit(w.x[~val], y[~val], w.x[val], y[val])
    spec = Spec(
        "classify",
        series[0].sensors,
        cfg.window,
        scaler.to_dict(),
        {"classes": model.classes_.tolist(), "step_ms": cfg.step_ms},
    )
    return Fitted(model, spec, w.x[~val], w.x[val], time.perf_counter() - t)


def fit_rul(series: list[Series], labels: Labels, cfg: Config) -> Fitted:
    failing = [s for s in series if s.device_id in labels.failures]
    if not failing:
        raise InvalidInput("rul: no device in the training data has a failure to learn from", field="labels")
    scaler = _scaler(series, cfg)
    w = telemetry.windows(failing, cfg.window, cfg.stride, scaler.transform)
    y = telemetry.remaining(w, labels, int(cfg.rul_cap_s * 1000))
    healthy = _censored(series, labels, cfg, scaler)
    if healthy is not None:  # machines seen running for longer than the cap after a window: RUL (capped) = cap
        w = Windows(
            np.concatenate([w.x, healthy.x]),
            np.concatenate([w.end, healthy.end]),
            np.concatenate([w.device, healthy.device]),
        )
        y = np.concatenate([y, np.full(len(healthy.end), cfg.rul_cap_s)])
    val = _split_time(w) if len(failing) == 1 else np.isin(w.device, [failing[-1].device_id])
    t = time.perf_counter()
    arch = {"hidden": 32, **_parent(cfg, "rul", series)}
    model = RULRegressor(**arch, epochs=cfg.epochs, cap=cfg.rul_cap_s, seed=cfg.seed, progress=cfg.progress).fit(
        w.x[~val], y[~val], w.x[val], y[val]
    )
    spec = Spec(
        "rul",
        series[0].sensors,
        cfg.window,
        scaler.to_dict(),
        {"quantiles": [0.1, 0.5, 0.9], "scale": cfg.rul_cap_s, "unit": "seconds", "step_ms": cfg.step_ms},
    )
    return Fitted(model, spec, w.x[~val], w.x[val], time.perf_counter() - t)


def _censored(series: list[Series], labels: Labels, cfg: Config, scaler: RegimeScaler) -> Windows | None:
    """Windows of machines that did not fail, ending at least the cap before their data does: their capped
    remaining life is known exactly (the cap), so the model also learns what a healthy machine looks like."""
    cap = int(cfg.rul_cap_s * 1000)
    healthy = [
        Series(s.device_id, s.type, s.ts[s.ts <= s.ts[-1] - cap], s.x[s.ts <= s.ts[-1] - cap], s.sensors)
        for s in series
        if s.device_id not in labels.failures and len(s.ts)
    ]
    healthy = [s for s in healthy if len(s.ts) >= cfg.window]
    if not healthy:
        return None
    try:
        return telemetry.windows(healthy, cfg.window, cfg.stride * 3, scaler.transform)  # fewer: they all say the same
    except InvalidInput:
        return None


FIT = {"anomaly": fit_anomaly, "classify": fit_classify, "rul": fit_rul}


def fit(
    readings: Iterable[Reading],
    out: str | Path,
    task: str = "anomaly",
    labels: str | Path | None = None,
    cfg: Config = Config(),
    name: str | None = None,
) -> Path:
    """Fit ``task`` on readings held in hand — a recording, a data frame's rows — without a store or a server: the
    same windows, grid and model as `train_store`, and the same artifact (`prognos.stream.offline.score_folders`
    scores a recording with it as the stream would). Returns the card's path.

    ``readings`` are `prognos.types.Reading` (one device or many; `prognos.ingest.files` reads a CSV or Parquet into
    them); ``cfg.step_ms`` is the grid the model reads them on.
    """
    store = open_store("memory://")  # a store of its own: the readings go nowhere else
    first, last = None, None
    for batch in _batches(readings):
        store.write(batch)
        first = min(r.ts for r in batch) if first is None else min(first, *(r.ts for r in batch))
        last = max(r.ts for r in batch) if last is None else max(last, *(r.ts for r in batch))
    if first is None or last is None:
        raise InvalidInput("readings: nothing to learn from", field="readings")
    return train_store(task, store, Selection(first, last + 1), out, labels, cfg, name or f"series-{task}")


def _batches(readings: Iterable[Reading], size: int = 50_000) -> Iterator[list[Reading]]:
    batch: list[Reading] = []
    for r in readings:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def train_store(
    task: str,
    store: Any,
    selection: Selection,
    out: str | Path,
    labels: str | Path | None = None,
    cfg: Config = Config(),
    name: str | None = None,
) -> Path:
    """Train ``task`` on the stored telemetry ``selection``; write the artifact to ``out``; return its card's path.

    Labels (a simulator truth file or a labels CSV) are needed for classify and rul; an anomaly
    model learns what normal looks like and uses labels only to leave known faults out.
    """
    if task not in FIT:
        raise InvalidInput(f"unknown task {task!r}: available: {', '.join(TASKS)}", field="task", value=task)
    if task != "anomaly" and labels is None:
        raise InvalidInput(
            f"--labels is needed to train {task} (a simulator truth .json or a labels .csv)", field="labels"
        )
    kind = selection.device_type
    ids = list(selection.devices or [d.device_id for d in store.devices() if kind is None or d.type == kind])
    if not ids:
        which = f" of type {kind!r}" if kind else ""
        raise InvalidInput(f"no devices{which} in the store", field="devices", value=kind)
    sensors = parent(cfg.init_from, task)["input"]["sensors"] if cfg.init_from else None  # the parent's order
    series = telemetry.from_store(store, ids, selection.start, selection.end, cfg.step_ms, sensors)
    started = time.perf_counter()
    fitted = FIT[task](series, Labels.load(labels) if labels else Labels(), cfg)
    fitted.seconds = time.perf_counter() - started  # the windows' preparation too, as the card has always said
    data = {
        "source": "store",
        "devices": ids,
        "device_type": kind,
        "start": selection.start,
        "end": selection.end,
        "hash": data_hash(fitted.x),
        "train_windows": len(fitted.x),
        "labels": str(labels) if labels else None,
    }
    return package(fitted, out, name=name or f"{kind or 'devices'}-{task}", metrics=fitted.metrics, data=data)
