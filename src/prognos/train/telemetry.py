"""Training data from device telemetry: the store → aligned series → windows, labelled from `Labels`.

Windows never cross a gap, and every split is by device or by time, never by shuffled windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prognos.errors import InvalidInput
from prognos.features import grid, sliding, window_ends
from prognos.train.labels import Labels
from prognos.types import PREDICTED

NORMAL = "normal"


@dataclass
class Series:
    device_id: str
    type: str | None
    ts: np.ndarray  # (n,) epoch ms, a regular grid
    x: np.ndarray  # (n, sensors); NaN where a sensor was silent for too long
    sensors: list[str]


def from_store(
    store: Any, device_ids: Sequence[str], start: int, end: int, step: int, sensors: Sequence[str] | None = None
) -> list[Series]:
    """Read each device's raw series and align it to its ``step`` ms grid (phased as the stream scorer's: the same
    cells, so the same windows); sensors default to the first
    device's keys, and every device must have them (a model has one input schema)."""
    out = []
    for dev in device_ids:
        t = store.read(dev, start, end)
        keys = t["key"].to_numpy(zero_copy_only=False)
        stored = set(keys.tolist())
        # Predictions the stream scorer stored ("pred.<model>.…") are outputs, never inputs.
        names = list(sensors) if sensors is not None else sorted(k for k in stored if not k.startswith(PREDICTED))
        missing = sorted(set(names) - stored)
        if missing:
            raise InvalidInput(
                f"device {dev}: no readings for sensors {missing} in the time range", field="sensors", value=missing
            )
        sensors = names
        col = np.searchsorted(np.asarray(names), keys)
        known = np.isin(keys, names)
        first = grid.first_cell(start, dev, step)  # the device's phase: the cells its stream is scored on
        readings = t["ts"].to_numpy()[known], col[known], t["value"].to_numpy()[known]
        ts, x = grid.align(readings, len(names), first, end, step)
        out.append(Series(dev, store.device(dev).type, ts, x, names))
    return out


@dataclass
class Windows:
    x: np.ndarray  # (n, window, sensors)
    end: np.ndarray  # (n,) timestamp of each window's last row
    device: np.ndarray  # (n,) device id


def windows(series: Sequence[Series], size: int, stride: int = 1, scale: Any = None) -> Windows:
    """Sliding windows of every series, skipping any window that touches a NaN."""
    xs, ends, devs = [], [], []
    for s in series:
        if len(s.x) < size:
            continue
        ok = ~np.isnan(s.x).any(axis=1)
        z = s.x.copy()
        if scale is not None and ok.any():
            z[ok] = scale(s.x[ok])
        bad_before = np.concatenate([[0], np.cumsum(~ok)])  # windows with no bad row inside are kept
        idx = window_ends(len(z), size, stride)
        keep = idx[(bad_before[idx + 1] - bad_before[idx + 1 - size]) == 0]
        if not len(keep):
            continue
        w = sliding(np.nan_to_num(z), size)
        xs.append(w[keep - (size - 1)])
        ends.append(s.ts[keep])
        devs.append(np.full(len(keep), s.device_id, dtype=object))
    if not xs:
        raise InvalidInput(
            f"no complete window of {size} steps in the data (too short, or gaps everywhere)",
            field="window",
            value=size,
        )
    return Windows(np.concatenate(xs), np.concatenate(ends), np.concatenate(devs))


def label_windows(w: Windows, labels: Labels) -> np.ndarray:
    """The label active at each window's end (the device's state now), else ``normal``."""
    out = np.full(len(w.end), NORMAL, dtype=object)
    for i in labels.intervals:
        out[(w.device == i.device_id) & (w.end >= i.start) & (w.end < i.end)] = i.label
    return out


def touches_label(w: Windows, labels: Labels, size_ms: int) -> np.ndarray:
    """Windows that overlap any labelled interval at all (excluded when learning what normal is)."""
    hit = np.zeros(len(w.end), dtype=bool)
    for i in labels.intervals:
        hit |= (w.device == i.device_id) & (w.end >= i.start) & (w.end - size_ms < i.end)
    return hit


def remaining(w: Windows, labels: Labels, cap_ms: int) -> np.ndarray:
    """Remaining useful life at each window end in seconds, capped; NaN for devices with no failure."""
    out = np.full(len(w.end), np.nan)
    for dev, failure in labels.failures.items():
        m = w.device == dev
        out[m] = np.minimum(failure - w.end[m], cap_ms) / 1000.0
    return out
