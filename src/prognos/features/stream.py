"""The streaming twin of `grid.align` + `windows.sliding`: windows built one reading at a time.

A device's readings fill the current grid cell; when a reading lands in a later cell, the cell is
closed — averaged per sensor, or carried forward from the last observation at most ``hold`` cells
back, exactly as `grid.align` does offline — and every closed cell ends a window. Empty cells in
between are closed the same way. Late readings (for a cell already closed) are not applied; they
are counted in ``late`` (the stored series still has them, so offline retraining sees them).
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
        self.late = 0

    def push(self, ts: int, values: Mapping[str, float]) -> list[tuple[int, np.ndarray]]:
        """Add one reading; return the (end ts, window) pairs that its arrival completed (oldest first).

        The window's rows may hold NaN where a sensor was silent for longer than ``hold`` cells.
        """
        cell = ts // self.step
        out: list[tuple[int, np.ndarray]] = []
        if self._cell is None:
            self._cell = cell
        elif cell < self._cell:
            self.late += 1
            return out
        while self._cell < cell:
            out += self._close()
        for key, v in values.items():
            i = self._col.get(key)
            if i is not None:
                self._sum[i] += v
                self._count[i] += 1
        return out

    def _close(self) -> list[tuple[int, np.ndarray]]:
        assert self._cell is not None
        seen = self._count > 0
        self._last[seen] = self._sum[seen] / self._count[seen]
        self._last_cell[seen] = self._cell
        fresh = self._cell - self._last_cell <= self.hold
        self._rows.append(np.where(fresh, self._last, np.nan))
        end = self._cell * self.step
        self._sum[:] = 0.0
        self._count[:] = 0.0
        self._cell += 1
        if len(self._rows) < self.window:
            return []
        return [(end, np.stack(self._rows))]
