"""The retraining API: runs as records, and a way to start one by hand."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prognos.errors import NotFound
from prognos.retrain import Retrainer


def routes(retrainer: Retrainer | None, respond: Callable[..., Response]) -> list[Route]:
    def need() -> Retrainer:
        if retrainer is None:
            raise NotFound("retraining is off: run the server with --stream and a rules file holding retrain policies")
        return retrainer

    async def runs(request: Request) -> Response:
        model = request.query_params.get("model")
        found = retrainer.runs(model) if retrainer else []
        return respond(
            {"runs": [r.to_dict() for r in found], "policies": sorted(retrainer.policies) if retrainer else []}
        )

    async def start(request: Request) -> Response:
        run = await need().trigger(request.path_params["name"], "manual")
        return respond(run.to_dict(), 202 if run.state == "shadow" else 200)

    return [
        Route("/api/v1/retraining", runs, methods=["GET"]),
        Route("/api/v1/models/{name}/retrain", start, methods=["POST"]),
    ]
