"""The app factory: a server's parts (`prognos.server.parts`), its routes, and its life from start to shutdown.

Every endpoint is a module-level function of the module that owns its part of the API; the app holds the
server's `Context` for them. Infer requests are answered by `prognos.server.infer` ahead of the framework;
errors become statuses in one place (`prognos.server.responses`); the dashboard is served at ``/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from prognos.config import Settings
from prognos.dashboard import STATIC
from prognos.errors import PrognosError
from prognos.inference.metrics import Metrics
from prognos.ingest import http as ingest
from prognos.server import alerts, devices, events, models, oip, overview, retraining
from prognos.server import health as checks
from prognos.server.context import Context, of
from prognos.server.infer import InferenceApp
from prognos.server.parts import assemble
from prognos.server.responses import on_error, respond
from prognos.store import Store
from prognos.types import now_ms

log = logging.getLogger("prognos.server")

ROUTES = [
    *ingest.ROUTES,
    *devices.ROUTES,
    *models.ROUTES,
    *oip.ROUTES,
    *alerts.ROUTES,
    *retraining.ROUTES,
    *overview.ROUTES,
    *events.ROUTES,
]


def create_app(store: Store, settings: Settings = Settings()) -> InferenceApp:
    """A server over ``store``: ingestion (MQTT too with ``settings.mqtt``), the API, and inference for the registry."""
    ctx = assemble(store, settings)
    inner = starlette(health, ctx.metrics, ROUTES, lifespan, dashboard=True)
    inner.state.context, inner.state.intake = ctx, ctx.intake
    s = settings.inference
    return InferenceApp(inner, ctx.deployments, ctx.recorder, settings.server.max_body, s.payload_sample, s.access_log)


async def health(request: Request) -> Response:
    """Every part's state (`prognos.server.health`) and its numbers: 200 when all are well, else 503 with why."""
    ctx = of(request)
    return respond(*checks.document(ctx, await checks.parts(ctx)))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Start what runs — broker ingest, retention, the deployments, the scorer, retraining — and stop it in reverse,
    the writer last, so what was accepted is stored before the process ends."""
    ctx: Context = app.state.context
    ctx.hub.attach(asyncio.get_running_loop())
    if ctx.source:
        ctx.source.start()
    days = ctx.settings.server.retention_days
    retention = asyncio.create_task(_retain(ctx.store, days, ctx.settings.server.retention_check)) if days else None
    await ctx.deployments.start()
    for part in (ctx.scorer, ctx.retrainer):
        if part:
            await part.start()
    try:
        yield
    finally:
        for part in (ctx.retrainer, ctx.scorer):
            if part:
                await part.close()
        await ctx.deployments.close()
        ctx.recorder.close()
        if retention:
            retention.cancel()
        if ctx.source:
            ctx.source.stop()
        ctx.writer.close()
        if ctx.bus:
            ctx.bus.close()


def starlette(
    health: Callable[[Request], Any], metrics: Metrics, routes: list[Route], lifespan: Any, dashboard: bool = False
) -> Starlette:
    """The app around ``routes``, with health, metrics and the error handlers every prognos app has; with
    ``dashboard``, the web UI at ``/`` (static files: it reads the same public API as any client)."""
    every: list[BaseRoute] = [
        Route("/api/v1/health", health, methods=["GET"]),
        *routes,
        Route("/metrics", lambda request: Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)),
    ]
    if dashboard:
        every.append(Mount("/", app=StaticFiles(directory=STATIC, html=True), name="dashboard"))
    # PrognosError and HTTPException are answered by the exception middleware; anything else is a bug
    # and reaches the outermost handler, which answers 500 with a request id and logs the trace.
    handlers = {PrognosError: on_error, HTTPException: on_error, Exception: on_error}
    return Starlette(routes=every, lifespan=lifespan, exception_handlers=handlers)


async def _retain(store: Store, days: int, every: float) -> None:
    """Drop data older than ``days``, now and every ``every`` seconds."""
    while True:
        try:
            dropped = await run_in_threadpool(store.retain, now_ms() - days * 86_400_000)
            log.info("retention: dropped %d rows older than %d days", dropped, days)
        except PrognosError as exc:
            log.error("retention failed: %s", exc)
        await asyncio.sleep(every)
