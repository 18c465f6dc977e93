"""The streaming twin of `grid.align` + `windows.sliding`: windows built one reading at a time.

A device's readings fill the current grid cell; when a reading lands in a later cell, the cell is
closed — averaged per sensor, or carried forward from the last observation at most ``hold`` cells
back, exactly as `grid.align` does offline — and every closed cell ends a window. Empty cells in
between are closed the same way. Late readings (for a cell already closed) are not applied; they
are counted in ``late`` (the stored series still has them, so offline retraining sees them).

A value repeated for the same ``(ts, sensor)`` in the open cell is applied once, as the store keeps it
once: a redelivered message, or readings a restarted worker already reloaded from the store, do not
count twice. `advance` closes cells without a reading (a restarted worker rebuilding its state).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import numpy as np


class Windower:
    """Per-device incremental windows of ``window`` cells of ``step`` ms over ``sensors``.

    >>> w = Windower(["a"], window=2, step=1000, hold=1)
    >>> [len(w.push(t, {"a": v})) for t, v in ((0, 1.0), (400, 3.0), (1500, 5.0))]  # cell 0 closes: 1 row
    [0, 0, 0]
    >>> [(end, x.ravel().tolist()) for end, x in w.push(2200, {"a": 7.0})]  # cell 1 closes: a full window
    [(1000, [2.0, 5.0])]
    """

    def __init__(self, sensors: list[str], window: int, step: int, hold: int = 5) -> None:
        self.sensors, self.window, self.step, self.hold = list(sensors), window, step, hold
        self._col = {s: i for i, s in enumerate(self.sensors)}
        self._cell: int | None = None  # index (ts // step) of the open cell
        self._sum = np.zeros(len(self.sensors))
        self._count = np.zeros(len(self.sensors))
        self._last = np.full(len(self.sensors), np.nan)  # last observed mean per sensor
        self._last_cell = np.full(len(self.sensors), -(10**18))
        self._rows: deque[np.ndarray] = deque(maxlen=window)
        self._seen: dict[int, set[str]] = {}  # ts → sensors already applied in the open cell
        self._stale = 0  # rows in a row with no sensor fresh
        self.late = 0

    @property
    def closed(self) -> int | None:
        """Index of the last closed cell (None before the first reading)."""
        return None if self._cell is None else self._cell - 1

    def push(self, ts: int, values: Mapping[str, float]) -> list[tuple[int, np.ndarray]]:
        """Add one reading; return the (end ts, window) pairs that its arrival completed (oldest first).

        A window with a sensor silent for longer than ``hold`` cells (a NaN) is not returned: offline
        training skips it too.
        """
        cell = ts // self.step
        out: list[tuple[int, np.ndarray]] = []
        if self._cell is None:
            self._cell = cell
        elif cell < self._cell:
            self.late += 1
            return out
        out = self.advance(cell)
        seen = self._seen.get(ts)
        if seen is None:
            seen = self._seen[ts] = set()
        elif not values.keys() - seen:
            return out  # a repeat: every value of it is in the cell already
        for key, v in values.items():
            i = self._col.get(key)
            if i is not None and key not in seen:
                self._sum[i] += v
                self._count[i] += 1
        seen.update(values.keys())
        return out

    def advance(self, cell: int) -> list[tuple[int, np.ndarray]]:
        """Close every cell before ``cell`` (a no-op if they are closed); the windows that completes."""
        out: list[tuple[int, np.ndarray]] = []
        if self._cell is None:
            self._cell = cell
        while self._cell < cell:
            if self._stale >= self.window and not self._count.any():  # all gap, the open cell empty too:
                # no window can complete before `cell`, so skip there at once
                self._cell = cell
                break
            out += self._close()
        return out

    def _close(self) -> list[tuple[int, np.ndarray]]:
        assert self._cell is not None
        seen = self._count > 0
        self._last[seen] = self._sum[seen] / self._count[seen]
        self._last_cell[seen] = self._cell
        fresh = self._cell - self._last_cell <= self.hold
        self._rows.append(np.where(fresh, self._last, np.nan))
        self._stale = 0 if fresh.any() else self._stale + 1
        end = self._cell * self.step
        self._sum[:] = 0.0
        self._count[:] = 0.0
        self._seen.clear()
        self._cell += 1
        if len(self._rows) < self.window:
            return []
        x = np.stack(self._rows)
        return [] if np.isnan(x).any() else [(end, x)]
