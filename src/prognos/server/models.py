"""The model registry over HTTP: the same operations as ``prognos models``, for scripts and the dashboard."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos.errors import Conflict, InvalidInput, ModelNotReady, PrognosError
from prognos.inference.deployments import Deployments
from prognos.inference.recording import PAYLOAD, SHADOW
from prognos.ingest.http import read_body, read_object
from prognos.registry import Registry
from prognos.server.context import Context, of
from prognos.server.responses import limit_param, respond

MAX_MODEL = 512 * 1024 * 1024  # bytes of an uploaded ONNX file


async def deploy(deployments: Deployments, name: str) -> dict[str, Any]:
    """Swap the served versions now (a hot swap); a version that cannot load leaves the old one serving."""
    try:
        route = await deployments.sync(name)
    except PrognosError as exc:
        route = deployments.routes.get(name)
        return {"deployed": False, "reason": str(exc), "serving": route.versions() if route else None}
    return {"deployed": route is not None, "serving": route.versions() if route else None}


async def _movable(ctx: Context, name: str, number: int, alias: str) -> None:
    """An alias moves only to a version that verified and loaded here: else 409 with the reason, and it stays."""
    await ctx.deployments.control(ctx.registry.get, name, number)  # an unknown version is a 404
    try:
        await ctx.deployments.load(name, number)
    except ModelNotReady as exc:
        raise Conflict(f"model {name!r} v{number} cannot take alias {alias!r}: {exc}") from exc


def summary(registry: Registry, name: str) -> dict[str, Any]:
    versions = registry.versions(name)
    return {
        "name": name,
        "aliases": registry.aliases(name),
        "task": versions[-1].card.get("task"),
        "versions": [{k: v for k, v in x.to_dict().items() if k != "card"} for x in versions],
    }


async def list_models(request: Request) -> Response:
    ctx = of(request)
    names = await run_in_threadpool(ctx.registry.names)
    return respond({"models": [await run_in_threadpool(summary, ctx.registry, n) for n in names]})


async def get_model(request: Request) -> Response:
    ctx = of(request)
    return respond(await run_in_threadpool(summary, ctx.registry, request.path_params["name"]))


async def publish(request: Request) -> Response:
    """Publish an ONNX file sent as the body (bring-your-own): ``?task=&sensors=a,b&promote=alias``."""
    ctx = of(request)
    name, q = request.path_params["name"], request.query_params
    body = await read_body(request, MAX_MODEL)
    sensors = [t for t in q.get("sensors", "").split(",") if t] or None
    io = {k: v for k, v in {"task": q.get("task"), "sensors": sensors}.items() if v}
    with tempfile.TemporaryDirectory(prefix="prognos-upload-") as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(body)
        v = await ctx.deployments.control(ctx.registry.publish, path, name, io)
    out: dict[str, Any] = {"name": v.name, "version": v.version, "files": v.files}
    if q.get("promote"):
        await _movable(ctx, name, v.version, q["promote"])
        await ctx.deployments.control(ctx.registry.promote, name, v.version, q["promote"])
        out |= {"alias": q["promote"], **await deploy(ctx.deployments, name)}
    return respond(out, 201)


async def get_version(request: Request) -> Response:
    ctx = of(request)
    p = request.path_params
    v = await run_in_threadpool(ctx.registry.get, p["name"], p["ref"])
    return respond(v.to_dict())


async def put_alias(request: Request) -> Response:
    ctx = of(request)
    body = await read_object(request)
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidInput(f"version: expected an integer, got {version!r}", field="version", value=version)
    p = request.path_params
    await _movable(ctx, p["name"], version, p["alias"])
    v = await ctx.deployments.control(ctx.registry.promote, p["name"], version, p["alias"])
    return respond({"name": v.name, "alias": p["alias"], "version": v.version, **await deploy(ctx.deployments, v.name)})


async def rollback(request: Request) -> Response:
    ctx = of(request)
    p = request.path_params
    history = await ctx.deployments.control(ctx.registry.history, p["name"], p["alias"])
    if len(history) >= 2:  # else the registry says why not
        await _movable(ctx, p["name"], history[-2], p["alias"])
    v = await ctx.deployments.control(ctx.registry.rollback, p["name"], p["alias"])
    return respond({"name": v.name, "alias": p["alias"], "version": v.version, **await deploy(ctx.deployments, v.name)})


async def get_traffic(request: Request) -> Response:
    ctx = of(request)
    name = request.path_params["name"]
    await run_in_threadpool(ctx.registry.versions, name)
    route = ctx.deployments.routes.get(name)
    doc = await run_in_threadpool(ctx.registry.traffic, name)
    return respond({"name": name, **doc, "serving": route.versions() if route else None})


async def put_traffic(request: Request) -> Response:
    ctx = of(request)
    name = request.path_params["name"]
    body = await read_object(request)
    unknown = set(body) - {"canary", "weight", "shadow"}
    if unknown:
        raise InvalidInput(
            f"traffic: unknown field {sorted(unknown)[0]!r} (fields: canary, weight, shadow)",
            field=sorted(unknown)[0],
        )
    for key in ("canary", "shadow"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise InvalidInput(f"{key}: expected an alias name", field=key, value=body[key])
    doc = await ctx.deployments.control(
        ctx.registry.set_traffic, name, body.get("canary"), body.get("weight", 0.0), body.get("shadow")
    )
    return respond({"name": name, **doc, **await deploy(ctx.deployments, name)})


async def shadow(request: Request) -> Response:
    """How the shadow's outputs compare with the answers given, over the latest recorded requests."""
    ctx = of(request)
    name = request.path_params["name"]
    limit = limit_param(request)
    rows = [d for _, d in (await run_in_threadpool(ctx.store.records, SHADOW, f"{name}/"))[-limit:]]
    return respond({"name": name, **compare(rows), "records": rows[-20:]})


