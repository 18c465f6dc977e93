"""SKAB outlier detection under the current leaderboard's protocol.

Per file: the first 400 rows train (scaler and detector fitted on them alone), the rest is tested.
Predictions of the 34 test parts are pooled into one F1 / FAR / MAR. Window alarms become point
decisions by one of two rules:

- ``leaderboard``: the rule of the leaderboard's Conv-AE notebook (after the Keras autoencoder
  example): windows are cut from the test part alone, and a point is an outlier when every window
  that contains it is anomalous (the notebook's exact slice, which skips the window starting at the
  point itself). It decides offline: a point's verdict waits for up to ``window`` - 1 later points.
- ``streaming``: a point is scored by the window that ends at it, so each decision uses only the
  past, as it does on a live stream. This is the rule prognos serves.

For a window of 1 (the PCA baseline) both rules are the same.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from prognos.datasets import skab
from prognos.evaluate.metrics import outlier_scores
from prognos.evaluate.report import Benchmark, Run, table
from prognos.features import RegimeScaler, sliding
from prognos.train.estimators import AutoencoderDetector, Detector, PCADetector

RULES = ("leaderboard", "streaming")


@dataclass
class Result:
    model: str
    rule: str
    seed: int
    f1: float
    far: float
    mar: float
    train_seconds: float
    files: dict[str, float] = field(default_factory=dict)  # per-file F1


def file_predictions(rec: skab.Recording, make: Callable[[], Detector], window: int) -> dict[str, np.ndarray]:
    """Point decisions for the test part of one recording, under each rule."""
    train = skab.TRAIN_ROWS
    z = RegimeScaler().fit(rec.values[:train]).transform(rec.values)
    w = sliding(z, window)  # window i ends at row i + window - 1
    first_test = train - (window - 1)
    detector = make().fit(w[:first_test])
    streaming = detector.detect(w[first_test:])
    if window == 1:
        return dict.fromkeys(RULES, streaming)
    return {"streaming": streaming, "leaderboard": covered(detector.detect(sliding(z[train:], window)), window)}


def covered(alarms: np.ndarray, window: int) -> np.ndarray:
    """Points every containing window alarms on; ``alarms[i]`` is the window starting at point i.

    >>> covered(np.array([0, 1, 1, 1, 0, 0]), window=3).astype(int).tolist()
    [0, 0, 0, 1, 1, 0, 0, 0]
    """
    n = len(alarms) + window - 1
    out = np.zeros(n, dtype=bool)
    for p in range(window - 1, n - window + 1):
        out[p] = bool(np.all(alarms[p - window + 1 : p]))
    return out


def evaluate(
    recordings: list[skab.Recording],
    make: Callable[[], Detector],
    window: int,
    name: str,
    seed: int = 0,
    progress: bool = True,
) -> list[Result]:
    """One result per rule."""
    t = time.perf_counter()
    preds: dict[str, list[np.ndarray]] = {r: [] for r in RULES}
    per_file: dict[str, dict[str, float]] = {r: {} for r in RULES}
    truths = []
    for rec in tqdm(recordings, desc=f"skab {name}", disable=not progress, leave=False):
        decided, truth = file_predictions(rec, make, window), rec.anomaly[skab.TRAIN_ROWS :]
        truths.append(truth)
        for rule, p in decided.items():
            preds[rule].append(p)
            per_file[rule][rec.name] = round(outlier_scores(p, truth)["f1"], 4)
    seconds = time.perf_counter() - t
    results = []
    for rule in RULES:
        s = outlier_scores(np.concatenate(preds[rule]), np.concatenate(truths))
        results.append(Result(name, rule, seed, s["f1"], s["far"], s["mar"], seconds, per_file[rule]))
    return results


def models(seed: int, **overrides: Any) -> dict[str, tuple[Callable[[], Detector], int]]:
    """The deep model and the baseline, each with its window length."""
    # The threshold is SKAB's own rule for its baselines: 1.5 × the 99th percentile of normal scores.
    ae = {"seed": seed, "epochs": 30, "threshold": "quantile", "risk": 0.01, "margin": 1.5, **overrides}
    return {
        "conv-ae": (lambda: AutoencoderDetector(**ae), 60),
        "pca-t2q": (lambda: PCADetector(threshold="quantile", risk=0.01, margin=1.5), 1),
    }


SEEDED = {"conv-ae": True, "pca-t2q": False}


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


def rows(run: Run) -> list[SkabRow]:
    """Both models under both point rules, medians over seeds."""
    recordings = skab.load(run.root)
    runs: dict[tuple[str, str], list[Result]] = {}
    epochs = {"epochs": run.epochs} if run.epochs else {}
    for seed in range(run.seeds):
        for name, (make, window) in models(seed, **epochs).items():
            if (name, RULES[0]) in runs and not SEEDED[name]:
                continue  # deterministic: one run is every run
            for r in evaluate(recordings, make, window, name, seed, run.progress):
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


def markdown(rows: list[SkabRow]) -> str:
    header = (
        "model | point rule | F1 | FAR % | MAR % | F1 per seed | train + score s (34 files) "
        "| best published F1 / FAR / MAR"
    )
    cells = (
        f"{r.model} | {r.rule} | {r.f1:.3f} | {r.far:.2f} | {r.mar:.2f} | "
        f"{', '.join(f'{v:.3f}' for v in r.f1_per_seed)} | {r.train_seconds:.0f} | {_published(r.published)}"
        for r in rows
    )
    return table(header, "llrrrlrl", cells)


def _published(p: dict[str, Any]) -> str:
    return f"{p['f1']} / {p['far']} / {p['mar']} ({p['by']})"


PROTOCOL = (
    "Per file, the first 400 rows train the scaler and the detector (threshold from those rows alone); the rest is "
    "tested. Point rule 'leaderboard' is the leaderboard Conv-AE's own: windows cut from the test part, a point is "
    "an outlier when every window containing it is anomalous (offline: it waits for later points). Point rule "
    "'streaming' scores each point by the window ending at it (causal, what prognos serves). Point-wise F1 = TP / "
    "(TP + (FP + FN) / 2), FAR and MAR in %, pooled over the 34 anomalous files. Medians over seeds."
)
BENCHMARK = Benchmark("skab", "SKAB outlier detection", PROTOCOL, rows, markdown)
