"""What ``prognos train`` and ``prognos pretrained`` build: one table of recipes, by source.

    source            tasks                    learns from
    store             anomaly, classify, rul   stored telemetry (`prognos.train.tasks.train_store`)
    cmapss:FD001…4    rul                      NASA C-MAPSS under its protocol (`prognos.evaluate.cmapss`)
    skab              anomaly                  SKAB's anomaly-free recording, scored on its 34 labelled files
    ai4i              classify                 AI4I 2020, a stratified 80/20 split
    simulator:TYPE    anomaly                  the simulator's healthy machines of one type (24 machines, 6 h)

Each recipe writes an artifact folder — ONNX, int8 ONNX, and a model card holding the protocol's figures — and
`figures` says them in one line. The benchmark recipes may first search hyper-parameters with Optuna on the
training data's own validation split (`Search`). `PRETRAINED` names the starting points ``prognos pretrained``
rebuilds with fixed seeds, for fine-tuning with ``--init-from``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from prognos import sim
from prognos.datasets import ai4i, cmapss, skab
from prognos.errors import InvalidInput
from prognos.evaluate import ai4i as ai4i_protocol
from prognos.evaluate import cmapss as cmapss_protocol
from prognos.evaluate.metrics import outlier_scores
from prognos.evaluate.simulator import from_fleet
from prognos.features import RegimeScaler, sliding
from prognos.train.artifact import Fitted, Spec, data_hash, package
from prognos.train.estimators import AutoencoderDetector
from prognos.train.labels import Labels
from prognos.train.search import Search, tune
from prognos.train.tasks import TASKS, Config, Selection, fit_anomaly, train_store


@dataclass(frozen=True)
class Order:
    """What to train: a task from a source into ``out``, with ``prognos train``'s options."""

    task: str
    source: str  # "store", or a benchmark: "cmapss:FD001", "skab", "ai4i", "simulator:pump"
    out: Path
    data: str | Path = "../shared/data"  # the benchmarks' folder
    seed: int = 0
    epochs: int | None = None  # at most this many (None: the recipe's own)
    progress: bool = True
    search: Search = Search()
    store: Any = None  # source "store": the store, what to read from it, and how
    selection: Selection | None = None
    labels: str | None = None
    window: int = 60
    step_ms: int = 1000
    init_from: str | None = None
    settings: tuple[str, ...] = ()  # store: inputs that set the operating point (scaled per regime)
    detectors: tuple[str, ...] = ()  # store, anomaly: the candidates of the contest (none named: all)


@dataclass(frozen=True)
class Recipe:
    tasks: tuple[str, ...]
    build: Callable[[Order], Path]  # → the model card's path
    figures: Callable[[dict[str, Any]], str]  # the card's figures, in one line
    subsets: tuple[str, ...] = ()  # what may follow the source's name and a colon (cmapss:FD001)


def train(order: Order) -> Path:
    """Train ``order.task`` from ``order.source``; return the model card's path."""
    if order.task not in TASKS:
        raise InvalidInput(
            f"unknown task {order.task!r}: available: {', '.join(TASKS)}", field="task", value=order.task
        )
    kind, _, subset = order.source.partition(":")
    recipe = RECIPES.get(kind.lower())
    if recipe is None or order.task not in recipe.tasks or subset.lower() not in [s.lower() for s in recipe.subsets]:
        offered = [_spelling(name, r) for name, r in RECIPES.items() if order.task in r.tasks]
        raise InvalidInput(
            f"unknown source {order.source!r} for task {order.task}: available: {', '.join(offered)}",
            field="source",
            value=order.source,
        )
    return recipe.build(order)


def figures(card: dict[str, Any]) -> str:
    """What the card says of the model's quality, in one line (the figures its recipe measured)."""
    source = str((card.get("data") or {}).get("source", ""))
    recipe = RECIPES.get(source.partition(":")[0].partition(" ")[0])
    return recipe.figures(card) if recipe else _windows_figures(card)


def _spelling(name: str, recipe: Recipe) -> str:
    return f"{name}:{'|'.join(recipe.subsets)}" if any(recipe.subsets) else name


# -- the recipes ----------------------------------------------------------------------------------------
def _store(order: Order) -> Path:
    if order.selection is None or order.store is None:
        raise InvalidInput("--start is needed to train from the store", field="start")
    cfg = Config(order.window, order.step_ms, init_from=order.init_from, settings=order.settings)
    cfg = replace(cfg, detectors=order.detectors)
    cfg = _config(order, cfg)
    return train_store(order.task, order.store, order.selection, order.out, order.labels, cfg)


