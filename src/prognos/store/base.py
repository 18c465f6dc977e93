"""The store protocol: readings at rest, the device registry beside them.

Every store keeps three kinds of rows, all keyed by device and time in epoch milliseconds:
numeric telemetry ``(device_id, key, ts, value)``, string state ``(device_id, key, ts, value)`` and
location ``(device_id, ts, lat, lon)``. Writing the same ``(device_id, key, ts)`` twice keeps one row
(the first: a retried delivery never changes what was stored). Ranges are half-open ``[start, end)``.

Query results are Arrow tables so that a year of data crosses no Python loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

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


class Telemetry(Protocol):
    """Readings at rest: numeric series, string state and location, by device and time."""

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


class Devices(Protocol):
    """The device registry: a device appears with its first reading (first and last seen follow the writes)."""

    def devices(self) -> list[Device]: ...

    def device(self, device_id: str) -> Device:
        """The device, or `DeviceNotFound`."""

    def update_device(self, device_id: str, changes: Mapping[str, Any], create: bool = False) -> Device:
        """Change metadata fields (`DEVICE_FIELDS`); ``create`` registers an unknown device."""


class Records(Protocol):
    """JSON documents by (kind, key): metadata beside the data (model versions, aliases, alerts, checkpoints)."""

    def put_record(self, kind: str, key: str, doc: Mapping[str, Any], replace: bool = False) -> bool:
        """Keep one document under (kind, key). Without ``replace`` an existing key is left alone and False
        returned: insert-only records are immutable, and two processes racing for one key learn which one won."""

    def add_records(self, kind: str, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Insert many documents at once (log-like records: an existing key is left as it is)."""

    def records(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        """The documents of ``kind`` whose key starts with ``prefix``, ordered by key."""


@runtime_checkable
class Store(Telemetry, Devices, Records, Protocol):
    """All three in one database, named by its URL."""

    url: str

    def close(self) -> None: ...

    def ping(self) -> None:
        """Return once the database answers; `StoreUnavailable` when it does not (health asks this)."""


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


def redact(url: str) -> str:
    """The URL without its password, for messages and health output."""
    password = urlsplit(url).password
    return url.replace(f":{password}@", ":***@") if password else url
