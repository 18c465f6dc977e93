"""ThingsBoard-style telemetry bodies → readings and rejections.

Shared by every transport (HTTP, MQTT), so a body means the same wherever it arrives. Accepted:

* ``{"ts": <epoch ms>, "values": {"temp": 21.5}}``, optionally with ``"attributes": {"mode": "running"}``
  (string state) and ``"location": {"lat": 52.5, "lon": 13.4}``;
* an array of those;
* a bare ``{"temp": 21.5}`` (stamped with the server's time);
* the gateway form ``{"<device_id>": [<item>, …], …}`` (`decode_gateway`).

A body that is not one of these raises `InvalidInput`. Inside a well-formed body each bad item or
value is a `Rejection` (index, field, value, reason) and the good data beside it is kept: a bad
value drops that value only, a bad timestamp drops its item.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from prognos.errors import InvalidInput
from prognos.types import DEVICE_ID, KEY, Reading, Rejection, now_ms

MIN_TS = 946_684_800_000  # 2000-01-01: anything earlier is almost always seconds sent as milliseconds
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Limits:
    """What an accepted timestamp may be: no earlier than ``min_ts``, at most ``max_future_ms`` ahead."""

    min_ts: int = MIN_TS
    max_future_ms: int = DAY_MS


@dataclass(slots=True)
class Decoded:
    readings: list[Reading]
    rejections: list[Rejection]

    @property
    def values(self) -> int:
        return sum(len(r.values) for r in self.readings)


def parse_json(body: bytes | bytearray | memoryview) -> Any:
    if not bytes(body).strip():
        raise InvalidInput("empty body: expected a JSON telemetry object or array", field="body", value="")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = exc
    try:
        # Devices written in Python send NaN/Infinity tokens; parse them so that only those values are
        # rejected and the good values beside them are kept.
        doc = json.loads(bytes(body))
    except (ValueError, RecursionError):
        raise InvalidInput(f"malformed JSON: {error}", field="body", value=_head(body)) from None
    try:  # json (unlike orjson) lets a lone UTF-16 surrogate through: no store, log or answer can hold one
        orjson.dumps(doc)
    except orjson.JSONEncodeError:
        raise InvalidInput(
            "malformed JSON: a lone UTF-16 surrogate (\\ud800-\\udfff without its pair) is not valid UTF-8",
            field="body",
            value=_head(body),
        ) from None
    return doc


def decode_device(
    body: bytes | Any, device_id: str, limits: Limits = Limits(), clock: Callable[[], int] = now_ms
) -> Decoded:
    """Decode the body of one device's telemetry (object, array or bare key/values)."""
    check_device_id(device_id)
    if isinstance(body, bytes):
        fast = _fast(_DEVICE, body, limits, clock, device_id)
        if fast is not None:
            return fast
    doc = parse_json(body) if isinstance(body, bytes | bytearray | memoryview) else body
    out = Decoded([], [])
    if isinstance(doc, list):
        if not doc:
            raise InvalidInput("empty array: expected at least one telemetry item", field="body", value=[])
        now = clock()
        for i, item in enumerate(doc):
            _item(item, device_id, i, limits, now, out)
    elif isinstance(doc, dict):
        if not doc:
            raise InvalidInput("empty object: expected telemetry values", field="body", value={})
        _item(doc, device_id, None, limits, clock(), out)
    else:
        raise InvalidInput(f"expected a JSON object or array, got {type(doc).__name__}", field="body", value=doc)
    return out


