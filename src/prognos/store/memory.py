"""The in-memory reference store: the contract in a few dozen lines, for tests above the store."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa

from prognos.errors import DeviceNotFound
from prognos.store.base import (
    LATEST,
    LOCATIONS,
    MANY,
    SERIES,
    STATES,
    Agg,
    check_changes,
    check_interval,
    check_range,
    seen_ranges,
)
from prognos.types import Device, Reading


class MemoryStore:
    url = "memory://"

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], dict[int, float]] = {}
        self._states: dict[tuple[str, str], dict[int, str]] = {}
        self._locations: dict[str, dict[int, tuple[float, float]]] = {}
        self._devices: dict[str, Device] = {}
        self._records: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def write(self, readings: Sequence[Reading]) -> int:
        n = 0
        with self._lock:
            for r in readings:
                for k, v in r.values.items():
                    self._series.setdefault((r.device_id, k), {}).setdefault(r.ts, v)
                for k, s in r.attributes.items():
                    self._states.setdefault((r.device_id, k), {}).setdefault(r.ts, s)
                if r.location is not None:
                    self._locations.setdefault(r.device_id, {}).setdefault(r.ts, r.location)
                n += len(r.values) + len(r.attributes) + (r.location is not None)
            for device_id, (lo, hi) in seen_ranges(readings).items():
                d = self._devices.get(device_id) or Device(device_id, first_seen=lo, last_seen=hi)
                self._devices[device_id] = replace(
                    d, first_seen=min(d.first_seen or lo, lo), last_seen=max(d.last_seen or hi, hi)
                )
        return n

    def read(self, device_id: str, start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
        check_range(start, end)
        rows = [
            (ts, k, v)
            for (d, k), points in self._series.items()
            if d == device_id and (keys is None or k in keys)
            for ts, v in points.items()
            if start <= ts < end
        ]
        return _table(sorted(rows), SERIES)

    def read_many(self, device_ids: Sequence[str], start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
        rows = [
            (d, *r)
            for d in sorted(set(device_ids))
            for r in zip(*self.read(d, start, end, keys).to_pydict().values(), strict=True)
        ]
        return _table(rows, MANY)

    def downsample(
        self, device_id: str, keys: Sequence[str], start: int, end: int, interval: int, agg: Agg
    ) -> pa.Table:
        check_interval(interval)
        buckets: dict[tuple[int, str], list[tuple[int, float]]] = {}
        for ts, k, v in zip(*self.read(device_id, start, end, keys).to_pydict().values(), strict=True):
            buckets.setdefault((ts // interval * interval, k), []).append((ts, v))
        pick = {
            Agg.AVG: lambda p: sum(v for _, v in p) / len(p),
            Agg.MIN: lambda p: min(v for _, v in p),
            Agg.MAX: lambda p: max(v for _, v in p),
            Agg.LAST: lambda p: max(p)[1],
        }[agg]
        return _table(sorted((b, k, pick(p)) for (b, k), p in buckets.items()), SERIES)

    def latest(self, device_ids: Sequence[str] | None = None) -> pa.Table:
        rows = []
        for (d, k), points in self._series.items():
            if points and (device_ids is None or d in device_ids):
                ts = max(points)
                rows.append((d, k, ts, points[ts]))
        return _table(sorted(rows), LATEST)

    def states(self, device_id: str, start: int, end: int) -> pa.Table:
        check_range(start, end)
        rows = []
        for (d, k), changes in self._states.items():
            if d == device_id:
                before = [ts for ts in changes if ts < start]
                rows += [(ts, k, s) for ts, s in changes.items() if start <= ts < end]
                if before:
                    rows.append((max(before), k, changes[max(before)]))
        return _table(sorted(rows), STATES)

    def locations(self, device_id: str, start: int, end: int) -> pa.Table:
        check_range(start, end)
        points = self._locations.get(device_id, {})
        before = [ts for ts in points if ts < start]
        keep = [ts for ts in points if start <= ts < end] + ([max(before)] if before else [])
        return _table(sorted((ts, *points[ts]) for ts in keep), LOCATIONS)

    def retain(self, cutoff: int) -> int:
        n = 0
        with self._lock:
            for group in (self._series, self._states, self._locations):
                for points in group.values():
                    old = [ts for ts in points if ts < cutoff]
                    for ts in old:
                        del points[ts]
                    n += len(old)
        return n

    def devices(self) -> list[Device]:
        return sorted(self._devices.values(), key=lambda d: d.device_id)

    def device(self, device_id: str) -> Device:
        try:
            return self._devices[device_id]
        except KeyError:
            raise DeviceNotFound(device_id) from None

    def update_device(self, device_id: str, changes: Mapping[str, Any], create: bool = False) -> Device:
        changes = check_changes(changes)
        with self._lock:
            if device_id not in self._devices and not create:
                raise DeviceNotFound(device_id)
            self._devices[device_id] = replace(self._devices.get(device_id) or Device(device_id), **changes)
            return self._devices[device_id]

    def put_record(self, kind: str, key: str, doc: Mapping[str, Any], replace: bool = False) -> bool:
        with self._lock:
            if (kind, key) in self._records and not replace:
                return False
            self._records[kind, key] = json.dumps(doc)  # stored as text, as the SQL stores do: no aliasing
            return True

    def add_records(self, kind: str, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        with self._lock:
            for key, doc in items:
                self._records.setdefault((kind, key), json.dumps(doc))

    def records(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            found = sorted((k, v) for (c, k), v in self._records.items() if c == kind and k.startswith(prefix))
        return [(k, json.loads(v)) for k, v in found]

    def close(self) -> None:
        pass


def _table(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)
