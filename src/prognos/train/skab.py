"""SKAB outlier detection under the current leaderboard's protocol.

Per file: the first 400 rows train (scaler and detector fitted on them alone), the rest is tested.
A test point is scored by the window that ends at it, so each decision uses only the past, as it
would on a live stream. Predictions of the 34 test parts are pooled into one F1 / FAR / MAR.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from prognos.datasets import skab
from prognos.features import RegimeScaler, sliding
from prognos.train.anomaly import _Detector
from prognos.train.metrics import outlier_scores


@dataclass
class Result:
    model: str
    seed: int
    f1: float
    far: float
    mar: float
    train_seconds: float
    files: dict[str, float] = field(default_factory=dict)  # per-file F1


def file_predictions(rec: skab.Recording, make: Callable[[], _Detector], window: int) -> np.ndarray:
    """Alarms for the test part of one recording."""
    train = skab.TRAIN_ROWS
    z = RegimeScaler().fit(rec.values[:train]).transform(rec.values)
    w = sliding(z, window)  # window i ends at row i + window - 1
    first_test = train - (window - 1)
    detector = make().fit(w[:first_test])
    return detector.detect(w[first_test:])


def evaluate(recordings: list[skab.Recording], make: Callable[[], _Detector], window: int, name: str, seed: int = 0,
             progress: bool = True) -> Result:  # fmt: skip
    t = time.perf_counter()
    preds, truths, per_file = [], [], {}
    for rec in tqdm(recordings, desc=f"skab {name}", disable=not progress, leave=False):
        p, truth = file_predictions(rec, make, window), rec.anomaly[skab.TRAIN_ROWS :]
        preds.append(p)
        truths.append(truth)
        per_file[rec.name] = round(outlier_scores(p, truth)["f1"], 4)
    s = outlier_scores(np.concatenate(preds), np.concatenate(truths))
    return Result(name, seed, s["f1"], s["far"], s["mar"], time.perf_counter() - t, per_file)


def models(seed: int, **overrides: Any) -> dict[str, tuple[Callable[[], _Detector], int]]:
    """The deep model and the baseline, each with its window length."""
    from prognos.train.anomaly import AutoencoderDetector, PCADetector

    # The threshold is SKAB's own rule for its baselines: 1.5 × the 99th percentile of normal scores.
    ae = {"seed": seed, "epochs": 30, "threshold": "quantile", "risk": 0.01, "margin": 1.5, **overrides}
    return {"conv-ae": (lambda: AutoencoderDetector(**ae), 60),
            "pca-t2q": (lambda: PCADetector(threshold="quantile", risk=0.01, margin=1.5), 1)}  # fmt: skip


SEEDED = {"conv-ae": True, "pca-t2q": False}