def decode_gateway(body: bytes | Any, limits: Limits = Limits(), clock: Callable[[], int] = now_ms) -> Decoded:
    """Decode the gateway form ``{"<device_id>": [item, …] | item, …}``."""
    if isinstance(body, bytes):
        fast = _fast(_GATEWAY, body, limits, clock)
        if fast is not None:
            return fast
    doc = parse_json(body) if isinstance(body, bytes | bytearray | memoryview) else body
    if not isinstance(doc, dict) or not doc:
        raise InvalidInput(
            'expected a non-empty object {"<device_id>": [{"ts": …, "values": {…}}, …]}',
            field="body",
            value=doc if not isinstance(doc, dict) else {},
        )
    out = Decoded([], [])
    now = clock()
    for device_id, items in doc.items():
        if not DEVICE_ID.match(device_id):
            out.rejections.append(Rejection(None, "device_id", device_id, _DEVICE_REASON, device_id))
            continue
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or not items:
            out.rejections.append(
                Rejection(None, device_id, items, "expected a non-empty array of telemetry items", device_id)
            )
            continue
        for i, item in enumerate(items):
            if isinstance(item, dict) and ("ts" not in item or "values" not in item):
                out.rejections.append(Rejection(i, "item", item, 'gateway items need "ts" and "values"', device_id))
                continue
            _item(item, device_id, i, limits, now, out, tag=True)
    return out


class _Item(msgspec.Struct, forbid_unknown_fields=True):
    """The common item, ``{"ts": <int>, "values": {key: number}}``, for the fast path."""

    ts: int
    values: dict[str, float]


_GATEWAY = msgspec.json.Decoder(dict[str, list[_Item]])
_DEVICE = msgspec.json.Decoder(_Item | list[_Item])
_GOOD_DEVICES: set[str] = set()  # device ids already checked


def _fast(
    decoder: msgspec.json.Decoder[Any],
    body: bytes,
    limits: Limits,
    clock: Callable[[], int],
    device_id: str | None = None,
) -> Decoded | None:
    """The body decoded by a typed parser in C when every item is the common form and all of it is good;
    None sends it down the general path, which says what is wrong with each part (most bodies never go there:
    this path is 4-5× faster, and ingest is most of the server's work)."""
    try:
        doc = decoder.decode(body)
    except msgspec.DecodeError:  # a validation error too: anything unusual, even a bool value
        return None
    groups = doc.items() if device_id is None else ((device_id, doc if isinstance(doc, list) else [doc]),)
    now = clock()
    lo, hi = limits.min_ts, now + limits.max_future_ms
    readings = []
    for device, items in groups:
        if not items or (device not in _GOOD_DEVICES and not _good_device(device)):
            return None
        for item in items:
            values = item.values
            # sum() is finite only when every value is (a huge pair may overflow: then the slow path decides)
            if not lo <= item.ts <= hi or not values or not math.isfinite(sum(values.values())):
                return None
            if not values.keys() <= _GOOD_KEYS and not all(map(_good_key, values)):
                return None
            readings.append(Reading(device, item.ts, values))
    return Decoded(readings, []) if readings else None


def _good_device(device_id: str) -> bool:
    return _checked(DEVICE_ID, _GOOD_DEVICES, 1_000_000, device_id)


_DEVICE_REASON = "device id must be 1-128 characters of letters, digits and . _ : @ - (starting alphanumeric)"


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID.match(device_id):
        raise InvalidInput(f"invalid device id {device_id!r}: {_DEVICE_REASON}", field="device_id", value=device_id)
    return device_id


def _item(
    item: Any, device_id: str, index: int | None, limits: Limits, now: int, out: Decoded, tag: bool = False
) -> None:
    dev = device_id if tag else None
    reject = out.rejections.append
    if not isinstance(item, dict) or not item:
        reject(Rejection(index, "item", item, "expected a non-empty JSON object", dev))
        return
    if "values" in item:
        ts = _timestamp(item.get("ts", now), index, limits, now, dev, out)
        if ts is None:
            return
        values_doc = item["values"]
        prefix = "values."
        if not isinstance(values_doc, dict):
            reject(Rejection(index, "values", values_doc, "expected an object of key: number", dev))
            return
        extra = set(item) - {"ts", "values", "attributes", "location"}
        for name in sorted(extra):
            reject(Rejection(index, name, item[name], "unknown field; expected ts, values, attributes, location", dev))
    elif "ts" in item:  # not the bare form (whose keys are all sensors): a malformed item, a typo like "value"
        reject(Rejection(index, "values", item, _NO_VALUES, dev))
        return
    else:
        ts, values_doc, prefix = now, item, ""
    values = _values(values_doc, prefix, index, dev, out)
    attributes = _attributes(item.get("attributes") if prefix else None, index, dev, out)
    location = _location(item.get("location") if prefix else None, index, dev, out)
    if values or attributes or location:
        out.readings.append(Reading(device_id, ts, values, attributes, location))


