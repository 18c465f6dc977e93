"""The app of ``prognos stream``: a scoring worker with health and metrics over HTTP.

It owns its share of the stream bus (`prognos.stream.worker`); with ``mqtt_group`` it also ingests
device telemetry through that MQTT 5 shared subscription group — store, then forward on the bus,
then acknowledge — so a set of workers alone can take a fleet's traffic, with PostgreSQL between them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from prognos.config import Settings
from prognos.errors import ConfigError
from prognos.server import health as checks
from prognos.server.app import starlette
from prognos.server.context import Context, of
from prognos.server.parts import assemble
from prognos.server.responses import respond
from prognos.store import Store
from prognos.stream.worker import Share, Worker


def create_worker_app(store: Store, settings: Settings) -> Starlette:
    s, m = settings.stream, settings.mqtt
    if not m.url or not s.assignments or not s.partitions:
        raise ConfigError("prognos stream needs --mqtt (the broker), --partitions (as the ingest uses) and --stream")
    share = Share.parse(s.partitions, s.worker)
    ctx = assemble(store, settings, worker=True)
    assert ctx.scorer is not None
    worker = Worker(ctx.scorer, store, m.url, share, s.group, s.checkpoint_interval, m.session_expiry)
    app = starlette(health, ctx.metrics, [], lifespan)
    app.state.context, app.state.worker = ctx, worker
    return app


async def health(request: Request) -> Response:
    """The worker's partitions, backlog and acknowledgements; 503 until every partition it owns is subscribed."""
    ctx, worker = of(request), request.app.state.worker
    status = worker.status()
    found = await checks.parts(ctx)
    owned = len(status["connected"]) == len(worker.owned)
    found.append(checks.Part("partitions", owned, "" if owned else "not every partition it owns is subscribed"))
    return respond(*checks.document(ctx, found, worker=status))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    ctx: Context = app.state.context
    worker: Worker = app.state.worker
    await ctx.deployments.start()
    await worker.start()
    if ctx.source:
        ctx.source.start()
    try:
        yield
    finally:
        if ctx.source:
            ctx.source.stop()
        await worker.close()
        await ctx.deployments.close()
        ctx.writer.close()
        if ctx.bus:
            ctx.bus.close()
