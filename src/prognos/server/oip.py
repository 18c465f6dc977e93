"""Open Inference Protocol v2 over HTTP (the protocol of KServe and Triton): everything but infer.

    GET  /v2                                       server metadata
    GET  /v2/health/live | /v2/health/ready
    GET  /v2/models/{name}[/versions/{v}]          model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready
    POST /v2/models/{name}[/versions/{v}]/infer    the hot path: `prognos.server.infer`
    POST /v2/repository/index | /v2/repository/models/{name}/load | .../unload

A name alone is the champion (or the canary, for its share of devices); ``{name}@{alias}`` and
``/versions/{alias}`` address an alias, ``/versions/{n}`` a version. Errors answer ``{"error": "..."}`` with a
4xx/5xx status (the app's error handler, for every path under /v2), never a crash.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos import __version__
from prognos.errors import PrognosError
from prognos.server import health
from prognos.server.context import of
from prognos.server.responses import error_status, respond

EXTENSIONS = ["model_repository", "binary_tensor_data"]


async def server(request: Request) -> Response:
    return respond({"name": "prognos", "version": __version__, "extensions": EXTENSIONS})


async def live(request: Request) -> Response:
    """False only where a restart is the cure (`prognos.server.health.live`)."""
    part = health.live(of(request))
    return respond({"live": part.ok, **({"reason": part.reason} if part.reason else {})}, 200 if part.ok else 503)


async def ready(request: Request) -> Response:
    """Ready when the models, the store and the stream can answer: the reasons when not (the broker aside)."""
    found = [p for p in await health.parts(of(request)) if p.name in health.READY]
    ok = all(p.ok for p in found)
    reasons = [f"{p.name}: {p.reason}" for p in found if not p.ok]
    return respond({"ready": ok, **({"reasons": reasons} if reasons else {})}, 200 if ok else 503)


async def metadata(request: Request) -> Response:
    deployments = of(request).deployments
    name, alias = _name(request.path_params["name"])
    served, _ = await deployments.resolve(name, request.path_params.get("version") or alias, None)
    doc = served.model.metadata()
    route = deployments.routes.get(served.model.name)
    doc["versions"] = sorted({str(v) for n, v in deployments.loaded if n == served.model.name})
    doc["parameters"]["serving"] = route.versions() if route else None
    return respond(doc)


async def model_ready(request: Request) -> Response:
    """200 when the name (champion), alias or version answers; otherwise the reason, 404 or 503."""
    name, alias = _name(request.path_params["name"])
    try:
        await of(request).deployments.resolve(name, request.path_params.get("version") or alias, None)
    except PrognosError as exc:
        return respond({"name": name, "ready": False, "error": str(exc)}, error_status(exc))
    return respond({"name": name, "ready": True})


async def index(request: Request) -> Response:
    deployments = of(request).deployments
    rows = []
    for name in await deployments.control(deployments.registry.names):
        ok, reason = deployments.status(name)
        route = deployments.routes.get(name)
        version = str(route.primary.model.version) if route else ""
        rows.append({"name": name, "version": version, "state": "READY" if ok else "UNAVAILABLE", "reason": reason})
    return respond(rows)


async def load(request: Request) -> Response:
    route = await of(request).deployments.load_name(request.path_params["name"])
    return respond({"name": request.path_params["name"], "serving": route.versions()})


async def unload(request: Request) -> Response:
    await of(request).deployments.unload_name(request.path_params["name"])
    return respond({"name": request.path_params["name"], "state": "UNAVAILABLE"})


ROUTES = [
    Route("/v2", server, methods=["GET"]),
    Route("/v2/health/live", live, methods=["GET"]),
    Route("/v2/health/ready", ready, methods=["GET"]),
    Route("/v2/models/{name}", metadata, methods=["GET"]),
    Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
    Route("/v2/models/{name}/versions/{version}", metadata, methods=["GET"]),
    Route("/v2/models/{name}/versions/{version}/ready", model_ready, methods=["GET"]),
    Route("/v2/repository/index", index, methods=["POST"]),
    Route("/v2/repository/models/{name}/load", load, methods=["POST"]),
    Route("/v2/repository/models/{name}/unload", unload, methods=["POST"]),
]


def _name(text: str) -> tuple[str, str | None]:
    name, _, alias = text.partition("@")
    return name, alias or None
