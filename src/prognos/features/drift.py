"""Drift: is what a model sees now (or says now) distributed like what it was trained on? Pure numpy, shared by
training, which writes the reference into the model card, and the stream, which measures against it.

At training time `reference` summarises each input feature (in the model's scaled units) — decile
edges with the share of training values in each bin, and 101 quantiles — and the summary goes in
the model card. At run time `Drift` keeps the most recent values per feature and compares them:

- PSI (population stability index) over the reference bins: < 0.1 stable, 0.1–0.25 moderate,
  > 0.25 a real shift (the usual reading);
- KS: the largest gap between the reference CDF (interpolated from its quantiles) and the recent
  values' empirical CDF, in [0, 1].

Both become signals (``drift.psi``, ``drift.ks``, and per feature ``drift.psi.<sensor>``) that the
alert rules see like any other.

Prediction drift is the same measure over what the model outputs (`output_columns`: the anomaly score, the
RUL median, each class's probability), against the card's ``reference_output`` taken from the
training windows; its signals are ``drift.pred.psi`` and ``drift.pred.ks``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EPS = 1e-4  # an empty bin counts as this share: PSI stays finite


def reference(x: np.ndarray, names: list[str], bins: int = 10) -> dict[str, Any]:
    """The card's summary of training inputs ``x`` (rows, features)."""
    x = np.asarray(x, dtype=float)
    out: dict[str, Any] = {"bins": bins, "n": len(x), "features": {}}
    for j, name in enumerate(names):
        v = x[:, j][np.isfinite(x[:, j])]
        edges = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))
        out["features"][name] = {
            "edges": edges.tolist(),
            "expected": _shares(v, edges).tolist(),
            "quantiles": np.quantile(v, np.linspace(0, 1, 101)).tolist(),
        }
    return out


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.maximum(expected, EPS), np.maximum(actual, EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def ks(quantiles: np.ndarray, sample: np.ndarray, presorted: bool = False) -> float:
    """sup |F_ref − F_sample|, with F_ref interpolated from the reference's 101 quantiles."""
    s = sample if presorted else np.sort(sample)
    n = len(s)
    ref = np.interp(s, quantiles, np.linspace(0, 1, len(quantiles)))
    above = np.arange(1, n + 1) / n - ref
    below = ref - np.arange(0, n) / n
    return float(max(above.max(), below.max(), 0.0))


def output_columns(task: str, y: np.ndarray, output: dict[str, Any]) -> dict[str, np.ndarray]:
    """A model's raw output rows → the columns prediction drift watches, in the units the signals use."""
    y = np.asarray(y, dtype=float).reshape(len(y), -1)
    if task == "anomaly":
        return {"score": y.sum(axis=1)}
    if task == "rul":
        levels = list(output.get("quantiles", [0.5]))
        j = levels.index(0.5) if 0.5 in levels else 0
        return {"p50": y[:, j] * float(output.get("scale") or 1.0)}
    if task == "classify":
        classes = output.get("classes") or list(range(y.shape[1]))
        return {f"prob.{c}": y[:, k] for k, c in enumerate(classes)}
    return {"out": y[:, 0]}


class Drift:
    """Recent values per feature (``size`` rows); `add` recomputes every ``every`` rows once the window is full.

    ``prefix`` names the signals: ``drift`` for inputs, ``drift.pred`` for outputs. The recent rows live in a
    ring buffer (PSI and KS do not care for their order) and the reference as arrays, so a batch of a
    thousand windows adds in a copy and a measure costs one sort: it runs on the stream's decision path.
    """

    def __init__(
        self, ref: dict[str, Any], names: list[str], size: int = 500, every: int = 50, prefix: str = "drift"
    ) -> None:
        self.prefix = prefix
        self.names = [n for n in names if n in ref["features"]]
        self._index = np.array([names.index(n) for n in self.names], dtype=np.intp)
        feats = [ref["features"][n] for n in self.names]
        self._edges = [np.asarray(f["edges"], dtype=float) for f in feats]
        self._expected = [np.asarray(f["expected"], dtype=float) for f in feats]
        self._quantiles = [np.asarray(f["quantiles"], dtype=float) for f in feats]
        self._rows = np.full((size, len(self.names)), np.nan)
        self._held = 0  # rows in the buffer
        self._next = 0  # where the next row goes
        self.size, self.every = size, every
        self._since = 0
        self.last: dict[str, float] = {}
        self.measured = 0  # how many times the signals were computed

    def add(self, rows: np.ndarray) -> dict[str, float]:
        """Take rows (n, features); the current drift signals (recomputed when due, once enough rows are in)."""
        x = np.asarray(rows, dtype=float)[:, self._index][-self.size :]
        k = len(x)
        first = min(k, self.size - self._next)
        self._rows[self._next : self._next + first] = x[:first]
        self._rows[: k - first] = x[first:]
        self._next = (self._next + k) % self.size
        self._held = min(self.size, self._held + k)
        self._since += len(rows)
        if self._since >= self.every and self._held == self.size:  # a full window: PSI noise ~ bins / size
            self._since = 0
            self.last = self._measure(self._rows)
            self.measured += 1
        return self.last

    def _measure(self, x: np.ndarray) -> dict[str, float]:
        out: dict[str, float] = {}
        ordered = np.sort(x, axis=0)  # NaNs last
        finite = np.isfinite(x).sum(axis=0)
        for j, name in enumerate(self.names):
            v = ordered[: finite[j], j]
            if not len(v):
                continue
            out[f"{self.prefix}.psi.{name}"] = psi(self._expected[j], _shares(v, self._edges[j]))
            out[f"{self.prefix}.ks.{name}"] = ks(self._quantiles[j], v, presorted=True)
        for measure in ("psi", "ks"):
            per = [v for k, v in out.items() if k.startswith(f"{self.prefix}.{measure}.")]
            if per:
                out[f"{self.prefix}.{measure}"] = max(per)
        return out


def _shares(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
    return counts / max(1, len(v))
