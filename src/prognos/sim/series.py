"""Univariate series with known anomalies: the kinds real single-metric streams show (cloud metrics, traffic,
counts, machine temperatures), each series a mix of them, so a detector is judged on what it has not been built
around.

A series is a minute-by-minute metric over ``days`` days: a level and noise of its own, a daily cycle of some
amplitude, maybe a slow trend, and on top of that the events a label says are anomalies — rare spikes (a few
points), a level shift that stays (the new level becomes normal: only its start is an anomaly), a drift that grows
until it is noticed, a noise burst, a flat line (a stuck sensor) — plus gaps with no readings, which are not
anomalies. The first ``probation`` of every series carries no event: it is what a detector may learn from.

Each labelled window starts where its event starts and is long enough to be found in; a detection inside it counts
once, earlier is better (`prognos.evaluate.univariate` scores it).

>>> s = generate(0, days=2)
>>> s.values.shape == s.ts.shape, int(s.ts[1] - s.ts[0]), 0 < len(s.events)
(True, 60000, True)
>>> all(e.start >= s.ts[0] + PROBATION * (s.ts[-1] - s.ts[0]) for e in s.events)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("spike", "level_shift", "drift", "noise_burst", "flatline")
STEP_MS = 60_000
DAY = 1440  # steps of a minute
PROBATION = 0.25  # the first quarter of every series is normal: what may be learned from


@dataclass(frozen=True)
class Event:
    kind: str
    start: int  # epoch ms: the anomaly's first reading
    end: int  # epoch ms: the end of its labelled window (detect before it)


@dataclass(frozen=True)
class Series:
    name: str
    ts: np.ndarray  # (n,) epoch ms, a reading a minute (gaps left out)
    values: np.ndarray  # (n,)
    events: tuple[Event, ...]


def generate(seed: int, days: float = 4.0, start: int = 1_700_000_000_000) -> Series:
    """One series: its own level, noise, daily cycle and trend; two or three events after probation; some gaps."""
    rng = np.random.default_rng([seed, 0x5E41E5])
    n = int(days * DAY)
    t = np.arange(n)
    level, noise = 10 ** rng.uniform(-1, 4), rng.uniform(0.02, 0.1)  # any unit: 0.1 … 10,000
    daily = rng.choice([0.0, 0.1, 0.3]) * np.sin(2 * np.pi * (t / DAY + rng.random()))
    trend = rng.choice([0.0, rng.normal(0, 0.15)]) * t / n
    heavy = rng.random() < 0.3  # some metrics have heavy-tailed noise (counts, latencies)
    wobble = rng.standard_t(4, n) * 0.6 if heavy else rng.normal(0, 1, n)
    x = 1.0 + daily + trend + noise * wobble
    events = []
    first = int(n * PROBATION)
    slots = np.sort(
        rng.choice(np.arange(first + DAY // 8, n - DAY // 4, DAY // 4), size=rng.integers(2, 4), replace=False)
    )
    for at in slots:
        kind = str(rng.choice(KINDS))
        events.append(_event(kind, int(at), x, noise, rng))
    gone = np.zeros(n, dtype=bool)
    for _ in range(rng.integers(0, 4)):  # gaps: the sender was away, nothing is wrong
        a = int(rng.integers(0, n - 60))
        gone[a : a + int(rng.integers(5, 60))] = True
    ts = start + t.astype(np.int64) * STEP_MS
    labelled = tuple(Event(kind, int(ts[a]), int(ts[min(b, n - 1)])) for kind, a, b in events)
    return Series(f"series-{seed:03d}", ts[~gone], (x * level)[~gone], labelled)


def _event(kind: str, at: int, x: np.ndarray, noise: float, rng: np.random.Generator) -> tuple[str, int, int]:
    """Apply one event at step ``at`` of ``x`` (in units of the level); its labelled window as (kind, start, end)."""
    n, size = len(x), 6 * noise  # an event worth finding: six noise widths at its height
    if kind == "spike":
        for k in range(int(rng.integers(1, 4))):
            x[min(at + 3 * k, n - 1)] += rng.choice([-1, 1]) * size * rng.uniform(1.5, 3)
        return kind, at, at + 30
    if kind == "level_shift":
        x[at:] += rng.choice([-1, 1]) * size * rng.uniform(1, 2)  # stays: the new level is normal from then on
        return kind, at, at + 60
    if kind == "drift":
        length = int(rng.integers(120, 360))
        ramp = np.minimum(np.arange(n - at), length) / length
        x[at:] += rng.choice([-1, 1]) * size * 1.5 * ramp  # then holds: to be found while it grows
        return kind, at, at + length
    if kind == "noise_burst":
        length = int(rng.integers(30, 120))
        x[at : at + length] += rng.normal(0, noise * 5, min(length, n - at))
        return kind, at, at + length
    length = int(rng.integers(60, 240))  # flatline: the sensor repeats its last value
    x[at : at + length] = x[at - 1]
    return kind, at, at + length
