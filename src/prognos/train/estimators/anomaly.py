"""Unsupervised multivariate anomaly detectors: a deep autoencoder and a PCA baseline, one contract (`Detector`).

Both take windows (n, window, sensors) scaled on normal data and give, per window, each sensor's
contribution (`predict`, what the exported model outputs), the anomaly score (their sum, `score`)
and the alarm (`detect`: score above ``threshold_``, which is set from normal data alone).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prognos.errors import InvalidInput
from prognos.models.autoencoder import ConvAutoencoder, reconstruction_loss
from prognos.models.monitor import PCAMonitor
from prognos.train import loop
from prognos.train.estimators import thresholds
from prognos.train.estimators.base import Deep, Estimator
from prognos.train.estimators.inputs import same_length, windows


class Detector(Estimator):
    """The anomaly family: per-sensor contributions, their sum as the score, an alarm above ``threshold_``."""

    threshold: str  # "pot" (extreme value) or "quantile", of held-out normal scores at ``risk``
    risk: float
    margin: float
    validation: float  # the share of the most recent windows held out for the threshold
    threshold_: float
    calibration_: dict[str, Any]  # `thresholds.Threshold` of the cut, and the margin on it
    normal_: dict[str, Any]  # `features.calibration.Normal` of held-out normal scores: any budget's cut, any p

    def fit(self, x: np.ndarray, y: Any = None, x_val: np.ndarray | None = None, y_val: Any = None) -> Detector:
        raise NotImplementedError

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, window, sensors) → (n, sensors): each sensor's contribution to the score."""
        raise NotImplementedError

    def score(self, x: np.ndarray) -> np.ndarray:
        return self.predict(x).sum(axis=1)

    def detect(self, x: np.ndarray) -> np.ndarray:
        return self.score(x) > self.threshold_

    def _split(self, x: np.ndarray, x_val: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Hold out the most recent windows for the threshold when none are given: no look-ahead."""
        if x_val is not None:
            return x, windows(x_val, "x_val", x.shape[2])
        cut = round(len(x) * (1 - self.validation))
        if cut < 2 or len(x) - cut < 2:
            raise InvalidInput(
                f"x: {len(x)} windows are too few to hold some out for the threshold", field="x", value=len(x)
            )
        return x[:cut], x[cut:]

    def _set_threshold(self, normal: np.ndarray) -> None:
        scores = self.score(normal)
        cut = thresholds.fit(scores, self.threshold, self.risk)
        self.threshold_ = cut.value * self.margin
        self.normal_ = thresholds.normal(scores).to_dict()
        self.calibration_ = {**cut.to_dict(), "margin": self.margin}  # how the cut was set, for the card


class AutoencoderDetector(Deep, Detector):
    """Convolutional autoencoder; the threshold is POT (``"pot"``) or a quantile (``"quantile"``) of
    held-out normal scores at ``risk``. Contributions are squared reconstruction errors per sensor, in
    units of that sensor's typical error on the training windows, so a noisy sensor does not drown a
    quiet one."""

    def __init__(
        self,
        channels: int = 32,
        kernel: int = 7,
        dropout: float = 0.2,
        epochs: int = 60,
        batch: int = 32,
        lr: float = 1e-3,
        patience: int = 8,
        threshold: str = "pot",
        risk: float = 1e-3,
        margin: float = 1.0,
        validation: float = 0.2,
        seed: int = 0,
        progress: bool = False,
        init_from: str | None = None,
    ) -> None:
        self.channels, self.kernel, self.dropout = channels, kernel, dropout
        self.epochs, self.batch, self.lr, self.patience = epochs, batch, lr, patience
        self.threshold, self.risk, self.margin, self.validation = threshold, risk, margin, validation
        self.seed, self.progress, self.init_from = seed, progress, init_from

    def fit(
        self, x: np.ndarray, y: Any = None, x_val: np.ndarray | None = None, y_val: Any = None, on_epoch: Any = None
    ) -> AutoencoderDetector:
        same_length(windows(x), y)  # y is unused (unsupervised) but must still match when given
        x, x_val = self._split(x, x_val)
        loop.seed_everything(self.seed)
        self.net_ = ConvAutoencoder(x.shape[2], x.shape[1], self.channels, self.kernel, self.dropout)
        loop.warm_start(self.net_, self.init_from)
        self.net_.scale.fill_(1.0)  # the parent's error scale is re-measured on this data below
        schedule = loop.Schedule(
            self.epochs,
            self.batch,
            self.lr,
            patience=self.patience,
            seed=self.seed,
            progress=self.progress,
            desc="anomaly",
        )
        train, held_out = (x, np.zeros(len(x))), (x_val, np.zeros(len(x_val)))  # the loss is the output: no targets
        self.history_ = loop.fit(self.net_, reconstruction_loss, train, held_out, schedule, on_epoch)
        typical = np.median(self.predict(x), axis=0)
        self.net_.scale.copy_(torch.as_tensor(np.maximum(typical, 1e-6), dtype=torch.float32))
        self._set_threshold(x_val)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)


class PCADetector(Deep, Detector):
    """PCA on the latest sample of each window: Hotelling's T² in the model plane plus Q (the squared
    residual) off it, the classic T²+Q monitor. Each term is divided by its mean on training data; Q
    splits over sensors by their residuals and T² is spread evenly. The fitted monitor is also a graph
    (``net_``, `prognos.models.monitor.PCAMonitor`), so it exports and serves as the deep detector does."""

    def __init__(
        self,
        variance: float = 0.9,
        threshold: str = "pot",
        risk: float = 1e-3,
        margin: float = 1.0,
        validation: float = 0.2,
    ) -> None:
        self.variance, self.threshold, self.risk, self.margin = variance, threshold, risk, margin
        self.validation = validation

    def fit(self, x: np.ndarray, y: Any = None, x_val: np.ndarray | None = None, y_val: Any = None) -> PCADetector:
        from sklearn.decomposition import PCA

        same_length(windows(x), y)
        x, x_val = self._split(x, x_val)
        self.sensors_ = x.shape[2]
        self.pca_ = PCA(n_components=self.variance, svd_solver="full").fit(x[:, -1])
        self.t2_ref_ = self.q_ref_ = 1.0
        t2, q = self._terms(x)
        self.t2_ref_, self.q_ref_ = max(float(t2.mean()), 1e-9), max(float(q.sum(axis=1).mean()), 1e-9)
        pca = self.pca_
        self.net_ = PCAMonitor(pca.mean_, pca.components_, pca.explained_variance_, self.t2_ref_, self.q_ref_)
        self._set_threshold(x_val)
        return self

    def _terms(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = windows(x, "x", self.sensors_)[:, -1]
        t = self.pca_.transform(p)
        t2 = (t**2 / self.pca_.explained_variance_).sum(axis=1)
        q = (p - self.pca_.inverse_transform(t)) ** 2
        return t2 / self.t2_ref_, q / self.q_ref_

    def predict(self, x: np.ndarray) -> np.ndarray:
        t2, q = self._terms(x)
        return q + t2[:, None] / self.sensors_
