"""C-MAPSS remaining useful life, under the published protocol.

Training labels are piece-wise linear RUL capped at 125; model selection (early stopping) uses
validation units drawn from the training file only; the scaler is fitted on the training units only;
each test unit is scored once, on the window ending at its last cycle (shorter units padded), against
the raw ``RUL_FD00x.txt``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from prognos.datasets import cmapss
from prognos.features import RegimeScaler, by_unit, last_window, rul, sliding, window_ends
from prognos.train.metrics import coverage, nasa_score, rmse
from prognos.train.rul import RULRegressor


@dataclass(frozen=True)
class RULConfig:
    window: int = 30
    cap: float = 125.0
    channels: int = 16
    kernel: int = 9
    layers: int = 3
    hidden: int = 32
    dropout: float = 0.5
    epochs: int = 80
    batch: int = 256
    lr: float = 1e-3
    patience: int = 12
    validation: float = 0.2


@dataclass
class Prepared:
    x: np.ndarray  # (windows, window, sensors)
    y: np.ndarray
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


def prepare(data: cmapss.Subset, cfg: RULConfig, seed: int) -> Prepared:
    sensors = cmapss.INFORMATIVE
    tr = data.train
    train_rows, val_rows = by_unit(tr.unit, cfg.validation, seed)
    scaler = RegimeScaler(cmapss.REGIMES[data.name], seed).fit(tr.columns(sensors)[train_rows], tr.settings[train_rows])
    z = scaler.transform(tr.columns(sensors), tr.settings)
    parts: dict[bool, tuple[list[np.ndarray], list[np.ndarray]]] = {True: ([], []), False: ([], [])}
    for unit in tr.ids():
        rows = tr.of(unit)
        xs, ys = parts[bool(val_rows[rows.start])]
        xs.append(sliding(z[rows], cfg.window))
        ys.append(rul(rows.stop - rows.start, cfg.cap)[window_ends(rows.stop - rows.start, cfg.window)])
    zt = scaler.transform(data.test.columns(sensors), data.test.settings)
    x_test = np.stack([last_window(zt[data.test.of(u)], cfg.window) for u in data.test.ids()])
    return Prepared(np.concatenate(parts[False][0]), np.concatenate(parts[False][1]),
                    np.concatenate(parts[True][0]), np.concatenate(parts[True][1]),
                    x_test, data.test_rul.astype(np.float64), scaler, sensors)  # fmt: skip


def train(
    data: cmapss.Subset, cfg: RULConfig = RULConfig(), seed: int = 0, progress: bool = True
) -> tuple[RULRegressor, Prepared, Result]:
    p = prepare(data, cfg, seed)
    model = RULRegressor(cfg.channels, cfg.kernel, cfg.layers, cfg.hidden, cfg.dropout, cfg.epochs, cfg.batch, cfg.lr,
                         cfg.patience, cfg.cap, seed, progress)  # fmt: skip
    t = time.perf_counter()
    model.fit(p.x, p.y, p.x_val, p.y_val)
    seconds = time.perf_counter() - t
    q = model.predict(p.x_test)
    result = Result(data.name, seed, rmse(q[:, 1], p.y_test), nasa_score(q[:, 1], p.y_test),
                    coverage(q[:, 0], q[:, 2], p.y_test), seconds, len(model.history_.train), asdict(cfg))  # fmt: skip
    return model, p, result
