"""The shared vocabulary: plain frozen values, no I/O.

Timestamps are integers of milliseconds since the Unix epoch, UTC, everywhere inside prognos;
conversion to and from text happens at the edges (`to_iso`, `parse_time`).
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prognos.errors import InvalidInput

DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$")


@dataclass(frozen=True, slots=True)
class Reading:
    """What one device reported at one instant.

    ``values`` are numeric sensor values; ``attributes`` are string state (``mode=running``) that
    stays in force until changed; ``location`` is ``(lat, lon)`` in degrees.

    >>> Reading("pump-1", 1_700_000_000_000, {"temp": 21.5}, {"mode": "running"}).values["temp"]
    21.5
    """

    device_id: str
    ts: int
    values: Mapping[str, float] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    location: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected item of a batch: where it was, which field, the bad value and why."""

    index: int | None
    field: str
    value: Any
    reason: str
    device_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "field": self.field,
            "value": _jsonable(self.value),
            "reason": self.reason,
        }
        if self.device_id is not None:
            out["device_id"] = self.device_id
        return out


@dataclass(frozen=True, slots=True)
class Device:
    """A device in the registry. It appears on first telemetry; metadata is edited later."""

    device_id: str
    type: str | None = None
    name: str | None = None
    location: tuple[float, float] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    first_seen: int | None = None
    last_seen: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "type": self.type,
            "name": self.name,
            "location": None if self.location is None else {"lat": self.location[0], "lon": self.location[1]},
            "tags": dict(self.tags),
            "first_seen": None if self.first_seen is None else to_iso(self.first_seen),
            "last_seen": None if self.last_seen is None else to_iso(self.last_seen),
        }


PREDICTED = "pred."  # the key of every stored prediction begins so: pred.<model>.[shadow.]<signal>
SIGNALS = ("anomaly.", "classify.", "rul.", "drift.", "version")  # what a stored prediction's signal starts with


def prediction_key(model: str, signal: str, shadow: bool = False) -> str:
    """The key a model's signal is stored under, as a reading of the device it scored (so it charts and queries like
    a sensor); a shadow version's signals beside the champion's.

    >>> prediction_key("pump-anomaly", "anomaly.score"), prediction_key("pump-anomaly", "version", shadow=True)
    ('pred.pump-anomaly.anomaly.score', 'pred.pump-anomaly.shadow.version')
    """
    return f"{PREDICTED}{model}.{'shadow.' if shadow else ''}{signal}"


def parse_prediction_key(key: str) -> tuple[str, bool, str] | None:
    """``(model, shadow, signal)`` of a prediction key; None for a sensor's key (or a signal of no known kind).

    >>> parse_prediction_key("pred.pump-anomaly.shadow.anomaly.score"), parse_prediction_key("flow")
    (('pump-anomaly', True, 'anomaly.score'), None)
    """
    if not key.startswith(PREDICTED):
        return None
    rest = key[len(PREDICTED) :]
    cuts = [i for i in (rest.find("." + s) for s in (*SIGNALS, "shadow.")) if i > 0]
    if not cuts:
        return None
    model, signal = rest[: min(cuts)], rest[min(cuts) + 1 :]
    shadow = signal.startswith("shadow.")
    return model, shadow, signal.removeprefix("shadow.")


def is_prediction(reading: Reading) -> bool:
    """A reading that carries predictions only: the stream's own output, never a sensor's."""
    return bool(reading.values) and all(k.startswith(PREDICTED) for k in reading.values)


def device_number(device_id: str) -> int:
    """A device's fixed number (crc32 of its id): the same in every process, replica and restart — where it
    travels (`stream.bus.partition`), whether a canary scores it (`inference.deployments.bucket`), where its grid
    cells start (`features.grid.phase`)."""
    return zlib.crc32(device_id.encode())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_iso(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str | int | float, *, field: str = "time") -> int:
    """Epoch milliseconds from an integer, an ISO-8601 string (UTC unless an offset is given) or 'now'.

    >>> parse_time("2024-01-01T00:00:00Z")
    1704067200000
    >>> parse_time(1704067200000)
    1704067200000
    """
    if isinstance(text, bool):
        raise InvalidInput(f"{field}: expected epoch ms or ISO-8601 time, got {text!r}", field=field, value=text)
    if isinstance(text, int | float):
        return int(text)
    s = text.strip()
    if s.lstrip("-").isdigit():
        return int(s)
    if s == "now":
        return now_ms()
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{field}: expected epoch ms or ISO-8601 time, got {text!r}", field=field, value=text
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def parse_duration(text: str, field: str = "interval", unit: str = "ms") -> int:
    """Milliseconds from ``500ms``, ``10s``, ``5m``, ``1h``, ``1d``, or a bare number of ``unit``.

    >>> parse_duration("5m"), parse_duration("250"), parse_duration("30", unit="s")
    (300000, 250, 30000)
    """
    m = DURATION.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise InvalidInput(
            f"{field}: expected a duration like 500ms, 10s, 5m, 1h, got {text!r}", field=field, value=text
        )
    return max(1, int(float(m.group(1)) * UNIT_MS[m.group(2) or unit]))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"
