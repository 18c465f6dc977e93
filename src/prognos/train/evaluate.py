"""Evaluation under the published protocols, as a table and as JSON + Markdown reports.

Each benchmark (`BENCHMARKS`) runs our deep model and a classic baseline over several seeds and
reports medians beside the best published figures; the protocols are in `PROTOCOLS`.

C-MAPSS (../shared/data/cmapss/README.md): piece-wise linear RUL capped at 125; scaler fitted and
early stopping done on training units only; one prediction per test unit on the window ending at its
last cycle; RMSE and NASA score against the raw RUL file (primary) and RMSE against truth clipped at
125 (as some papers report). Medians over seeds.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from prognos.datasets import cmapss
from prognos.datasets.cmapss import SUBSETS
from prognos.train import cmapss as pipeline
from prognos.train.baselines import GradientBoostingRUL
from prognos.train.metrics import nasa_score, rmse

# Best published (RMSE, score) per subset, from the data README's table (STAR 2024, FFVE, DAST).
PUBLISHED = {"FD001": (10.61, 169.0), "FD002": (12.55, 772.0), "FD003": (10.71, 154.9), "FD004": (14.08, 1149.0)}


DEEP = "multi-scale trend net, 5-fold ensemble (deep)"


@dataclass
class Row:
    subset: str
    model: str
    rmse: float
    score: float
    rmse_clipped: float
    coverage_80: float | None
    train_seconds: float
    rmse_per_seed: list[float]
    published_rmse: float
    published_score: float


def cmapss_rows(root: str | Path, subsets: list[str], seeds: int = 3, epochs: int | None = None) -> list[Row]:
    cfg = pipeline.RULConfig() if epochs is None else replace(pipeline.RULConfig(), epochs=epochs)
    rows = []
    for name in subsets:
        data = cmapss.load(root, name)
        runs: dict[str, list[tuple[float, float, float, float | None, float]]] = {"deep": [], "classic": []}
        for seed in range(seeds):
            model, p, r = pipeline.train(data, cfg, seed=seed, progress=False)
            clipped = np.minimum(p.y_test, cfg.cap)
            mid = model.predict(p.x_test)[:, 1]
            runs["deep"].append((r.rmse, r.score, rmse(mid, clipped), r.coverage_80, r.train_seconds))
            t = time.perf_counter()
            gb = GradientBoostingRUL(seed=seed).fit(p.x, p.y)
            seconds = time.perf_counter() - t
            mid = gb.predict(p.x_test)[:, 1]
            classic = (rmse(mid, p.y_test), nasa_score(mid, p.y_test), rmse(mid, clipped), None, seconds)
            runs["classic"].append(classic)
        for key, label in (("deep", DEEP), ("classic", "gradient boosting (classic)")):
            v = runs[key]
            cov = [x[3] for x in v if x[3] is not None]
            rows.append(
                Row(
                    subset=data.name,
                    model=label,
                    rmse=statistics.median(x[0] for x in v),
                    score=statistics.median(x[1] for x in v),
                    rmse_clipped=statistics.median(x[2] for x in v),
                    coverage_80=statistics.median(cov) if cov else None,
                    train_seconds=statistics.median(x[4] for x in v),
                    rmse_per_seed=[x[0] for x in v],
                    published_rmse=PUBLISHED[data.name][0],
                    published_score=PUBLISHED[data.name][1],
                )
            )
    return rows


def markdown(rows: list[Row]) -> str:
    lines = [
        "| subset | model | RMSE | NASA score | RMSE (truth ≤ 125) | 80 % interval coverage | train s "
        "| best published RMSE / score |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cov = "–" if r.coverage_80 is None else f"{r.coverage_80:.2f}"
        lines.append(
            f"| {r.subset} | {r.model} | {r.rmse:.2f} | {r.score:.1f} | {r.rmse_clipped:.2f} | {cov} | "
            f"{r.train_seconds:.1f} | {r.published_rmse} / {r.published_score} |"
        )
    return "\n".join(lines) + "\n"


def write_report(rows: list[Any], out: str | Path, benchmark: str = "cmapss") -> tuple[Path, Path]:
    """``<out>/<benchmark>.json`` (protocol and rows) and ``.md`` (protocol and table)."""
    title, protocol, table = BENCHMARKS[benchmark][0], PROTOCOLS[benchmark], BENCHMARKS[benchmark][2]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / f"{benchmark}.json", out / f"{benchmark}.md"
    js.write_text(
        json.dumps({"benchmark": benchmark, "protocol": protocol, "rows": [asdict(r) for r in rows]}, indent=1)
    )
    md.write_text(f"# {title}\n\n{protocol}\n\n{table(rows)}")
    return js, md


SKAB_PUBLISHED = {"f1": 0.78, "far": 13.55, "mar": 28.02, "by": "Conv-AE (SKAB leaderboard; MSET ties on F1)"}


@dataclass
class SkabRow:
    model: str
    rule: str
    f1: float
    far: float
    mar: float
    train_seconds: float
    f1_per_seed: list[float]
    published: dict[str, Any]


def skab_rows(root: str | Path, seeds: int = 3, progress: bool = True) -> list[SkabRow]:
    from prognos.datasets import skab
    from prognos.train import skab as protocol

    recordings = skab.load(root)
    runs: dict[tuple[str, str], list[protocol.Result]] = {}
    for seed in range(seeds):
        for name, (make, window) in protocol.models(seed).items():
            if (name, protocol.RULES[0]) in runs and not protocol.SEEDED[name]:
                continue  # deterministic: one run is every run
            for r in protocol.evaluate(recordings, make, window, name, seed, progress):
                runs.setdefault((name, r.rule), []).append(r)
    return [
        SkabRow(
            name,
            rule,
            statistics.median(r.f1 for r in rs),
            statistics.median(r.far for r in rs),
            statistics.median(r.mar for r in rs),
            statistics.median(r.train_seconds for r in rs),
            [r.f1 for r in rs],
            SKAB_PUBLISHED,
        )
        for (name, rule), rs in runs.items()
    ]


def skab_markdown(rows: list[SkabRow]) -> str:
    lines = [
        "| model | point rule | F1 | FAR % | MAR % | F1 per seed | train + score s (34 files) "
        "| best published F1 / FAR / MAR |",
        "|---|---|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        p = r.published
        seeds = ", ".join(f"{v:.3f}" for v in r.f1_per_seed)
        lines.append(
            f"| {r.model} | {r.rule} | {r.f1:.3f} | {r.far:.2f} | {r.mar:.2f} | {seeds}"
            f" | {r.train_seconds:.0f} | {p['f1']} / {p['far']} / {p['mar']} ({p['by']}) |"
        )
    return "\n".join(lines) + "\n"


AI4I_PUBLISHED = "F1 ≈ 0.8–0.9, tree ensembles (no standard split)"


@dataclass
class Ai4iRow:
    model: str
    f1: float
    precision: float
    recall: float
    roc_auc: float
    pr_auc: float
    train_seconds: float
    f1_per_seed: list[float]


def ai4i_rows(root: str | Path, seeds: int = 3, progress: bool = True) -> list[Ai4iRow]:
    from prognos.datasets import ai4i
    from prognos.train import ai4i as protocol

    data = ai4i.load(root)
    rows = []
    for model in ("deep", "logistic"):
        rs = [protocol.evaluate(data, model, seed, progress) for seed in range(seeds)]
        med = {
            k: statistics.median(getattr(r, k) for r in rs)
            for k in ("f1", "precision", "recall", "roc_auc", "pr_auc", "train_seconds")
        }
        rows.append(Ai4iRow(model, **med, f1_per_seed=[r.f1 for r in rs]))
    return rows


def ai4i_markdown(rows: list[Ai4iRow]) -> str:
    lines = [
        "| model | F1 (failure) | precision | recall | ROC-AUC | PR-AUC | train s | published |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.f1:.3f} | {r.precision:.3f} | {r.recall:.3f} | {r.roc_auc:.3f} | "
            f"{r.pr_auc:.3f} | {r.train_seconds:.1f} | {AI4I_PUBLISHED} |"
        )
    return "\n".join(lines) + "\n"


@dataclass
class SimulatorRow:
    model: str
    event_f1: float
    event_precision: float
    event_recall: float
    false_alarms_per_device_day: float
    mean_delay_s: float
    fault_macro_f1: float
    rul_rmse_s: float
    train_seconds: float
    seeds: int


def simulator_rows(
    root: Any = None, seeds: int = 3, progress: bool = True, devices: int = 24, hours: float = 3.0
) -> list[SimulatorRow]:
    from prognos.train.devices import Config, simulator

    rs = [simulator(devices, hours, seed, Config(seed=seed, progress=progress)) for seed in range(seeds)]
    test_device_days = devices / 3 * hours / 24  # a third of the devices is held out
    med = statistics.median
    return [
        SimulatorRow(
            "conv-ae / 1D-CNN classifier / multi-scale trend RUL",
            med(r.anomaly["event_f1"] for r in rs),
            med(r.anomaly["event_precision"] for r in rs),
            med(r.anomaly["event_recall"] for r in rs),
            med(r.anomaly["false_alarms"] for r in rs) / test_device_days,
            med(r.anomaly["mean_delay_s"] for r in rs),
            med(r.fault_macro_f1 for r in rs),
            med(r.rul_rmse_s for r in rs),
            med(r.train_seconds for r in rs),
            seeds,
        )
    ]


def simulator_markdown(rows: list[SimulatorRow]) -> str:
    lines = [
        "| models | event F1 | precision | recall | false alarms / device-day | mean delay s | fault macro-F1 "
        "| RUL RMSE s | train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.event_f1:.3f} | {r.event_precision:.3f} | {r.event_recall:.3f} | "
            f"{r.false_alarms_per_device_day:.1f} | {r.mean_delay_s:.0f} | {r.fault_macro_f1:.3f} | "
            f"{r.rul_rmse_s:.0f} | {r.train_seconds:.0f} |"
        )
    return "\n".join(lines) + "\n"


PROTOCOLS = {
    "cmapss": (__doc__ or "").strip().split("\n\n", 1)[1],
    "skab": "Per file, the first 400 rows train the scaler and the detector (threshold from those rows alone); the "
    "rest is tested. Point rule 'leaderboard' is the leaderboard Conv-AE's own: windows cut from the test part, a "
    "point is an outlier when every window containing it is anomalous (offline: it waits for later points). Point rule "
    "'streaming' scores each point by the window ending at it (causal, what prognos serves). Point-wise "
    "F1 = TP / (TP + (FP + FN) / 2), FAR and MAR in %, pooled over the 34 anomalous files. Medians over seeds.",
    "simulator": "A seeded fleet (24 devices: pumps, motors, fans; 3 h at 1 Hz; half of them wear out to failure, "
    "one injected fault per device on average). Per device type, models train on two thirds of the devices and are "
    "scored on the rest against the ground truth: an anomaly event (a fault, or wear before a failure) is caught by "
    "an alarm inside it or within one window after; an alarm run touching no event is a false alarm; the delay is "
    "first alarm minus event start. Fault macro-F1 is over the state at each window end (normal or the fault kind); "
    "RUL RMSE is in seconds, capped at 1 h, over held-out failing devices. Medians over seeds.",
    "ai4i": "Stratified 80/20 split on Machine failure (seeded), UDI and Product ID dropped, Type one-hot, scaler "
    "and early stopping on the training part only; F1, precision and recall of the failure class at the "
    "probability cut chosen on a validation fifth of the training part, ROC-AUC and PR-AUC. The labels are kept "
    "as published. Medians over seeds.",
}
# name -> (title, rows(root, seeds), markdown(rows))
BENCHMARKS: dict[str, tuple[str, Callable[..., list[Any]], Callable[[list[Any]], str]]] = {
    "cmapss": (
        "C-MAPSS remaining useful life",
        lambda root, seeds, **_: cmapss_rows(root, list(SUBSETS), seeds),
        markdown,
    ),
    "skab": ("SKAB outlier detection", skab_rows, skab_markdown),
    "ai4i": ("AI4I 2020 failure classification (sanity check)", ai4i_rows, ai4i_markdown),
    "simulator": ("Simulated fleet: anomalies, faults and remaining life", simulator_rows, simulator_markdown),
}
