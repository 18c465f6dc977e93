"""Pieces shared by the SQL stores (DuckDB, PostgreSQL): the device row and its update."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from prognos.types import Device

DEVICE_COLUMNS = "device_id, type, name, lat, lon, tags, first_seen, last_seen"


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