def _cmapss(order: Order) -> Path:
    data = cmapss.load(order.data, order.source.partition(":")[2])
    cfg = cmapss_protocol.RULConfig()
    cfg = cfg if order.epochs is None else cfg.tuned(epochs=order.epochs)
    t = time.perf_counter()
    found = _search_rul(data, cfg, order) if order.search.trials else None
    cfg = cfg.tuned(**found["params"]) if found else cfg
    model, p, result = cmapss_protocol.train(data, cfg, seed=order.seed, progress=order.progress)
    output = {"quantiles": [0.1, 0.5, 0.9], "scale": model.cap, "unit": "cycles"}
    fitted = Fitted(model, Spec("rul", p.sensors, cfg.window, p.scaler.to_dict(), output), p.x, p.x_test, 0.0)
    fitted.seconds = time.perf_counter() - t
    metrics = {
        "rmse": result.rmse,
        "nasa_score": result.score,
        "coverage_80": result.coverage_80,
        "protocol": "C-MAPSS test units, last window, raw RUL file, cap 125",
        "search": found,
    }
    data_doc = {"source": order.source, "hash": data_hash(p.x, p.y), "train_windows": len(p.x)}
    return package(fitted, order.out, name=f"cmapss-{data.name.lower()}-rul", metrics=metrics, data=data_doc)


def _search_rul(data: cmapss.Subset, cfg: cmapss_protocol.RULConfig, order: Order) -> dict[str, Any]:
    """Optuna over the RUL network on the training units' own validation split (never the test units)."""
    single = cfg.tuned(folds=1)  # each trial one network on one split: the ensemble repeats the winner
    p = cmapss_protocol.prepare(data, single, order.seed)

    def objective(params: dict[str, Any], report: Any) -> float:
        model = single.tuned(**params).regressor(order.seed)
        return min(model.fit(p.x, p.y, p.x_val, p.y_val, on_epoch=report).history_[0].validation)

    return tune("rul", objective, order.search, order.seed)


