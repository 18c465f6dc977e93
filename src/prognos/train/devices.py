"""The three model kinds learned from device telemetry, and their evaluation on the simulated fleet.

One function per task takes aligned series of one device type plus labels and returns a fitted
model with its feature spec; `simulator` scores all three on held-out devices against the
simulator's ground truth (anomaly event-F1 and detection delay, fault macro-F1, RUL RMSE).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prognos.errors import InvalidInput
from prognos.features import RegimeScaler
from prognos.train import telemetry as tm
from prognos.train.artifact import Spec


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


@dataclass
class Fitted:
    model: Any
    spec: Spec
    x: np.ndarray  # training windows (export example)
    held_out: np.ndarray  # validation windows (ONNX parity)
    seconds: float


ARCHITECTURE = ("channels", "kernel", "layers", "hidden", "dropout", "scales", "noise")


def _parent(cfg: Config, task: str, series: list[tm.Series]) -> dict[str, Any]:
    """Estimator arguments for fine-tuning: the parent's architecture and weights, after checking
    that it reads the same sensors over the same window."""
    if cfg.init_from is None:
        return {}
    from prognos.train.artifact import parent

    card = parent(cfg.init_from, task)
    if card["input"]["sensors"] != series[0].sensors or card["window"] != cfg.window:
        raise InvalidInput(
            f"--init-from {cfg.init_from}: it reads {card['input']['sensors']} over {card['window']} "
            f"steps, this data has {series[0].sensors} over {cfg.window}",
            field="init_from",
            value=cfg.init_from,
        )
    return {k: v for k, v in card["params"].items() if k in ARCHITECTURE} | {"init_from": cfg.init_from}


def _scaler(series: list[tm.Series]) -> RegimeScaler:
    rows = np.concatenate([s.x for s in series])
    return RegimeScaler().fit(rows[~np.isnan(rows).any(axis=1)])


def _split_time(w: tm.Windows, share: float = 0.2) -> np.ndarray:
    """True for each device's most recent ``share`` of windows: validation never precedes training."""
    val = np.zeros(len(w.end), dtype=bool)
    for dev in np.unique(w.device):
        idx = np.flatnonzero(w.device == dev)
        val[idx[int(len(idx) * (1 - share)) :]] = True
    return val


