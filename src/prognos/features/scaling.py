"""Scaling fitted on training data only, optionally per operating regime; applied with numpy alone.

`fit` may use scikit-learn (k-means to find regimes); `transform` needs only numpy and the fitted
state, which round-trips through `to_dict` / `from_dict` into the model card, so the server applies
exactly what training fitted without importing a training library.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prognos.errors import InvalidInput


class RegimeScaler:
    """Standardise each sensor (zero mean, unit variance) within its operating regime.

    With ``regimes=1`` this is a plain standard scaler. With more, training rows are clustered on
    the operating-setting columns (k-means), and each sensor is standardised with the statistics of
    its row's regime: C-MAPSS FD002/FD004 run in 6 flight conditions that move every sensor more
    than wear does. ``regimes="auto"`` finds the number from the settings themselves: the k from 2 to
    ``MOST`` whose clusters separate best (silhouette on a sample), taken only when they are clearly
    distinct operating points (silhouette ≥ ``DISTINCT``), else one regime — settings that merely wander
    (noise around one operating point) are not regimes. The number found is what the card records.

    ``columns`` names which columns of ``x`` itself are the settings (indices), for data that carries its
    operating point among its inputs — a telemetry stream's set speed or load: `fit` and `transform` then read
    the settings from ``x``, and the card's scaler needs nothing beside the window to apply them.

    >>> x = np.array([[0.0, 10.0], [0.0, 12.0], [1.0, 20.0], [1.0, 24.0]])
    >>> s = RegimeScaler(regimes=2, seed=0).fit(x[:, 1:], settings=x[:, :1])
    >>> s.transform(x[:, 1:], settings=x[:, :1]).ravel().tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """

    def __init__(
        self, regimes: int | str = 1, seed: int = 0, eps: float = 1e-8, columns: list[int] | None = None
    ) -> None:
        if regimes != "auto" and not (isinstance(regimes, int) and regimes >= 1):
            raise InvalidInput(
                f"regimes: expected a count ≥ 1 or 'auto', got {regimes!r}", field="regimes", value=regimes
            )
        self.regimes = regimes
        self.seed = seed
        self.eps = eps
        self.columns = list(columns) if columns else None

    def fit(self, x: np.ndarray, settings: np.ndarray | None = None) -> RegimeScaler:
        x = _matrix(x, "x")
        settings = self._settings(x, settings)
        if self.regimes == "auto":
            self.regimes = 1 if settings is None else regimes_in(_matrix(settings, "settings"), self.seed)
        if int(self.regimes) > 1:
            if settings is None:
                raise InvalidInput("regime scaling needs the operating settings", field="settings")
            from sklearn.cluster import KMeans

            km = KMeans(n_clusters=self.regimes, n_init=10, random_state=self.seed).fit(_matrix(settings, "settings"))
            self.centres_ = km.cluster_centers_
            labels = km.labels_
        else:
            self.centres_ = np.zeros((1, 0 if settings is None else np.asarray(settings).shape[1]))
            labels = np.zeros(len(x), dtype=np.int64)
        self.mean_ = np.stack([x[labels == r].mean(axis=0) for r in range(len(self.centres_))])
        self.scale_ = np.stack([x[labels == r].std(axis=0) for r in range(len(self.centres_))])
        self.scale_ = np.where(self.scale_ < self.eps, 1.0, self.scale_)  # constant sensors pass through centred
        return self

    def regime(self, settings: np.ndarray | None, n: int) -> np.ndarray:
        if len(self.centres_) == 1:
            return np.zeros(n, dtype=np.int64)
        s = _matrix(settings, "settings")
        return np.argmin(((s[:, None, :] - self.centres_[None]) ** 2).sum(-1), axis=1)

    def transform(self, x: np.ndarray, settings: np.ndarray | None = None) -> np.ndarray:
        x = _matrix(x, "x")
        if x.shape[1] != self.mean_.shape[1]:
            raise InvalidInput(f"expected {self.mean_.shape[1]} sensors, got {x.shape[1]}", field="x", value=x.shape[1])
        r = self.regime(self._settings(x, settings), len(x))
        return (x - self.mean_[r]) / self.scale_[r]

    def _settings(self, x: np.ndarray, settings: np.ndarray | None) -> np.ndarray | None:
        if settings is not None or not self.columns:
            return settings
        if max(self.columns) >= x.shape[1]:
            raise InvalidInput(
                f"settings columns {self.columns} do not fit {x.shape[1]} inputs", field="columns", value=self.columns
            )
        return x[:, self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {
            "regimes": self.regimes,
            "seed": self.seed,
            "columns": self.columns,
            "centres": self.centres_.tolist(),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegimeScaler:
        s = cls(regimes=d["regimes"], seed=d["seed"], columns=d.get("columns"))
        s.centres_, s.mean_, s.scale_ = (np.asarray(d[k], dtype=np.float64) for k in ("centres", "mean", "scale"))
        return s


MOST = 8  # regimes looked for, at most
DISTINCT = 0.75  # the silhouette above which clusters of settings count as distinct operating points
SAMPLE = 3000  # rows the choice is made on


def regimes_in(settings: np.ndarray, seed: int = 0) -> int:
    """How many distinct operating points ``settings`` (rows, columns) hold: 1 unless clusters stand apart.

    >>> rng = np.random.default_rng(0)
    >>> points = np.repeat([[0.0, 0.0], [10.0, 1.0], [20.0, 0.0]], 200, axis=0)
    >>> regimes_in(points + rng.normal(0, 0.1, points.shape)), regimes_in(rng.normal(0, 1.0, (600, 2)))
    (3, 1)
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    sample = settings[rng.choice(len(settings), min(len(settings), SAMPLE), replace=False)]
    if len(np.unique(sample, axis=0)) <= MOST:
        return max(1, len(np.unique(sample, axis=0)))  # a handful of exact set points: each is a regime
    best, found = DISTINCT, 1
    for k in range(2, MOST + 1):
        labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(sample).labels_
        score = float(silhouette_score(sample, labels))
        if score >= best:
            best, found = score, k
    return found


def _matrix(x: Any, field: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise InvalidInput(f"{field}: expected a 2-d array (samples, columns), got shape {a.shape}", field=field)
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise InvalidInput(f"{field}: {bad} values are NaN or infinite", field=field, value=bad)
    return a