def _skab(order: Order, window: int = 60) -> Path:
    """A pump anomaly model: trained on SKAB's anomaly-free recording, scored on all 34 labelled files."""
    root = skab.folder(order.data)
    normal = skab.read(root / "anomaly-free" / "anomaly-free.csv", "anomaly-free").values
    scaler = RegimeScaler().fit(normal)
    x = sliding(scaler.transform(normal), window)
    t = time.perf_counter()
    # SKAB's own rule for its baselines: 1.5 × the 99th percentile of normal scores.
    settings: dict[str, Any] = {
        "seed": order.seed,
        "epochs": order.epochs or 60,
        "threshold": "quantile",
        "risk": 0.01,
        "margin": 1.5,
    }
    found = None
    if order.search.trials:

        def objective(params: dict[str, Any], report: Any) -> float:
            return min(AutoencoderDetector(**settings, **params).fit(x, on_epoch=report).history_.validation)

        found = tune("anomaly", objective, order.search, order.seed)
    params = (found or {}).get("params", {})
    model = AutoencoderDetector(**settings, **params, progress=order.progress).fit(x)
    seconds = time.perf_counter() - t
    recordings = skab.load(root)
    scored = [(model.detect(sliding(scaler.transform(r.values), window)), r.anomaly[window - 1 :]) for r in recordings]
    metrics = {
        **outlier_scores(np.concatenate([p for p, _ in scored]), np.concatenate([y for _, y in scored])),
        "threshold": model.threshold_,
        "search": found,
        "protocol": "trained on SKAB anomaly-free.csv; point-wise scores, all 34 files",
    }
    output = {"kind": "per-sensor contributions; score = sum", "threshold": model.threshold_}
    output["calibration"], output["normal"] = model.calibration_, model.normal_
    spec = Spec("anomaly", skab.SENSORS, window, scaler.to_dict(), output)
    fitted = Fitted(model, spec, x, x[-len(x) // 5 :], seconds)
    data_doc = {"source": order.source, "hash": data_hash(x), "train_windows": len(x)}
    return package(fitted, order.out, name="skab-pump-anomaly", metrics=metrics, data=data_doc)


def _ai4i(order: Order) -> Path:
    data = ai4i.load(order.data)
    found = None
    if order.search.trials:

        def objective(params: dict[str, Any], report: Any) -> float:
            clf = ai4i_protocol.fit(data, "deep", order.seed, False, order.epochs, params, on_epoch=report)[1]
            return min(clf.history_.validation)

        found = tune("classify", objective, order.search, order.seed)
    params = (found or {}).get("params")
    result, model, split = ai4i_protocol.fit(data, "deep", order.seed, order.progress, order.epochs, params)
    spec = Spec("classify", ai4i.FEATURES, 1, split.scaler.to_dict(), {"classes": model.classes_.tolist()})
    metrics = {k: v for k, v in asdict(result).items() if k != "train_seconds"}
    metrics["search"] = found
    metrics["protocol"] = "AI4I 2020, stratified 80/20 split, failure class at the F1-best cut on validation"
    fitted = Fitted(model, spec, split.x_fit, split.x_test, result.train_seconds)
    data_doc = {"source": order.source, "hash": data_hash(data.x), "train_windows": len(split.x_fit)}
    return package(fitted, order.out, name="ai4i-failure-classify", metrics=metrics, data=data_doc)


def simulated(order: Order, devices: int = 24, hours: float = 6.0) -> Path:
    """An anomaly model of one machine type, on the healthy machines of a seeded simulated fleet."""
    kind = order.source.partition(":")[2].lower()
    fleet = sim.Fleet(devices, 1.0, hours * 3600, seed=order.seed, start=1_700_000_000_000)
    group = [s for s in from_fleet(fleet) if s.type == kind]
    cfg = Config(detectors=("conv-ae",))  # a starting point to fine-tune from is a network
    fitted = fit_anomaly(group, Labels.from_truth(fleet.truth()), _config(order, cfg))
    source = f"simulator seed={order.seed} devices={devices} hours={hours}"
    ids = [s.device_id for s in group]
    data = {"source": source, "hash": data_hash(fitted.x), "devices": ids, "train_windows": len(fitted.x)}
    return package(fitted, order.out, name=f"{kind}-anomaly", metrics=fitted.metrics, data=data)


def _config(order: Order, cfg: Config) -> Config:
    """Training settings for telemetry: the order's seed, progress and epoch bound over ``cfg``."""
    return replace(cfg, seed=order.seed, progress=order.progress, epochs=order.epochs or cfg.epochs)


# -- what each card says --------------------------------------------------------------------------------
def _windows_figures(card: dict[str, Any]) -> str:
    data = card["data"]
    devices = f" from {len(data['devices'])} devices" if data.get("devices") else ""
    return f"{data['train_windows']} windows{devices}"


def _rul_figures(card: dict[str, Any]) -> str:
    m, int8 = card["metrics"], card["int8"]["max_abs_diff"]
    return (
        f"RMSE {m['rmse']:.2f}, NASA score {m['nasa_score']:.1f}, 80% interval covers {m['coverage_80']:.0%}"
        f"; int8 max deviation {int8 * card['output']['scale']:.2f} cycles"
    )


def _anomaly_figures(card: dict[str, Any]) -> str:
    m, int8 = card["metrics"], card["int8"]["max_abs_diff"]
    return f"F1 {m['f1']:.3f}, FAR {m['far']:.1f}%, MAR {m['mar']:.1f}%; int8 max deviation {int8:.3g}"


def _classify_figures(card: dict[str, Any]) -> str:
    m, int8 = card["metrics"], card["int8"]["max_abs_diff"]
    return f"F1 {m['f1']:.3f}, ROC-AUC {m['roc_auc']:.3f}; int8 max probability deviation {int8:.3g}"


RECIPES: dict[str, Recipe] = {
    "store": Recipe(TASKS, _store, _windows_figures, ("",)),
    "cmapss": Recipe(("rul",), _cmapss, _rul_figures, cmapss.SUBSETS),
    "skab": Recipe(("anomaly",), _skab, _anomaly_figures, ("",)),
    "ai4i": Recipe(("classify",), _ai4i, _classify_figures, ("",)),
    "simulator": Recipe(("anomaly",), simulated, _windows_figures, tuple(sim.TYPES)),
}

# The starting points `prognos pretrained` rebuilds: C-MAPSS FD001's remaining-life model (14 engine sensors and the
# cycle count over 100 cycles), and an autoencoder of the simulator's healthy pumps (12 sensors, 60 s at 1 Hz).
PRETRAINED = {"turbofan-rul": ("rul", "cmapss:FD001"), "pump-anomaly": ("anomaly", "simulator:pump")}


def pretrained(
    out: str | Path, data: str | Path, only: list[str] | None = None, epochs: int | None = None, progress: bool = True
) -> list[Path]:
    """Train and package the starting points into ``out/<name>/`` (fixed seeds); return their cards' paths."""
    cards = []
    for name in only or PRETRAINED:
        task, source = PRETRAINED[name]
        cards.append(train(Order(task, source, Path(out) / name, data, epochs=epochs, progress=progress)))
    return cards


__all__ = [
    "PRETRAINED",
    "RECIPES",
    "Order",
    "Recipe",
    "Search",
    "Selection",
    "figures",
    "pretrained",
    "simulated",
    "train",
]
