"""Normal that keeps learning: where a series' inputs sit now, and how high its scores run, tracked causally so a
detector fitted on a day of data still knows what normal is a month later — after the season turned, the trend
moved on, or a level shifted and stayed.

Both are running medians, tracked by sign (each window moves them one step toward the new value, however far away
it is): a spike moves them one step and is forgotten, a shift that stays is followed a step a window. The step is
set by a stated time, ``absorb``: a change as large as `SPAN` (12 noise widths of an input; a thousandfold score)
becomes the new normal within it, a smaller one sooner, and an anomaly shorter than it is only partly learned — so
the guard against learning a fault as normal is that time, said where it is set (the card, the setting). A fault
still there after it is, by then, the machine's new normal unless someone says otherwise.

>>> t = Tracker.start(sensors=1, typical=2.0, steps=Step.of(absorb_ms=3_600_000, step_ms=60_000))
>>> for _ in range(120):  # two hours of a level 6 noise widths up
...     _ = t.learn(np.array([6.0]), score=2.0)
>>> round(float(t.offset[0]), 2)  # followed: 6 of 12 widths an hour
6.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prognos.types import parse_duration

SPAN_INPUT = 12.0  # noise widths an input may move and be learned within the absorb time
SPAN_SCORE = math.log(1000.0)  # a thousandfold change of the score level, likewise
DEFAULT_ABSORB = "6h"


@dataclass(frozen=True)
class Step:
    """How far the running medians move a window: inputs in noise widths, the score level in log units."""

    input: float
    score: float

    @classmethod
    def of(cls, absorb_ms: int, step_ms: int) -> Step:
        windows = max(1.0, absorb_ms / max(1, step_ms))
        return cls(SPAN_INPUT / windows, SPAN_SCORE / windows)

    @classmethod
    def parse(cls, absorb: str, step_ms: int) -> Step:
        """``absorb`` as a duration ("6h", "30m"); refused with the field named if it does not read as one."""
        return cls.of(parse_duration(absorb, field="adapt"), step_ms)


@dataclass
class Tracker:
    """One series' normal now: each input's offset from what training called normal (in the scaled units the model
    reads, 0 at first), and the typical score (log)."""

    offset: np.ndarray  # (sensors,)
    level: float  # log of the typical score
    steps: Step

    @classmethod
    def start(cls, sensors: int, typical: float, steps: Step) -> Tracker:
        return cls(np.zeros(sensors), math.log(max(typical, 1e-300)), steps)

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """A window (window, sensors) of scaled inputs as measured from today's normal."""
        return x - self.offset

    def typical(self) -> float:
        return math.exp(self.level)

    def learn(self, latest: np.ndarray, score: float) -> Tracker:
        """One window seen: its latest scaled row and its raw score move the medians a step each."""
        self.see(latest)
        self.scored(score)
        return self

    def see(self, latest: np.ndarray) -> None:
        """A window's latest scaled row moves the inputs' medians a step (the stream: as the window is fed)."""
        self.offset = self.offset + self.steps.input * np.sign(latest - self.offset)

    def scored(self, score: float) -> None:
        """A window's raw score moves the typical score a step (the stream: as its answer is read)."""
        if score > 0 and math.isfinite(score):
            self.level += self.steps.score * float(np.sign(math.log(score) - self.level))

    def to_list(self) -> list[float]:
        """For a checkpoint: the offsets, then the level."""
        return [*self.offset.tolist(), self.level]

    @classmethod
    def from_list(cls, values: list[float], steps: Step) -> Tracker:
        return cls(np.asarray(values[:-1], dtype=np.float64), float(values[-1]), steps)


def offsets(rows: np.ndarray, steps: Step, start: np.ndarray | None = None) -> np.ndarray:
    """Every row's offset as known before it (rows (n, sensors), scaled; NaN rows leave it where it is): what the
    inputs of a window ending at that row are measured from. The offline twin of `Tracker.learn`.

    >>> offsets(np.array([[1.0], [1.0], [np.nan], [1.0]]), Step(0.5, 0.0))[:, 0].tolist()
    [0.0, 0.5, 1.0, 1.0]
    """
    out = np.empty_like(rows, dtype=np.float64)
    o = np.zeros(rows.shape[1]) if start is None else start.astype(np.float64)
    for i, row in enumerate(rows):
        out[i] = o
        if not np.isnan(row).any():
            o = o + steps.input * np.sign(row - o)
    return out


def levels(scores: np.ndarray, typical: float, steps: Step) -> np.ndarray:
    """Every score's typical level as known before it: the offline twin of the level in `Tracker.learn`.

    >>> levels(np.array([8.0, 8.0, 8.0]), 1.0, Step(0.0, math.log(2))).round(3).tolist()
    [1.0, 2.0, 4.0]
    """
    out = np.empty(len(scores))
    level = math.log(max(typical, 1e-300))
    for i, s in enumerate(scores):
        out[i] = math.exp(level)
        if s > 0 and math.isfinite(s):
            level += steps.score * float(np.sign(math.log(s) - level))
    return out
