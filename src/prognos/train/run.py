"""``prognos train``: a source and a task in, an artifact folder out (library side of the command)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from prognos.errors import InvalidInput
from prognos.train.search import tune  # light: Optuna itself is imported only when a search runs

# (task, benchmark) -> trainer; a benchmark source is "name" or "name:subset".
SOURCES = {
    "rul": ("cmapss:FD001", "cmapss:FD002", "cmapss:FD003", "cmapss:FD004"),
    "anomaly": ("skab",),
    "classify": ("ai4i",),
}
TASKS = tuple(SOURCES)


def train_benchmark(
    task: str,
    source: str,
    data_root: str | Path,
    out: str | Path,
    seed: int = 0,
    epochs: int | None = None,
    progress: bool = True,
    trials: int = 0,
    storage: str | None = None,
    study: str | None = None,
) -> Path:
    """Train ``task`` on a public benchmark ``source``; return the model card's path.

    ``trials`` > 0 first searches hyper-parameters with Optuna (see `prognos.train.search`) on the
    training data's own validation split; the final model is trained with the best.
    """
    if task not in SOURCES:
        raise InvalidInput(f"unknown task {task!r}: available: {', '.join(TASKS)}", field="task", value=task)
    if source not in SOURCES[task] and source.lower() not in SOURCES[task]:
        raise InvalidInput(
            f"unknown benchmark {source!r} for task {task}: available: {', '.join(SOURCES[task])}",
            field="source",
            value=source,
        )
    trainer: dict[str, Callable[..., Path]] = {"rul": _rul_cmapss, "anomaly": _anomaly_skab, "classify": _classify_ai4i}
    return trainer[task](source, data_root, Path(out), seed, epochs, progress, (trials, storage, study))


def _rul_cmapss(
    source: str,
    data_root: str | Path,
    out: Path,
    seed: int,
    epochs: int | None,
    progress: bool,
    search: tuple[int, str | None, str | None] = (0, None, None),
) -> Path:
    from prognos.datasets import cmapss
    from prognos.train import cmapss as pipeline
    from prognos.train.artifact import Spec, data_hash, package

    data = cmapss.load(data_root, source.partition(":")[2])
    cfg = pipeline.RULConfig() if epochs is None else replace(pipeline.RULConfig(), epochs=epochs)
    t = time.perf_counter()
    found = None
    if search[0]:
        found = _search_rul(data, cfg, seed, *search)
        cfg = replace(cfg, **found["params"])
    model, p, result = pipeline.train(data, cfg, seed=seed, progress=progress)
    spec = Spec(
        "rul",
        p.sensors,
        cfg.window,
        p.scaler.to_dict(),
        {"quantiles": [0.1, 0.5, 0.9], "scale": cfg.cap, "unit": "cycles"},
    )
    metrics = {
        "rmse": result.rmse,
        "nasa_score": result.score,
        "coverage_80": result.coverage_80,
        "protocol": "C-MAPSS test units, last window, raw RUL file, cap 125",
        "search": found,
    }
    return package(
        model,
        spec,
        out,
        name=f"cmapss-{data.name.lower()}-rul",
        example=p.x,
        held_out=p.x_test,
        metrics=metrics,
        data={"source": source, "hash": data_hash(p.x, p.y), "train_windows": len(p.x)},
        training_seconds=time.perf_counter() - t,
    )


def _search_rul(data: Any, cfg: Any, seed: int, trials: int, storage: str | None, study: str | None) -> dict[str, Any]:
    """Optuna over the RUL network on the training units' own validation split (never the test units)."""
    from prognos.train import cmapss as pipeline
    from prognos.train.rul import RULRegressor

    single = replace(cfg, folds=1)  # each trial one network on one split: the ensemble repeats the winner
    p = pipeline.prepare(data, single, seed)

    def objective(params: dict[str, Any], report: Any) -> float:
        model = RULRegressor(**{**_rul_params(single), **params}, seed=seed)
        return min(model.fit(p.x, p.y, p.x_val, p.y_val, on_epoch=report).history_[0].validation)

    return tune("rul", objective, trials, seed, storage, study)


def _rul_params(cfg: Any) -> dict[str, Any]:
    keys = ("scales", "hidden", "dropout", "noise", "folds", "epochs", "batch", "lr", "patience", "cap")
    return {k: getattr(cfg, k) for k in keys}


