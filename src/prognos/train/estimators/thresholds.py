"""Label-free alarm thresholds from scores of normal data.

`pot` is the peaks-over-threshold method of extreme value theory (Siffer et al., KDD 2017): the
tail above a high quantile is fitted with a generalised Pareto distribution, and the threshold is
the score exceeded with probability ``risk``. It extrapolates beyond the largest normal score seen,
which a plain quantile of a few hundred windows cannot do.
"""

from __future__ import annotations

import numpy as np

from prognos.errors import InvalidInput


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
