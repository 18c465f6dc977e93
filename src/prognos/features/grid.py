"""Irregular per-sensor readings → one regular grid per device (numpy only; serving uses it too).

Each sensor is averaged within its grid step, then carried forward over gaps of at most ``hold``
steps (a sensor that reports every 2 s still fills a 1 s grid); older gaps stay NaN so a window
over them is skipped rather than invented.

Each device's grid is phased: its cells start ``phase(device_id, step)`` ms after the epoch's multiples of
the step. Offline and streaming use the same phase, so they cut the same cells; and a fleet's windows
close spread over the step rather than all in the instant after each boundary, which would have every
device's window scored at once (a burst a step apart) instead of a steady share of them all along.
"""

from __future__ import annotations

import numpy as np

from prognos.errors import InvalidInput
from prognos.types import device_number


def align(
    readings: tuple[np.ndarray, np.ndarray, np.ndarray], columns: int, start: int, end: int, step: int, hold: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Readings (ts ms, column index, value) → (grid ts (n,), matrix (n, columns)) over [start, end).

    >>> readings = np.array([0, 400, 1500, 3100]), np.array([0, 0, 1, 0]), np.array([1.0, 3.0, 5.0, 7.0])
    >>> t, x = align(readings, columns=2, start=0, end=4000, step=1000, hold=1)
    >>> t.tolist(), x.tolist()
    ([0, 1000, 2000, 3000], [[2.0, nan], [2.0, 5.0], [nan, 5.0], [7.0, nan]])
    """
    ts, column, value = readings
    if step <= 0 or end <= start:
        raise InvalidInput(
            f"grid: need step > 0 and end > start, got step={step}, [{start}, {end})", field="step", value=step
        )
    n = (end - start + step - 1) // step
    keep = (ts >= start) & (ts < end)
    cell = ((ts[keep] - start) // step) * columns + column[keep]
    total = np.bincount(cell, weights=value[keep], minlength=n * columns)
    count = np.bincount(cell, minlength=n * columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (total / count).reshape(n, columns)
    return start + np.arange(n, dtype=np.int64) * step, _hold(x, hold)


def phase(device_id: str, step: int) -> int:
    """Where a device's grid cells start within a step (ms): stable across processes and restarts.

    >>> phase("pump-7", 1000) == phase("pump-7", 1000) and 0 <= phase("pump-7", 1000) < 1000
    True
    """
    return device_number(device_id) % step


def first_cell(start: int, device_id: str, step: int) -> int:
    """The start (ms) of the device's first grid cell at or after ``start``."""
    return start + (phase(device_id, step) - start) % step


def _hold(x: np.ndarray, hold: int) -> np.ndarray:
    """Forward-fill NaNs from the last observation no more than ``hold`` rows back."""
    if hold <= 0:
        return x
    rows = np.arange(len(x))[:, None]
    last = np.maximum.accumulate(np.where(np.isnan(x), -1, rows), axis=0)  # last observed row per column
    fill = (last >= 0) & (rows - last <= hold)
    out = np.where(fill, x[np.maximum(last, 0), np.arange(x.shape[1])], np.nan)
    return out
