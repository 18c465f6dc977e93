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

import statistics
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from prognos.datasets import cmapss
from prognos.evaluate.metrics import coverage, nasa_score, rmse
from prognos.evaluate.report import Benchmark, Run, share, table
from prognos.features import RegimeScaler, by_unit, last_window, rul, sliding, window_ends
from prognos.train.estimators import GradientBoostingRUL, RULRegressor


@dataclass(frozen=True)
class RULConfig:
    """The protocol's windows, and what it asks of the estimator beyond `RULRegressor`'s own defaults."""

    window: int = 100
    pad: bool = True  # windows for a unit's first cycles too, padded as a short test unit is
    age: bool = True  # the cycle count as an input
    validation: float = 0.2  # share of units held out when the estimator trains a single fold
    estimator: Mapping[str, Any] = field(default_factory=lambda: {"folds": 5})

    def regressor(self, seed: int = 0, progress: bool = False) -> RULRegressor:
        return RULRegressor(**self.estimator, seed=seed, progress=progress)

    def tuned(self, **params: Any) -> RULConfig:
        """The same protocol with these estimator settings changed."""
        return replace(self, estimator={**self.estimator, **params})


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
    settings = cfg.regressor()
    if settings.folds > 1:  # every unit trains; the estimator holds folds out itself
        train_rows, val_rows = np.ones(len(tr.unit), dtype=bool), np.zeros(len(tr.unit), dtype=bool)
    else:
        train_rows, val_rows = by_unit(tr.unit, cfg.validation, seed)
    scaler = RegimeScaler("auto", seed).fit(columns(tr, cfg)[train_rows], tr.settings[train_rows])
    z = scaler.transform(columns(tr, cfg), tr.settings)
    parts: dict[bool, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {
        b: ([], [], []) for b in (True, False)
    }
    for unit in tr.ids():
        rows = tr.of(unit)
        n = rows.stop - rows.start
        xs, ys, gs = parts[bool(val_rows[rows.start])]
        xs.append(sliding(z[rows], cfg.window, pad=cfg.pad))
        ys.append(rul(n, settings.cap)[window_ends(n, cfg.window, pad=cfg.pad)])
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
    model = cfg.regressor(seed, progress)
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


# Best published (RMSE, score) per subset, from the data README's table (STAR 2024, FFVE, DAST).
PUBLISHED = {"FD001": (10.61, 169.0), "FD002": (12.55, 772.0), "FD003": (10.71, 154.9), "FD004": (14.08, 1149.0)}


DEEP = "multi-scale trend net, 5-fold ensemble (deep)"


@dataclass
class Row:
    subset: str
    model: str
    rmse: float
    score: float
    rmse_clipped: float
    coverage_80: float | None
    coverage_80_capped: float | None  # of the truth capped as the target is: what the interval is an interval of
    floor: float  # the RMSE against the raw file of a perfect prediction of the capped target
    train_seconds: float
    rmse_per_seed: list[float]
    published_rmse: float
    published_score: float


def rows(run: Run) -> list[Row]:
    """Our deep model and the classic baseline on every subset asked for, medians over seeds."""
    cfg = RULConfig() if run.epochs is None else RULConfig().tuned(epochs=run.epochs)
    out = []
    for name in run.subsets or cmapss.SUBSETS:
        data = cmapss.load(run.root, name)
        runs: dict[str, list[tuple[float, float, float, float | None, float, float | None]]] = {
            "deep": [],
            "classic": [],
        }
        floor = 0.0
        for seed in range(run.seeds):
            model, p, r = train(data, cfg, seed=seed, progress=False)
            clipped = np.minimum(p.y_test, model.cap)
            q = model.predict(p.x_test)
            capped = coverage(q[:, 0], q[:, 2], clipped)
            runs["deep"].append((r.rmse, r.score, rmse(q[:, 1], clipped), r.coverage_80, r.train_seconds, capped))
            floor = rmse(clipped, p.y_test)
            t = time.perf_counter()
            gb = GradientBoostingRUL(seed=seed).fit(p.x, p.y)
            seconds = time.perf_counter() - t
            mid = gb.predict(p.x_test)[:, 1]
            classic = (rmse(mid, p.y_test), nasa_score(mid, p.y_test), rmse(mid, clipped), None, seconds, None)
            runs["classic"].append(classic)
        for key, label in (("deep", DEEP), ("classic", "gradient boosting (classic)")):
            v = runs[key]
            cov = [x[3] for x in v if x[3] is not None]
            cov_capped = [x[5] for x in v if x[5] is not None]
            out.append(
                Row(
                    subset=data.name,
                    model=label,
                    rmse=statistics.median(x[0] for x in v),
                    score=statistics.median(x[1] for x in v),
                    rmse_clipped=statistics.median(x[2] for x in v),
                    coverage_80=statistics.median(cov) if cov else None,
                    coverage_80_capped=statistics.median(cov_capped) if cov_capped else None,
                    floor=floor,
                    train_seconds=statistics.median(x[4] for x in v),
                    rmse_per_seed=[x[0] for x in v],
                    published_rmse=PUBLISHED[data.name][0],
                    published_score=PUBLISHED[data.name][1],
                )
            )
    return out


def markdown(rows: list[Row]) -> str:
    header = (
        "subset | model | RMSE | NASA score | RMSE (truth ≤ 125) | capped target's floor | 80 % interval coverage "
        "(of truth ≤ 125) | train s | best published RMSE / score"
    )
    cells = (
        f"{r.subset} | {r.model} | {r.rmse:.2f} | {r.score:.1f} | {r.rmse_clipped:.2f} | {r.floor:.2f} | "
        f"{share(r.coverage_80)} ({share(r.coverage_80_capped)}) | {r.train_seconds:.1f} | "
        f"{r.published_rmse} / {r.published_score}"
        for r in rows
    )
    return table(header, "llrrrrrrl", cells)


PROTOCOL = (
    "Piece-wise linear RUL capped at 125 for training (../shared/data/cmapss/README.md); scaler fitted and early "
    "stopping done on training units only; one prediction per test unit on the window ending at its last cycle; "
    "RMSE and NASA score against the raw RUL file (primary) and RMSE against truth clipped at 125 (as some papers "
    "report). The capped target's floor is the RMSE against the raw file of a model that knew the capped truth "
    "exactly: no model trained on the capped target can go below it against the raw file (engines whose truth is "
    "beyond the cap). Interval coverage against the raw file, and in brackets against the truth capped as the target "
    "is. Medians over seeds."
)
BENCHMARK = Benchmark("cmapss", "C-MAPSS remaining useful life", PROTOCOL, rows, markdown)
