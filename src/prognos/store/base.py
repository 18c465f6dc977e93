"""The store protocol: readings at rest, the device registry beside them.

Every store keeps three kinds of rows, all keyed by device and time in epoch milliseconds:
numeric telemetry ``(device_id, key, ts, value)``, string state ``(device_id, key, ts, value)`` and
location ``(device_id, ts, lat, lon)``. Writing the same ``(device_id, key, ts)`` twice keeps one row
(the first: a retried delivery never changes what was stored). Ranges are half-open ``[start, end)``.

Query results are Arrow tables so that a year of data crosses no Python loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from itertools import chain
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from prognos.errors import InvalidInput
from prognos.types import Device, Reading

SERIES = pa.schema([("ts", pa.int64()), ("key", pa.string()), ("value", pa.float64())])
STATES = pa.schema([("ts", pa.int64()), ("key", pa.string()), ("value", pa.string())])
LOCATIONS = pa.schema([("ts", pa.int64()), ("lat", pa.float64()), ("lon", pa.float64())])
MANY = pa.schema([("device_id", pa.string()), ("ts", pa.int64()), ("key", pa.string()), ("value", pa.float64())])
LATEST = pa.schema([("device_id", pa.string()), ("key", pa.string()), ("ts", pa.int64()), ("value", pa.float64())])
DEVICE_FIELDS = ("type", "name", "location", "tags")


class Agg(StrEnum):
    """How readings in one bucket of a downsampled series become one point."""

    AVG = "avg"
    MIN = "min"
    MAX = "max"
    LAST = "last"

    @classmethod
    def parse(cls, text: str) -> Agg:
        try:
            return cls(text)
        except ValueError:
            raise InvalidInput(
                f"agg: expected one of {', '.join(a.value for a in cls)}, got {text!r}",
                field="agg",
                value=text,
            ) from None


@runtime_checkable
class Store(Protocol):
    url: str

    def write(self, readings: Sequence[Reading]) -> int:
        """Store readings durably; return the number of values (numeric, state, location) offered."""

    def read(self, device_id: str, start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
        """Raw numeric series, schema `SERIES`, ordered by ts then key."""

    def read_many(self, device_ids: Sequence[str], start: int, end: int, keys: Sequence[str] | None = None) -> pa.Table:
        """`read` for many devices in one query, schema `MANY`, ordered by device, ts, key (a thousand devices'
        windows loaded at once when a stream scorer starts)."""

    def downsample(
        self, device_id: str, keys: Sequence[str], start: int, end: int, interval: int, agg: Agg
    ) -> pa.Table:
        """One point per bucket of ``interval`` ms (aligned to the epoch) per key, schema `SERIES`."""

    def latest(self, device_ids: Sequence[str] | None = None) -> pa.Table:
        """The newest value of every key of every (or the given) device, schema `LATEST`."""

    def states(self, device_id: str, start: int, end: int) -> pa.Table:
        """State changes in range plus, per key, the one in force at ``start``; schema `STATES`."""

    def locations(self, device_id: str, start: int, end: int) -> pa.Table:
        """Locations in range plus the one in force at ``start``; schema `LOCATIONS`."""

    def retain(self, cutoff: int) -> int:
        """Drop every row older than ``cutoff``; return how many went."""

    def devices(self) -> list[Device]: ...

    def device(self, device_id: str) -> Device: ...

    def put_record(self, kind: str, key: str, doc: Mapping[str, Any], replace: bool = False) -> bool:
        """Keep one JSON document under (kind, key): metadata beside the data (model versions, aliases).

        Without ``replace`` an existing key is left alone and False returned: insert-only records are
        immutable, and two processes racing for one key learn which one won.
        """

    def add_records(self, kind: str, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Insert many documents at once (log-like records: an existing key is left as it is)."""
        ...

    def records(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        """The documents of ``kind`` whose key starts with ``prefix``, ordered by key."""

    def update_device(self, device_id: str, changes: Mapping[str, Any], create: bool = False) -> Device:
        """Change metadata fields (`DEVICE_FIELDS`); ``create`` registers an unknown device."""

    def close(self) -> None: ...


def check_range(start: int, end: int) -> None:
    if end <= start:
        raise InvalidInput(f"end ({end}) must be after start ({start})", field="end", value=end)


def check_interval(interval: int) -> None:
    if interval < 1:
        raise InvalidInput(f"interval must be at least 1 ms, got {interval}", field="interval", value=interval)


def check_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a metadata patch: known fields, right types."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in DEVICE_FIELDS:
            raise InvalidInput(
                f"unknown device field {name!r}: expected one of {', '.join(DEVICE_FIELDS)}",
                field=name,
                value=value,
            )
        if name in ("type", "name") and value is not None and not (isinstance(value, str) and len(value) <= 256):
            raise InvalidInput(f"{name}: expected a string of at most 256 characters", field=name, value=value)
        if name == "tags" and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            raise InvalidInput("tags: expected an object of string values", field=name, value=value)
        if name == "location" and value is not None:
            value = _location(value)
        out[name] = value
    return out


def _location(value: Any) -> tuple[float, float]:
    if isinstance(value, dict):
        value = (value.get("lat"), value.get("lon"))
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(type(v) in (int, float) for v in value)
        and -90 <= value[0] <= 90
        and -180 <= value[1] <= 180
    ):
        return float(value[0]), float(value[1])
    raise InvalidInput('location: expected {"lat": -90..90, "lon": -180..180}', field="location", value=value)


def seen_ranges(readings: Iterable[Reading]) -> dict[str, tuple[int, int]]:
    """First and last timestamp per device in a batch, for the registry."""
    seen: dict[str, tuple[int, int]] = {}
    for r in readings:
        ts = r.ts
        found = seen.get(r.device_id)
        if found is None:
            seen[r.device_id] = (ts, ts)
        elif ts < found[0] or ts > found[1]:
            seen[r.device_id] = (min(found[0], ts), max(found[1], ts))
    return seen


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


def redact(url: str) -> str:
    """The URL without its password, for messages and health output."""
    from urllib.parse import urlsplit

    password = urlsplit(url).password
    return url.replace(f":{password}@", ":***@") if password else url


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
