"""The as-of join: sensor values with the state and location in force at each timestamp.

Written once over the store protocol's primitives, so every store answers it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prognos.store.base import Store, check_range


def asof(store: Store, device_id: str, start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
    """One row per timestamp in ``[start, end)`` that has sensor values.

    Columns: ``ts``, one float column per sensor key (null where that key has no value at that ts),
    one string column per state key (the value last set at or before ts, else null), ``lat``, ``lon``.
    """
    check_range(start, end)
    wide = _pivot(store.read(device_id, start, end, keys))
    ts = wide.column("ts").to_numpy()
    states = store.states(device_id, start, end)
    for key in sorted(set(states.column("key").to_pylist())):
        change = states.filter(pc.equal(states.column("key"), key)).sort_by("ts")
        wide = wide.append_column(key, _in_force(ts, change.column("ts").to_numpy(), change.column("value")))
    locs = store.locations(device_id, start, end).sort_by("ts")
    for name in ("lat", "lon"):
        wide = wide.append_column(name, _in_force(ts, locs.column("ts").to_numpy(), locs.column(name)))
    return wide


def _pivot(series: pa.Table) -> pa.Table:
    ts = np.unique(series.column("ts").to_numpy())
    columns = [pa.array(ts, pa.int64())]
    names = ["ts"]
    keys = series.column("key")
    for key in sorted(set(keys.to_pylist())):
        part = series.filter(pc.equal(keys, key))
        at = np.searchsorted(ts, part.column("ts").to_numpy())
        values = np.full(len(ts), np.nan)
        present = np.zeros(len(ts), dtype=bool)
        values[at] = part.column("value").to_numpy()
        present[at] = True
        columns.append(pa.array(values, pa.float64(), mask=~present))
        names.append(key)
    return pa.Table.from_arrays(columns, names=names)


def _in_force(ts: np.ndarray, change_ts: np.ndarray, values: pa.ChunkedArray) -> pa.Array:
    """For each ts, the value of the latest change at or before it (null before the first)."""
    if len(change_ts) == 0:
        return pa.nulls(len(ts), values.type)
    at = np.searchsorted(change_ts, ts, side="right") - 1
    valid = at >= 0
    taken = pc.take(values, pa.array(np.where(valid, at, 0)))
    return pc.if_else(pa.array(valid), taken, pa.scalar(None, values.type))