def fit_anomaly(series: list[tm.Series], labels: tm.Labels, cfg: Config) -> Fitted:
    from prognos.train.anomaly import AutoencoderDetector

    scaler = _scaler(series)
    w = tm.windows(series, cfg.window, cfg.stride, scaler.transform)
    normal = ~tm.touches_label(w, labels, cfg.window * cfg.step_ms) & _healthy(w, labels, cfg)
    x = w.x[normal]
    if len(x) < 10:
        raise InvalidInput(
            f"anomaly: {len(x)} normal windows: nearly every window overlaps a labelled fault or lies "
            f"within {cfg.rul_cap_s:.0f} s of a failure",
            field="devices",
            value=len(x),
        )
    t = time.perf_counter()
    model = AutoencoderDetector(
        epochs=cfg.epochs,
        batch=128,
        seed=cfg.seed,
        progress=cfg.progress,
        threshold="pot",
        risk=1e-4,
        **_parent(cfg, "anomaly", series),
    ).fit(x)
    spec = Spec(
        "anomaly",
        series[0].sensors,
        cfg.window,
        scaler.to_dict(),
        {"kind": "per-sensor contributions; score = sum", "threshold": model.threshold_, "step_ms": cfg.step_ms},
    )
    return Fitted(model, spec, x, x[-max(2, len(x) // 5) :], time.perf_counter() - t)


def _healthy(w: tm.Windows, labels: tm.Labels, cfg: Config) -> np.ndarray:
    """Windows more than the RUL cap before a failure (or of devices that never fail): the flat part of
    the piece-wise linear RUL, where wear is not yet what the data shows."""
    rul = tm.remaining(w, labels, int(cfg.rul_cap_s * 1000))
    return np.isnan(rul) | (rul >= cfg.rul_cap_s)


def fit_classify(series: list[tm.Series], labels: tm.Labels, cfg: Config) -> Fitted:
    from prognos.train.classify import DeepClassifier

    scaler = _scaler(series)
    w = tm.windows(series, cfg.window, cfg.stride, scaler.transform)
    y = tm.label_windows(w, labels).astype(str)
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


def fit_rul(series: list[tm.Series], labels: tm.Labels, cfg: Config) -> Fitted:
    from prognos.train.rul import RULRegressor

    failing = [s for s in series if s.device_id in labels.failures]
    if not failing:
        raise InvalidInput("rul: no device in the training data has a failure to learn from", field="labels")
    scaler = _scaler(series)
    w = tm.windows(failing, cfg.window, cfg.stride, scaler.transform)
    y = tm.remaining(w, labels, int(cfg.rul_cap_s * 1000))
    healthy = _censored(series, labels, cfg, scaler)
    if healthy is not None:  # machines seen running for longer than the cap after a window: RUL (capped) = cap
        w = tm.Windows(
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


def _censored(series: list[tm.Series], labels: tm.Labels, cfg: Config, scaler: RegimeScaler) -> tm.Windows | None:
    """Windows of machines that did not fail, ending at least the cap before their data does: their capped
    remaining life is known exactly (the cap), so the model also learns what a healthy machine looks like."""
    cap = int(cfg.rul_cap_s * 1000)
    healthy = [
        tm.Series(s.device_id, s.type, s.ts[s.ts <= s.ts[-1] - cap], s.x[s.ts <= s.ts[-1] - cap], s.sensors)
        for s in series
        if s.device_id not in labels.failures and len(s.ts)
    ]
    healthy = [s for s in healthy if len(s.ts) >= cfg.window]
    if not healthy:
        return None
    try:
        return tm.windows(healthy, cfg.window, cfg.stride * 3, scaler.transform)  # fewer: they all say the same
    except InvalidInput:
        return None


FIT = {"anomaly": fit_anomaly, "classify": fit_classify, "rul": fit_rul}


@dataclass
class SimResult:
    seed: int
    devices: int
    hours: float
    anomaly: dict[str, float] = field(default_factory=dict)
    fault_macro_f1: float = float("nan")
    rul_rmse_s: float = float("nan")
    train_seconds: float = 0.0


def simulator(devices: int = 24, hours: float = 3.0, seed: int = 0, cfg: Config = Config()) -> SimResult:
    """Train per device type on two thirds of the devices; score the rest against the ground truth."""
    from sklearn.metrics import f1_score

    from prognos.sim.fleet import Fleet
    from prognos.train.metrics import event_f1, events, rmse

    fleet = Fleet(devices, 1000.0 / cfg.step_ms, hours * 3600, seed=seed, start=1_700_000_000_000, failing=0.5)
    truth = fleet.truth()
    labels = tm.Labels.from_truth(truth)
    degrading = {d["device_id"]: (d["degradation_start"], d["failure"]) for d in truth["devices"] if d["failure"]}
    series = tm.from_fleet(fleet)
    per_device, true_cls, pred_cls, rul_err = [], [], [], []
    spent = 0.0
    for kind in sorted({s.type for s in series if s.type}):
        group = [s for s in series if s.type == kind]
        train, test = group[: -max(1, len(group) // 3)], group[-max(1, len(group) // 3) :]
        ad = fit_anomaly(train, labels, cfg)
        cl = fit_classify(train, labels, cfg)
        spent += ad.seconds + cl.seconds
        scale = RegimeScaler.from_dict(ad.spec.scaler).transform
        for s in test:
            w = tm.windows([s], cfg.window, 1, scale)
            faults = [(i.start, i.end) for i in labels.of(s.device_id)]
            if s.device_id in degrading:  # wear that ends in failure is an anomaly to catch, too
                faults.append(degrading[s.device_id])
            per_device.append(events(w.end, ad.model.detect(w.x), faults, grace_ms=cfg.window * cfg.step_ms))
            wc = tm.windows([s], cfg.window, cfg.stride, RegimeScaler.from_dict(cl.spec.scaler).transform)
            true_cls.append(tm.label_windows(wc, labels).astype(str))
            pred_cls.append(cl.model.predict(wc.x))
        if any(s.device_id in labels.failures for s in train) and any(s.device_id in labels.failures for s in test):
            ru = fit_rul(train, labels, cfg)
            spent += ru.seconds
            failing = [s for s in test if s.device_id in labels.failures]
            wr = tm.windows(failing, cfg.window, cfg.stride, RegimeScaler.from_dict(ru.spec.scaler).transform)
            y = tm.remaining(wr, labels, int(cfg.rul_cap_s * 1000))
            rul_err.append((ru.model.predict(wr.x)[:, 1], y))
    yt, yp = np.concatenate(true_cls), np.concatenate(pred_cls)
    macro = float(f1_score(yt, yp, average="macro", labels=sorted(set(yt.tolist()))))
    rul = rmse(np.concatenate([p for p, _ in rul_err]), np.concatenate([y for _, y in rul_err])) if rul_err else np.nan
    return SimResult(seed, devices, hours, event_f1(per_device), macro, float(rul), spent)
