"""C-MAPSS remaining useful life, under the published protocol.

Training labels are piece-wise linear RUL capped at 125; model selection (early stopping) uses
validation units drawn from the training file only (with ``folds`` > 1, each member of the ensemble
stops on its own held-out fold of training units); the scaler is fitted on the training units only;
each test unit is scored once, on the window ending at its last cycle (shorter units padded, as the
training windows near a unit's start are), against the raw ``RUL_FD00x.txt``.

The input is the 14 informative sensors plus the cycle count (``age``): how long an engine has run
is known at every cycle, in the test files as in service, and it tells wear the sensors only hint at.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from prognos.datasets import cmapss
from prognos.features import RegimeScaler, by_unit, last_window, rul, sliding, window_ends
from prognos.models.rul import SCALES
from prognos.train.metrics import coverage, nasa_score, rmse
from prognos.train.rul import RULRegressor


@dataclass(frozen=True)
class RULConfig:
    window: int = 100
    pad: bool = True
    age: bool = True
    cap: float = 125.0
    scales: tuple[int, ...] = SCALES
    hidden: int = 64
    dropout: float = 0.2
    noise: float = 0.3
    folds: int = 5
    epochs: int = 200
    batch: int = 256
    lr: float = 1e-3
    patience: int = 40
    validation: float = 0.2  # share of units held out when folds == 1


@dataclass
class Prepared:
    x: np.ndarray  # (windows, window, sensors)
    y: np.ndarray
    groups: np.ndarray  # the unit of each window of x
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray  # one window per test unit
    y_test: np.ndarray  # raw RUL after the last cycle
    scaler: RegimeScaler
    sensors: list[str]


@dataclass
class Result:
    subset: str
    seed: int
    rmse: float
    score: float
    coverage_80: float
    train_seconds: float
    epochs: int
    config: dict[str, Any] = field(default_factory=dict)


def columns(units: cmapss.Units, cfg: RULConfig) -> np.ndarray:
    x = units.columns(cmapss.INFORMATIVE)
    return np.column_stack([x, units.cycle]) if cfg.age else x


def prepare(data: cmapss.Subset, cfg: RULConfig, seed: int) -> Prepared:
    sensors = cmapss.INFORMATIVE + (["cycle"] if cfg.age else [])
    tr = data.train
    if cfg.folds > 1:  # every unit trains; the estimator holds folds out itself
        train_rows, val_rows = np.ones(len(tr.unit), dtype=bool), np.zeros(len(tr.unit), dtype=bool)
    else:
        train_rows, val_rows = by_unit(tr.unit, cfg.validation, seed)
    scaler = RegimeScaler(cmapss.REGIMES[data.name], seed).fit(columns(tr, cfg)[train_rows], tr.settings[train_rows])
    z = scaler.transform(columns(tr, cfg), tr.settings)
    parts: dict[bool, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {
        b: ([], [], []) for b in (True, False)
    }
    for unit in tr.ids():
        rows = tr.of(unit)
        n = rows.stop - rows.start
        xs, ys, gs = parts[bool(val_rows[rows.start])]
        xs.append(sliding(z[rows], cfg.window, pad=cfg.pad))
        ys.append(rul(n, cfg.cap)[window_ends(n, cfg.window, pad=cfg.pad)])
        gs.append(np.full(len(xs[-1]), unit))
    zt = scaler.transform(columns(data.test, cfg), data.test.settings)
    x_test = np.stack([last_window(zt[data.test.of(u)], cfg.window) for u in data.test.ids()])
    (x, y, g), (xv, yv, _) = ([_cat(a, cfg, len(sensors)) for a in parts[k]] for k in (False, True))
    return Prepared(x, y, g, xv, yv, x_test, data.test_rul.astype(np.float64), scaler, sensors)


def _cat(arrays: list[np.ndarray], cfg: RULConfig, sensors: int) -> np.ndarray:
    if arrays:
        return np.concatenate(arrays)
    return np.empty((0, cfg.window, sensors))


def train(
    data: cmapss.Subset, cfg: RULConfig = RULConfig(), seed: int = 0, progress: bool = True
) -> tuple[RULRegressor, Prepared, Result]:
    p = prepare(data, cfg, seed)
    model = RULRegressor(
        cfg.scales,
        cfg.hidden,
        cfg.dropout,
        cfg.noise,
        cfg.folds,
        cfg.epochs,
        cfg.batch,
        cfg.lr,
        cfg.patience,
        cfg.cap,
        seed,
        progress,
    )
    t = time.perf_counter()
    model.fit(p.x, p.y, p.x_val, p.y_val, groups=p.groups)
    seconds = time.perf_counter() - t
    q = model.predict(p.x_test)
    epochs = sum(len(h.train) for h in model.history_)
    result = Result(
        data.name,
        seed,
        rmse(q[:, 1], p.y_test),
        nasa_score(q[:, 1], p.y_test),
        coverage(q[:, 0], q[:, 2], p.y_test),
        seconds,
        epochs,
        asdict(cfg),
    )
    return model, p, result