_NO_VALUES = 'an item with "ts" needs "values" as well: expected {"ts": <epoch ms>, "values": {key: number}}'


def _timestamp(ts: Any, index: int | None, limits: Limits, now: int, dev: str | None, out: Decoded) -> int | None:
    if type(ts) is int or (type(ts) is float and math.isfinite(ts)):
        ts = int(ts)
        if ts < limits.min_ts:
            reason = "timestamp before 2000-01-01: expected epoch milliseconds (seconds sent by mistake?)"
        elif ts > now + limits.max_future_ms:
            reason = f"timestamp more than {limits.max_future_ms // 1000} s in the future"
        else:
            return ts
    else:
        reason = "expected epoch milliseconds as a JSON number"
    out.rejections.append(Rejection(index, "ts", ts, reason, dev))
    return None


def _values(doc: dict[str, Any], prefix: str, index: int | None, dev: str | None, out: Decoded) -> dict[str, float]:
    values: dict[str, float] = {}
    for key, v in doc.items():
        t = type(v)
        if (t is float and math.isfinite(v)) or t is int:
            if key in _GOOD_KEYS or _good_key(key):
                values[key] = float(v)
                continue
            reason = "invalid key: expected letters, digits and _ . : / - starting with a letter or _"
        elif t is bool:
            values[key] = 1.0 if v else 0.0  # ThingsBoard devices send flags as booleans
            continue
        elif t is float:
            reason = "expected a finite number, got NaN or infinity"
        elif t is str:
            reason = "expected a number, got a string (send device state under 'attributes')"
        else:
            reason = f"expected a number, got {_kind(v)}"
        out.rejections.append(Rejection(index, prefix + key, v, reason, dev))
    return values


_GOOD_KEYS: set[str] = set()  # key names already checked: a set lookup per value instead of a regex


def _good_key(key: str) -> bool:
    return _checked(KEY, _GOOD_KEYS, 100_000, key)


def _checked(pattern: re.Pattern[str], good: set[str], limit: int, text: str) -> bool:
    """``pattern`` matches ``text``, remembered in ``good`` (at most ``limit`` of them) to skip the regex next time."""
    if not pattern.match(text):
        return False
    if len(good) < limit:
        good.add(text)
    return True


def _attributes(doc: Any, index: int | None, dev: str | None, out: Decoded) -> dict[str, str]:
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        out.rejections.append(Rejection(index, "attributes", doc, "expected an object of key: string", dev))
        return {}
    attrs: dict[str, str] = {}
    for key, v in doc.items():
        if not KEY.match(key):
            out.rejections.append(Rejection(index, f"attributes.{key}", v, "invalid key", dev))
        elif isinstance(v, str) and len(v) <= 1024:
            attrs[key] = v
        else:
            out.rejections.append(
                Rejection(index, f"attributes.{key}", v, "expected a string of at most 1024 characters", dev)
            )
    return attrs


def _location(doc: Any, index: int | None, dev: str | None, out: Decoded) -> tuple[float, float] | None:
    if doc is None:
        return None
    if isinstance(doc, dict):
        lat, lon = doc.get("lat"), doc.get("lon")
        if _finite(lat) and _finite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180:  # type: ignore[operator]
            return float(lat), float(lon)  # type: ignore[arg-type]
    out.rejections.append(
        Rejection(index, "location", doc, 'expected {"lat": -90..90, "lon": -180..180} in degrees', dev)
    )
    return None


def _finite(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _kind(v: Any) -> str:
    return {dict: "an object", list: "an array", type(None): "null"}.get(type(v), type(v).__name__)


def _head(body: bytes | bytearray | memoryview) -> str:
    text = bytes(body[:80]).decode("utf-8", "replace")
    return text + ("…" if len(body) > 80 else "")
