"""Anomaly scores on one scale: a raw score read as the probability that normal data scores as high, and an alarm
budget turned into the cut on that probability. Pure numpy, shared by training, which writes the reference into
the model card, and the stream, the API and `prognos score`, which read scores through it.

A detector's raw score has no unit: one model's normal is 0.4, another's 300,000. Training measures the score's
normal distribution on held-out normal windows (`Normal`): its typical level, the body as survival knots, and the
tail beyond the 95 % quantile as a generalised Pareto fit (the extreme-value method, extrapolating past the
largest normal score seen) — or, where the tail is too short to fit, an exponential tail from its mean excess,
which the reference says (``method`` and ``fallback``), never silently. `Normal.p` is then the tail probability of
any score: 1 for the most ordinary, 1e-6 for one that normal data reaches once in a million windows.

An alarm budget says what a maintenance desk can afford — "1/week": at most one false alarm per device per week.
`Budget.risk` turns it into a per-window probability for a model's grid step (one window a step, each a chance to
open an alarm), and `ratio` puts any tail probability on the budget's scale: 1 at the budget's cut, 2 for a score
as rare again, 0 for an ordinary one. Rules that say ``anomaly.ratio above 1`` alarm within the budget whatever the
model's raw units.

>>> ref = Normal.from_dict({"typical": 2.0, "windows": 1000, "knots": [[0.0, 1.0], [1.0, 0.5], [2.0, 0.05]],
...     "tail": {"start": 2.0, "share": 0.05, "shape": 0.0, "scale": 0.5}, "method": "pot", "fallback": ""})
>>> [round(float(ref.p(s)), 6) for s in (2.0, 4.0, 6.0)]  # score 6 is z = 3: 0.05·e^(−(3 − 2)/0.5)
[0.5, 0.05, 0.006767]
>>> risk = Budget.parse("1/day").risk(1000)
>>> round(float(ratio(ref.p(ref.cut(risk)), risk)), 6)
1.0
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from prognos.errors import InvalidInput

TINY = 1e-300  # the smallest tail probability said: beyond a bounded tail's end, a score is this rare
PER = {"s": 1_000, "min": 60_000, "m": 60_000, "h": 3_600_000, "hour": 3_600_000, "d": 86_400_000, "day": 86_400_000}
PER |= {"w": 604_800_000, "week": 604_800_000, "month": 2_592_000_000}
BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+?)s?\s*$")
DEFAULT_BUDGET = "1/week"


@dataclass(frozen=True)
class Budget:
    """False alarms a device may raise per period: ``Budget.parse("1/week")``."""

    alarms: float
    per_ms: int
    text: str

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``N/PERIOD``, PERIOD one of s, min, h, day, week, month (plural or abbreviated).

        >>> Budget.parse("2/days").per_ms, Budget.parse("0.5/h").alarms
        (86400000, 0.5)
        """
        m = BUDGET.match(str(text).lower())
        if not m or m.group(2) not in PER or float(m.group(1)) <= 0:
            raise InvalidInput(
                f"alarm budget: expected false alarms per period like 1/week, 2/day or 0.5/h, got {text!r}",
                field="alarm_budget",
                value=text,
            )
        return cls(float(m.group(1)), PER[m.group(2)], str(text).strip())

    def risk(self, step_ms: int) -> float:
        """The per-window false-alarm probability for a model scoring a window every ``step_ms``: every window may
        open an alarm, so the budget is spread over the windows of its period (at most one in ten)."""
        return min(0.1, self.alarms * max(1, step_ms) / self.per_ms)


@dataclass(frozen=True)
class Tail:
    """A generalised Pareto tail over ``start`` (in units of the typical score), holding ``share`` of normal data."""

    start: float
    share: float
    shape: float  # ξ: > 0 heavy, 0 exponential, < 0 bounded at start + scale / −ξ
    scale: float

    def p(self, z: np.ndarray) -> np.ndarray:
        y = np.maximum(z - self.start, 0.0) / self.scale
        if abs(self.shape) < 1e-9:
            return self.share * np.exp(-y)
        base = np.maximum(1.0 + self.shape * y, 0.0)
        with np.errstate(divide="ignore"):
            return self.share * base ** (-1.0 / self.shape)

    def z(self, p: float) -> float:
        """The inverse of `p` within the tail (``p`` ≤ ``share``)."""
        q = p / self.share
        if abs(self.shape) < 1e-9:
            return self.start - self.scale * math.log(q)
        return self.start + self.scale * (q ** (-self.shape) - 1.0) / self.shape


@dataclass(frozen=True)
class Normal:
    """A detector's normal scores: their typical level, the body's survival knots and the tail beyond them."""

    typical: float  # scores are read in units of this level (z = score / typical)
    windows: int  # the held-out normal windows it was measured on
    knots: tuple[tuple[float, float], ...]  # (z, P(normal z ≥ it)), z rising, P falling to the tail's share
    tail: Tail
    method: str  # "pot" (fitted generalised Pareto) or "exponential" (mean excess: too short a tail to fit)
    fallback: str = ""  # why not "pot"

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Normal:
        knots = tuple((float(z), float(p)) for z, p in doc["knots"])
        return cls(
            float(doc["typical"]), int(doc["windows"]), knots, Tail(**doc["tail"]), doc["method"], doc["fallback"]
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"knots": [list(k) for k in self.knots]}

    def p(self, scores: Any) -> np.ndarray:
        """Each score's tail probability: the share of normal windows that score at least as high."""
        z = np.asarray(scores, dtype=np.float64) / self.typical
        zs, ps = (np.array(c) for c in zip(*self.knots, strict=True))
        body = np.exp(np.interp(z, zs, np.log(ps)))  # log-linear between knots: probabilities span decades
        out = np.where(z > self.tail.start, self.tail.p(z), body)
        return np.clip(np.nan_to_num(out, nan=1.0), TINY, 1.0)

    def cut(self, risk: float) -> float:
        """The raw score normal data exceeds with probability ``risk``."""
        if risk >= self.tail.share:
            zs, ps = (np.array(c) for c in zip(*self.knots, strict=True))
            return float(np.interp(math.log(risk), np.log(ps[::-1]), zs[::-1]) * self.typical)
        return self.tail.z(risk) * self.typical


def ratio(p: Any, risk: float) -> np.ndarray:
    """A tail probability on the budget's scale: log p / log risk — 0 for p = 1, 1 at the cut, 2 at risk²."""
    return np.log(np.clip(np.asarray(p, dtype=np.float64), TINY, 1.0)) / math.log(risk)
