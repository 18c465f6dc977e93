"""The app of ``prognos stream``: a scoring worker with health and metrics over HTTP.

It owns its share of the stream bus (`prognos.stream.worker`); with ``mqtt_group`` it also ingests
device telemetry through that MQTT 5 shared subscription group — store, then forward on the bus,
then acknowledge — so a set of workers alone can take a fleet's traffic, with PostgreSQL between them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from prognos import __version__
from prognos.act.alerts import Alerts
from prognos.config import Settings
from prognos.errors import ConfigError
from prognos.inference.metrics import Metrics
from prognos.ingest.payload import Limits
from prognos.registry import Registry
from prognos.server.app import make_bus, make_deployments, make_scorer, make_source, register_devices, starlette
from prognos.server.responses import respond
from prognos.store import Store
from prognos.store.base import redact
from prognos.store.writer import BatchWriter
from prognos.stream.worker import Share, Worker


def create_worker_app(store: Store, settings: Settings) -> Starlette:
    url = settings.mqtt.url
    if not url or not settings.stream.assignments or not settings.stream.partitions:
        raise ConfigError("prognos stream needs --mqtt (the broker), --partitions (as the ingest uses) and --stream")
    share = Share.parse(settings.stream.partitions, settings.stream.worker)
    bus = make_bus(settings) if settings.mqtt.group else None  # ingesting too: forward what it stores
    writer = BatchWriter(store, max_pending=settings.server.max_pending, forward=bus.forward if bus else None)
    metrics = Metrics()
    deployments = make_deployments(Registry(store, settings.registry), settings, metrics)
    scorer = make_scorer(store, settings, deployments, writer, Alerts(store), metrics, durable=True)
    s, m = settings.stream, settings.mqtt
    worker = Worker(scorer, store, url, share, s.group, s.checkpoint_interval, m.session_expiry)
    ingest = None
    if settings.mqtt.group:
        limits = Limits(max_future_ms=settings.server.max_future_ms)
        ingest = make_source(settings, writer, limits, register_devices(store))

    async def health(request: Request) -> Response:
        status = worker.status()
        ok = len(status["connected"]) == len(worker.owned) and (ingest is None or ingest.stats.subscribed)
        doc = {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "store": redact(store.url),
            "worker": status,
            "writer": asdict(writer.stats),
            "mqtt": ingest.status() if ingest else None,
            "bus": bus.status() if bus else None,
        }
        return respond(doc, 200 if ok else 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await deployments.start()
        await worker.start()
        if ingest:
            ingest.start()
        try:
            yield
        finally:
            if ingest:
                ingest.stop()
            await worker.close()
            await deployments.close()
            writer.close()
            if bus:
                bus.close()

    app = starlette(health, metrics, [], lifespan)
    app.state.worker, app.state.scorer, app.state.writer = worker, scorer, writer
    return app
