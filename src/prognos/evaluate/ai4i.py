"""AI4I 2020 binary failure classification, the common (non-standardised) protocol: a stratified
80/20 split, scaling fitted on the training part, scores on the failure class at the probability
cut that maximises F1 on a validation fifth of the training part."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prognos.datasets import ai4i
from prognos.evaluate.report import Benchmark, Run, table
from prognos.features import RegimeScaler
from prognos.train.estimators import DeepClassifier, LogisticClassifier


@dataclass
class Scores:
    """Held-out figures: of one fit, or their medians over seeds."""

    f1: float
    precision: float
    recall: float
    roc_auc: float
    pr_auc: float
    train_seconds: float


@dataclass
class Split:
    scaler: RegimeScaler
    x_fit: np.ndarray  # one-step windows (n, 1, features)
    x_test: np.ndarray


def fit(
    data: ai4i.Table,
    model: str = "deep",
    seed: int = 0,
    progress: bool = True,
    epochs: int | None = None,
    params: dict[str, Any] | None = None,
    on_epoch: Any = None,
) -> tuple[Scores, Any, Split]:
    """Split, scale, fit on 80 % (early stopping on a fifth of it), score the held-out 20 %."""
    from sklearn import metrics
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(data.failure))
    train, test = train_test_split(rows, test_size=0.2, stratify=data.failure, random_state=seed)
    fit_rows, val = train_test_split(train, test_size=0.2, stratify=data.failure[train], random_state=seed)
    scaler = RegimeScaler().fit(data.x[fit_rows])
    z = scaler.transform(data.x)[:, None, :]
    y = data.failure
    t = time.perf_counter()
    if model == "deep":
        arch = {"channels": 32, "kernel": 1, "hidden": 64, **(params or {})}
        clf: Any = DeepClassifier(**arch, epochs=epochs or 200, patience=20, seed=seed, progress=progress)
        clf.fit(z[fit_rows], y[fit_rows], z[val], y[val], on_epoch=on_epoch)
    else:
        clf = LogisticClassifier(seed=seed).fit(z[fit_rows], y[fit_rows])
    seconds = time.perf_counter() - t
    failure = list(clf.classes_).index(1)
    cut = _best_cut(clf.predict_proba(z[val])[:, failure], y[val])
    p = clf.predict_proba(z[test])[:, failure]
    pred = (p >= cut).astype(int)
    result = Scores(
        float(metrics.f1_score(y[test], pred)),
        float(metrics.precision_score(y[test], pred, zero_division=0)),
        float(metrics.recall_score(y[test], pred)),
        float(metrics.roc_auc_score(y[test], p)),
        float(metrics.average_precision_score(y[test], p)),
        seconds,
    )
    return result, clf, Split(scaler, z[fit_rows], z[test])


def _best_cut(p: np.ndarray, y: np.ndarray) -> float:
    """The probability cut with the best F1 on the validation part (failures are rare: 0.5 is arbitrary)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, cuts = precision_recall_curve(y, p)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(cuts[np.argmax(f1[:-1])]) if len(cuts) else 0.5


AI4I_PUBLISHED = "F1 ≈ 0.8–0.9, tree ensembles (no standard split)"


@dataclass
class Ai4iRow(Scores):
    model: str = ""
    f1_per_seed: list[float] = field(default_factory=list)


def rows(run: Run) -> list[Ai4iRow]:
    """Both models, medians over seeds."""
    data = ai4i.load(run.root)
    out = []
    for model in ("deep", "logistic"):
        rs = [fit(data, model, seed, run.progress, run.epochs)[0] for seed in range(run.seeds)]
        med = {
            k: statistics.median(getattr(r, k) for r in rs)
            for k in ("f1", "precision", "recall", "roc_auc", "pr_auc", "train_seconds")
        }
        out.append(Ai4iRow(**med, model=model, f1_per_seed=[r.f1 for r in rs]))
    return out


def markdown(rows: list[Ai4iRow]) -> str:
    header = "model | F1 (failure) | precision | recall | ROC-AUC | PR-AUC | train s | published"
    cells = (
        f"{r.model} | {r.f1:.3f} | {r.precision:.3f} | {r.recall:.3f} | {r.roc_auc:.3f} | {r.pr_auc:.3f} | "
        f"{r.train_seconds:.1f} | {AI4I_PUBLISHED}"
        for r in rows
    )
    return table(header, "lrrrrrrl", cells)


PROTOCOL = (
    "Stratified 80/20 split on Machine failure (seeded), UDI and Product ID dropped, Type one-hot, scaler and early "
    "stopping on the training part only; F1, precision and recall of the failure class at the probability cut "
    "chosen on a validation fifth of the training part, ROC-AUC and PR-AUC. The labels are kept as published. "
    "Medians over seeds."
)
BENCHMARK = Benchmark("ai4i", "AI4I 2020 failure classification (sanity check)", PROTOCOL, rows, markdown)
