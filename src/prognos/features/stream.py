"""The streaming twin of `grid.align` + `windows.sliding`: windows built one reading at a time.

A device's readings fill the current grid cell; when a reading lands in a later cell, the cell is
closed — averaged per sensor, or carried forward from the last observation at most ``hold`` cells
back, exactly as `grid.align` does offline — and every closed cell ends a window. Empty cells in
between are closed the same way. Late readings (for a cell already closed) are not applied; they
are counted in ``late`` (the stored series still has them, so offline retraining sees them).

A value repeated for the same ``(ts, sensor)`` in the open cell is applied once, as the store keeps it
once: a redelivered message, or readings a restarted worker already reloaded from the store, do not
count twice. `advance` closes cells without a reading (a restarted worker rebuilding its state).

Cells start ``offset`` ms after the multiples of ``step`` (the device's `grid.phase`); cell indices
(``closed``, `advance`) count in that frame: cell ``k`` spans ``[k * step + offset, (k + 1) * step + offset)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np

HOLD = 5  # cells a sensor's last value is carried forward, as `grid.align` does offline


class Windower:
    """Per-device incremental windows of ``window`` cells of ``step`` ms over ``sensors``.

    >>> w = Windower(["a"], window=2, step=1000, hold=1)
    >>> [len(w.push(t, {"a": v})) for t, v in ((0, 1.0), (400, 3.0), (1500, 5.0))]  # cell 0 closes: 1 row
    [0, 0, 0]
    >>> [(end, x.ravel().tolist()) for end, x in w.push(2200, {"a": 7.0})]  # cell 1 closes: a full window
    [(1000, [2.0, 5.0])]
    """

    def __init__(self, sensors: list[str], window: int, step: int, hold: int = HOLD, offset: int = 0) -> None:
        self.sensors, self.window, self.step, self.hold, self.offset = list(sensors), window, step, hold, offset
        n = len(self.sensors)
        self._col = {s: i for i, s in enumerate(self.sensors)}
        self._cell: int | None = None  # index ((ts - offset) // step) of the open cell
        # The open cell's sums in plain lists: one reading touches a handful of values, and a list
        # item costs a fraction of a numpy item. Closed rows go to a ring buffer of `window` rows.
        self._sum = [0.0] * n
        self._count = [0] * n
        self._last = [math.nan] * n  # last observed mean per sensor
        self._last_cell = [-(10**18)] * n
        self._buf = np.full((window, n), np.nan)
        self._gap = [True] * window  # which buffer rows hold a NaN
        self._gaps = window  # how many do
        self._pos = -1  # the buffer row written last
        self._filled = 0
        self._seen: dict[int, AbstractSet[str]] = {}  # ts → sensors already applied in the open cell
        self._stale = 0  # rows in a row with no sensor fresh
        self.late = 0

    @classmethod
    def resume(
        cls,
        recipe: tuple[Sequence[str], int, int],
        closed: int,
        readings: tuple[np.ndarray, np.ndarray, np.ndarray],
        hold: int = HOLD,
        offset: int = 0,
    ) -> Windower:
        """The windower of ``recipe`` (sensors, window, step) as if ``readings`` (ts, sensor index, value) of cells up
        to ``closed + 1`` had been pushed and every cell up to ``closed`` closed — built with array operations, so a
        restarted scorer rebuilds a thousand devices' windows at once. Cells before ``closed - window - hold + 1``
        cannot matter and are ignored."""
        sensors, window, step = recipe
        ts, col, val = readings
        w = cls(list(sensors), window, step, hold, offset)
        n, lo = len(w.sensors), closed - window - hold + 1
        cells = (np.asarray(ts, dtype=np.int64) - offset) // step
        col, val = np.asarray(col, dtype=np.int64), np.asarray(val, dtype=np.float64)
        past, now = (cells >= lo) & (cells <= closed), cells == closed + 1
        w._cell = closed + 1
        if past.any():
            m = closed - lo + 1
            sums, counts = np.zeros((m, n)), np.zeros((m, n))
            np.add.at(sums, (cells[past] - lo, col[past]), val[past])
            np.add.at(counts, (cells[past] - lo, col[past]), 1)
            rows = np.arange(m)[:, None]
            last = np.maximum.accumulate(np.where(counts > 0, rows, -(10**9)), axis=0)  # last cell seen, per sensor
            seen = last >= 0
            means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
            carried = means[np.clip(last, 0, None), np.arange(n)]
            fresh = seen & (rows - last <= hold)
            grid = np.where(fresh, carried, np.nan)
            start = int(np.flatnonzero(counts.any(axis=1))[0])  # the first cell a reading fell in
            closes = m - start
            w._filled = min(window, closes)
            w._buf[:] = np.nan
            take = grid[max(start, m - window) :]
            w._buf[: len(take)] = take
            w._pos = len(take) - 1
            w._gap = [bool(np.isnan(r).any()) for r in w._buf]
            w._gaps = sum(w._gap)
            spoke = np.flatnonzero(fresh[start:].any(axis=1))  # rows since the first reading with a fresh sensor
            w._stale = closes - (int(spoke[-1]) + 1) if len(spoke) else closes
            w._last = [float(carried[-1, j]) if seen[-1, j] else math.nan for j in range(n)]
            w._last_cell = [lo + int(last[-1, j]) if seen[-1, j] else -(10**18) for j in range(n)]
        for t, j, v in zip(np.asarray(ts)[now].tolist(), col[now].tolist(), val[now].tolist(), strict=True):
            w.push(int(t), {w.sensors[j]: v})
        return w

    @property
    def closed(self) -> int | None:
        """Index of the last closed cell (None before the first reading)."""
        return None if self._cell is None else self._cell - 1

    def push(self, ts: int, values: Mapping[str, float]) -> list[tuple[int, np.ndarray]]:
        """Add one reading; return the (end ts, window) pairs that its arrival completed (oldest first).

        A window with a sensor silent for longer than ``hold`` cells (a NaN) is not returned: offline
        training skips it too.
        """
        cell = (ts - self.offset) // self.step
        if self._cell is None:
            self._cell = cell
        elif cell < self._cell:
            self.late += 1
            return []
        out = self.advance(cell) if cell > self._cell else []
        seen = self._seen.get(ts)
        if seen is None:
            self._seen[ts] = values.keys()  # the usual case, a new instant: no copy
        else:
            new = {k: v for k, v in values.items() if k not in seen}
            if not new:
                return out  # a repeat: every value of it is in the cell already
            self._seen[ts] = seen | new.keys()
            values = new
        col, total, count = self._col, self._sum, self._count
        for key, v in values.items():
            i = col.get(key)
            if i is not None:
                total[i] += v
                count[i] += 1
        return out

    def advance(self, cell: int) -> list[tuple[int, np.ndarray]]:
        """Close every cell before ``cell`` (a no-op if they are closed); the windows that completes."""
        out: list[tuple[int, np.ndarray]] = []
        if self._cell is None:
            self._cell = cell
        while self._cell < cell:
            if self._stale >= self.window and not any(self._count):  # all gap, the open cell empty too:
                # no window can complete before `cell`, so skip there at once
                self._cell = cell
                break
            found = self._close()
            if found is not None:
                out.append(found)
        return out

    def _close(self) -> tuple[int, np.ndarray] | None:
        assert self._cell is not None
        cell, hold, n = self._cell, self.hold, len(self._count)
        if all(self._count):  # the usual case: every sensor spoke in this cell
            row = [t / c for t, c in zip(self._sum, self._count, strict=True)]
            self._last, self._last_cell = row, [cell] * n
            self._sum, self._count = [0.0] * n, [0] * n
            fresh_any = True
            total = sum(row)
            gap = total != total  # a NaN anywhere (the values are finite, so only a NaN makes the sum one)
        else:
            row, fresh_any = [], False
            for i, c in enumerate(self._count):
                if c:
                    self._last[i] = self._sum[i] / c
                    self._last_cell[i] = cell
                    self._sum[i], self._count[i] = 0.0, 0
                fresh = cell - self._last_cell[i] <= hold
                fresh_any |= fresh
                row.append(self._last[i] if fresh else math.nan)
            gap = not fresh_any or any(v != v for v in row)
        self._stale = 0 if fresh_any else self._stale + 1
        self._pos = (self._pos + 1) % self.window
        self._buf[self._pos] = row
        self._gaps += gap - self._gap[self._pos]
        self._gap[self._pos] = gap
        self._filled = min(self._filled + 1, self.window)
        self._seen.clear()
        self._cell = cell + 1
        if self._filled < self.window or self._gaps:
            return None
        p = self._pos + 1
        window = self._buf.copy() if p == self.window else np.concatenate((self._buf[p:], self._buf[:p]))
        return cell * self.step + self.offset, window