async def payloads(request: Request) -> Response:
    ctx = of(request)
    name = request.path_params["name"]
    device = request.query_params.get("device_id")
    rows = [d for _, d in await run_in_threadpool(ctx.store.records, PAYLOAD, f"{name}/")]
    rows = [d for d in rows if device is None or d["device_id"] == device][-limit_param(request) :]
    return respond({"name": name, "payloads": rows})


async def archive(request: Request) -> Response:
    ctx = of(request)
    p = request.path_params
    v = await run_in_threadpool(ctx.registry.archive, p["name"], _number(p["ref"]))
    return respond(v.to_dict())


ROUTES = [
    Route("/api/v1/models", list_models, methods=["GET"]),
    Route("/api/v1/models/{name}", get_model, methods=["GET"]),
    Route("/api/v1/models/{name}/versions", publish, methods=["POST"]),
    Route("/api/v1/models/{name}/versions/{ref}", get_version, methods=["GET"]),
    Route("/api/v1/models/{name}/versions/{ref}/archive", archive, methods=["POST"]),
    Route("/api/v1/models/{name}/aliases/{alias}", put_alias, methods=["PUT"]),
    Route("/api/v1/models/{name}/aliases/{alias}/rollback", rollback, methods=["POST"]),
    Route("/api/v1/models/{name}/traffic", get_traffic, methods=["GET"]),
    Route("/api/v1/models/{name}/traffic", put_traffic, methods=["PUT"]),
    Route("/api/v1/models/{name}/shadow", shadow, methods=["GET"]),
    Route("/api/v1/models/{name}/payloads", payloads, methods=["GET"]),
]


def compare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per output: mean and largest absolute difference between the answer given and the shadow's."""
    diffs: dict[str, list[float]] = {}
    for row in rows:
        for out, tensor in row["outputs"].items():
            other = row["shadow_outputs"].get(out)
            if other and len(other["data"]) == len(tensor["data"]):
                d = np.abs(np.asarray(tensor["data"], float) - np.asarray(other["data"], float))
                diffs.setdefault(out, []).extend(d.tolist())
    return {
        "compared": len(rows),
        "versions": sorted({(r["version"], r["shadow_version"]) for r in rows}),
        "outputs": {
            k: {"mean_abs_diff": float(np.mean(v)), "max_abs_diff": float(np.max(v))} for k, v in diffs.items() if v
        },
    }


def _number(text: str) -> int:
    if not text.isdigit():
        raise InvalidInput(f"version: expected a number, got {text!r}", field="version", value=text)
    return int(text)
