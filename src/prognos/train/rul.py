"""The RUL estimator: hyper-parameters in, fitted network out (scikit-learn's contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from prognos.models.rul import RULNet, pinball
from prognos.train import export, loop
from prognos.train.inputs import same_length, windows


class RULRegressor:
    """Windows (n, window, sensors) → RUL quantiles (n, 3): 10 %, 50 %, 90 %.

    The constructor only stores hyper-parameters; `fit` builds ``net_`` and ``history_``.
    Targets are learned in units of ``cap`` so that the loss sees numbers near 1.
    """

    def __init__(self, channels: int = 16, kernel: int = 9, layers: int = 3, hidden: int = 32,
                 dropout: float = 0.5, epochs: int = 80, batch: int = 256, lr: float = 1e-3, patience: int = 12,
                 cap: float = 125.0, seed: int = 0, progress: bool = False,
                 init_from: str | None = None) -> None:  # fmt: skip
        self.channels, self.kernel, self.layers, self.hidden, self.dropout = channels, kernel, layers, hidden, dropout
        self.epochs, self.batch, self.lr, self.patience = epochs, batch, lr, patience
        self.cap, self.seed, self.progress, self.init_from = cap, seed, progress, init_from

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
            on_epoch: loop.EpochHook | None = None) -> RULRegressor:  # fmt: skip
        windows(x, "x")
        windows(x_val, "x_val", x.shape[2])
        same_length(x, y, "y")
        same_length(x_val, y_val, "y_val")
        loop.seed_everything(self.seed)
        self.net_ = RULNet(x.shape[2], x.shape[1], self.channels, self.kernel, self.layers, self.hidden, self.dropout)
        loop.warm_start(self.net_, self.init_from)
        self.history_ = loop.fit(self.net_, pinball, x, y / self.cap, x_val, y_val / self.cap, epochs=self.epochs,
                                 batch=self.batch, lr=self.lr, patience=self.patience, seed=self.seed,
                                 progress=self.progress, desc="rul", on_epoch=on_epoch)  # fmt: skip
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        windows(x, "x", self.net_.sensors)
        return loop.predict(self.net_, x) * self.cap

    def to_onnx(self, path: str | Path, example: np.ndarray) -> Path:
        """Export; the ONNX graph outputs quantiles in units of ``cap`` (multiply to get cycles)."""
        return export.to_onnx(self.net_, example, path)
