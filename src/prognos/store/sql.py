"""Pieces shared by the SQL stores (DuckDB, PostgreSQL): readings as Arrow tables, series ids, the device row."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from prognos.errors import DeviceNotFound
from prognos.store.base import LATEST, MANY, SERIES, check_range
from prognos.types import Device, Reading

DEVICE_COLUMNS = "device_id, type, name, lat, lon, tags, first_seen, last_seen"


@dataclass(frozen=True)
class Dialect:
    """What the two SQL engines spell differently: the placeholder, and "this column is in the list bound here"."""

    param: str  # "?" or "%s"
    among: str  # with {} for the column


def telemetry_query(
    dialect: Dialect, devices: str | Sequence[str], start: int, end: int, keys: Sequence[str] | None
) -> tuple[str, list[Any]]:
    """The SELECT behind ``read`` (one device id) and ``read_many`` (a list: a device_id column first)."""
    one, p = isinstance(devices, str), dialect.param
    who = f"device_id = {p}" if one else dialect.among.format("device_id")
    columns = "ts, key, value" if one else "device_id, ts, key, value"
    sql = f"SELECT {columns} FROM telemetry JOIN series USING (series_id) WHERE {who} AND ts >= {p} AND ts < {p}"
    params: list[Any] = [devices if one else list(devices), start, end]
    if keys is not None:
        sql += " AND " + dialect.among.format("key")
        params.append(list(keys))
    return sql + (" ORDER BY ts, key" if one else " ORDER BY device_id, ts, key"), params


class SqlReads:
    """The reads both engines answer with the same SQL, over a store's `select` in its `dialect`."""

    dialect: ClassVar[Dialect]

    def select(self, sql: str, params: Any, schema: pa.Schema) -> pa.Table:
        """The query's result as an Arrow table of ``schema``."""
        raise NotImplementedError

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The query's result as Python rows."""
        raise NotImplementedError

    def devices(self) -> list[Device]:
        return [device_from_row(r) for r in self.rows(f"SELECT {DEVICE_COLUMNS} FROM devices ORDER BY device_id")]

    def device(self, device_id: str) -> Device:
        found = self.rows(f"SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = {self.dialect.param}", [device_id])
        if not found:
            raise DeviceNotFound(device_id)
        return device_from_row(found[0])

    def records(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        p = self.dialect.param
        sql = f"SELECT key, doc FROM records WHERE kind = {p} AND starts_with(key, {p}) ORDER BY key"
        return [(k, json.loads(d)) for k, d in self.rows(sql, [kind, prefix])]

    def read(self, device_id: str, start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
        check_range(start, end)
        return self.select(*telemetry_query(self.dialect, device_id, start, end, keys), SERIES)

    def read_many(self, device_ids: Sequence[str], start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
        check_range(start, end)
        return self.select(*telemetry_query(self.dialect, device_ids, start, end, keys), MANY)

    def latest(self, device_ids: Sequence[str] | None = None) -> pa.Table:
        sql, params = "SELECT device_id, key, ts, value FROM latest", []
        if device_ids is not None:
            sql, params = sql + " WHERE " + self.dialect.among.format("device_id"), [list(device_ids)]
        return self.select(sql + " ORDER BY device_id, key", params, LATEST)


def device_from_row(row: tuple[Any, ...]) -> Device:
    device_id, type_, name, lat, lon, tags, first, last = row
    loc = None if lat is None else (lat, lon)
    return Device(device_id, type_, name, loc, json.loads(tags), first, last)


def device_update(changes: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """SET clause (``?`` placeholders) and parameters for a checked metadata patch."""
    sets, params = [], []
    for name, value in changes.items():
        if name == "location":
            sets += ["lat = ?", "lon = ?"]
            params += [None, None] if value is None else list(value)
        elif name == "tags":
            sets.append("tags = ?")
            params.append(json.dumps(value, sort_keys=True))
        else:
            sets.append(f"{name} = ?")
            params.append(value)
    return ", ".join(sets), params


def to_tables(readings: Sequence[Reading]) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Readings → (telemetry, states, locations) Arrow tables in long form, with device_id columns.

    The numeric values — nearly all of the data — are laid out by C loops (a reading is a few dict views), not
    a Python step per value: this runs on the writer thread, and every step it takes holds the GIL."""
    s, i, f = pa.string(), pa.int64(), pa.float64()
    values = [r.values for r in readings]
    rows = np.repeat(np.arange(len(values)), list(map(len, values)))  # the reading of every value
    dev = pa.array([r.device_id for r in readings], s).take(rows)
    ts = np.fromiter((r.ts for r in readings), np.int64, len(values))[rows]
    key = list(chain.from_iterable(values))
    val = list(chain.from_iterable(v.values() for v in values))
    s_dev: list[str] = []
    s_key: list[str] = []
    s_ts: list[int] = []
    s_val: list[str] = []
    l_dev: list[str] = []
    l_ts: list[int] = []
    lat: list[float] = []
    lon: list[float] = []
    for r in readings:
        if r.attributes:
            n = len(r.attributes)
            s_dev += [r.device_id] * n
            s_ts += [r.ts] * n
            s_key += r.attributes.keys()
            s_val += r.attributes.values()
        if r.location is not None:
            l_dev.append(r.device_id)
            l_ts.append(r.ts)
            lat.append(r.location[0])
            lon.append(r.location[1])
    telemetry = pa.Table.from_arrays(
        [dev, pa.array(key, s), pa.array(ts, i), pa.array(val, f)],
        names=["device_id", "key", "ts", "value"],
    )
    states = pa.Table.from_arrays(
        [pa.array(s_dev, s), pa.array(s_key, s), pa.array(s_ts, i), pa.array(s_val, s)],
        names=["device_id", "key", "ts", "value"],
    )
    locations = pa.Table.from_arrays(
        [pa.array(l_dev, s), pa.array(l_ts, i), pa.array(lat, f), pa.array(lon, f)],
        names=["device_id", "ts", "lat", "lon"],
    )
    return telemetry, states, locations


Pairs = list[tuple[str, str]]


class SeriesIds:
    """``(device_id, key)`` → integer series id, cached; unknown pairs are created by ``create``.

    ``create`` must commit the new series on its own (not in the caller's transaction), so the cache
    never holds an id the database does not have.
    """

    def __init__(self, create: Callable[[Pairs], dict[tuple[str, str], int]]) -> None:
        self._create = create
        self._ids: dict[str, dict[str, int]] = {}
        # (device, its keys in order) → their ids: a device sends the same keys in the same order reading after
        # reading, so one lookup serves all of a reading's values
        self._shapes: dict[tuple[str, tuple[str, ...]], list[int]] = {}

    def column(self, readings: Sequence[Reading]) -> list[int]:
        """The series id of every numeric value, in the order `to_tables` lays the values out."""
        shapes = [(r.device_id, tuple(r.values)) for r in readings]
        known = self._shapes
        new = {shape for shape in shapes if shape not in known}
        if new:
            missing = {(d, k) for d, keys in new for k in keys if k not in self._ids.get(d, {})}
            if missing:
                for (device_id, key), sid in self._create(sorted(missing)).items():
                    self._ids.setdefault(device_id, {})[key] = sid
            if len(known) + len(new) > 1_000_000:
                known.clear()  # bounded: a fleet whose key sets keep changing costs lookups, not memory
            for d, keys in new:
                known[d, keys] = [self._ids[d][k] for k in keys]
        return list(chain.from_iterable(map(known.__getitem__, shapes)))
