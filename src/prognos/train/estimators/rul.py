"""Remaining useful life: a deep multi-scale trend network and a gradient-boosting baseline, one contract
(`RULEstimator`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from prognos.errors import InvalidInput
from prognos.features import summaries
from prognos.models.rul import QUANTILES, SCALES, Ensemble, RULNet, pinball
from prognos.train import loop
from prognos.train.estimators.base import Deep, Estimator
from prognos.train.estimators.inputs import same_length, windows

CALIBRATION_MIN = 50  # declining-life windows needed to calibrate the interval on them alone


class RULEstimator(Estimator):
    """The remaining-life family: windows (n, window, sensors) → (n, 3) quantiles 10 %, 50 %, 90 % of RUL in the
    targets' units."""

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None, y_val: np.ndarray | None = None
    ) -> RULEstimator:
        raise NotImplementedError

    def predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class RULRegressor(Deep, RULEstimator):
    """Windows (n, window, sensors) → RUL quantiles (n, 3): 10 %, 50 %, 90 %.

    The constructor only stores hyper-parameters; `fit` builds ``net_`` and ``history_`` (one per member).
    Targets are learned in units of ``cap`` so that the loss sees numbers near 1.

    With ``folds`` > 1, `fit` takes ``groups`` (the unit of each window) and trains one member per
    fold of units, each early-stopped on its own held-out fold; ``net_`` averages them. Every unit
    trains some member and validates another, so no unit is wasted on validation alone.
    """

    def __init__(
        self,
        scales: tuple[int, ...] | list[int] = SCALES,
        hidden: int = 64,
        dropout: float = 0.2,
        noise: float = 0.3,
        folds: int = 1,
        epochs: int = 200,
        batch: int = 256,
        lr: float = 1e-3,
        patience: int = 40,
        cap: float = 125.0,
        seed: int = 0,
        progress: bool = False,
        init_from: str | None = None,
    ) -> None:
        self.scales, self.hidden, self.dropout, self.noise, self.folds = list(scales), hidden, dropout, noise, folds
        self.epochs, self.batch, self.lr, self.patience = epochs, batch, lr, patience
        self.cap, self.seed, self.progress, self.init_from = cap, seed, progress, init_from

    net_: RULNet | Ensemble

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        on_epoch: loop.EpochHook | None = None,
        groups: np.ndarray | None = None,
    ) -> RULRegressor:
        windows(x, "x")
        same_length(x, y, "y")
        loop.seed_everything(self.seed)
        if self.folds > 1:
            parts = self._folds(x, groups)
            self.net_ = ensemble = Ensemble([self._net(x) for _ in parts])
            loop.warm_start(ensemble, self.init_from)
            self.history_ = [
                self._train(m, (x[~v], y[~v]), (x[v], y[v]), on_epoch, f"rul {i + 1}/{len(parts)}", i)
                for i, (m, v) in enumerate(zip(ensemble.members, parts, strict=True))
            ]
            self._calibrate(ensemble, parts, x, y)
            return self
        if x_val is None or y_val is None:
            raise InvalidInput(
                "x_val, y_val: a single RUL network needs validation windows (or use folds > 1 with groups)",
                field="x_val",
            )
        windows(x_val, "x_val", x.shape[2])
        same_length(x_val, y_val, "y_val")
        self.net_ = self._net(x)
        loop.warm_start(self.net_, self.init_from)
        self.history_ = [self._train(self.net_, (x, y), (x_val, y_val), on_epoch, "rul", 0)]
        return self

    def _calibrate(self, ensemble: Ensemble, parts: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
        """Conformalised quantile regression (Romano et al. 2019) on out-of-fold windows: widen the
        interval by the error quantile that makes it cover 80 % of windows of units a member never saw.

        Calibrated toward the end of life: windows whose remaining life is beyond the cap sit on the flat, easy
        part of the target and would make the interval narrowest where it matters most, so the declining part
        alone sets the width when it holds enough windows (``CALIBRATION_MIN``)."""
        scores, targets = [], []
        for member, held_out in zip(ensemble.members, parts, strict=True):
            q = loop.predict(member, x[held_out])
            target = y[held_out] / self.cap
            scores.append(np.maximum(q[:, 0] - target, target - q[:, 2]))
            targets.append(target)
        s, t = np.concatenate(scores), np.concatenate(targets)
        if (t < 1.0).sum() >= CALIBRATION_MIN:
            s = s[t < 1.0]
        level = min(1.0, np.ceil((len(s) + 1) * (QUANTILES[2] - QUANTILES[0])) / len(s))
        ensemble.widen.fill_(max(0.0, float(np.quantile(s, level))))

    def _net(self, x: np.ndarray) -> RULNet:
        return RULNet(x.shape[2], x.shape[1], self.scales, self.hidden, self.dropout, self.noise)

    def _folds(self, x: np.ndarray, groups: np.ndarray | None) -> list[np.ndarray]:
        """One boolean mask per fold: True for the windows of that fold's held-out units."""
        if groups is None or len(groups) != len(x):
            raise InvalidInput(f"groups: folds={self.folds} needs the unit of every window", field="groups")
        units = np.random.default_rng(self.seed).permutation(np.unique(groups))
        if len(units) < self.folds:
            raise InvalidInput(
                f"groups: {len(units)} units cannot make {self.folds} folds", field="groups", value=len(units)
            )
        return [np.isin(groups, part) for part in np.array_split(units, self.folds)]

    def _train(
        self,
        net: Any,
        train: tuple[np.ndarray, np.ndarray],
        validation: tuple[np.ndarray, np.ndarray],
        on_epoch: loop.EpochHook | None,
        desc: str,
        member: int,
    ) -> loop.History:
        """One network on targets in units of the cap; each member of an ensemble on its own seed."""
        (x, y), (xv, yv) = train, validation
        schedule = loop.Schedule(
            self.epochs,
            self.batch,
            self.lr,
            patience=self.patience,
            seed=self.seed * 100 + member,
            progress=self.progress,
            desc=desc,
        )
        return loop.fit(net, pinball, (x, y / self.cap), (xv, yv / self.cap), schedule, on_epoch)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x) * self.cap


class GradientBoostingRUL(RULEstimator):
    """Gradient-boosted trees on window summaries (last, mean, slope, recent mean per sensor).

    Predicts the centre only; the 10 %/90 % columns repeat it (no interval), so it drops into the
    same report as `RULRegressor`.
    """

    def __init__(self, max_iter: int = 300, learning_rate: float = 0.05, seed: int = 0) -> None:
        self.max_iter, self.learning_rate, self.seed = max_iter, learning_rate, seed

    def fit(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None, y_val: np.ndarray | None = None
    ) -> GradientBoostingRUL:
        from sklearn.ensemble import HistGradientBoostingRegressor

        windows(x, "x")
        same_length(x, y, "y")
        self.sensors_ = x.shape[2]
        self.model_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate, random_state=self.seed
        ).fit(summaries(x), y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        mid = self.model_.predict(summaries(windows(x, "x", self.sensors_)))
        return np.stack([mid, mid, mid], axis=1)
