"""The retraining API: runs as records, and a way to start one by hand."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos.errors import NotFound
from prognos.retrain import Retrainer
from prognos.server.context import of
from prognos.server.responses import respond


async def runs(request: Request) -> Response:
    retrainer = of(request).retrainer
    found = retrainer.runs(request.query_params.get("model")) if retrainer else []
    policies = sorted(retrainer.policies) if retrainer else []
    return respond({"runs": [r.to_dict() for r in found], "policies": policies})


async def start(request: Request) -> Response:
    run = await _retrainer(request).trigger(request.path_params["name"], "manual")
    return respond(run.to_dict(), 202 if run.state == "shadow" else 200)


ROUTES = [
    Route("/api/v1/retraining", runs, methods=["GET"]),
    Route("/api/v1/models/{name}/retrain", start, methods=["POST"]),
]


def _retrainer(request: Request) -> Retrainer:
    retrainer = of(request).retrainer
    if retrainer is None:
        raise NotFound("retraining is off: run the server with --stream and a rules file holding retrain policies")
    return retrainer
