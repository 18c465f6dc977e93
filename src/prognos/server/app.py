"""The app factory: store → writer → transports, and the one place errors become HTTP statuses."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from prognos import __version__
from prognos.act.alerts import Alerts
from prognos.config import Settings
from prognos.errors import ConfigError, DeviceNotFound, InvalidInput, PrognosError
from prognos.inference.batching import BatchOptions
from prognos.inference.deployments import Deployments
from prognos.inference.metrics import Metrics
from prognos.inference.recording import Recorder
from prognos.ingest import http as ingest_http
from prognos.ingest.mqtt import MqttSource
from prognos.ingest.payload import Limits
from prognos.registry import Registry
from prognos.server import alerts, devices, events, models, oip, overview, retraining
from prognos.server.events import Hub
from prognos.server.oip import InferenceApp
from prognos.server.responses import error_status, respond
from prognos.store import Store
from prognos.store.base import redact
from prognos.store.writer import BatchWriter
from prognos.stream import Planner, Scorer, parse_assignments

if TYPE_CHECKING:
    from prognos.retrain import Retrainer
    from prognos.stream.bus import Bus
from prognos.types import now_ms

log = logging.getLogger("prognos.server")


async def on_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        if request.url.path.startswith("/v2"):  # the inference protocol has its own error body
            return respond({"error": f"{exc.detail}: {request.method} {request.url.path}"}, exc.status_code)
        return respond({"error": {"type": "HTTPError", "message": exc.detail}}, exc.status_code)
    status = error_status(exc)
    if request.url.path.startswith("/v2") and status != 500:
        return respond({"error": str(exc)}, status, {"Retry-After": "1"} if status == 503 else None)
    body: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, InvalidInput):
        body |= {"field": exc.field, "value": exc.value if _small(exc.value) else None}
    if status == 500:
        request_id = uuid.uuid4().hex
        log.exception("unhandled error, request %s", request_id)
        body = {"type": "InternalError", "message": f"internal error, request id {request_id}"}
    headers = {"Retry-After": "1"} if status == 503 else None
    return respond({"error": body}, status, headers)


def create_app(store: Store, settings: Settings = Settings()) -> InferenceApp:
    """A server over ``store``: ingestion (MQTT too with ``settings.mqtt``), the API, and inference for the registry."""
    bus = make_bus(settings)
    writer = BatchWriter(store, max_pending=settings.server.max_pending, forward=bus.forward if bus else None)
    registry = Registry(store, settings.registry)
    metrics = Metrics()
    deployments = make_deployments(registry, settings, metrics)
    recorder = Recorder(store, metrics)
    alert_book = Alerts(store)
    hub = Hub()
    scorer = (
        make_scorer(store, settings, deployments, writer, alert_book, metrics, events=hub)
        if settings.stream.assignments
        else None
    )
    if scorer:
        writer.taps.append(scorer.feed)  # scored as accepted, while the commit runs
    retrainer = make_retrainer(store, settings, registry, deployments, metrics) if scorer else None
    limits = Limits(max_future_ms=settings.server.max_future_ms)
    mqtt = None
    if settings.mqtt.url:
        mqtt = make_source(settings, writer, limits, register_devices(store))

    async def health(request: Request) -> Response:
        mqtt_status = mqtt.status() if mqtt else None
        ok = mqtt_status is None or mqtt_status["subscribed"]  # connected, and the broker delivers to us
        doc = {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "store": redact(store.url),
            "writer": asdict(writer.stats),
            "mqtt": mqtt_status,
            "bus": bus.status() if bus else None,
        }
        return respond(doc, 200 if ok else 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.attach(asyncio.get_running_loop())
        if mqtt:
            mqtt.start()
        retention = asyncio.create_task(_retain(store, settings)) if settings.server.retention_days else None
        await deployments.start()
        if scorer:
            await scorer.start()
        if retrainer:
            await retrainer.start()
        try:
            yield
        finally:
            if retrainer:
                await retrainer.close()
            if scorer:
                await scorer.close()
            await deployments.close()
            recorder.close()
            if retention:
                retention.cancel()
            if mqtt:
                mqtt.stop()
            writer.close()
            if bus:
                bus.close()

    routes = [
        *ingest_http.routes(writer.submit, limits, settings.server.max_body, respond),
        *devices.routes(store, respond),
        *models.routes(registry, deployments, store, respond),
        *oip.routes(deployments, respond),
        *alerts.routes(alert_book, respond, hub.publish),
        *retraining.routes(retrainer, respond),
        *overview.routes(store, registry, alert_book, writer, metrics, respond),
        *events.routes(hub),
    ]
    inner = starlette(health, metrics, routes, lifespan, dashboard=True)
    inner.state.store, inner.state.writer, inner.state.mqtt = store, writer, mqtt
    inner.state.deployments, inner.state.recorder, inner.state.scorer = deployments, recorder, scorer
    inner.state.retrainer = retrainer
    return InferenceApp(
        inner,
        deployments,
        recorder,
        settings.server.max_body,
        settings.inference.payload_sample,
        settings.inference.access_log,
    )


def starlette(health: Any, metrics: Metrics, routes: list[Route], lifespan: Any, dashboard: bool = False) -> Starlette:
    """The app around ``routes``, with health, metrics and the error handlers every prognos app has; with
    ``dashboard``, the web UI at ``/`` (static files: it reads the same public API as any client)."""
    every: list[BaseRoute] = [
        Route("/api/v1/health", health, methods=["GET"]),
        *routes,
        Route("/metrics", lambda request: Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)),
    ]
    if dashboard:
        from starlette.routing import Mount
        from starlette.staticfiles import StaticFiles

        from prognos.dashboard import STATIC

        every.append(Mount("/", app=StaticFiles(directory=STATIC, html=True), name="dashboard"))
    # PrognosError and HTTPException are answered by the exception middleware; anything else is a bug
    # and reaches the outermost handler, which answers 500 with a request id and logs the trace.
    handlers = {PrognosError: on_error, HTTPException: on_error, Exception: on_error}
    return Starlette(routes=every, lifespan=lifespan, exception_handlers=handlers)


async def _retain(store: Store, settings: Settings) -> None:
    """Drop data older than the retention period, now and every ``retention_check`` seconds."""
    days = settings.server.retention_days
    assert days is not None
    while True:
        try:
            dropped = await run_in_threadpool(store.retain, now_ms() - days * 86_400_000)
            log.info("retention: dropped %d rows older than %d days", dropped, days)
        except PrognosError as exc:
            log.error("retention failed: %s", exc)
        await asyncio.sleep(settings.server.retention_check)


def make_deployments(registry: Registry, settings: Settings, metrics: Metrics) -> Deployments:
    s = settings.inference
    options = BatchOptions(s.max_batch, s.max_delay_ms / 1000, s.max_queue)
    return Deployments(registry, options, metrics, s.model_poll, s.ort_threads)


def make_bus(settings: Settings) -> Bus | None:
    """With ``partitions``, committed readings also go out on the stream bus for `prognos stream` workers."""
    if not settings.stream.partitions:
        return None
    if not settings.mqtt.url:
        raise ConfigError("--partitions forwards readings over MQTT: give the broker with --mqtt")
    from prognos.stream.bus import Bus

    return Bus(settings.mqtt.url, settings.stream.partitions)


def make_scorer(
    store: Store,
    settings: Settings,
    deployments: Deployments,
    writer: BatchWriter,
    book: Alerts,
    metrics: Metrics,
    durable: bool = False,
    events: Any = None,
) -> Scorer:
    """Score readings with the models assigned to each device type; rules turn signals into alerts."""
    from prognos.act.actions import Actions
    from prognos.act.decisions import Decisions
    from prognos.act.rules import Engine
    from prognos.act.rulesfile import load_rules
    from prognos.stream.metrics import StreamMetrics

    assert settings.stream.assignments is not None

    def device_type(device_id: str) -> str | None:
        try:
            return store.device(device_id).type
        except DeviceNotFound:
            return None

    counted = StreamMetrics(metrics.registry)
    sink = None
    if settings.stream.rules:
        engine = Engine(load_rules(settings.stream.rules))
        publish = events.publish if events else None
        sink = Decisions(engine, book, Actions(book, settings.mqtt.url), durable, metrics=counted, publish=publish)
    plan = Planner(deployments, parse_assignments(settings.stream.assignments), device_type, store.read_many)
    keep = functools.partial(writer.submit, tap=False)  # the predictions: never scored as telemetry
    return Scorer(plan, sink, keep, durable, counted, events.scored if events else None)


def make_retrainer(
    store: Store, settings: Settings, registry: Registry, deployments: Deployments, metrics: Metrics
) -> Retrainer | None:
    """The rules file's retrain policies, carried out beside the stream (none: no retrainer)."""
    from prognos.act.rulesfile import load_policies
    from prognos.retrain import Retrainer
    from prognos.retrain.challenger import subprocess_trainer

    policies = load_policies(settings.stream.rules) if settings.stream.rules else []
    if not policies:
        return None
    train = subprocess_trainer(store, settings.retrain.epochs)
    return Retrainer(store, deployments, policies, train, settings.retrain.interval, metrics=metrics.registry)


def make_source(settings: Settings, writer: BatchWriter, limits: Limits, on_device: Any) -> MqttSource:
    """Device telemetry from the broker, into the writer (``settings.mqtt``: the broker, session and group)."""
    m = settings.mqtt
    assert m.url is not None
    client_id = m.client_id or f"prognos-{socket.gethostname()}" + (f"-{m.group}" if m.group else "")
    return MqttSource(
        m.url,
        writer.submit_then,
        client_id=client_id,
        group=m.group,
        session_expiry=m.session_expiry,
        limits=limits,
        on_device=on_device,
    )


def register_devices(store: Store) -> Any:
    def on_device(device_id: str, device_type: str | None) -> None:
        store.update_device(device_id, {"type": device_type} if device_type else {}, create=True)

    return on_device


def _small(value: Any) -> bool:
    return len(orjson.dumps(value, default=repr)) <= 4096
