"""The model registry over HTTP: the same operations as ``prognos models``, for scripts and the dashboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos.errors import InvalidInput
from prognos.ingest.http import read_object
from prognos.registry import Registry


def routes(registry: Registry, respond: Callable[..., Response]) -> list[Route]:
    def summary(name: str) -> dict[str, Any]:
        versions = registry.versions(name)
        return {"name": name, "aliases": registry.aliases(name),
                "versions": [{k: v for k, v in x.to_dict().items() if k != "card"} for x in versions]}  # fmt: skip

    async def list_models(request: Request) -> Response:
        names = await run_in_threadpool(registry.names)
        return respond({"models": [await run_in_threadpool(summary, n) for n in names]})

    async def get_model(request: Request) -> Response:
        return respond(await run_in_threadpool(summary, request.path_params["name"]))

    async def get_version(request: Request) -> Response:
        p = request.path_params
        v = await run_in_threadpool(registry.get, p["name"], p["ref"])
        return respond(v.to_dict())

    async def put_alias(request: Request) -> Response:
        body = await read_object(request)
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidInput(f"version: expected an integer, got {version!r}", field="version", value=version)
        p = request.path_params
        v = await run_in_threadpool(registry.promote, p["name"], version, p["alias"])
        return respond({"name": v.name, "alias": p["alias"], "version": v.version})

    async def rollback(request: Request) -> Response:
        p = request.path_params
        v = await run_in_threadpool(registry.rollback, p["name"], p["alias"])
        return respond({"name": v.name, "alias": p["alias"], "version": v.version})

    async def archive(request: Request) -> Response:
        p = request.path_params
        v = await run_in_threadpool(registry.archive, p["name"], _number(p["ref"]))
        return respond(v.to_dict())

    return [
        Route("/api/v1/models", list_models, methods=["GET"]),
        Route("/api/v1/models/{name}", get_model, methods=["GET"]),
        Route("/api/v1/models/{name}/versions/{ref}", get_version, methods=["GET"]),
        Route("/api/v1/models/{name}/versions/{ref}/archive", archive, methods=["POST"]),
        Route("/api/v1/models/{name}/aliases/{alias}", put_alias, methods=["PUT"]),
        Route("/api/v1/models/{name}/aliases/{alias}/rollback", rollback, methods=["POST"]),
    ]


def _number(text: str) -> int:
    if not text.isdigit():
        raise InvalidInput(f"version: expected a number, got {text!r}", field="version", value=text)
    return int(text)
