"""Label-free alarm thresholds from scores of normal data.

`pot` is the peaks-over-threshold method of extreme value theory (Siffer et al., KDD 2017): the
tail above a high quantile is fitted with a generalised Pareto distribution, and the threshold is
the score exceeded with probability ``risk``. It extrapolates beyond the largest normal score seen,
which a plain quantile of a few hundred windows cannot do.

`normal` measures the whole normal distribution instead of one cut (`prognos.features.calibration.Normal`): the
stream reads every score as a tail probability through it and cuts at whatever alarm budget it is given.

`fit` says which method set the cut and on how many windows (`Threshold`): where the method asked for cannot
be used — too short a tail for a fit, too few windows to show the risk asked for — it falls back, and the
record says so and why, so a card never claims an extreme-value threshold it does not have.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from prognos.errors import InvalidInput
from prognos.features.calibration import Normal, Tail

PEAKS = 10  # scores over the tail's start a generalised Pareto fit needs, at least


@dataclass(frozen=True)
class Threshold:
    """A cut on normal scores, and how it was set."""

    value: float
    method: str  # "pot", "quantile", or "max" (the largest normal score)
    windows: int  # the normal windows it was set from
    risk: float  # the per-window false-alarm probability asked for
    asked: str  # the method asked for
    fallback: str = ""  # why ``method`` is not the one asked for ("" when it is)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit(scores: np.ndarray, method: str = "pot", risk: float = 1e-3, level: float = 0.95) -> Threshold:
    """The cut normal data exceeds with probability ``risk``, by ``method`` where the data allow it.

    >>> few = fit(np.arange(100.0), "pot", 1e-4)
    >>> few.method, "too few for a tail fit" in few.fallback and "cannot show a risk of 0.0001" in few.fallback
    ('max', True)
    >>> fit(np.random.default_rng(0).exponential(size=1000), "pot", 1e-4).method
    'pot'
    """
    if method not in ("pot", "quantile"):
        raise InvalidInput(f"threshold: expected 'pot' or 'quantile', got {method!r}", field="threshold", value=method)
    s = _scores(scores)

    def cut(value: float, used: str, fallback: str = "") -> Threshold:
        return Threshold(value, used, len(s), risk, method, fallback)

    why = ""
    if method == "pot":
        t = float(np.quantile(s, level))
        peaks = s[s > t] - t
        if risk >= len(peaks) / len(s):  # not in the tail at all: the empirical quantile is exact
            return cut(quantile(s, 1 - risk), "quantile", f"a risk of {risk:g} puts the cut below the tail")
        if len(peaks) >= PEAKS and np.ptp(peaks) > 0:
            return cut(pot(s, risk, level), "pot")
        why = f"{len(peaks)} scores over the {level:.0%} quantile are too few for a tail fit (needs {PEAKS}); "
    if risk * len(s) >= 1:
        return cut(quantile(s, 1 - risk), "quantile", why and why + "the empirical quantile instead")
    return cut(
        float(s.max()),
        "max",
        f"{why}{len(s)} normal windows cannot show a risk of {risk:g} per window (needs {int(np.ceil(1 / risk))}); "
        "the cut is the largest normal score, so alarms may come more often than asked",
    )


def normal(scores: np.ndarray, level: float = 0.95) -> Normal:
    """The distribution of normal ``scores``: the median as the unit, the body's survival at a few quantiles, and a
    generalised Pareto tail over the ``level`` quantile — exponential from the mean excess where too few scores lie
    over it for a fit (the record says so).

    >>> ref = normal(np.random.default_rng(0).exponential(size=2000))
    >>> ref.method, 0.8 < float(ref.p(ref.cut(1e-3)) / 1e-3) < 1.25
    ('pot', True)
    >>> normal(np.arange(1.0, 101.0)).fallback
    '5 scores over the 95% quantile are too few for a tail fit (needs 10); an exponential tail from their mean excess'
    """
    from scipy.stats import genpareto

    s = _scores(scores)
    typical = float(np.median(s)) or float(np.mean(np.abs(s))) or 1.0
    z = s / typical
    qs = (0.0, 0.5, 0.75, 0.9, level)
    knots = tuple((float(v), 1.0 - q) for v, q in zip(np.quantile(z, qs), qs, strict=True))
    start = knots[-1][0]
    peaks = z[z > start] - start
    share = max(len(peaks), 1) / len(z)
    if len(peaks) >= PEAKS and np.ptp(peaks) > 0:
        shape, _, scale = genpareto.fit(peaks, floc=0)
        return Normal(typical, len(s), knots, Tail(start, share, float(shape), float(scale)), "pot")
    why = (
        f"{len(peaks)} scores over the {level:.0%} quantile are too few for a tail fit (needs {PEAKS}); "
        "an exponential tail from their mean excess"
    )
    excess = float(peaks.mean()) if len(peaks) and peaks.mean() > 0 else max(start, 1.0) * 1e-3
    return Normal(typical, len(s), knots, Tail(start, share, 0.0, excess), "exponential", why)


def quantile(scores: np.ndarray, q: float = 0.99, factor: float = 1.0) -> float:
    """``factor`` × the ``q`` quantile of normal scores.

    >>> quantile(np.arange(101.0), 0.99, 1.5)
    148.5
    """
    return float(np.quantile(_scores(scores), q) * factor)


def pot(scores: np.ndarray, risk: float = 1e-3, level: float = 0.95) -> float:
    """The score that normal data exceeds with probability ``risk`` under a GPD tail fit.

    Falls back to the largest normal score when the tail is too short or degenerate to fit.
    """
    from scipy.stats import genpareto

    s = _scores(scores)
    t = float(np.quantile(s, level))
    peaks = s[s > t] - t
    if len(peaks) < 10 or np.ptp(peaks) == 0:
        return float(s.max())
    shape, _, sigma = genpareto.fit(peaks, floc=0)
    tail = len(peaks) / len(s)  # P(score > t)
    if risk >= tail:
        return float(np.quantile(s, 1 - risk))
    return float(t + genpareto.ppf(1 - risk / tail, shape, loc=0, scale=sigma))


def _scores(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if len(s) < 2 or not np.isfinite(s).all():
        raise InvalidInput(f"need at least 2 finite normal scores to set a threshold, got {len(s)}", field="scores")
    return s
