"""Fault / device-state classification: a deep window classifier and a logistic-regression baseline, one contract
(`Classifier`).

Both map windows (n, window, sensors) to class probabilities (`predict_proba`, what the exported
model outputs) and labels (`predict`). Labels may be any values; ``classes_`` keeps their order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prognos.errors import InvalidInput
from prognos.features import summaries
from prognos.models.classifier import WindowClassifier, weighted_nll
from prognos.train import loop
from prognos.train.estimators.base import Deep, Estimator
from prognos.train.estimators.inputs import same_length, windows


def _labels(y: Any, classes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels → (classes, index of each label); unknown labels (validation) are an error."""
    y = np.asarray(y)
    if classes is None:
        classes = np.unique(y)
        if len(classes) < 2:
            raise InvalidInput(f"y: need at least 2 classes to learn, got {classes.tolist()}", field="y")
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    unknown = classes[idx] != y
    if unknown.any():
        raise InvalidInput(f"y: label {y[unknown][0]!r} was not seen in training", field="y", value=str(y[unknown][0]))
    return classes, idx


class Classifier(Estimator):
    """The classification family: class probabilities per window, labels in the order of ``classes_``."""

    classes_: np.ndarray

    def fit(self, x: np.ndarray, y: Any, x_val: Any = None, y_val: Any = None) -> Classifier:
        raise NotImplementedError

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, window, sensors) → (n, classes), each row summing to 1."""
        raise NotImplementedError

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(x), axis=1)]


class DeepClassifier(Deep, Classifier):
    """1D-CNN classifier; class weights ∝ (1 / frequency)^``balance`` (0: none, 1: fully balanced)."""

    def __init__(
        self,
        channels: int = 32,
        kernel: int = 5,
        hidden: int = 64,
        dropout: float = 0.2,
        epochs: int = 60,
        batch: int = 128,
        lr: float = 1e-3,
        patience: int = 8,
        balance: float = 0.5,
        seed: int = 0,
        progress: bool = False,
        init_from: str | None = None,
    ) -> None:
        self.channels, self.kernel, self.hidden, self.dropout = channels, kernel, hidden, dropout
        self.epochs, self.batch, self.lr, self.patience, self.balance = epochs, batch, lr, patience, balance
        self.seed, self.progress, self.init_from = seed, progress, init_from

    def fit(self, x: np.ndarray, y: Any, x_val: Any = None, y_val: Any = None, on_epoch: Any = None) -> DeepClassifier:
        if x_val is None or y_val is None:
            raise InvalidInput("x_val, y_val: the deep classifier stops early on validation windows", field="x_val")
        windows(x, "x")
        windows(x_val, "x_val", x.shape[2])
        same_length(x, y, "y")
        same_length(x_val, y_val, "y_val")
        self.classes_, idx = _labels(y)
        _, idx_val = _labels(y_val, self.classes_)
        counts = np.bincount(idx, minlength=len(self.classes_)).astype(np.float64)
        weights = (counts.sum() / (len(counts) * np.maximum(counts, 1))) ** self.balance
        loop.seed_everything(self.seed)
        self.net_ = WindowClassifier(
            x.shape[2], len(self.classes_), self.channels, self.kernel, self.hidden, self.dropout
        )
        loop.warm_start(self.net_, self.init_from)
        loss = weighted_nll(torch.as_tensor(weights, dtype=torch.float32))
        schedule = loop.Schedule(
            self.epochs,
            self.batch,
            self.lr,
            patience=self.patience,
            seed=self.seed,
            progress=self.progress,
            desc="classify",
        )
        self.history_ = loop.fit(self.net_, loss, (x, idx), (x_val, idx_val), schedule, on_epoch)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)


class LogisticClassifier(Classifier):
    """Logistic regression on window summaries (the latest sample alone for one-step windows)."""

    def __init__(self, c: float = 1.0, balanced: bool = True, seed: int = 0) -> None:
        self.c, self.balanced, self.seed = c, balanced, seed

    def fit(self, x: np.ndarray, y: Any, x_val: Any = None, y_val: Any = None) -> LogisticClassifier:
        from sklearn.linear_model import LogisticRegression

        windows(x, "x")
        same_length(x, y, "y")
        self.classes_, idx = _labels(y)
        self.sensors_ = x.shape[2]
        self.model_ = LogisticRegression(
            C=self.c, class_weight="balanced" if self.balanced else None, max_iter=2000, random_state=self.seed
        ).fit(self._features(x), idx)
        return self

    def _features(self, x: np.ndarray) -> np.ndarray:
        return x[:, -1] if x.shape[1] == 1 else summaries(x)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(self._features(windows(x, "x", self.sensors_)))
