"""The in-memory reference store, for the tests above the store: one small class per protocol, composed.

Rows are dict entries keyed as the SQL stores key them, so a repeated ``(device, key, ts)`` keeps the first
value; every query is a comprehension over them, sorted as the contract says.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from statistics import fmean
from typing import Any

import pyarrow as pa

from prognos.errors import DeviceNotFound
from prognos.store import base
from prognos.store.base import Agg
from prognos.types import Device, Reading

PICK: dict[Agg, Callable[[list[float]], float]] = {
    Agg.AVG: fmean,
    Agg.MIN: min,
    Agg.MAX: max,
    Agg.LAST: lambda values: values[-1],  # values come in ts order
}


class MemoryDevices:
    def __init__(self) -> None:
        self._devices: dict[str, Device] = {}
        self._lock = threading.Lock()

    def devices(self) -> list[Device]:
        return sorted(self._devices.values(), key=lambda d: d.device_id)

    def device(self, device_id: str) -> Device:
        if device_id not in self._devices:
            raise DeviceNotFound(device_id)
        return self._devices[device_id]

    def update_device(self, device_id: str, changes: Mapping[str, Any], create: bool = False) -> Device:
        changes = base.check_changes(changes)
        with self._lock:
            if device_id not in self._devices and not create:
                raise DeviceNotFound(device_id)
            self._devices[device_id] = replace(self._devices.get(device_id) or Device(device_id), **changes)
            return self._devices[device_id]

    def seen(self, readings: Sequence[Reading]) -> None:
        """Register the devices of written readings and widen their first and last seen."""
        with self._lock:
            for d, (lo, hi) in base.seen_ranges(readings).items():
                old = self._devices.get(d) or Device(d, first_seen=lo, last_seen=hi)
                lo, hi = min(old.first_seen or lo, lo), max(old.last_seen or hi, hi)
                self._devices[d] = replace(old, first_seen=lo, last_seen=hi)


class MemoryRecords:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], str] = {}  # kept as text, as the SQL stores keep it: no aliasing
        self._records_lock = threading.Lock()

    def put_record(self, kind: str, key: str, doc: Mapping[str, Any], replace: bool = False) -> bool:
        with self._records_lock:
            if (kind, key) in self._records and not replace:
                return False
            self._records[kind, key] = json.dumps(doc)
            return True

    def add_records(self, kind: str, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        with self._records_lock:
            for key, doc in items:
                self._records.setdefault((kind, key), json.dumps(doc))

    def records(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        with self._records_lock:
            found = sorted((k, v) for (c, k), v in self._records.items() if c == kind and k.startswith(prefix))
        return [(k, json.loads(v)) for k, v in found]


class MemoryTelemetry:
    def __init__(self, registry: MemoryDevices | None = None) -> None:
        self.registry = registry or MemoryDevices()  # told of every device written
        self._values: dict[tuple[str, str, int], float] = {}  # (device, key, ts) → value
        self._states: dict[tuple[str, str, int], str] = {}
        self._locations: dict[tuple[str, int], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def write(self, readings: Sequence[Reading]) -> int:
        with self._lock:
            for r in readings:
                for k, v in r.values.items():
                    self._values.setdefault((r.device_id, k, r.ts), v)
                for k, s in r.attributes.items():
                    self._states.setdefault((r.device_id, k, r.ts), s)
                if r.location is not None:
                    self._locations.setdefault((r.device_id, r.ts), r.location)
        self.registry.seen(readings)
        return sum(len(r.values) + len(r.attributes) + (r.location is not None) for r in readings)

    def read(self, device_id: str, start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
        return self.read_many([device_id], start, end, keys).drop_columns("device_id")

    def read_many(self, device_ids: Sequence[str], start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
        base.check_range(start, end)
        found = [(d, ts, k, v) for (d, k, ts), v in self._values.items() if d in device_ids and start <= ts < end]
        return _table(sorted(row for row in found if keys is None or row[2] in keys), base.MANY)

    def downsample(
        self, device_id: str, keys: Sequence[str], start: int, end: int, interval: int, agg: Agg
    ) -> pa.Table:
        base.check_interval(interval)
        buckets: dict[tuple[int, str], list[float]] = {}
        for ts, k, v in zip(*self.read(device_id, start, end, keys).to_pydict().values(), strict=True):
            buckets.setdefault((ts // interval * interval, k), []).append(v)
        return _table(sorted((b, k, PICK[agg](vs)) for (b, k), vs in buckets.items()), base.SERIES)

    def latest(self, device_ids: Sequence[str] | None = None) -> pa.Table:
        newest = {(d, k): (ts, v) for (d, k, ts), v in sorted(self._values.items())}  # the last of each stays
        rows = [(d, k, ts, v) for (d, k), (ts, v) in sorted(newest.items()) if device_ids is None or d in device_ids]
        return _table(rows, base.LATEST)

    def states(self, device_id: str, start: int, end: int) -> pa.Table:
        base.check_range(start, end)
        mine = {(k, ts): v for (d, k, ts), v in self._states.items() if d == device_id}
        rows = [(ts, k, v) for (k, ts), v in mine.items() if start <= ts < end]
        for key in {k for k, _ in mine}:
            before = [ts for k, ts in mine if k == key and ts < start]
            if before:
                rows.append((max(before), key, mine[key, max(before)]))  # in force at start
        return _table(sorted(rows), base.STATES)

    def locations(self, device_id: str, start: int, end: int) -> pa.Table:
        base.check_range(start, end)
        mine = {ts: p for (d, ts), p in self._locations.items() if d == device_id}
        before = [ts for ts in mine if ts < start]
        keep = [ts for ts in mine if start <= ts < end] + ([max(before)] if before else [])
        return _table(sorted((ts, *mine[ts]) for ts in keep), base.LOCATIONS)

    def retain(self, cutoff: int) -> int:
        n = 0
        tables: list[dict[Any, Any]] = [self._values, self._states, self._locations]
        with self._lock:
            for rows in tables:
                old = [key for key in rows if key[-1] < cutoff]  # every key ends with its ts
                for key in old:
                    del rows[key]
                n += len(old)
        return n


class MemoryStore(MemoryTelemetry, MemoryRecords):
    """All three protocols in memory (`Store`): telemetry, its device registry, and records."""

    url = "memory://"

    def __init__(self) -> None:
        MemoryTelemetry.__init__(self)
        MemoryRecords.__init__(self)

    def devices(self) -> list[Device]:
        return self.registry.devices()

    def device(self, device_id: str) -> Device:
        return self.registry.device(device_id)

    def update_device(self, device_id: str, changes: Mapping[str, Any], create: bool = False) -> Device:
        return self.registry.update_device(device_id, changes, create)

    def close(self) -> None:
        pass

    def ping(self) -> None:
        pass


def _table(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)
