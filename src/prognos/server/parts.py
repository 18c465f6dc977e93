"""Every part of a server, made from its settings: where the stages are wired together.

`assemble` builds the `Context` of a ``prognos serve`` — the writer and its taps, the registry and deployments,
alerts and live updates, and with the settings that ask for them the stream scorer and its decisions, retraining,
MQTT ingest and the stream bus — or, with ``worker``, of a ``prognos stream`` worker: durable scoring of its
share of the bus, and ingest only when it ingests too (``--mqtt-group``).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace

from prognos.act.actions import Actions
from prognos.act.alerts import Alerts
from prognos.act.decisions import Decisions
from prognos.act.rules import Engine
from prognos.act.rulesfile import load_policies, load_rules
from prognos.broker import unique_client_id
from prognos.config import Settings
from prognos.errors import ConfigError, DeviceNotFound
from prognos.inference.batching import BatchOptions
from prognos.inference.deployments import Deployments
from prognos.inference.metrics import Metrics
from prognos.inference.recording import Recorder
from prognos.ingest.http import Intake
from prognos.ingest.mqtt import MqttSource
from prognos.ingest.payload import Limits
from prognos.registry import Registry
from prognos.retrain import Retrainer
from prognos.retrain.challenger import subprocess_trainer
from prognos.server.context import Context
from prognos.server.health import Probe
from prognos.server.hub import Hub
from prognos.store import Store
from prognos.store.writer import BatchWriter
from prognos.stream import Planner, Scorer, parse_assignments
from prognos.stream.bus import Bus
from prognos.stream.metrics import StreamMetrics
from prognos.stream.view import Judge

log = logging.getLogger(__name__)


def assemble(store: Store, settings: Settings, worker: bool = False) -> Context:
    """The parts of a server over ``store`` (or of a stream worker) as ``settings`` ask for them."""
    ingests = settings.mqtt.group is not None if worker else settings.mqtt.url is not None
    bus = _bus(settings) if ingests or not worker else None  # committed readings forwarded to the workers
    writer = BatchWriter(store, max_pending=settings.server.max_pending, forward=bus.forward if bus else None)
    limits = Limits(max_future_ms=settings.server.max_future_ms)
    registry, metrics = Registry(store, settings.registry), Metrics()
    ctx = Context(
        settings,
        store,
        writer,
        Intake(writer.submit, limits, settings.server.max_body),
        registry,
        _deployments(registry, settings, metrics),
        Recorder(store, metrics),
        Alerts(store),
        Hub(),
        metrics,
        Probe(store),
    )
    scorer = _scorer(ctx, durable=worker) if settings.stream.assignments else None
    if scorer and not worker:
        writer.taps.append(scorer.feed)  # scored as accepted, while the commit runs
    retrainer = _retrainer(ctx) if scorer and not worker else None
    source = _source(ctx, limits) if ingests else None
    return replace(ctx, scorer=scorer, retrainer=retrainer, source=source, bus=bus)


def _deployments(registry: Registry, settings: Settings, metrics: Metrics) -> Deployments:
    s = settings.inference
    options = BatchOptions(s.max_batch, s.max_delay_ms / 1000, s.max_queue)
    return Deployments(registry, options, metrics, s.model_poll, s.ort_threads)


def _bus(settings: Settings) -> Bus | None:
    """With ``partitions``, committed readings also go out on the stream bus for `prognos stream` workers."""
    if not settings.stream.partitions:
        return None
    if not settings.mqtt.url:
        raise ConfigError("--partitions forwards readings over MQTT: give the broker with --mqtt")
    return Bus(settings.mqtt.url, settings.stream.partitions)


def _scorer(ctx: Context, durable: bool) -> Scorer:
    """Readings scored with the models assigned to each device type; the rules turn signals into alerts."""
    s, store = ctx.settings, ctx.store
    assert s.stream.assignments is not None

    def device_type(device_id: str) -> str | None:
        try:
            return store.device(device_id).type
        except DeviceNotFound:
            return None

    counted = StreamMetrics(ctx.metrics.registry)
    hub = None if durable else ctx.hub  # a worker has no live views
    sink = None
    if s.stream.rules:
        actions = Actions(ctx.alerts, s.mqtt.url)
        publish = hub.publish if hub else None
        sink = Decisions(
            Engine(load_rules(s.stream.rules)), ctx.alerts, actions, durable, metrics=counted, publish=publish
        )

    def types() -> dict[str, str | None]:
        return {d.device_id: d.type for d in store.devices()}

    assignments = parse_assignments(s.stream.assignments)
    judge = Judge.of(s.stream.alarm_budget, s.stream.adapt)
    plan = Planner(ctx.deployments, assignments, device_type, store.read_many, types, s.stream.retype_interval, judge)
    keep = functools.partial(ctx.writer.submit, tap=False)  # the predictions: never scored as telemetry
    return Scorer(plan, sink, keep, durable, counted, hub.scored if hub else None)


def _retrainer(ctx: Context) -> Retrainer | None:
    """The rules file's retrain policies, carried out beside the stream (none: no retrainer)."""
    s = ctx.settings
    policies = load_policies(s.stream.rules) if s.stream.rules else []
    if not policies:
        return None
    train = subprocess_trainer(ctx.store, s.retrain.epochs)
    return Retrainer(ctx.store, ctx.deployments, policies, train, s.retrain.interval, metrics=ctx.metrics.registry)


def _source(ctx: Context, limits: Limits) -> MqttSource:
    """Device telemetry from the broker, into the writer (``settings.mqtt``: the broker, session and group)."""
    m, store = ctx.settings.mqtt, ctx.store
    assert m.url is not None
    # A session the broker keeps across restarts belongs to one identity on purpose: --mqtt-client-id. Without
    # one, this process's id is its own and its session ends with it (a shared group's others take its share).
    client_id = m.client_id or unique_client_id("ingest")
    if not m.client_id:
        log.warning(
            "MQTT client id %s is this process's own: the broker keeps nothing for it after it stops "
            "(give --mqtt-client-id for a persistent session that outlives a restart)",
            client_id,
        )

    def on_device(device_id: str, device_type: str | None) -> None:  # v1/gateway/connect registers a device
        store.update_device(device_id, {"type": device_type} if device_type else {}, create=True)

    return MqttSource(
        m.url,
        ctx.writer.submit_then,
        client_id=client_id,
        group=m.group,
        session_expiry=m.session_expiry if m.client_id else 0,
        limits=limits,
        on_device=on_device,
    )
