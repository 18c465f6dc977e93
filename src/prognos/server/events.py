"""``GET /api/v1/events``: the server's live updates as server-sent events (what is sent: `prognos.server.hub`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from prognos.server.context import of


async def events(request: Request) -> StreamingResponse:
    return await of(request).hub.stream(request)


ROUTES = [Route("/api/v1/events", events, methods=["GET"])]
