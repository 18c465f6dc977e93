"""Classic baselines beside the deep models, with the same contract and the same report."""

from __future__ import annotations

from typing import Any

import numpy as np

from prognos.features import summaries


class GradientBoostingRUL:
    """Gradient-boosted trees on window summaries (last, mean, slope, recent mean per sensor).

    Predicts the centre only; the 10 %/90 % columns repeat it (no interval), so it drops into the
    same report as `RULRegressor`.
    """

    def __init__(self, max_iter: int = 300, learning_rate: float = 0.05, seed: int = 0) -> None:
        self.max_iter, self.learning_rate, self.seed = max_iter, learning_rate, seed

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None, y_val: Any = None
    ) -> GradientBoostingRUL:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.model_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate, random_state=self.seed
        ).fit(summaries(x), y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        mid = self.model_.predict(summaries(x))
        return np.stack([mid, mid, mid], axis=1)
