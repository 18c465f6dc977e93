"""The device registry and stored telemetry over HTTP (the same API the dashboard and scripts use)."""

from __future__ import annotations

import math
from typing import Any

import pyarrow.compute as pc
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos.errors import InvalidInput
from prognos.ingest.http import read_object
from prognos.server.context import of
from prognos.server.responses import respond
from prognos.store import Agg, asof
from prognos.types import now_ms, parse_duration, parse_time

MAX_RAW_POINTS = 200_000


async def list_devices(request: Request) -> Response:
    store = of(request).store
    devices = await run_in_threadpool(store.devices)
    return respond({"devices": [d.as_dict() for d in devices]})


async def latest(request: Request) -> Response:
    store = of(request).store
    ids = [d for d in request.query_params.get("devices", "").split(",") if d] or None
    table = await run_in_threadpool(store.latest, ids)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in table.to_pylist():
        out.setdefault(r["device_id"], {})[r["key"]] = {"ts": r["ts"], "value": r["value"]}
    return respond({"latest": out})


async def get_device(request: Request) -> Response:
    store = of(request).store
    device_id = request.path_params["device_id"]
    device = await run_in_threadpool(store.device, device_id)
    newest = await run_in_threadpool(store.latest, [device_id])
    out = device.as_dict()
    out["latest"] = {r["key"]: {"ts": r["ts"], "value": r["value"]} for r in newest.to_pylist()}
    return respond(out)


async def patch_device(request: Request) -> Response:
    changes = await read_object(request, what="a JSON object of device fields")
    device_id = request.path_params["device_id"]
    ctx = of(request)
    device = await run_in_threadpool(ctx.store.update_device, device_id, changes)
    if ctx.scorer is not None:  # a new type, new models: at once here (other servers and workers: retype_s)
        ctx.scorer.plan.retype(device_id)
    return respond(device.as_dict())


async def telemetry(request: Request) -> Response:
    store = of(request).store
    device_id = request.path_params["device_id"]
    q = request.query_params
    start, end, keys = window(q, default_span=86_400_000)
    interval = _interval(q, start, end)
    if interval is None:
        table = await run_in_threadpool(store.read, device_id, start, end, keys)
        if table.num_rows > MAX_RAW_POINTS:
            raise InvalidInput(
                f"{table.num_rows} raw points exceed {MAX_RAW_POINTS}: ask for interval= or points=",
                field="interval",
            )
        agg = None
    else:
        agg = Agg.parse(q.get("agg", "avg"))
        if keys is None:
            newest = await run_in_threadpool(store.latest, [device_id])
            keys = sorted(set(newest.column("key").to_pylist()))
        table = await run_in_threadpool(store.downsample, device_id, keys, start, end, interval, agg)
    return respond(
        {
            "device_id": device_id,
            "start": start,
            "end": end,
            "interval": interval,
            "agg": agg,
            "series": _columns(table),
        }
    )


async def states(request: Request) -> Response:
    """String state (e.g. ``mode``) changes in range, with the one in force at its start."""
    return await _changes(request, "states")


async def locations(request: Request) -> Response:
    """Positions reported in range, with the one in force at its start."""
    return await _changes(request, "locations")


async def _changes(request: Request, kind: str) -> Response:
    store = of(request).store
    device_id = request.path_params["device_id"]
    await run_in_threadpool(store.device, device_id)  # an unknown device is a 404
    start, end, _ = window(request.query_params, default_span=86_400_000)
    table = await run_in_threadpool(getattr(store, kind), device_id, start, end)
    return respond({"device_id": device_id, "start": start, "end": end, kind: table.to_pylist()})


async def asof_join(request: Request) -> Response:
    store = of(request).store
    device_id = request.path_params["device_id"]
    start, end, keys = window(request.query_params, default_span=3_600_000)
    table = await run_in_threadpool(asof, store, device_id, start, end, keys)
    return respond({"device_id": device_id, "columns": table.to_pydict()})


ROUTES = [
    Route("/api/v1/devices", list_devices, methods=["GET"]),
    Route("/api/v1/latest", latest, methods=["GET"]),
    Route("/api/v1/devices/{device_id}", get_device, methods=["GET"]),
    Route("/api/v1/devices/{device_id}", patch_device, methods=["PATCH"]),
    Route("/api/v1/devices/{device_id}/telemetry", telemetry, methods=["GET"]),
    Route("/api/v1/devices/{device_id}/asof", asof_join, methods=["GET"]),
    Route("/api/v1/devices/{device_id}/states", states, methods=["GET"]),
    Route("/api/v1/devices/{device_id}/locations", locations, methods=["GET"]),
]


def window(q: Any, default_span: int) -> tuple[int, int, list[str] | None]:
    """``start``, ``end`` (ISO or epoch ms; default: the span before now) and ``keys`` of a query."""
    end = parse_time(q["end"], field="end") if "end" in q else now_ms()
    start = parse_time(q["start"], field="start") if "start" in q else end - default_span
    keys = [k for k in q.get("keys", "").split(",") if k] or None
    return start, end, keys


def _interval(q: Any, start: int, end: int) -> int | None:
    if "interval" in q:
        return parse_duration(q["interval"])
    if "points" in q:
        points = q["points"]
        if not points.isdigit() or int(points) < 1:
            raise InvalidInput(f"points: expected a positive integer, got {points!r}", field="points", value=points)
        return max(1, math.ceil((end - start) / int(points)))
    return None


def _columns(table: Any) -> dict[str, dict[str, list[Any]]]:
    out = {}
    keys = table.column("key")
    for key in sorted(set(keys.to_pylist())):
        part = table.filter(pc.equal(keys, key))
        out[key] = {"ts": part.column("ts").to_pylist(), "values": part.column("value").to_pylist()}
    return out