def _anomaly_skab(
    source: str,
    data_root: str | Path,
    out: Path,
    seed: int,
    epochs: int | None,
    progress: bool,
    search: tuple[int, str | None, str | None] = (0, None, None),
) -> Path:
    """A pump anomaly model: trained on SKAB's anomaly-free recording, scored on all 34 labelled files."""
    from prognos.datasets import skab
    from prognos.features import RegimeScaler, sliding
    from prognos.train.anomaly import AutoencoderDetector
    from prognos.train.artifact import Spec, data_hash, package
    from prognos.train.metrics import outlier_scores

    window = 60
    root = skab.folder(data_root)
    normal = skab.read(root / "anomaly-free" / "anomaly-free.csv", "anomaly-free").values
    scaler = RegimeScaler().fit(normal)
    x = sliding(scaler.transform(normal), window)
    t = time.perf_counter()
    settings: dict[str, Any] = {
        "seed": seed,
        "epochs": epochs or 60,
        "threshold": "quantile",
        "risk": 0.01,
        "margin": 1.5,
    }
    found = None
    if search[0]:

        def objective(params: dict[str, Any], report: Any) -> float:
            trial = AutoencoderDetector(**settings, **params).fit(x, on_epoch=report)
            return min(trial.history_.validation)

        found = tune("anomaly", objective, search[0], seed, search[1], search[2])
    model = AutoencoderDetector(**settings, **(found or {}).get("params", {}), progress=progress).fit(x)
    seconds = time.perf_counter() - t
    preds, truth = [], []
    for rec in skab.load(root):
        w = sliding(scaler.transform(rec.values), window)
        preds.append(model.detect(w))
        truth.append(rec.anomaly[window - 1 :])
    metrics = {
        **outlier_scores(np.concatenate(preds), np.concatenate(truth)),
        "threshold": model.threshold_,
        "search": found,
        "protocol": "trained on SKAB anomaly-free.csv; point-wise scores, all 34 files",
    }
    spec = Spec(
        "anomaly",
        skab.SENSORS,
        window,
        scaler.to_dict(),
        {"kind": "per-sensor contributions; score = sum", "threshold": model.threshold_},
    )
    return package(
        model,
        spec,
        out,
        name="skab-pump-anomaly",
        example=x,
        held_out=x[-len(x) // 5 :],
        metrics=metrics,
        data={"source": source, "hash": data_hash(x), "train_windows": len(x)},
        training_seconds=seconds,
    )


def _classify_ai4i(
    source: str,
    data_root: str | Path,
    out: Path,
    seed: int,
    epochs: int | None,
    progress: bool,
    search: tuple[int, str | None, str | None] = (0, None, None),
) -> Path:
    from dataclasses import asdict

    from prognos.datasets import ai4i
    from prognos.train import ai4i as protocol
    from prognos.train.artifact import Spec, data_hash, package

    data = ai4i.load(data_root)
    found = None
    if search[0]:

        def objective(params: dict[str, Any], report: Any) -> float:
            clf = protocol.fit(data, "deep", seed, False, epochs, params, on_epoch=report)[1]
            return min(clf.history_.validation)

        found = tune("classify", objective, search[0], seed, search[1], search[2])
    result, model, split = protocol.fit(data, "deep", seed, progress, epochs, (found or {}).get("params"))
    spec = Spec("classify", ai4i.FEATURES, 1, split.scaler.to_dict(), {"classes": model.classes_.tolist()})
    metrics = {k: v for k, v in asdict(result).items() if k not in ("model", "seed", "train_seconds")}
    metrics["search"] = found
    metrics["protocol"] = "AI4I 2020, stratified 80/20 split, failure class at the F1-best cut on validation"
    return package(
        model,
        spec,
        out,
        name="ai4i-failure-classify",
        example=split.x_fit,
        held_out=split.x_test,
        metrics=metrics,
        data={"source": source, "hash": data_hash(data.x), "train_windows": len(split.x_fit)},
        training_seconds=result.train_seconds,
    )


def train_store(
    task: str,
    store: Any,
    out: str | Path,
    *,
    start: int,
    end: int,
    devices: list[str] | None = None,
    device_type: str | None = None,
    labels: str | Path | None = None,
    window: int = 60,
    step_ms: int = 1000,
    seed: int = 0,
    epochs: int | None = None,
    progress: bool = True,
    init_from: str | None = None,
    name: str | None = None,
) -> Path:
    """Train ``task`` on stored telemetry of ``devices`` (or every device of ``device_type``) in [start, end).

    Labels (a simulator truth file or a labels CSV) are needed for classify and rul; an anomaly
    model learns what normal looks like and uses labels only to leave known faults out.
    """
    from prognos.train import devices as kinds
    from prognos.train import telemetry as tm
    from prognos.train.artifact import data_hash, package

    if task not in SOURCES:
        raise InvalidInput(f"unknown task {task!r}: available: {', '.join(TASKS)}", field="task", value=task)
    if task != "anomaly" and labels is None:
        raise InvalidInput(
            f"--labels is needed to train {task} (a simulator truth .json or a labels .csv)", field="labels"
        )
    ids = devices or [d.device_id for d in store.devices() if device_type is None or d.type == device_type]
    if not ids:
        raise InvalidInput(
            f"no devices{f' of type {device_type!r}' if device_type else ''} in the store",
            field="devices",
            value=device_type,
        )
    from prognos.train.artifact import parent

    sensors = parent(init_from, task)["input"]["sensors"] if init_from else None  # the parent's input order
    series = tm.from_store(store, ids, start, end, step_ms, sensors)
    cfg = kinds.Config(
        window=window,
        step_ms=step_ms,
        seed=seed,
        progress=progress,
        init_from=init_from,
        **({"epochs": epochs} if epochs else {}),
    )
    t = time.perf_counter()
    fitted = kinds.FIT[task](series, tm.Labels.load(labels) if labels else tm.Labels(), cfg)
    name = name or f"{device_type or 'devices'}-{task}"
    data = {
        "source": "store",
        "devices": ids,
        "device_type": device_type,
        "start": start,
        "end": end,
        "hash": data_hash(fitted.x),
        "train_windows": len(fitted.x),
        "labels": str(labels) if labels else None,
    }
    return package(
        fitted.model,
        fitted.spec,
        out,
        name=name,
        example=fitted.x,
        held_out=fitted.held_out,
        metrics={},
        data=data,
        training_seconds=time.perf_counter() - t,
    )
